//! kernel/nsproxy.c: `copy_namespaces` (fast path, capability, NEWIPC|SYSVSEM),
//! `create_new_namespaces` (order, unwinding), `unshare_nsproxy_namespaces` and `setns`
//! (docs/kernel-rules.md section 2; <https://elixir.bootlin.com/linux/v6.18/source/kernel/nsproxy.c>).

mod common;

use common::*;
use nslab_sim::proc_generic::PROC_DYNAMIC_FIRST;
use nslab_sim::sched::*;
use nslab_sim::trace::{functions_entered, Step};
use nslab_sim::*;

// copy_namespaces (kernel/nsproxy.c), section 2: without a namespace flag the child shares
// the parent's nsproxy (get_nsproxy), whose count goes up by one.
#[test]
fn copy_namespaces_fast_path_shares_the_nsproxy() {
    let (mut k, root) = boot();
    let n = nsproxy_of(&k, root);
    let count = k.nsproxies[n].count;
    let nsproxies = k.object_counts().nsproxies;
    let c = fork(&mut k, root, 0);
    assert_eq!(nsproxy_of(&k, c), n);
    assert_eq!(k.nsproxies[n].count, count + 1);
    assert_eq!(k.object_counts().nsproxies, nsproxies);
    let c2 = fork(&mut k, c, CLONE_VM);
    assert_eq!(nsproxy_of(&k, c2), n);
    assert_eq!(k.nsproxies[n].count, count + 2);
}

// copy_namespaces (kernel/nsproxy.c), section 2: a namespace flag gives the child a new
// nsproxy; the parent's count is unchanged.
#[test]
fn copy_namespaces_with_a_flag_copies_the_nsproxy() {
    let (mut k, root) = boot();
    let n = nsproxy_of(&k, root);
    let count = k.nsproxies[n].count;
    let c = fork(&mut k, root, CLONE_NEWUTS);
    assert_ne!(nsproxy_of(&k, c), n);
    assert_eq!(k.nsproxies[n].count, count);
    assert_eq!(k.nsproxies[nsproxy_of(&k, c)].count, 1);
}

// copy_namespaces (kernel/nsproxy.c), section 2: without CLONE_VM and with
// time_ns_for_children != time_ns the fast path is not taken: the child gets its own
// nsproxy and enters time_ns_for_children (timens_on_fork); with CLONE_VM it shares.
#[test]
fn copy_namespaces_no_fast_path_when_time_for_children_differs() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, CLONE_NEWTIME);
    let shared = fork(&mut k, a, CLONE_VM);
    assert_eq!(nsproxy_of(&k, shared), nsproxy_of(&k, a));
    let c = fork(&mut k, a, 0);
    assert_ne!(nsproxy_of(&k, c), nsproxy_of(&k, a));
    let tfc = inum(&mut k, a, NsEntry::TimeForChildren);
    assert_eq!(inum(&mut k, c, NsEntry::Time), tfc);
}

// copy_namespaces / unshare_nsproxy_namespaces (kernel/nsproxy.c), section 2: without
// CAP_SYS_ADMIN (after setresuid(65534)) a namespace flag is EPERM, but
// clone(CLONE_NEWUSER|CLONE_NEWNET) works: the check is against the child's new user
// namespace, where its creator has every capability.
#[test]
fn copy_namespaces_eperm_without_cap_sys_admin_and_the_newuser_escape() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    let before = snapshot(&mut k, &[root, a]);
    assert_eq!(errno(k.unshare(a, CLONE_NEWNET)), Errno::EPERM);
    assert_eq!(clone_err(&mut k, a, CLONE_NEWNET), Errno::EPERM);
    assert_eq!(clone_err(&mut k, a, CLONE_NEWUTS), Errno::EPERM);
    assert_eq!(snapshot(&mut k, &[root, a]), before);

    let net0 = inum(&mut k, a, NsEntry::Net);
    let c = fork(&mut k, a, CLONE_NEWUSER | CLONE_NEWNET);
    assert_ne!(inum(&mut k, c, NsEntry::Net), net0);
    assert_eq!(user_ns_level(&k, c), 1);
    // The same with unshare: the new credentials' namespace is checked.
    unshare(&mut k, a, CLONE_NEWUSER | CLONE_NEWNET);
    assert_ne!(inum(&mut k, a, NsEntry::Net), net0);
}

// copy_namespaces (kernel/nsproxy.c), section 2: CLONE_NEWIPC together with CLONE_SYSVSEM
// is EINVAL, and nothing is left behind.
#[test]
fn copy_namespaces_newipc_with_sysvsem_is_einval() {
    let (mut k, root) = boot();
    let before = snapshot(&mut k, &[root]);
    assert_eq!(
        clone_err(&mut k, root, CLONE_NEWIPC | CLONE_SYSVSEM),
        Errno::EINVAL
    );
    assert_eq!(snapshot(&mut k, &[root]), before);
    fork(&mut k, root, CLONE_NEWIPC);
    fork(&mut k, root, CLONE_SYSVSEM);
}

/// Every namespace flag that create_new_namespaces handles.
const ALL_NSPROXY: u64 = CLONE_NEWNS
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWPID
    | CLONE_NEWCGROUP
    | CLONE_NEWNET
    | CLONE_NEWTIME;

// create_new_namespaces (kernel/nsproxy.c) and setup_net (net/core/net_namespace.c),
// sections 2 and 5: when copy_net_ns fails, what was made is put back in reverse (cgroup,
// pid, ipc, uts, mnt) and nothing half-made remains.
#[test]
fn create_new_namespaces_unwinds_in_reverse_when_copy_net_ns_fails() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    assert!(k.pernet_fail_init("loopback_net_ops", Some(Errno::ENOMEM)));
    let before = snapshot(&mut k, &[root, a]);
    k.set_recording(true);
    assert_eq!(errno(k.unshare(a, ALL_NSPROXY)), Errno::ENOMEM);
    let records = k.take_records();
    k.set_recording(false);
    assert_eq!(snapshot(&mut k, &[root, a]), before);
    assert_consistent(&k);

    // copy_time_ns is never reached.
    let fns = functions_entered(&records);
    assert!(fns.contains(&"copy_net_ns"));
    assert!(!fns.contains(&"copy_time_ns"));

    // After copy_net_ns returns -ENOMEM, the frees come in reverse creation order.
    let failed = records
        .iter()
        .position(|r| {
            r.function == "copy_net_ns"
                && r.step
                    == Step::Leave {
                        errno: Some(Errno::ENOMEM),
                    }
        })
        .expect("copy_net_ns returned -ENOMEM");
    let freed: Vec<&str> = records[failed..]
        .iter()
        .filter_map(|r| match &r.step {
            Step::Free { object } => object.split(':').next(),
            _ => None,
        })
        .filter(|t| ["mnt", "uts", "ipc", "pid", "cgroup", "net", "time"].contains(t))
        .collect();
    assert_eq!(freed, ["cgroup", "pid", "ipc", "uts", "mnt"]);

    // With the fault gone, the same call succeeds.
    k.pernet_fail_init("loopback_net_ops", None);
    unshare(&mut k, a, ALL_NSPROXY);
}

// create_new_namespaces (kernel/nsproxy.c), sections 2 and 8: the dynamic inode numbers of
// a multi-flag unshare are consecutive in create order: mnt, uts, ipc, pid, cgroup, net,
// time_for_children.
#[test]
fn create_new_namespaces_inode_numbers_are_consecutive_in_create_order() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, ALL_NSPROXY);
    // pid_for_children is readable once the first child exists.
    fork(&mut k, a, 0);
    let n = PROC_DYNAMIC_FIRST;
    let want = [
        (NsEntry::Mnt, n),
        (NsEntry::Uts, n + 1),
        (NsEntry::Ipc, n + 2),
        (NsEntry::PidForChildren, n + 3),
        (NsEntry::Cgroup, n + 4),
        (NsEntry::Net, n + 5),
        (NsEntry::TimeForChildren, n + 6),
    ];
    for (e, i) in want {
        assert_eq!(inum(&mut k, a, e), i, "{}", e.file_name());
    }
}

// create_user_ns then create_new_namespaces (kernel/nsproxy.c), sections 1, 2 and 8: with
// clone3 of all eight flags the user namespace comes first (copy_creds), then the rest in
// create order.
#[test]
fn clone3_all_flags_user_first_then_create_order() {
    let (mut k, root) = boot();
    let c = fork3(&mut k, root, ALL_NSPROXY | CLONE_NEWUSER);
    let n = PROC_DYNAMIC_FIRST;
    let want = [
        (NsEntry::User, n),
        (NsEntry::Mnt, n + 1),
        (NsEntry::Uts, n + 2),
        (NsEntry::Ipc, n + 3),
        (NsEntry::Pid, n + 4),
        (NsEntry::Cgroup, n + 5),
        (NsEntry::Net, n + 6),
        (NsEntry::Time, n + 7),
        (NsEntry::TimeForChildren, n + 7),
    ];
    for (e, i) in want {
        assert_eq!(inum(&mut k, c, e), i, "{}", e.file_name());
    }
}

// setns (kernel/nsproxy.c), section 2: a namespace file with a nonzero nstype of another
// type is EINVAL; nstype 0 or the right type works.
#[test]
fn setns_file_nstype_mismatch_is_einval() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWNET | CLONE_NEWUTS);
    let a = fork(&mut k, root, 0);
    let fd = NsFd::File {
        task: owner,
        entry: NsEntry::Net,
    };
    let before = snapshot(&mut k, &[a, owner]);
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWUTS)), Errno::EINVAL);
    assert_eq!(
        errno(k.setns(a, fd, CLONE_NEWNET | CLONE_NEWUTS)),
        Errno::EINVAL
    );
    assert_eq!(snapshot(&mut k, &[a, owner]), before);
    k.setns(a, fd, 0).expect("nstype 0 accepts any type");
    assert_eq!(
        inum(&mut k, a, NsEntry::Net),
        inum(&mut k, owner, NsEntry::Net)
    );
    let uts = NsFd::File {
        task: owner,
        entry: NsEntry::Uts,
    };
    k.setns(a, uts, CLONE_NEWUTS).expect("matching nstype");
    assert_eq!(
        inum(&mut k, a, NsEntry::Uts),
        inum(&mut k, owner, NsEntry::Uts)
    );
    assert_consistent(&k);
}

// setns (kernel/nsproxy.c, check_setns_flags), section 2: with a pidfd, nstype 0 or a flag
// outside the eight CLONE_NEW* is EINVAL.
#[test]
fn setns_pidfd_flags_zero_or_unknown_is_einval() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWNET);
    let a = fork(&mut k, root, 0);
    let fd = NsFd::Pidfd { task: owner };
    for f in [0, CLONE_VM, CLONE_NEWNET | CLONE_FS, CLONE_THREAD] {
        assert_eq!(errno(k.setns(a, fd, f)), Errno::EINVAL, "{f:#x}");
    }
    k.setns(a, fd, CLONE_NEWNET).expect("a valid flag");
    assert_eq!(
        inum(&mut k, a, NsEntry::Net),
        inum(&mut k, owner, NsEntry::Net)
    );
}

// setns with a pidfd (kernel/nsproxy.c), section 2: several namespaces join at once.
#[test]
fn setns_pidfd_joins_several_namespaces_atomically() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC);
    let a = fork(&mut k, root, 0);
    let fd = NsFd::Pidfd { task: owner };
    k.setns(a, fd, CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)
        .expect("join three");
    for e in [NsEntry::Net, NsEntry::Uts, NsEntry::Ipc] {
        assert_eq!(
            inum(&mut k, a, e),
            inum(&mut k, owner, e),
            "{}",
            e.file_name()
        );
    }
    assert_consistent(&k);
}

// setns with a pidfd (kernel/nsproxy.c, commit_nsset), sections 2 and 4: installs go user,
// mnt, uts, ipc, pid, cgroup, net, time; when a later install (pid into an ancestor,
// EINVAL) fails after uts was installed, the caller is unchanged.
#[test]
fn setns_pidfd_failing_later_install_leaves_the_caller_unchanged() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWUTS | CLONE_NEWNET);
    let inner = fork(&mut k, root, CLONE_NEWPID);
    let fd = NsFd::Pidfd { task: owner };
    let before = snapshot(&mut k, &[root, owner, inner]);
    assert_eq!(
        errno(k.setns(inner, fd, CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNET)),
        Errno::EINVAL
    );
    assert_eq!(snapshot(&mut k, &[root, owner, inner]), before);
    assert_consistent(&k);
}

// setns with a pidfd (kernel/nsproxy.c; timens_install, kernel/time/namespace.c), sections
// 2 and 7: time is installed last; EUSERS in a multithreaded caller undoes uts and net.
#[test]
fn setns_pidfd_failing_time_install_undoes_uts_and_net() {
    let (mut k, root) = boot();
    let owner = fork3(&mut k, root, CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWTIME);
    let a = fork(&mut k, root, 0);
    let th = thread(&mut k, a);
    let fd = NsFd::Pidfd { task: owner };
    let before = snapshot(&mut k, &[root, owner, a, th]);
    assert_eq!(
        errno(k.setns(a, fd, CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWTIME)),
        Errno::EUSERS
    );
    assert_eq!(snapshot(&mut k, &[root, owner, a, th]), before);
    assert_consistent(&k);
}

// userns_install (kernel/user_namespace.c) through setns, sections 2 and 6: joining one's
// own user namespace is EINVAL, by file or by pidfd.
#[test]
fn setns_user_into_own_namespace_is_einval() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, CLONE_NEWUSER);
    let own = NsFd::File {
        task: a,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(a, own, CLONE_NEWUSER)), Errno::EINVAL);
    assert_eq!(
        errno(k.setns(a, NsFd::Pidfd { task: a }, CLONE_NEWUSER)),
        Errno::EINVAL
    );
    let b = fork(&mut k, a, 0);
    assert_eq!(
        errno(k.setns(b, NsFd::Pidfd { task: a }, CLONE_NEWUSER)),
        Errno::EINVAL,
        "a child shares its parent's user namespace"
    );
}

// setns (kernel/nsproxy.c, validate_nsset), section 2: a pidfd of a task that is gone is
// ESRCH; a namespace file of it cannot be opened (ENOENT).
#[test]
fn setns_target_gone() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWNET);
    let a = fork(&mut k, root, 0);
    k.exit(owner, 0).expect("exit");
    assert_eq!(
        errno(k.setns(a, NsFd::Pidfd { task: owner }, CLONE_NEWNET)),
        Errno::ESRCH
    );
    let file = NsFd::File {
        task: owner,
        entry: NsEntry::Net,
    };
    assert_eq!(errno(k.setns(a, file, 0)), Errno::ENOENT);
}

// setns (kernel/nsproxy.c; *_install), sections 2 and 7: without CAP_SYS_ADMIN joining is
// EPERM; by pidfd, a task the caller may not ptrace-read is EPERM.
#[test]
fn setns_without_privilege_is_eperm() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWNET | CLONE_NEWUTS);
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    let before = snapshot(&mut k, &[a]);
    for entry in [NsEntry::Net, NsEntry::Uts, NsEntry::Ipc, NsEntry::Cgroup] {
        let fd = NsFd::File { task: owner, entry };
        assert_eq!(
            errno(k.setns(a, fd, 0)),
            Errno::EPERM,
            "{}",
            entry.file_name()
        );
    }
    assert_eq!(
        errno(k.setns(a, NsFd::Pidfd { task: owner }, CLONE_NEWNET)),
        Errno::EPERM
    );
    assert_eq!(snapshot(&mut k, &[a]), before);
}

// switch_task_namespaces / free_nsproxy (kernel/nsproxy.c), section 2: the last task of an
// nsproxy leaving frees it and every namespace only it held.
#[test]
fn last_exit_frees_the_nsproxy_and_its_namespaces() {
    let (mut k, root) = boot();
    let after_boot = k.object_counts();
    let c = fork3(&mut k, root, ALL_NSPROXY | CLONE_NEWUSER);
    let g = fork(&mut k, c, 0);
    assert_eq!(nsproxy_of(&k, g), nsproxy_of(&k, c));
    // c is the init of its new pid namespace: its exit kills g too.
    k.exit(c, 0).expect("exit");
    assert_eq!(k.state(g), Ok(TaskState::Killed(9)));
    assert_eq!(k.object_counts(), after_boot);
    assert_consistent(&k);
}

// validate_nsset (kernel/nsproxy.c) -> ptrace_may_access (kernel/ptrace.c) ->
// cap_ptrace_access_check (security/commoncap.c), section 2: "-EPERM unless ptrace-read
// access". A caller in a child user namespace, with every capability there, lacks
// CAP_SYS_PTRACE over the target's namespace, so it gets EPERM before any install (here
// before the EINVAL that a shared fs_struct would give in userns_install).
#[test]
fn setns_pidfd_from_a_child_user_namespace_is_eperm_before_any_install() {
    let (mut k, root) = boot();
    let t = fork(&mut k, root, CLONE_NEWUSER | CLONE_NEWUTS);
    let _shares_fs = fork(&mut k, t, CLONE_FS);
    let before = snapshot(&mut k, &[root, t]);
    let pidfd = NsFd::Pidfd { task: root };
    assert_eq!(errno(k.setns(t, pidfd, CLONE_NEWUSER)), Errno::EPERM);
    assert_eq!(errno(k.setns(t, pidfd, CLONE_NEWUTS)), Errno::EPERM);
    assert_eq!(
        snapshot(&mut k, &[root, t]),
        before,
        "a refused setns changes nothing"
    );
    // The other way round, the parent namespace's root may read the child's task.
    k.setns(root, NsFd::Pidfd { task: t }, CLONE_NEWUTS)
        .unwrap();
    assert_eq!(
        inum(&mut k, root, NsEntry::Uts),
        inum(&mut k, t, NsEntry::Uts)
    );
    assert_consistent(&k);
}
