//! kernel/pid_namespace.c and kernel/pid.c: numbering, nesting, the death of a namespace's
//! init, reparenting, and `pidns_install` (docs/kernel-rules.md sections 6 and 7;
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/pid_namespace.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// alloc_pid (kernel/pid.c), section 1: a new namespace hands out 1, 2, 3 to three
// successive children.
#[test]
fn alloc_pid_numbers_a_new_namespace_1_2_3() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, CLONE_NEWPID);
    let pids: Vec<i32> = (0..3)
        .map(|_| {
            let c = fork(&mut k, a, 0);
            pid(&mut k, c)
        })
        .collect();
    assert_eq!(pids, [1, 2, 3]);
}

// alloc_pid (kernel/pid.c), section 1: numbers are not reused until the space wraps.
#[test]
fn alloc_pid_does_not_reuse_a_freed_number() {
    let (mut k, root) = boot();
    let init = fork(&mut k, root, CLONE_NEWPID);
    let b = fork(&mut k, init, 0);
    assert_eq!(pid(&mut k, b), 2);
    k.exit(b, 0).expect("exit");
    let c = fork(&mut k, init, 0);
    assert_eq!(pid(&mut k, c), 3);
}

// alloc_pid (kernel/pid.c) and /proc/<pid>/status NSpid, section 1: one number per level,
// outermost first, ending with the pid in the task's own namespace.
#[test]
fn nspid_lists_one_number_per_level() {
    let (mut k, root) = boot();
    let l1 = fork(&mut k, root, CLONE_NEWPID);
    let l1b = fork(&mut k, l1, 0);
    let l2 = fork(&mut k, l1b, CLONE_NEWPID);
    let v1 = view(&mut k, l1);
    assert_eq!(v1.nspid.len(), 2);
    assert_eq!(v1.nspid[1], 1);
    let v = view(&mut k, l2);
    assert_eq!(v.nspid.len(), 3);
    assert_eq!(v.nspid[1], 3, "l2 is the third task of level 1");
    assert_eq!(v.nspid[2], 1);
    assert_eq!(view(&mut k, l1b).nspid[1], 2);
    // The global numbers are distinct.
    assert_ne!(v.nspid[0], v1.nspid[0]);
    assert_eq!(pid_ns_level(&k, l2), 2);
}

// create_pid_namespace (kernel/pid_namespace.c), section 4: 32 nested levels work, the
// 33rd is ENOSPC (MAX_PID_NS_LEVEL).
#[test]
fn create_pid_namespace_32_levels_then_enospc() {
    let (mut k, root) = boot();
    let mut t = root;
    for level in 1..=32 {
        t = fork(&mut k, t, CLONE_NEWPID);
        assert_eq!(pid_ns_level(&k, t), level);
        assert_eq!(pid(&mut k, t), 1);
    }
    let before = snapshot(&mut k, &[t]);
    assert_eq!(clone_err(&mut k, t, CLONE_NEWPID), Errno::ENOSPC);
    assert_eq!(errno(k.unshare(t, CLONE_NEWPID)), Errno::ENOSPC);
    assert_eq!(snapshot(&mut k, &[t]), before);
    assert_eq!(view(&mut k, t).nspid.len(), 33);
}

// pidns_install (kernel/pid_namespace.c), section 4: an ancestor namespace is EINVAL; a
// descendant works and changes only pid_ns_for_children.
#[test]
fn pidns_install_ancestor_is_einval_descendant_changes_only_pid_for_children() {
    let (mut k, root) = boot();
    let inner = fork(&mut k, root, CLONE_NEWPID);
    let up = NsFd::File {
        task: root,
        entry: NsEntry::Pid,
    };
    let before = snapshot(&mut k, &[root, inner]);
    assert_eq!(errno(k.setns(inner, up, CLONE_NEWPID)), Errno::EINVAL);
    assert_eq!(snapshot(&mut k, &[root, inner]), before);

    let a = fork(&mut k, root, 0);
    let pid0 = inum(&mut k, a, NsEntry::Pid);
    let down = NsFd::File {
        task: inner,
        entry: NsEntry::Pid,
    };
    k.setns(a, down, CLONE_NEWPID).expect("join a descendant");
    assert_eq!(inum(&mut k, a, NsEntry::Pid), pid0);
    let inner_pid = inum(&mut k, inner, NsEntry::Pid);
    assert_eq!(inum(&mut k, a, NsEntry::PidForChildren), inner_pid);
    let c = fork(&mut k, a, 0);
    assert_eq!(inum(&mut k, c, NsEntry::Pid), inner_pid);
    assert_eq!(pid(&mut k, c), 2);
    // Joining one's own active namespace is allowed.
    let own = NsFd::File {
        task: inner,
        entry: NsEntry::Pid,
    };
    k.setns(inner, own, 0).expect("own namespace");
    assert_consistent(&k);
}

// zap_pid_ns_processes (kernel/pid_namespace.c) and alloc_pid (kernel/pid.c), sections 1
// and 4: when the namespace's init exits every other task in it is killed, and the next
// clone into it is ENOMEM.
#[test]
fn init_death_kills_the_rest_and_the_next_clone_is_enomem() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, CLONE_NEWPID);
    let init = fork(&mut k, a, 0);
    let b = fork(&mut k, a, 0);
    let c = fork(&mut k, init, 0);
    let d = fork(&mut k, c, CLONE_NEWPID);
    k.exit(init, 0).expect("exit");
    assert_consistent(&k);
    assert_eq!(k.state(init), Ok(TaskState::Exited(0)));
    for t in [b, c, d] {
        assert_eq!(k.state(t), Ok(TaskState::Killed(9)), "{t}");
    }
    assert_eq!(k.state(a), Ok(TaskState::Running), "a is outside");
    let before = snapshot(&mut k, &[root, a]);
    assert_eq!(clone_err(&mut k, a, 0), Errno::ENOMEM);
    assert_eq!(snapshot(&mut k, &[root, a]), before);
    // A task that joins the dead namespace cannot fork into it either.
    let e = fork(&mut k, root, 0);
    let fd = NsFd::File {
        task: a,
        entry: NsEntry::PidForChildren,
    };
    k.setns(e, fd, 0).expect("the namespace is still there");
    assert_eq!(clone_err(&mut k, e, 0), Errno::ENOMEM);
}

// forget_original_parent (kernel/exit.c), section 4: orphans reparent to the namespace's
// init.
#[test]
fn orphans_reparent_to_the_namespace_init() {
    let (mut k, root) = boot();
    let init = fork(&mut k, root, CLONE_NEWPID);
    let mid = fork(&mut k, init, 0);
    let orphan = fork(&mut k, mid, 0);
    assert_eq!(view(&mut k, orphan).ppid, 2);
    k.exit(mid, 0).expect("exit");
    assert_eq!(view(&mut k, orphan).ppid, 1);
    assert_eq!(
        k.tasks[task_ref(&k, orphan)].real_parent,
        Some(task_ref(&k, init))
    );
    assert_consistent(&k);
}

// unshare(CLONE_NEWPID) (kernel/fork.c, copy_pid_ns), sections 3 and 4: the caller's own
// pid namespace is unchanged; pid_for_children reads ENOENT until the first child, which
// becomes pid 1 there; a second unshare(CLONE_NEWPID) is EINVAL.
#[test]
fn unshare_newpid_changes_only_pid_for_children() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let before = view(&mut k, a);
    unshare(&mut k, a, CLONE_NEWPID);
    let after = view(&mut k, a);
    assert_eq!(after.ns(NsEntry::Pid), before.ns(NsEntry::Pid));
    assert_eq!(after.nspid, before.nspid);
    assert_eq!(after.ns(NsEntry::PidForChildren), Err(Errno::ENOENT));
    for e in NsEntry::ALL {
        if e != NsEntry::PidForChildren {
            assert_eq!(after.ns(e), before.ns(e), "{}", e.file_name());
        }
    }
    let c = fork(&mut k, a, 0);
    assert_eq!(pid(&mut k, c), 1);
    let child_pid_ns = inum(&mut k, c, NsEntry::Pid);
    assert_eq!(inum(&mut k, a, NsEntry::PidForChildren), child_pid_ns);
    assert_eq!(
        inum(&mut k, a, NsEntry::Pid),
        before.ns(NsEntry::Pid).unwrap()
    );
    assert_eq!(errno(k.unshare(a, CLONE_NEWPID)), Errno::EINVAL);
}

// create_pid_namespace (kernel/pid_namespace.c), section 4: the new namespace is owned by
// the child's user namespace, and its level is the parent's plus one.
#[test]
fn create_pid_namespace_owner_and_level() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER | CLONE_NEWPID);
    let ns = k.task_active_pid_ns(task_ref(&k, c));
    assert_eq!(k.pid_namespaces[ns].user_ns, user_ns_of(&k, c));
    assert_eq!(k.pid_namespaces[ns].level, 1);
}

// alloc_pid (kernel/pid.c), section 1: when every number below pid_max is in use, EAGAIN,
// and nothing is left allocated.
#[test]
fn alloc_pid_exhausted_is_eagain() {
    let (mut k, root) = boot();
    let init = fork(&mut k, root, CLONE_NEWPID);
    let r = task_ref(&k, init);
    k.set_pid_max(r, 301).expect("the init may lower pid_max");
    for want in 2..=300 {
        let c = Machine::clone_task(&mut k, init, CloneArgs::new(0)).expect("a free pid");
        assert_eq!(pid(&mut k, c), want);
    }
    let before = snapshot(&mut k, &[root, init]);
    assert_eq!(clone_err(&mut k, init, 0), Errno::EAGAIN);
    assert_eq!(snapshot(&mut k, &[root, init]), before);
    assert_consistent(&k);
}
