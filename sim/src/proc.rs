//! What `/proc/<pid>` shows a task about itself.
//!
//! Mirrors fs/proc/namespaces.c (`proc_ns_readlink` over the ten `ns/` entries) and
//! fs/proc/array.c (the `NSpid:`, `Uid:`, `Gid:`, `CapEff:` lines of `status`) (v6.18),
//! plus `getppid`, `gethostname` and `getifaddrs` as the task would call them.

use crate::errno::Errno;
use crate::kernel::{Kernel, TaskRef};
use crate::machine::{NsEntry, TaskView};

impl Kernel {
    /// Everything a task sees of itself. The `NSpid` list starts at the level of the
    /// machine's root task, as the real backend reads it from the root helper's /proc.
    pub fn observe_task(&self, t: TaskRef) -> TaskView {
        let task = self.tasks.get(t.0);
        let cred = self.creds.get(task.cred.0);
        let nsp = task.nsproxy.expect("a live task has an nsproxy");
        let p = self.nsproxies.get(nsp.0);
        let active = self.task_active_pid_ns(t);
        // A plain loop over a filled array: `array::map` did not unroll here and showed in
        // profiles.
        let mut ns = NsEntry::ALL.map(|e| (e, Err(Errno::ENOENT)));
        for (e, r) in &mut ns {
            *r = self
                .ns_of_entry_in(task, p, active, *e)
                .map(|o| self.ns_inum(o));
        }
        let root_level = self.pids.get(self.tasks.get(self.root_task.0).pid.0).level as usize;
        let pid = self.pids.get(task.pid.0);
        let nspid = pid.numbers.iter().skip(root_level).map(|u| u.nr).collect();
        let ppid = task
            .real_parent
            .map(|p| self.pid_nr_ns(self.tasks.get(p.0).pid, active))
            .unwrap_or(0);
        TaskView {
            ns,
            nspid,
            ppid,
            uid: self.from_kuid_munged(cred.user_ns, cred.uid),
            gid: self.from_kgid_munged(cred.user_ns, cred.gid),
            cap_eff: cred.cap_effective,
            hostname: self.uts_namespaces.get(p.uts_ns.0).nodename,
            interfaces: self.interfaces(p.net_ns),
        }
    }
}
