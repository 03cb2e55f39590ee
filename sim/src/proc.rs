//! What `/proc/<pid>` shows a task about itself.
//!
//! Mirrors fs/proc/namespaces.c (`proc_ns_readlink` over the ten `ns/` entries) and
//! fs/proc/array.c (the `NSpid:`, `Uid:`, `Gid:`, `CapEff:` lines of `status`) (v6.18),
//! plus `getppid`, `gethostname` and `getifaddrs` as the task would call them.
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/fs/proc/namespaces.c>,
//! <https://elixir.bootlin.com/linux/v6.18/source/fs/proc/array.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 11.

use crate::kernel::{Kernel, TaskRef};
use crate::machine::{NsEntry, TaskView};

impl Kernel {
    /// Everything a task sees of itself. The `NSpid` list starts at the level of the
    /// machine's root task, as the real backend reads it from the root helper's /proc.
    pub(crate) fn observe_task(&self, t: TaskRef) -> TaskView {
        let mut v = TaskView::empty();
        self.observe_task_into(t, &mut v);
        v
    }

    /// [`Kernel::observe_task`] into a view the caller keeps: every field is written in place
    /// (a view is a few hundred bytes of fixed arrays, and the judge observes at every step).
    pub(crate) fn observe_task_into(&self, t: TaskRef, v: &mut TaskView) {
        let task = &self.tasks[t];
        let cred = &self.creds[task.cred];
        let nsp = task.nsproxy.expect("a live task has an nsproxy");
        let p = &self.nsproxies[nsp];
        let active = self.task_active_pid_ns(t);
        for (slot, e) in v.ns.iter_mut().zip(NsEntry::ALL) {
            let found = self.ns_of_entry_in(task, p, active, e);
            *slot = (e, found.map(|o| self.ns_inum(o)));
        }
        let root_level = self.pids[self.tasks[self.root_task].pid].level as usize;
        let pid = &self.pids[task.pid];
        v.nspid.clear();
        for u in pid.numbers.iter().skip(root_level) {
            v.nspid.push(u.nr);
        }
        v.ppid = task
            .real_parent
            .map(|p| self.pid_nr_ns(self.tasks[p].pid, active))
            .unwrap_or(0);
        v.uid = self.from_kuid_munged(cred.user_ns, cred.uid);
        v.gid = self.from_kgid_munged(cred.user_ns, cred.gid);
        v.cap_eff = cred.cap_effective;
        // gethostname (kernel/sys.c) copies the name up to its first NUL (`strlen(u->nodename)
        // + 1` bytes), while sethostname stored all `len` bytes it was given: a name set
        // with a NUL inside reads as the part before it.
        let nodename = &self.uts_namespaces[p.uts_ns].nodename;
        v.hostname.clear();
        let name = nodename.split('\0').next().unwrap_or_default();
        v.hostname.push_str(name);
        self.interfaces_into(p.net_ns, &mut v.interfaces);
    }
}
