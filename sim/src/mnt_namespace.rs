//! Mount namespaces: a copy of the mount tree per namespace.
//!
//! Mirrors fs/namespace.c (v6.18): `copy_mnt_ns`, `alloc_mnt_ns`, `free_mnt_ns`,
//! `mntns_install`, and `init_mount_tree` for the first namespace.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/fs/namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 10.

use crate::capability::{CAP_SYS_ADMIN, CAP_SYS_CHROOT};
use crate::errno::Errno;
use crate::kernel::{Kernel, MntNsRef, NsCommon, TaskRef, UserNsRef};
use crate::machine::NsType;
use crate::ns_common::owned_ns_refcounting;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWNS;
use crate::trace::Step;

const FILE: &str = "fs/namespace.c";

/// How a mount passes mount events on (`MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
}

/// One `struct mount`, reduced to what a listing shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted; the model's mount points are fixed names.
    pub mountpoint: &'static str,
    pub fstype: &'static str,
    pub propagation: Propagation,
    /// `MNT_LOCKED`: cannot be unmounted from a less privileged namespace.
    pub locked: bool,
}

/// `struct mnt_namespace`.
#[derive(Clone, Debug)]
pub struct MntNamespace {
    pub ns: NsCommon,
    pub user_ns: UserNsRef,
    pub mounts: Vec<Mount>,
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

owned_ns_refcounting!(
    mnt_namespaces,
    MntNsRef,
    NsType::Mnt,
    get_mnt_ns,
    put_mnt_ns,
    "free_mnt_ns",
    "fs/namespace.c"
);

/// The mount tree `init_mount_tree` and early userspace leave: what the initial namespace
/// holds in the model.
pub fn initial_mounts() -> Vec<Mount> {
    [
        ("/", "ext4"),
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev", "devtmpfs"),
        ("/run", "tmpfs"),
    ]
    .into_iter()
    .map(|(m, t)| Mount {
        mountpoint: m,
        fstype: t,
        propagation: Propagation::Shared,
        locked: false,
    })
    .collect()
}

impl Kernel {
    /// `copy_mnt_ns(flags, ns, user_ns, new_fs)`: share without `CLONE_NEWNS`; otherwise copy
    /// the tree (`copy_tree`). When the new owner differs from the old one, shared mounts
    /// become slaves (`CL_SHARED_TO_SLAVE`) and the tree is locked (`lock_mnt_tree`).
    pub(crate) fn copy_mnt_ns(
        &mut self,
        flags: u64,
        old: MntNsRef,
        user_ns: UserNsRef,
        current: TaskRef,
    ) -> Result<MntNsRef, Errno> {
        self.call("copy_mnt_ns", FILE, |k| {
            if flags & CLONE_NEWNS == 0 {
                k.get_mnt_ns(old);
                return Ok(old);
            }
            let euid = k.current_cred(current).euid;
            k.call("alloc_mnt_ns", FILE, |k| {
                k.inc_ucount(user_ns, euid, NsType::Mnt)
            })?;
            let inum = k.proc_alloc_inum();
            let o = &k.mnt_namespaces[old];
            let less_privileged = o.user_ns != user_ns;
            let mounts = o
                .mounts
                .iter()
                .map(|m| Mount {
                    propagation: if less_privileged && m.propagation == Propagation::Shared {
                        Propagation::Slave
                    } else {
                        m.propagation
                    },
                    locked: m.locked || less_privileged,
                    ..m.clone()
                })
                .collect::<Vec<_>>();
            let n = mounts.len();
            let r = k.mnt_namespaces.insert(MntNamespace {
                ns: NsCommon { inum, count: 1 },
                user_ns,
                mounts,
                ucounts_key: Some((user_ns, euid)),
            });
            k.note(|_| Step::Alloc {
                object: format!(
                    "mnt:[{inum}] (copy_tree of {n} mounts{})",
                    if less_privileged {
                        ", shared to slave, locked"
                    } else {
                        ""
                    }
                ),
            });
            k.get_user_ns(user_ns);
            Ok(r)
        })
    }

    /// `mntns_install`: needs `CAP_SYS_ADMIN` over the namespace's owner and `CAP_SYS_CHROOT`
    /// and `CAP_SYS_ADMIN` in the caller's; the fs_struct must not be shared.
    pub(crate) fn mntns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: MntNsRef,
    ) -> Result<(), Errno> {
        self.call("mntns_install", FILE, |k| {
            let owner = k.mnt_namespaces[ns].user_ns;
            let cred_ns = k.creds[nsset.cred(k, current)].user_ns;
            let ok = k.ns_capable(current, owner, CAP_SYS_ADMIN)
                && k.ns_capable(current, cred_ns, CAP_SYS_CHROOT)
                && k.ns_capable(current, cred_ns, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(mnt_ns->user_ns, CAP_SYS_ADMIN) || !ns_capable(user_ns, CAP_SYS_CHROOT) || !ns_capable(user_ns, CAP_SYS_ADMIN)",
                !ok,
                Errno::EPERM,
            )?;
            let fs_users = k
                .tasks[current]
                .fs
                .map(|f| k.fs_structs[f].users)
                .unwrap_or(1);
            let shared = nsset.fs_shared && fs_users != 1;
            k.rule("fs->users != 1", shared, Errno::EINVAL)?;
            k.get_mnt_ns(ns);
            let old = k.nsproxies[nsset.nsproxy()].mnt_ns;
            k.put_mnt_ns(old);
            k.nsproxies[nsset.nsproxy()].mnt_ns = ns;
            Ok(())
        })
    }
}
