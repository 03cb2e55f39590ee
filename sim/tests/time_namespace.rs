//! kernel/time/namespace.c: `copy_time_ns`, `timens_on_fork`, `timens_install`
//! (docs/kernel-rules.md sections 1, 2 and 10;
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/time/namespace.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// unshare(CLONE_NEWTIME) (kernel/fork.c, copy_time_ns), section 3: only time_for_children
// changes; time and every other entry stay.
#[test]
fn unshare_newtime_changes_only_time_for_children() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let before = view(&mut k, a);
    unshare(&mut k, a, CLONE_NEWTIME);
    let after = view(&mut k, a);
    assert_ne!(
        after.ns(NsEntry::TimeForChildren),
        before.ns(NsEntry::TimeForChildren)
    );
    for e in NsEntry::ALL {
        if e != NsEntry::TimeForChildren {
            assert_eq!(after.ns(e), before.ns(e), "{}", e.file_name());
        }
    }
}

// timens_on_fork (kernel/time/namespace.c), section 2: the child of the next fork enters
// time_for_children; the parent stays.
#[test]
fn the_next_fork_enters_time_for_children() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let time0 = inum(&mut k, a, NsEntry::Time);
    unshare(&mut k, a, CLONE_NEWTIME);
    let tfc = inum(&mut k, a, NsEntry::TimeForChildren);
    let c = fork(&mut k, a, 0);
    assert_eq!(inum(&mut k, c, NsEntry::Time), tfc);
    assert_eq!(inum(&mut k, c, NsEntry::TimeForChildren), tfc);
    assert_eq!(inum(&mut k, a, NsEntry::Time), time0);
    // Its offsets are frozen once a task is inside.
    let t = k.nsproxies[nsproxy_of(&k, c)]
        .time_ns
        .expect("6.18 has time");
    assert!(k.time_namespaces[t].frozen_offsets);
}

// copy_namespaces (kernel/nsproxy.c), section 2: a CLONE_VM child (here a thread) takes the
// fast path and stays in the parent's time namespace.
#[test]
fn a_thread_stays_in_the_old_time_namespace() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    let time0 = inum(&mut k, a, NsEntry::Time);
    unshare(&mut k, a, CLONE_NEWTIME);
    let th = thread(&mut k, a);
    assert_eq!(inum(&mut k, th, NsEntry::Time), time0);
}

// timens_install (kernel/time/namespace.c), section 7: joining a time namespace in a
// multithreaded process is EUSERS; single-threaded, both time and time_for_children change.
#[test]
fn timens_install_multithreaded_is_eusers() {
    let (mut k, root) = boot();
    let owner = fork3(&mut k, root, CLONE_NEWTIME);
    let fd = NsFd::File {
        task: owner,
        entry: NsEntry::Time,
    };
    let a = fork(&mut k, root, 0);
    let th = thread(&mut k, a);
    let before = snapshot(&mut k, &[a, th]);
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWTIME)), Errno::EUSERS);
    assert_eq!(errno(k.setns(th, fd, 0)), Errno::EUSERS);
    assert_eq!(snapshot(&mut k, &[a, th]), before);

    let b = fork(&mut k, root, 0);
    k.setns(b, fd, CLONE_NEWTIME).expect("single-threaded");
    let t = inum(&mut k, owner, NsEntry::Time);
    assert_eq!(inum(&mut k, b, NsEntry::Time), t);
    assert_eq!(inum(&mut k, b, NsEntry::TimeForChildren), t);
    assert_consistent(&k);
}

// copy_time_ns (kernel/time/namespace.c), section 7: the new namespace starts with the old
// one's offsets.
#[test]
fn copy_time_ns_copies_offsets() {
    let (mut k, root) = boot();
    let a = fork3(&mut k, root, CLONE_NEWTIME);
    let t = k.nsproxies[nsproxy_of(&k, a)]
        .time_ns
        .expect("6.18 has time");
    k.time_namespaces[t].offsets.monotonic = 5_000;
    // a moves its children into a time namespace copied from its own.
    let b = fork(&mut k, a, 0);
    unshare(&mut k, b, CLONE_NEWTIME);
    let tfc = k.nsproxies[nsproxy_of(&k, b)]
        .time_ns_for_children
        .expect("6.18 has time");
    assert_ne!(tfc, t);
    assert_eq!(k.time_namespaces[tfc].offsets.monotonic, 5_000);
}

// copy_namespaces (kernel/nsproxy.c), sections 2 and 7: unshare(CLONE_NEWTIME) without
// CAP_SYS_ADMIN is EPERM.
#[test]
fn unshare_newtime_unprivileged_is_eperm() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    assert_eq!(errno(k.unshare(a, CLONE_NEWTIME)), Errno::EPERM);
    unshare(&mut k, a, CLONE_NEWUSER | CLONE_NEWTIME);
}
