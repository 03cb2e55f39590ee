//! kernel/fork.c: the flag checks of `copy_process`, the decoding of legacy `clone` and
//! `clone3`, and `ksys_unshare` with `check_unshare_flags` (docs/kernel-rules.md section 1;
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/fork.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// copy_process (kernel/fork.c), section 1: CLONE_NEWNS together with CLONE_FS.
#[test]
fn copy_process_newns_with_fs_is_einval() {
    let (mut k, root) = boot();
    let before = snapshot(&mut k, &[root]);
    assert_eq!(
        clone_err(&mut k, root, CLONE_NEWNS | CLONE_FS),
        Errno::EINVAL
    );
    assert_eq!(snapshot(&mut k, &[root]), before);
}

// copy_process (kernel/fork.c), section 1: CLONE_NEWUSER together with CLONE_FS.
#[test]
fn copy_process_newuser_with_fs_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(
        clone_err(&mut k, root, CLONE_NEWUSER | CLONE_FS),
        Errno::EINVAL
    );
    assert_consistent(&k);
}

// copy_process (kernel/fork.c), section 1: CLONE_THREAD without CLONE_SIGHAND.
#[test]
fn copy_process_thread_without_sighand_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(
        clone_err(&mut k, root, CLONE_THREAD | CLONE_VM),
        Errno::EINVAL
    );
}

// copy_process (kernel/fork.c), section 1: CLONE_SIGHAND without CLONE_VM.
#[test]
fn copy_process_sighand_without_vm_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(clone_err(&mut k, root, CLONE_SIGHAND), Errno::EINVAL);
    assert_eq!(
        clone_err(&mut k, root, CLONE_THREAD | CLONE_SIGHAND),
        Errno::EINVAL
    );
}

// copy_process (kernel/fork.c), section 1: CLONE_PARENT from the global init.
#[test]
fn copy_process_clone_parent_from_global_init_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(pid(&mut k, root), 1);
    assert_eq!(clone_err(&mut k, root, CLONE_PARENT), Errno::EINVAL);
}

// copy_process (kernel/fork.c), section 1: CLONE_PARENT from a pid-namespace init.
#[test]
fn copy_process_clone_parent_from_pid_ns_init_is_einval() {
    let (mut k, root) = boot();
    let init = fork(&mut k, root, CLONE_NEWPID);
    assert_eq!(pid(&mut k, init), 1);
    assert_eq!(clone_err(&mut k, init, CLONE_PARENT), Errno::EINVAL);
}

// copy_process (kernel/fork.c), section 1: SIGNAL_UNKILLABLE is a flag of the whole thread
// group (signal_struct), so a thread of a pid-namespace init cannot CLONE_PARENT either.
#[test]
fn copy_process_clone_parent_from_thread_of_pid_ns_init_is_einval() {
    let (mut k, root) = boot();
    let init = fork(&mut k, root, CLONE_NEWPID);
    let th = thread(&mut k, init);
    assert_eq!(clone_err(&mut k, th, CLONE_PARENT), Errno::EINVAL);
}

// copy_process (kernel/fork.c), section 1: CLONE_PARENT from an ordinary task is allowed and
// the child is a sibling of the caller.
#[test]
fn copy_process_clone_parent_from_ordinary_task_makes_a_sibling() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let b = fork(&mut k, a, CLONE_PARENT);
    assert_eq!(view(&mut k, b).ppid, pid(&mut k, root));
}

// copy_process (kernel/fork.c), section 1: CLONE_THREAD with CLONE_NEWUSER or CLONE_NEWPID.
#[test]
fn copy_process_thread_with_newuser_or_newpid_is_einval() {
    let (mut k, root) = boot();
    let t = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    assert_eq!(clone_err(&mut k, root, t | CLONE_NEWUSER), Errno::EINVAL);
    assert_eq!(clone_err(&mut k, root, t | CLONE_NEWPID), Errno::EINVAL);
    // The same thread without the namespace flag works.
    thread(&mut k, root);
}

// copy_process (kernel/fork.c), sections 1 and 3: CLONE_THREAD after unshare(CLONE_NEWPID)
// (task_active_pid_ns(current) != pid_ns_for_children).
#[test]
fn copy_process_thread_after_unshare_newpid_is_einval() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    thread(&mut k, a);
    unshare(&mut k, a, CLONE_NEWPID);
    assert_eq!(
        clone_err(&mut k, a, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM),
        Errno::EINVAL
    );
    // A process (not a thread) still works, and becomes pid 1 of the new namespace.
    let c = fork(&mut k, a, 0);
    assert_eq!(pid(&mut k, c), 1);
}

// copy_process (kernel/fork.c), section 1: CLONE_PIDFD with CLONE_DETACHED (6.12+).
#[test]
fn copy_process_pidfd_with_detached_is_einval() {
    let (mut k, root) = boot();
    assert_eq!(
        clone_err(&mut k, root, CLONE_PIDFD | CLONE_DETACHED),
        Errno::EINVAL
    );
    // clone3 refuses CLONE_DETACHED outright (clone3_args_valid).
    assert_eq!(clone3_err(&mut k, root, CLONE_DETACHED), Errno::EINVAL);
    // On 6.18, CLONE_PIDFD with CLONE_THREAD is allowed again.
    let t = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_PIDFD;
    fork(&mut k, root, t);
}

// kernel_clone (kernel/fork.c), section 1: legacy clone passes one pointer for pidfd and
// parent_tid, so CLONE_PIDFD|CLONE_PARENT_SETTID is EINVAL there, not with clone3.
#[test]
fn kernel_clone_pidfd_with_parent_settid_is_einval_only_for_legacy_clone() {
    let (mut k, root) = boot();
    assert_eq!(
        clone_err(&mut k, root, CLONE_PIDFD | CLONE_PARENT_SETTID),
        Errno::EINVAL
    );
    fork3(&mut k, root, CLONE_PIDFD | CLONE_PARENT_SETTID);
}

// sys_clone (kernel/fork.c), section 1: legacy clone takes the low byte as the exit
// signal, so CLONE_NEWTIME (0x80) creates no time namespace; clone3 does.
#[test]
fn legacy_clone_reads_newtime_as_exit_signal_clone3_creates_the_namespace() {
    let (mut k, root) = boot();
    let time0 = inum(&mut k, root, NsEntry::Time);
    let legacy = CloneArgs {
        flags: CLONE_NEWTIME,
        via: CloneVia::Clone,
    };
    let c = Machine::clone_task(&mut k, root, legacy).expect("legacy clone with 0x80");
    assert_eq!(inum(&mut k, c, NsEntry::Time), time0);
    assert_eq!(inum(&mut k, c, NsEntry::TimeForChildren), time0);
    assert_eq!(
        nsproxy_of(&k, c),
        nsproxy_of(&k, root),
        "no namespace flag left"
    );

    let c3 = fork3(&mut k, root, CLONE_NEWTIME);
    let t3 = inum(&mut k, c3, NsEntry::Time);
    assert_ne!(t3, time0);
    assert_eq!(inum(&mut k, c3, NsEntry::TimeForChildren), t3);
}

// sys_clone (kernel/fork.c), section 1: legacy clone flags are 32 bits; bits above are
// dropped, while clone3 rejects unknown bits and exit-signal bits in flags.
#[test]
fn legacy_clone_drops_high_bits_clone3_rejects_unknown_bits() {
    let (mut k, root) = boot();
    let legacy = CloneArgs {
        flags: 1 << 40,
        via: CloneVia::Clone,
    };
    let c = Machine::clone_task(&mut k, root, legacy).expect("high bits are not seen");
    assert_eq!(nsproxy_of(&k, c), nsproxy_of(&k, root));
    assert_eq!(clone3_err(&mut k, root, 1 << 40), Errno::EINVAL);
    assert_eq!(clone3_err(&mut k, root, 17), Errno::EINVAL);
}

// ksys_unshare (kernel/fork.c), section 3: CLONE_NEWUSER implies CLONE_THREAD, so it is
// EINVAL in a multithreaded process, while CLONE_NEWNET succeeds there and affects only the
// calling thread.
#[test]
fn unshare_newuser_multithreaded_is_einval_newnet_succeeds_for_one_thread() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let th = thread(&mut k, a);
    let net0 = inum(&mut k, a, NsEntry::Net);
    let before = snapshot(&mut k, &[root, a, th]);
    assert_eq!(errno(k.unshare(a, CLONE_NEWUSER)), Errno::EINVAL);
    assert_eq!(errno(k.unshare(th, CLONE_NEWUSER)), Errno::EINVAL);
    assert_eq!(snapshot(&mut k, &[root, a, th]), before);

    unshare(&mut k, th, CLONE_NEWNET);
    assert_ne!(inum(&mut k, th, NsEntry::Net), net0);
    assert_eq!(inum(&mut k, a, NsEntry::Net), net0);
    unshare(&mut k, a, CLONE_NEWPID);
}

// check_unshare_flags (kernel/fork.c), section 3: THREAD, SIGHAND or VM (VM implies
// SIGHAND implies THREAD) in a multithreaded process is EINVAL; alone they are fine.
#[test]
fn check_unshare_flags_thread_sighand_vm_multithreaded_is_einval() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    for f in [CLONE_THREAD, CLONE_SIGHAND, CLONE_VM] {
        unshare(&mut k, a, f);
    }
    thread(&mut k, a);
    for f in [CLONE_THREAD, CLONE_SIGHAND, CLONE_VM] {
        assert_eq!(
            errno(k.unshare(a, f)),
            Errno::EINVAL,
            "{}",
            flags_to_string(f)
        );
    }
    unshare(&mut k, a, CLONE_FILES | CLONE_FS | CLONE_SYSVSEM);
}

// check_unshare_flags (kernel/fork.c), section 3: a flag outside the allowed list is EINVAL.
#[test]
fn check_unshare_flags_unknown_flag_is_einval() {
    let (mut k, root) = boot();
    for f in [
        CLONE_PIDFD,
        CLONE_PARENT,
        CLONE_VFORK,
        CLONE_SETTLS,
        1 << 40,
    ] {
        assert_eq!(errno(k.unshare(root, f)), Errno::EINVAL, "{f:#x}");
    }
    // CLONE_NEWTIME is allowed on 6.x.
    unshare(&mut k, root, CLONE_NEWTIME);
}

// ksys_unshare (kernel/fork.c), section 3: CLONE_NEWNS implies CLONE_FS, which gives the
// caller a private fs_struct: afterwards it may join a user namespace (userns_install needs
// fs->users == 1, section 6).
#[test]
fn unshare_newns_implies_fs() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let b = fork(&mut k, a, CLONE_FS);
    let owner = fork(&mut k, root, CLONE_NEWUSER);
    let target = NsFd::File {
        task: owner,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(b, target, CLONE_NEWUSER)), Errno::EINVAL);
    unshare(&mut k, b, CLONE_NEWNS);
    k.setns(b, target, CLONE_NEWUSER).expect("private fs now");
    assert_eq!(user_ns_of(&k, b), user_ns_of(&k, owner));
    assert_consistent(&k);
}

// ksys_unshare (kernel/fork.c), section 3: CLONE_NEWUSER implies CLONE_FS, so a
// single-threaded task sharing its fs_struct may still unshare a user namespace.
#[test]
fn unshare_newuser_implies_fs_and_works_with_shared_fs() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let b = fork(&mut k, a, CLONE_FS);
    unshare(&mut k, b, CLONE_NEWUSER);
    assert_eq!(user_ns_level(&k, b), 1);
    let fs_a = k.tasks[task_ref(&k, a)].fs;
    let fs_b = k.tasks[task_ref(&k, b)].fs;
    assert_ne!(fs_a, fs_b, "the fs_struct was unshared too");
}

// copy_pid_ns (kernel/pid_namespace.c) via unshare, section 3: after unshare(CLONE_NEWPID)
// a second unshare(CLONE_NEWPID) and clone(CLONE_NEWPID) are EINVAL.
#[test]
fn second_newpid_after_unshare_newpid_is_einval() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, CLONE_NEWPID);
    assert_eq!(errno(k.unshare(a, CLONE_NEWPID)), Errno::EINVAL);
    assert_eq!(clone_err(&mut k, a, CLONE_NEWPID), Errno::EINVAL);
    // Even once the namespace has its init.
    fork(&mut k, a, 0);
    assert_eq!(errno(k.unshare(a, CLONE_NEWPID)), Errno::EINVAL);
    assert_consistent(&k);
}

// copy_process (kernel/fork.c), section 1: the checks come before anything is allocated, so
// a refused clone leaves every object count as it was.
#[test]
fn refused_clone_allocates_nothing() {
    let (mut k, root) = boot();
    let before = snapshot(&mut k, &[root]);
    for f in [
        CLONE_NEWNS | CLONE_FS,
        CLONE_NEWUSER | CLONE_FS,
        CLONE_THREAD,
        CLONE_SIGHAND,
        CLONE_PARENT,
        CLONE_NEWIPC | CLONE_SYSVSEM,
    ] {
        clone_err(&mut k, root, f);
        assert_eq!(snapshot(&mut k, &[root]), before, "{}", flags_to_string(f));
    }
    assert_consistent(&k);
}
