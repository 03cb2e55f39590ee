//! kernel/ucount.c: the per-user namespace counters and `/proc/sys/user/max_*_namespaces`
//! (docs/kernel-rules.md section 5; <https://elixir.bootlin.com/linux/v6.18/source/kernel/ucount.c>).

mod common;

use common::*;
use nslab_sim::capability::{cap_bit, CAP_SYS_RESOURCE};
use nslab_sim::kernel::DEFAULT_UCOUNT_MAX;
use nslab_sim::sched::*;
use nslab_sim::*;

// inc_ucount (kernel/ucount.c), section 9: exceeding max_<type>_namespaces is ENOSPC, for
// each of the eight types; freeing one makes room again.
#[test]
fn max_namespaces_exceeded_is_enospc_for_every_type() {
    for ty in NsType::INSTALL_ORDER {
        let (mut k, root) = boot();
        let flag = ty.clone_flag();
        Machine::set_max_namespaces(&mut k, root, ty, 1).expect("root writes the limit");
        let first = fork3(&mut k, root, flag);
        let before = snapshot(&mut k, &[root, first]);
        assert_eq!(clone3_err(&mut k, root, flag), Errno::ENOSPC, "{ty:?}");
        assert_eq!(errno(k.unshare(root, flag)), Errno::ENOSPC, "{ty:?}");
        assert_eq!(snapshot(&mut k, &[root, first]), before, "{ty:?}");
        k.exit(first, 0).expect("exit");
        fork3(&mut k, root, flag);
    }
}

// inc_ucount (kernel/ucount.c), section 9: a namespace created inside a child user
// namespace is charged there and at every ancestor level, so the ancestor's limit applies.
#[test]
fn charged_at_every_ancestor_level() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER);
    map_identity(&mut k, root, c);
    let init_ns = user_ns_of(&k, root);
    let child_ns = user_ns_of(&k, c);
    assert_eq!(k.ucount(init_ns, 0, NsType::Uts), 0);
    fork(&mut k, c, CLONE_NEWUTS);
    assert_eq!(k.ucount(child_ns, 0, NsType::Uts), 1);
    assert_eq!(k.ucount(init_ns, 0, NsType::Uts), 1);
    assert_eq!(k.ucount(init_ns, 0, NsType::User), 1, "c's user namespace");

    // The initial namespace's limit, not the child's, now refuses.
    Machine::set_max_namespaces(&mut k, root, NsType::Uts, 1).expect("limit");
    assert_eq!(k.user_namespaces[child_ns].ucount_max[2], i32::MAX as u32);
    assert_eq!(clone_err(&mut k, c, CLONE_NEWUTS), Errno::ENOSPC);
    assert_eq!(
        k.ucount(child_ns, 0, NsType::Uts),
        1,
        "nothing stays charged"
    );
}

// The user sysctl table (kernel/ucount.c), section 9: max_*_namespaces defaults to
// max_threads / 2 in the initial user namespace and to INT_MAX in a child, where its owner
// may write it for that namespace only.
#[test]
fn limits_default_and_are_per_user_namespace() {
    let (mut k, root) = boot();
    let init_ns = user_ns_of(&k, root);
    assert_eq!(
        k.user_namespaces[init_ns].ucount_max,
        [DEFAULT_UCOUNT_MAX; 8]
    );
    let c = fork(&mut k, root, CLONE_NEWUSER);
    map_identity(&mut k, root, c);
    let child_ns = user_ns_of(&k, c);
    assert_eq!(k.user_namespaces[child_ns].ucount_max, [i32::MAX as u32; 8]);
    Machine::set_max_namespaces(&mut k, c, NsType::Net, 0)
        .expect("the owner has CAP_SYS_RESOURCE in its namespace");
    assert_eq!(clone_err(&mut k, c, CLONE_NEWNET), Errno::ENOSPC);
    fork(&mut k, root, CLONE_NEWNET);
}

// set_permissions (kernel/ucount.c), section 9: without CAP_SYS_RESOURCE the limits are
// read-only (EACCES).
#[test]
fn writing_a_limit_without_cap_sys_resource_is_eacces() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    k.drop_caps(a, cap_bit(CAP_SYS_RESOURCE)).expect("capset");
    assert_eq!(
        errno(Machine::set_max_namespaces(&mut k, a, NsType::Net, 5)),
        Errno::EACCES
    );
    let b = fork(&mut k, root, 0);
    become_nobody(&mut k, b);
    assert_eq!(
        errno(Machine::set_max_namespaces(&mut k, b, NsType::User, 5)),
        Errno::EACCES
    );
    // Nothing changed: the limit is still the default.
    let init_ns = user_ns_of(&k, root);
    assert_eq!(
        k.user_namespaces[init_ns].ucount_max,
        [DEFAULT_UCOUNT_MAX; 8]
    );
}

// inc_ucount / dec_ucount (kernel/ucount.c), section 9: counters are per (namespace, uid):
// another uid is not limited by the first one's use.
#[test]
fn counters_are_per_uid() {
    let (mut k, root) = boot();
    Machine::set_max_namespaces(&mut k, root, NsType::Uts, 1).expect("limit");
    fork(&mut k, root, CLONE_NEWUTS);
    assert_eq!(clone_err(&mut k, root, CLONE_NEWUTS), Errno::ENOSPC);
    let a = fork(&mut k, root, 0);
    k.setresuid(a, 1000).expect("setresuid");
    // uid 1000 has no CAP_SYS_ADMIN, but may use a user namespace of its own.
    fork(&mut k, a, CLONE_NEWUSER | CLONE_NEWUTS);
    let init_ns = user_ns_of(&k, root);
    assert_eq!(k.ucount(init_ns, 1000, NsType::Uts), 1);
}
