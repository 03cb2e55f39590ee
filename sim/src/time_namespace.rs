//! Time namespaces: offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME.
//!
//! Mirrors kernel/time/namespace.c (v6.18): `copy_time_ns`, `clone_time_ns`,
//! `free_time_ns`, `timens_on_fork`, `timens_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/time/namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 10.

use crate::errno::Errno;
use crate::kernel::{Kernel, NsCommon, NsproxyRef, TaskRef, TimeNsRef, UserNsRef};
use crate::machine::NsType;
use crate::ns_common::owned_ns_refcounting;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWTIME;
use crate::trace::Step;

const FILE: &str = "kernel/time/namespace.c";

/// `struct timens_offsets`, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimensOffsets {
    /// `CLOCK_MONOTONIC` offset, in nanoseconds.
    pub monotonic: i64,
    /// `CLOCK_BOOTTIME` offset, in nanoseconds.
    pub boottime: i64,
}

/// `struct time_namespace`.
#[derive(Clone, Debug)]
pub struct TimeNamespace {
    /// Inode and reference count.
    pub ns: NsCommon,
    /// The owning user namespace.
    pub user_ns: UserNsRef,
    /// The clock offsets.
    pub offsets: TimensOffsets,
    /// `frozen_offsets`: set once a task has entered; offsets can no longer be written.
    pub frozen_offsets: bool,
    /// The ucount charged for it (user namespace, uid).
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

owned_ns_refcounting!(
    time_namespaces,
    TimeNsRef,
    NsType::Time,
    get_time_ns,
    put_time_ns,
    "free_time_ns",
    "kernel/time/namespace.c"
);

impl Kernel {
    /// `copy_time_ns(flags, user_ns, old_ns)`: share without `CLONE_NEWTIME`; otherwise a
    /// new namespace that starts with the old one's offsets (`clone_time_ns`).
    pub(crate) fn copy_time_ns(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: TimeNsRef,
        current: TaskRef,
    ) -> Result<TimeNsRef, Errno> {
        self.call("copy_time_ns", FILE, |k| {
            if flags & CLONE_NEWTIME == 0 {
                k.get_time_ns(old);
                return Ok(old);
            }
            k.call("clone_time_ns", FILE, |k| {
                let euid = k.current_cred(current).euid;
                k.inc_ucount(user_ns, euid, NsType::Time)?;
                let inum = k.proc_alloc_inum();
                let offsets = k.time_namespaces[old].offsets;
                let r = k.time_namespaces.insert(TimeNamespace {
                    ns: NsCommon { inum, count: 1 },
                    user_ns,
                    offsets,
                    frozen_offsets: false,
                    ucounts_key: Some((user_ns, euid)),
                });
                k.note(|_| Step::Alloc {
                    object: format!(
                        "time:[{inum}] (offsets copied: monotonic {}ns, boottime {}ns)",
                        offsets.monotonic, offsets.boottime
                    ),
                });
                k.get_user_ns(user_ns);
                Ok(r)
            })
        })
    }

    /// `timens_on_fork(nsproxy, tsk)`: a child that does not share memory enters
    /// `time_ns_for_children`, whose offsets freeze.
    pub(crate) fn timens_on_fork(&mut self, nsproxy: NsproxyRef) {
        let (cur, for_children) = {
            let n = &self.nsproxies[nsproxy];
            match (n.time_ns, n.time_ns_for_children) {
                (Some(c), Some(f)) => (c, f),
                _ => return,
            }
        };
        if cur == for_children {
            return;
        }
        let _ = self.call("timens_on_fork", FILE, |k| {
            k.get_time_ns(for_children);
            k.put_time_ns(cur);
            k.nsproxies[nsproxy].time_ns = Some(for_children);
            k.time_namespaces[for_children].frozen_offsets = true;
            k.note(|k| Step::Set {
                what: format!(
                    "nsproxy->time_ns = time:[{}] (timens_commit)",
                    k.time_namespaces[for_children].ns.inum
                ),
            });
            Ok(())
        });
    }

    /// `timens_install`: joining sets both `time_ns` and `time_ns_for_children`.
    pub(crate) fn timens_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: TimeNsRef,
    ) -> Result<(), Errno> {
        self.call("timens_install", FILE, |k| {
            let threads = k.tasks[k.tasks[current].group_leader].nr_threads;
            k.rule("!current_is_single_threaded()", threads > 1, Errno::EUSERS)?;
            let owner = k.time_namespaces[ns].user_ns;
            k.install_capable(current, nsset, owner)?;
            let (old, old_children) = {
                let n = &k.nsproxies[nsset.nsproxy()];
                (
                    n.time_ns
                        .expect("a time namespace exists, so the nsproxy has time fields"),
                    n.time_ns_for_children.expect("as for time_ns"),
                )
            };
            k.get_time_ns(ns);
            k.put_time_ns(old);
            k.get_time_ns(ns);
            k.put_time_ns(old_children);
            let n = &mut k.nsproxies[nsset.nsproxy()];
            n.time_ns = Some(ns);
            n.time_ns_for_children = Some(ns);
            Ok(())
        })
    }
}
