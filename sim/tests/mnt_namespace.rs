//! fs/namespace.c: `copy_mnt_ns` and `mntns_install` (docs/kernel-rules.md section 10;
//! <https://elixir.bootlin.com/linux/v6.18/source/fs/namespace.c>).

mod common;

use common::*;
use nslab_sim::capability::{cap_bit, CAP_SYS_CHROOT};
use nslab_sim::mnt_namespace::{initial_mounts, Propagation};
use nslab_sim::sched::*;
use nslab_sim::*;

fn mounts(k: &Kernel, t: TaskId) -> Vec<nslab_sim::mnt_namespace::Mount> {
    let m = k.nsproxies[nsproxy_of(k, t)].mnt_ns;
    k.mnt_namespaces[m].mounts.clone()
}

// copy_mnt_ns (fs/namespace.c), section 7: a new mount namespace is a copy of the tree; with
// the same owner, nothing is locked and shared stays shared.
#[test]
fn copy_mnt_ns_copies_the_tree() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNS);
    assert_ne!(
        inum(&mut k, c, NsEntry::Mnt),
        inum(&mut k, root, NsEntry::Mnt)
    );
    assert_eq!(mounts(&k, c), initial_mounts());
}

// copy_mnt_ns (fs/namespace.c), section 7: with a different owner user namespace, shared
// mounts become slaves and every mount is locked.
#[test]
fn copy_mnt_ns_into_another_owner_makes_slaves_and_locks() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER | CLONE_NEWNS);
    let m = mounts(&k, c);
    assert_eq!(m.len(), initial_mounts().len());
    assert!(m
        .iter()
        .all(|m| m.propagation == Propagation::Slave && m.locked));
    assert!(mounts(&k, root).iter().all(|m| !m.locked));
}

// mntns_install (fs/namespace.c), section 7: CAP_SYS_CHROOT in the caller's namespace is
// needed too (EPERM without it).
#[test]
fn mntns_install_needs_cap_sys_chroot() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNS);
    let fd = NsFd::File {
        task: c,
        entry: NsEntry::Mnt,
    };
    let a = fork(&mut k, root, 0);
    k.drop_caps(a, cap_bit(CAP_SYS_CHROOT)).expect("capset");
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWNS)), Errno::EPERM);
    let b = fork(&mut k, root, 0);
    k.setns(b, fd, CLONE_NEWNS).expect("root joins");
    assert_eq!(inum(&mut k, b, NsEntry::Mnt), inum(&mut k, c, NsEntry::Mnt));
}

// mntns_install (fs/namespace.c), section 7: EINVAL when the fs_struct is shared (joining
// only the mount namespace); with a pidfd and more types the fs_struct is a private copy.
#[test]
fn mntns_install_with_shared_fs_is_einval() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNS | CLONE_NEWUTS);
    let a = fork(&mut k, root, 0);
    fork(&mut k, a, CLONE_FS);
    let fd = NsFd::File {
        task: c,
        entry: NsEntry::Mnt,
    };
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWNS)), Errno::EINVAL);
    assert_eq!(
        errno(k.setns(a, NsFd::Pidfd { task: c }, CLONE_NEWNS)),
        Errno::EINVAL
    );
    k.setns(a, NsFd::Pidfd { task: c }, CLONE_NEWNS | CLONE_NEWUTS)
        .expect("a private copy of fs_struct");
    assert_eq!(inum(&mut k, a, NsEntry::Mnt), inum(&mut k, c, NsEntry::Mnt));
    assert_consistent(&k);
}
