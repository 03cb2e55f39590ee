//! Task credentials: copying them at fork, preparing and committing changes.
//!
//! Mirrors kernel/cred.c (v6.18): `prepare_creds`, `copy_creds`, `commit_creds`,
//! `put_cred`/`__put_cred`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/cred.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 3.

use crate::errno::Errno;
use crate::kernel::{CredRef, Kernel, TaskRef, UserNsRef};
use crate::sched::{CLONE_NEWUSER, CLONE_THREAD};
use crate::trace::Step;

const FILE: &str = "kernel/cred.c";

/// `struct cred`: ids are kernel ids (`kuid_t`), as in the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cred {
    /// `usage`: references from tasks (`cred` and `real_cred` count separately) and from
    /// in-flight changes.
    pub usage: u64,
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Inheritable capabilities.
    pub cap_inheritable: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// The capability bounding set.
    pub cap_bset: u64,
    /// `user_ns`: the user namespace of these credentials (one reference held).
    pub user_ns: UserNsRef,
}

impl Kernel {
    pub(crate) fn cred_name(&self, c: CredRef) -> String {
        format!("cred#{}", c.0)
    }

    /// `current_cred()`: the subjective credentials of the calling task (`current->cred`),
    /// the ones its permission checks use.
    #[inline]
    pub(crate) fn current_cred(&self, current: TaskRef) -> &Cred {
        &self.creds[self.tasks[current].cred]
    }

    /// `current_user_ns()`: the user namespace of the caller's credentials.
    #[inline]
    pub(crate) fn current_user_ns(&self, current: TaskRef) -> UserNsRef {
        self.current_cred(current).user_ns
    }

    /// `__task_cred(task)`: the objective credentials of another task (`task->real_cred`),
    /// the ones others see and check against. The model never overrides credentials
    /// (`override_creds`), so both pointers always name the same object.
    #[inline]
    pub fn task_cred(&self, task: TaskRef) -> &Cred {
        &self.creds[self.tasks[task].real_cred]
    }

    /// `get_cred`: takes `n` references.
    pub(crate) fn get_cred_many(&mut self, c: CredRef, n: u64) {
        let usage = {
            let cred = &mut self.creds[c];
            cred.usage += n;
            cred.usage
        };
        self.note(|k| Step::Get {
            object: k.cred_name(c),
            count: usage,
        });
    }

    /// `put_cred`: drops a reference; the last one frees the cred and puts its user namespace
    /// (`__put_cred` -> `put_cred_rcu`).
    pub(crate) fn put_cred(&mut self, c: CredRef) {
        let usage = {
            let cred = &mut self.creds[c];
            cred.usage -= 1;
            cred.usage
        };
        self.note(|k| Step::Put {
            object: k.cred_name(c),
            count: usage,
        });
        if usage == 0 {
            self.note(|k| Step::Free {
                object: k.cred_name(c),
            });
            let cred = self.creds.remove(c);
            self.put_user_ns(cred.user_ns);
        }
    }

    /// `prepare_creds`: a private copy of the task's credentials, usage 1, with its own
    /// reference on the user namespace.
    pub(crate) fn prepare_creds(&mut self, task: TaskRef) -> CredRef {
        let old = self.tasks[task].cred;
        let mut new = self.creds[old].clone();
        new.usage = 1;
        let user_ns = new.user_ns;
        let c = self.creds.insert(new);
        self.note(|k| Step::Alloc {
            object: format!("{} (prepare_creds)", k.cred_name(c)),
        });
        self.get_user_ns(user_ns);
        c
    }

    /// `copy_creds(p, clone_flags)`: a thread shares its creator's credentials; anything else
    /// gets a copy, and `CLONE_NEWUSER` creates the new user namespace in that copy.
    pub(crate) fn copy_creds(
        &mut self,
        current: TaskRef,
        p: TaskRef,
        clone_flags: u64,
    ) -> Result<(), Errno> {
        self.call("copy_creds", FILE, |k| {
            if clone_flags & CLONE_THREAD != 0 {
                let c = k.tasks[current].cred;
                k.get_cred_many(c, 2);
                let t = &mut k.tasks[p];
                t.cred = c;
                t.real_cred = c;
                return Ok(());
            }
            let new = k.prepare_creds(current);
            if clone_flags & CLONE_NEWUSER != 0 {
                if let Err(e) = k.create_user_ns(current, new) {
                    k.put_cred(new);
                    return Err(e);
                }
            }
            // `p->cred = p->real_cred = get_cred(new)`: two references, one per pointer.
            k.get_cred_many(new, 1);
            let t = &mut k.tasks[p];
            t.cred = new;
            t.real_cred = new;
            k.note(|k| Step::Set {
                what: format!("p->cred = p->real_cred = {}", k.cred_name(new)),
            });
            Ok(())
        })
    }

    /// `cred_cap_issubset(set, subset)`: could `subset` do nothing that `set` could not?
    /// In one user namespace, compare the permitted sets; otherwise `subset` must be in a
    /// namespace below `set`'s.
    fn cred_cap_issubset(&self, set: CredRef, subset: CredRef) -> bool {
        let (set, subset) = (&self.creds[set], &self.creds[subset]);
        if set.user_ns == subset.user_ns {
            return subset.cap_permitted & !set.cap_permitted == 0;
        }
        let set_level = self.user_namespaces[set.user_ns].level;
        let mut ns = subset.user_ns;
        loop {
            if ns == set.user_ns {
                return true;
            }
            let n = &self.user_namespaces[ns];
            if n.level <= set_level {
                return false;
            }
            ns = n.parent.expect("a level above another has a parent");
        }
    }

    /// `commit_creds(new)`: installs prepared credentials on the task and drops the old ones.
    /// Changing an effective or fs id, or gaining capabilities, makes the task non-dumpable
    /// (`set_dumpable(mm, suid_dumpable)`, 0 by default).
    pub(crate) fn commit_creds(&mut self, task: TaskRef, new: CredRef) {
        self.call("commit_creds", FILE, |k| {
            let old = k.tasks[task].cred;
            let (o, n) = (&k.creds[old], &k.creds[new]);
            let ids_changed =
                o.euid != n.euid || o.egid != n.egid || o.fsuid != n.fsuid || o.fsgid != n.fsgid;
            if ids_changed || !k.cred_cap_issubset(old, new) {
                k.tasks[task].dumpable = false;
                k.note(|_| Step::Set {
                    what: "set_dumpable(mm, suid_dumpable = 0)".to_string(),
                });
            }
            k.get_cred_many(new, 1);
            let (old_real, old) = {
                let t = &mut k.tasks[task];
                let o = (t.real_cred, t.cred);
                t.real_cred = new;
                t.cred = new;
                o
            };
            k.put_cred(old_real);
            k.put_cred(old);
            Ok(())
        })
        .expect("commit_creds cannot fail");
    }

    /// `abort_creds`: drops credentials that were prepared but not committed.
    pub(crate) fn abort_creds(&mut self, new: CredRef) {
        self.put_cred(new);
    }
}
