//! Per-user namespace counters and the `/proc/sys/user/max_*_namespaces` limits.
//!
//! Mirrors kernel/ucount.c (v6.18): `inc_ucount`, `dec_ucount`, and the `user_table`
//! sysctls with their `set_permissions` rule.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/ucount.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 5.

use crate::capability::CAP_SYS_RESOURCE;
use crate::errno::Errno;
use crate::kernel::{Kernel, TaskRef, UserNsRef};
use crate::machine::NsType;
use crate::trace::Step;

const FILE: &str = "kernel/ucount.c";

/// `struct ucounts`: how many namespaces of each type a (user namespace, uid) created,
/// including those created below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ucounts {
    /// The count per namespace type, by `NsType` index.
    pub ucount: [u32; 8],
}

/// The `enum ucount_type` slot of a namespace type.
pub const fn ucount_index(t: NsType) -> usize {
    match t {
        NsType::User => 0,
        NsType::Pid => 1,
        NsType::Uts => 2,
        NsType::Ipc => 3,
        NsType::Net => 4,
        NsType::Mnt => 5,
        NsType::Cgroup => 6,
        NsType::Time => 7,
    }
}

impl Kernel {
    /// `inc_ucount(ns, uid, type)`: charge the (ns, uid) counter, then the counter of the
    /// namespace's creator in its parent, and so on to the root; any level at its
    /// `ucount_max` refuses with `ENOSPC` and nothing stays charged.
    pub(crate) fn inc_ucount(&mut self, ns: UserNsRef, uid: u32, ty: NsType) -> Result<(), Errno> {
        self.call("inc_ucount", FILE, |k| {
            let idx = ucount_index(ty);
            let mut key = Some((ns, uid));
            while let Some((tns, tuid)) = key {
                let max = k.user_namespaces[tns].ucount_max[idx];
                let cur = k
                    .ucounts
                    .get(&(tns, tuid))
                    .map(|u| u.ucount[idx])
                    .unwrap_or(0);
                if cur >= max {
                    // Uncharge the levels below this one by walking the same chain again,
                    // rather than keeping a list of the charged levels at every call.
                    let mut undo = Some((ns, uid));
                    while let Some((n, u)) = undo.filter(|&c| c != (tns, tuid)) {
                        k.ucount_sub(n, u, idx);
                        undo = k.user_namespaces[n].ucounts_key;
                    }
                    return k.rule("ucount at max_*_namespaces", true, Errno::ENOSPC);
                }
                k.ucounts.entry((tns, tuid)).or_default().ucount[idx] += 1;
                key = k.user_namespaces[tns].ucounts_key;
            }
            k.note(|k| Step::Set {
                what: format!(
                    "{} count of uid {uid} in {} and its ancestors +1",
                    ty.max_sysctl(),
                    k.user_ns_name(ns)
                ),
            });
            Ok(())
        })
    }

    fn ucount_sub(&mut self, ns: UserNsRef, uid: u32, idx: usize) {
        let u = self
            .ucounts
            .get_mut(&(ns, uid))
            .expect("model bug: uncharging a counter never charged");
        u.ucount[idx] -= 1;
        if u.ucount.iter().all(|c| *c == 0) {
            self.ucounts.remove(&(ns, uid));
        }
    }

    /// `dec_ucount`: undoes `inc_ucount` at every level.
    pub(crate) fn dec_ucount(&mut self, ns: UserNsRef, uid: u32, ty: NsType) {
        self.note(|k| Step::Set {
            what: format!(
                "dec_ucount: {} count of uid {uid} in {} and its ancestors -1",
                ty.max_sysctl(),
                k.user_ns_name(ns)
            ),
        });
        let idx = ucount_index(ty);
        let mut key = Some((ns, uid));
        while let Some((tns, tuid)) = key {
            self.ucount_sub(tns, tuid, idx);
            key = self.user_namespaces[tns].ucounts_key;
        }
    }

    /// How many namespaces of a type `uid` holds charged in `ns`.
    pub fn ucount(&self, ns: UserNsRef, uid: u32, ty: NsType) -> u32 {
        self.ucounts
            .get(&(ns, uid))
            .map(|u| u.ucount[ucount_index(ty)])
            .unwrap_or(0)
    }

    /// Writing `/proc/sys/user/max_<type>_namespaces` as `task`: the table is that of the
    /// task's user namespace, and `set_permissions` makes it writable only with
    /// `CAP_SYS_RESOURCE` there (`EACCES` otherwise); `proc_dointvec_minmax` takes 0 to
    /// INT_MAX (`EINVAL` otherwise).
    pub(crate) fn write_max_namespaces(
        &mut self,
        task: TaskRef,
        ty: NsType,
        max: u32,
    ) -> Result<(), Errno> {
        self.call("proc_dointvec_minmax", FILE, |k| {
            let ns = k.current_user_ns(task);
            let capable = k.ns_capable(task, ns, CAP_SYS_RESOURCE);
            k.rule(
                "set_permissions: !ns_capable(user_ns, CAP_SYS_RESOURCE) makes it read-only",
                !capable,
                Errno::EACCES,
            )?;
            k.rule("value above INT_MAX", max > i32::MAX as u32, Errno::EINVAL)?;
            k.user_namespaces[ns].ucount_max[ucount_index(ty)] = max;
            k.note(|k| Step::Set {
                what: format!("{} {} = {max}", k.user_ns_name(ns), ty.max_sysctl()),
            });
            Ok(())
        })
    }
}
