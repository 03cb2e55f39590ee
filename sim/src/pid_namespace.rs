//! Pid namespaces: nesting, the init of each namespace, and what its death does.
//!
//! Mirrors kernel/pid_namespace.c (v6.18): `copy_pid_ns`, `create_pid_namespace`,
//! `put_pid_ns`/`destroy_pid_namespace`, `zap_pid_ns_processes`, `pidns_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/pid_namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 6.

use crate::capability::CAP_SYS_ADMIN;
use crate::errno::Errno;
use crate::kernel::{Kernel, NsCommon, PidNsRef, PidRef, TaskRef, UserNsRef};
use crate::machine::{NsType, TaskState};
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWPID;
use crate::trace::Step;

const FILE: &str = "kernel/pid_namespace.c";

/// `MAX_PID_NS_LEVEL`: the deepest level a pid namespace can have.
pub(crate) const MAX_PID_NS_LEVEL: u32 = 32;
/// `PIDNS_ADDING`: the flag bit of `pid_allocated` that lets forks in.
pub(crate) const PIDNS_ADDING: u32 = 1 << 31;
/// `PID_MAX_DEFAULT`: the default `pid_max` (per namespace since 6.14).
pub(crate) const PID_MAX_DEFAULT: i32 = 32768;
/// `PID_MAX_LIMIT` on 64-bit: the largest `pid_max`.
pub(crate) const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;
/// The smallest `pid_max` the sysctl accepts (`RESERVED_PIDS + 1`).
pub(crate) const PID_MAX_MIN: i32 = 301;

/// `struct idr` of a pid namespace: the numbers handed out, each with its `struct pid`,
/// ordered by number as the kernel's radix tree is. A sorted array: numbers are handed out
/// upwards, so an insert is mostly an append, and a lookup is a binary search; a namespace
/// with a few pids (most of them) keeps them inline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Idr(smallvec::SmallVec<[(i32, PidRef); 4]>);

impl Idr {
    fn find(&self, nr: i32) -> Result<usize, usize> {
        self.0.binary_search_by_key(&nr, |(n, _)| *n)
    }

    /// `idr_find`: whether the number is in use.
    pub(crate) fn contains(&self, nr: i32) -> bool {
        self.find(nr).is_ok()
    }

    /// `idr_replace`/`idr_alloc`: the number now names this pid.
    pub(crate) fn insert(&mut self, nr: i32, p: PidRef) {
        match self.find(nr) {
            Ok(i) => self.0[i].1 = p,
            Err(i) => self.0.insert(i, (nr, p)),
        }
    }

    /// `idr_remove`.
    pub(crate) fn remove(&mut self, nr: i32) -> Option<PidRef> {
        self.find(nr).ok().map(|i| self.0.remove(i).1)
    }

    /// The numbers in use with their pids, in number order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i32, PidRef)> + '_ {
        self.0.iter().copied()
    }
}

/// `struct pid_namespace`.
#[derive(Clone, Debug)]
pub struct PidNamespace {
    /// Inode and reference count.
    pub ns: NsCommon,
    /// `idr`: number -> pid, for the numbers handed out in this namespace.
    pub idr: Idr,
    /// The idr cursor: the last number handed out.
    pub last_pid: i32,
    /// `pid_max`.
    pub pid_max: i32,
    /// `pid_allocated`: live pids with a number here, plus `PIDNS_ADDING` while forks are
    /// allowed.
    pub pid_allocated: u32,
    /// `child_reaper`: the namespace's init, once it exists (left set after it dies).
    pub child_reaper: Option<TaskRef>,
    /// `level`: 0 for `init_pid_ns`.
    pub level: u32,
    /// `parent`: one reference held.
    pub parent: Option<PidNsRef>,
    /// `user_ns`: the owner, one reference held.
    pub user_ns: UserNsRef,
    /// The ucount charged for it (user namespace, uid).
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

impl Kernel {
    pub(crate) fn pid_ns_name(&self, ns: PidNsRef) -> String {
        let n = &self.pid_namespaces[ns];
        format!("pid:[{}] (level {})", n.ns.inum, n.level)
    }

    /// `get_pid_ns`.
    pub(crate) fn get_pid_ns(&mut self, ns: PidNsRef) {
        let count = {
            let n = &mut self.pid_namespaces[ns];
            n.ns.count += 1;
            n.ns.count
        };
        self.note(|k| Step::Get {
            object: k.pid_ns_name(ns),
            count,
        });
    }

    /// `put_pid_ns`: the last reference destroys the namespace and puts its parent, up the
    /// chain (`destroy_pid_namespace`).
    pub(crate) fn put_pid_ns(&mut self, ns: PidNsRef) {
        let mut ns = ns;
        loop {
            let count = {
                let n = &mut self.pid_namespaces[ns];
                n.ns.count -= 1;
                n.ns.count
            };
            self.note(|k| Step::Put {
                object: k.pid_ns_name(ns),
                count,
            });
            if count != 0 {
                return;
            }
            self.note(|k| Step::Free {
                object: format!("{} (destroy_pid_namespace)", k.pid_ns_name(ns)),
            });
            let n = self.pid_namespaces.remove(ns);
            self.proc_free_inum(n.ns.inum);
            if let Some((uns, uid)) = n.ucounts_key {
                self.dec_ucount(uns, uid, NsType::Pid);
            }
            self.put_user_ns(n.user_ns);
            match n.parent {
                Some(p) => ns = p,
                None => return,
            }
        }
    }

    /// `copy_pid_ns(flags, user_ns, old_ns)`: share without `CLONE_NEWPID`; a caller whose
    /// children already go to another namespace than its own (after `unshare(CLONE_NEWPID)`)
    /// gets `EINVAL`; otherwise `create_pid_namespace`.
    pub(crate) fn copy_pid_ns(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: PidNsRef,
        current: TaskRef,
    ) -> Result<PidNsRef, Errno> {
        self.call("copy_pid_ns", FILE, |k| {
            if flags & CLONE_NEWPID == 0 {
                k.get_pid_ns(old);
                return Ok(old);
            }
            let active = k.task_active_pid_ns(current);
            k.rule(
                "task_active_pid_ns(current) != old_ns",
                active != old,
                Errno::EINVAL,
            )?;
            k.create_pid_namespace(user_ns, old, current)
        })
    }

    /// `in_userns(ancestor, child)`: `child` is `ancestor` or below it.
    pub(crate) fn in_userns(&self, ancestor: UserNsRef, child: UserNsRef) -> bool {
        let mut ns = Some(child);
        while let Some(n) = ns {
            if n == ancestor {
                return true;
            }
            ns = self.user_namespaces[n].parent;
        }
        false
    }

    /// `create_pid_namespace(user_ns, parent_pid_ns)`.
    fn create_pid_namespace(
        &mut self,
        user_ns: UserNsRef,
        parent: PidNsRef,
        current: TaskRef,
    ) -> Result<PidNsRef, Errno> {
        self.call("create_pid_namespace", FILE, |k| {
            let (parent_level, parent_owner, pid_max) = {
                let p = &k.pid_namespaces[parent];
                (p.level, p.user_ns, p.pid_max)
            };
            let level = parent_level + 1;
            let below = k.in_userns(parent_owner, user_ns);
            k.rule(
                "!in_userns(parent_pid_ns->user_ns, user_ns)",
                !below,
                Errno::EINVAL,
            )?;
            k.rule(
                "level > MAX_PID_NS_LEVEL (32)",
                level > MAX_PID_NS_LEVEL,
                Errno::ENOSPC,
            )?;
            let euid = k.current_cred(current).euid;
            k.inc_ucount(user_ns, euid, NsType::Pid)?;
            let inum = k.proc_alloc_inum();
            let r = k.pid_namespaces.insert(PidNamespace {
                ns: NsCommon { inum, count: 1 },
                idr: Idr::default(),
                last_pid: 0,
                pid_max,
                pid_allocated: PIDNS_ADDING,
                child_reaper: None,
                level,
                parent: Some(parent),
                user_ns,
                ucounts_key: Some((user_ns, euid)),
            });
            k.note(|_| Step::Alloc {
                object: format!("pid:[{inum}] (level {level}, PIDNS_ADDING)"),
            });
            k.get_pid_ns(parent);
            k.get_user_ns(user_ns);
            Ok(r)
        })
    }

    /// `zap_pid_ns_processes(pid_ns)`: the namespace's init is exiting. No more forks get in
    /// (`disable_pid_allocation`), every other task in it is killed with SIGKILL, and init
    /// waits until they are all reaped.
    pub(crate) fn zap_pid_ns_processes(&mut self, ns: PidNsRef) {
        let _ = self.call("zap_pid_ns_processes", FILE, |k| {
            k.pid_namespaces[ns].pid_allocated &= !PIDNS_ADDING;
            k.note(|k| Step::Set {
                what: format!(
                    "disable_pid_allocation: {} loses PIDNS_ADDING",
                    k.pid_ns_name(ns)
                ),
            });
            // In number order, as `idr_for_each_entry` walks it.
            let victims: Vec<PidRef> = k.pid_namespaces[ns]
                .idr
                .iter()
                .filter(|(nr, _)| *nr >= 2)
                .map(|(_, p)| p)
                .collect();
            for p in victims {
                // An earlier victim's exit may have freed this pid already.
                if let Some(t) = k.pids.get(p).and_then(|pid| pid.task) {
                    if k.task_running(t) {
                        k.note(|k| Step::Set {
                            what: format!("SIGKILL {}", k.task_name(t)),
                        });
                        k.do_exit(t, TaskState::Killed(9));
                    }
                }
            }
            Ok(())
        });
    }

    /// Writing `/proc/sys/kernel/pid_max` as `task`: since 6.14 the value is per pid namespace
    /// (the writer's active one); it needs `CAP_SYS_ADMIN` over the namespace's owner and a
    /// value from 301 to `PID_MAX_LIMIT`; without the capability the file is read-only (`EACCES`).
    pub fn set_pid_max(&mut self, task: TaskRef, pid_max: i32) -> Result<(), Errno> {
        self.call("pid_table_root_permissions", "kernel/pid.c", |k| {
            let ns = k.task_active_pid_ns(task);
            let owner = k.pid_namespaces[ns].user_ns;
            let capable = k.ns_capable(task, owner, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(pidns->user_ns, CAP_SYS_ADMIN) makes it read-only",
                !capable,
                Errno::EACCES,
            )?;
            k.rule(
                "pid_max outside [301, PID_MAX_LIMIT]",
                !(PID_MAX_MIN..=PID_MAX_LIMIT).contains(&pid_max),
                Errno::EINVAL,
            )?;
            k.pid_namespaces[ns].pid_max = pid_max;
            Ok(())
        })
    }

    /// `pidns_install`: `CAP_SYS_ADMIN` over the target's owner and in the caller's user
    /// namespace; the target must be the caller's active namespace or below it. Only
    /// `pid_ns_for_children` changes.
    pub(crate) fn pidns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        new: PidNsRef,
    ) -> Result<(), Errno> {
        self.call("pidns_install", FILE, |k| {
            let owner = k.pid_namespaces[new].user_ns;
            k.install_capable(current, nsset, owner)?;
            let active = k.task_active_pid_ns(current);
            let active_level = k.pid_namespaces[active].level;
            let mut ancestor = new;
            while k.pid_namespaces[ancestor].level > active_level {
                ancestor = k.pid_namespaces[ancestor]
                    .parent
                    .expect("level > 0 has a parent");
            }
            k.rule(
                "new is not the active pid namespace or a descendant of it",
                ancestor != active,
                Errno::EINVAL,
            )?;
            k.get_pid_ns(new);
            let old = k.nsproxies[nsset.nsproxy()].pid_ns_for_children;
            k.put_pid_ns(old);
            k.nsproxies[nsset.nsproxy()].pid_ns_for_children = new;
            Ok(())
        })
    }
}
