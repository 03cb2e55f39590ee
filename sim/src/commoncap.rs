//! Capability checks and the capability effects of uid changes.
//!
//! Mirrors security/commoncap.c (v6.18): `cap_capable` (behind `ns_capable`),
//! `cap_ptrace_access_check`, `cap_capset`, and `cap_task_fix_setuid`'s
//! `cap_emulate_setxuid`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/security/commoncap.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 3.

use crate::capability::{cap_bit, CAP_SYS_PTRACE};
use crate::errno::Errno;
use crate::kernel::{CredRef, Kernel, TaskRef, UserNsRef};

impl Kernel {
    /// `cap_capable(cred, targ_ns, cap)`: does `cred` hold `cap` over `targ_ns`?
    ///
    /// Walk from the target namespace towards the root. At the credentials' own namespace
    /// the effective set decides. A target at or above the credentials' level is out of
    /// reach. The owner of a namespace whose parent is the credentials' namespace has every
    /// capability in it. Otherwise a capability in a parent covers the children.
    pub(crate) fn cap_capable(&self, cred: CredRef, targ_ns: UserNsRef, cap: u32) -> bool {
        let cred = &self.creds[cred];
        let cred_level = self.user_namespaces[cred.user_ns].level;
        let mut ns = targ_ns;
        loop {
            if ns == cred.user_ns {
                return cred.cap_effective & cap_bit(cap) != 0;
            }
            let n = &self.user_namespaces[ns];
            if n.level <= cred_level {
                return false;
            }
            let parent = n.parent.expect("a level above 0 has a parent");
            if parent == cred.user_ns && n.owner == cred.euid {
                return true;
            }
            ns = parent;
        }
    }

    /// `ns_capable(ns, cap)` for the task's subjective credentials.
    pub(crate) fn ns_capable(&self, task: TaskRef, ns: UserNsRef, cap: u32) -> bool {
        self.cap_capable(self.tasks[task].cred, ns, cap)
    }

    /// `cap_ptrace_access_check(child, PTRACE_MODE_READ_REALCREDS)`: in the same user
    /// namespace the target's permitted set must be within the caller's; otherwise the
    /// caller needs `CAP_SYS_PTRACE` over the target's user namespace. (So a task in a child
    /// user namespace, however capable there, cannot ptrace-read, and so not `setns` by
    /// pidfd into, a task of its parent's namespace.)
    pub(crate) fn cap_ptrace_access_check(&self, current: TaskRef, child: TaskRef) -> bool {
        let c = self.current_cred(current);
        let t = self.task_cred(child);
        if c.user_ns == t.user_ns && t.cap_permitted & !c.cap_permitted == 0 {
            return true;
        }
        self.ns_capable(current, t.user_ns, CAP_SYS_PTRACE)
    }

    /// `capset` that only lowers the sets: removes `caps` from the effective and permitted
    /// sets. `cap_capset` allows any such drop, so this cannot fail.
    pub(crate) fn capset_drop(&mut self, task: TaskRef, caps: u64) -> Result<(), Errno> {
        self.call("cap_capset", "security/commoncap.c", |k| {
            let new = k.prepare_creds(task);
            {
                let c = &mut k.creds[new];
                c.cap_permitted &= !caps;
                c.cap_effective &= !caps;
            }
            k.commit_creds(task, new);
            Ok(())
        })
    }

    /// `cap_emulate_setxuid(new, old)`: leaving uid 0 on every id clears the permitted and
    /// effective sets; leaving euid 0 clears the effective set; gaining euid 0 restores it.
    pub(crate) fn cap_emulate_setxuid(&mut self, new: CredRef, old: CredRef) {
        let o = self.creds[old].clone();
        let root_uid = self.make_kuid(o.user_ns, 0);
        let is_root = |u: u32| Some(u) == root_uid;
        let n = &mut self.creds[new];
        if (is_root(o.uid) || is_root(o.euid) || is_root(o.suid))
            && !is_root(n.uid)
            && !is_root(n.euid)
            && !is_root(n.suid)
        {
            n.cap_permitted = 0;
            n.cap_effective = 0;
        }
        if is_root(o.euid) && !is_root(n.euid) {
            n.cap_effective = 0;
        }
        if !is_root(o.euid) && is_root(n.euid) {
            n.cap_effective = n.cap_permitted;
        }
    }
}
