//! Bad input: handles of exited tasks, namespaces of dead tasks, unknown flag bits, and
//! clone3-only flags given to legacy clone. The answer is the kernel's errno, and nothing is
//! left behind (the lab checks that at the end of every test).

use crate::harness::{start_lab, tests, Outcome};
use nslab_machine::sched::*;
use nslab_machine::{
    CloneArgs, CloneVia, Errno, Machine, NsEntry, NsFd, SysError, TaskId, TaskState,
};

tests![
    handles_of_exited_tasks_give_esrch,
    setns_to_a_dead_task_gives_enoent_or_esrch,
    unknown_flag_bits,
    clone3_only_flags_through_legacy_clone,
    newtime_through_legacy_clone_is_an_exit_signal,
    invalid_flag_combinations_are_einval,
    clone_vm_gets_the_kernels_answer_and_no_task,
];

fn errno<T: std::fmt::Debug>(r: Result<T, SysError>) -> Errno {
    match r {
        Err(SysError::Errno(e)) => e,
        other => panic!("expected an errno, got {other:?}"),
    }
}

fn handles_of_exited_tasks_give_esrch() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let t = m.clone_task(root, CloneArgs::new(0)).unwrap();
    m.exit(t, 0).unwrap();
    assert_eq!(errno(m.observe(t)), Errno::ESRCH);
    assert_eq!(errno(m.clone_task(t, CloneArgs::new(0))), Errno::ESRCH);
    assert_eq!(errno(m.unshare(t, CLONE_NEWNET)), Errno::ESRCH);
    assert_eq!(errno(m.exit(t, 0)), Errno::ESRCH);
    assert_eq!(errno(m.state(TaskId(99))), Errno::ESRCH);
    assert_eq!(m.state(t).unwrap(), TaskState::Exited(0));
    Outcome::Pass
}

fn setns_to_a_dead_task_gives_enoent_or_esrch() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let t = m.clone_task(root, CloneArgs::new(CLONE_NEWNET)).unwrap();
    let pid = m.host_pid(t).unwrap();
    m.exit(t, 0).unwrap();
    // What the kernel says about the reaped pid (numbers are not reused until they wrap).
    let file = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap_err();
    assert_eq!(file.raw_os_error(), Some(libc::ENOENT));
    // SAFETY: pidfd_open takes two integers; a returned fd would be leaked only on failure
    // of this assertion.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert_eq!(
        (r, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::ESRCH))
    );
    let by_file = m.setns(
        root,
        NsFd::File {
            task: t,
            entry: NsEntry::Net,
        },
        CLONE_NEWNET,
    );
    assert_eq!(errno(by_file), Errno::ENOENT);
    assert_eq!(
        errno(m.setns(root, NsFd::Pidfd { task: t }, CLONE_NEWNET)),
        Errno::ESRCH
    );
    Outcome::Pass
}

fn unknown_flag_bits() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let unknown = 1u64 << 40;
    assert_eq!(errno(m.unshare(root, unknown)), Errno::EINVAL);
    assert_eq!(
        errno(m.unshare(root, CLONE_NEWNET | unknown)),
        Errno::EINVAL
    );
    let clone3 = CloneArgs {
        flags: unknown,
        via: CloneVia::Clone3,
    };
    assert_eq!(errno(m.clone_task(root, clone3)), Errno::EINVAL);
    // Legacy clone keeps only the low 32 bits of its flag word, so a high unknown bit is
    // dropped silently and the clone succeeds (observed on 6.18).
    let legacy = CloneArgs {
        flags: unknown | CLONE_NEWUTS,
        via: CloneVia::Clone,
    };
    let c = m.clone_task(root, legacy).unwrap();
    assert_ne!(
        m.observe(c).unwrap().ns(NsEntry::Uts),
        m.observe(root).unwrap().ns(NsEntry::Uts)
    );
    Outcome::Pass
}

fn clone3_only_flags_through_legacy_clone() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    // CLONE_CLEAR_SIGHAND is bit 32: legacy clone never sees it, so the call succeeds as a
    // plain clone.
    let legacy = CloneArgs {
        flags: CLONE_CLEAR_SIGHAND,
        via: CloneVia::Clone,
    };
    let c = m.clone_task(root, legacy).unwrap();
    assert_eq!(m.state(c).unwrap(), TaskState::Running);
    // Through clone3 it is valid too.
    let c3 = m
        .clone_task(root, CloneArgs::new(CLONE_CLEAR_SIGHAND))
        .unwrap();
    assert_eq!(m.state(c3).unwrap(), TaskState::Running);
    // CLONE_INTO_CGROUP through clone3 with cgroup fd 0 (not a cgroup): the kernel's EBADF.
    assert_eq!(
        errno(m.clone_task(root, CloneArgs::new(CLONE_INTO_CGROUP))),
        Errno::EBADF
    );
    Outcome::Pass
}

fn newtime_through_legacy_clone_is_an_exit_signal() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let legacy = CloneArgs {
        flags: CLONE_NEWTIME,
        via: CloneVia::Clone,
    };
    let r = m.clone_task(root, legacy);
    let c = r.expect("legacy clone with the low byte 0x80 as the exit signal");
    let (vc, vr) = (m.observe(c).unwrap(), m.observe(root).unwrap());
    assert_eq!(
        vc.ns(NsEntry::Time),
        vr.ns(NsEntry::Time),
        "no new time namespace"
    );
    // The parent still reaps it although its exit signal is not SIGCHLD.
    m.exit(c, 5).unwrap();
    assert_eq!(m.state(c).unwrap(), TaskState::Exited(5));
    Outcome::Pass
}

fn invalid_flag_combinations_are_einval() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    for flags in [
        CLONE_NEWNS | CLONE_FS,
        CLONE_NEWUSER | CLONE_FS,
        CLONE_THREAD,
        CLONE_SIGHAND,
        CLONE_NEWIPC | CLONE_SYSVSEM,
        CLONE_PIDFD | CLONE_PARENT_SETTID,
        CLONE_PIDFD | CLONE_DETACHED,
    ] {
        let r = m.clone_task(root, CloneArgs::new(flags));
        assert_eq!(errno(r), Errno::EINVAL, "{}", flags_to_string(flags));
    }
    // CLONE_PARENT from a pid-namespace init.
    let init = m.clone_task(root, CloneArgs::new(CLONE_NEWPID)).unwrap();
    assert_eq!(
        errno(m.clone_task(init, CloneArgs::new(CLONE_PARENT))),
        Errno::EINVAL
    );
    Outcome::Pass
}

fn clone_vm_gets_the_kernels_answer_and_no_task() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    // The kernel refuses these before making anything (copy_process, docs/kernel-rules.md
    // section 1);
    // nslab passes them through a probe clone on a fresh stack.
    let thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    assert_eq!(
        errno(m.clone_task(root, CloneArgs::new(thread | CLONE_NEWPID))),
        Errno::EINVAL
    );
    assert_eq!(
        errno(m.clone_task(root, CloneArgs::new(thread | CLONE_NEWUSER))),
        Errno::EINVAL
    );
    assert_eq!(
        errno(m.clone_task(root, CloneArgs::new(CLONE_VM | CLONE_THREAD))),
        Errno::EINVAL
    );
    // A combination the kernel accepts is made and ended at once: the answer is a refusal
    // by nslab, never a task that shares the helper's memory.
    match m.clone_task(root, CloneArgs::new(thread)) {
        Err(SysError::Refused(f)) => assert!(f.contains("shared address space"), "{f}"),
        other => panic!("CLONE_VM|CLONE_SIGHAND|CLONE_THREAD gave {other:?}"),
    }
    match m.clone_task(root, CloneArgs::new(CLONE_VFORK)) {
        Err(SysError::Refused(f)) => assert!(f.contains("parent suspended"), "{f}"),
        other => panic!("CLONE_VFORK gave {other:?}"),
    }
    assert!(m.torn_down().is_none(), "a refusal is not a crash");
    // The helper is still single-threaded: unshare(CLONE_NEWUSER) needs that.
    m.unshare(root, CLONE_NEWUSER).unwrap();
    m.observe(root).unwrap();
    Outcome::Pass
}
