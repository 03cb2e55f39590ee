//! kernel/cgroup/namespace.c: `copy_cgroup_ns` and `cgroupns_install` (docs/kernel-rules.md
//! section 10; <https://elixir.bootlin.com/linux/v6.18/source/kernel/cgroup/namespace.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// copy_cgroup_ns (kernel/cgroup/namespace.c), section 7: a new namespace rooted at the
// caller's cgroup; without the flag it is shared.
#[test]
fn copy_cgroup_ns_creates_or_shares() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWCGROUP);
    let d = fork(&mut k, root, CLONE_NEWUTS);
    let root_cg = inum(&mut k, root, NsEntry::Cgroup);
    assert_ne!(inum(&mut k, c, NsEntry::Cgroup), root_cg);
    assert_eq!(inum(&mut k, d, NsEntry::Cgroup), root_cg);
    let cg = k.nsproxies[nsproxy_of(&k, c)].cgroup_ns;
    assert_eq!(k.cgroup_namespaces[cg].root_cgroup, "/");
}

// copy_cgroup_ns (kernel/cgroup/namespace.c), section 7: without CAP_SYS_ADMIN, EPERM; in
// a new user namespace of its own the creator may.
#[test]
fn copy_cgroup_ns_unprivileged_is_eperm() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    assert_eq!(clone_err(&mut k, a, CLONE_NEWCGROUP), Errno::EPERM);
    assert_eq!(errno(k.unshare(a, CLONE_NEWCGROUP)), Errno::EPERM);
    fork(&mut k, a, CLONE_NEWUSER | CLONE_NEWCGROUP);
}

// cgroupns_install (kernel/cgroup/namespace.c), section 7: joining needs CAP_SYS_ADMIN.
#[test]
fn cgroupns_install_needs_cap_sys_admin() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWCGROUP);
    let fd = NsFd::File {
        task: c,
        entry: NsEntry::Cgroup,
    };
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWCGROUP)), Errno::EPERM);
    let b = fork(&mut k, root, 0);
    k.setns(b, fd, CLONE_NEWCGROUP).expect("root joins");
    assert_eq!(
        inum(&mut k, b, NsEntry::Cgroup),
        inum(&mut k, c, NsEntry::Cgroup)
    );
    assert_consistent(&k);
}
