//! ipc/namespace.c: `copy_ipcs` and `ipcns_install` (docs/kernel-rules.md section 10;
//! <https://elixir.bootlin.com/linux/v6.18/source/ipc/namespace.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// copy_ipcs (ipc/namespace.c), section 7: CLONE_NEWIPC gives a new, empty namespace.
#[test]
fn copy_ipcs_creates_an_empty_namespace() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWIPC);
    assert_ne!(
        inum(&mut k, c, NsEntry::Ipc),
        inum(&mut k, root, NsEntry::Ipc)
    );
    let ipc = k.nsproxies[nsproxy_of(&k, c)].ipc_ns;
    let ns = &k.ipc_namespaces[ipc];
    assert!(ns.sysv_keys.is_empty());
    assert!(ns.mqueues.is_empty());
    assert_eq!(ns.user_ns, user_ns_of(&k, c));
}

// copy_ipcs (ipc/namespace.c), section 7: without the flag the namespace is shared.
#[test]
fn copy_ipcs_without_flag_shares() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUTS);
    assert_eq!(
        inum(&mut k, c, NsEntry::Ipc),
        inum(&mut k, root, NsEntry::Ipc)
    );
}

// copy_namespaces (kernel/nsproxy.c), sections 2 and 7: CLONE_NEWIPC with CLONE_SYSVSEM is
// EINVAL.
#[test]
fn newipc_with_sysvsem_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(
        clone_err(&mut k, root, CLONE_NEWIPC | CLONE_SYSVSEM),
        Errno::EINVAL
    );
}

// ipcns_install (ipc/namespace.c), section 7: joining needs CAP_SYS_ADMIN over the owner
// and in the caller's user namespace.
#[test]
fn ipcns_install_needs_cap_sys_admin() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWIPC);
    let fd = NsFd::File {
        task: c,
        entry: NsEntry::Ipc,
    };
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    let ipc0 = inum(&mut k, a, NsEntry::Ipc);
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWIPC)), Errno::EPERM);
    assert_eq!(inum(&mut k, a, NsEntry::Ipc), ipc0);
    let b = fork(&mut k, root, 0);
    k.setns(b, fd, CLONE_NEWIPC).expect("root joins");
    assert_eq!(inum(&mut k, b, NsEntry::Ipc), inum(&mut k, c, NsEntry::Ipc));
}
