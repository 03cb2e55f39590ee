//! kernel/exit.c: `do_group_exit`, reparenting, and the init task (docs/kernel-rules.md
//! sections 6 and 7; <https://elixir.bootlin.com/linux/v6.18/source/kernel/exit.c>).

mod common;

use common::*;
use nslab_sim::*;

// do_group_exit (kernel/exit.c): exit_group from a thread of the init task would end init
// ("Attempted to kill init!"), so the model refuses it as it refuses init's own exit.
#[test]
fn exit_group_from_a_thread_of_init_is_refused() {
    let (mut k, root) = boot();
    let th = thread(&mut k, root);
    let before = snapshot(&mut k, &[root, th]);
    assert!(matches!(k.exit(th, 0), Err(SysError::Refused(_))));
    assert!(matches!(k.exit(root, 0), Err(SysError::Refused(_))));
    assert_eq!(snapshot(&mut k, &[root, th]), before);
    assert_consistent(&k);
}

// do_group_exit (kernel/exit.c): exit_group from a thread ends the whole thread group.
#[test]
fn exit_group_ends_every_thread() {
    let (mut k, root) = boot();
    let after_boot = k.object_counts();
    let a = fork(&mut k, root, 0);
    let th = thread(&mut k, a);
    let th2 = thread(&mut k, th);
    k.exit(th, 3).expect("exit_group");
    assert_consistent(&k);
    for t in [a, th, th2] {
        assert_ne!(k.state(t), Ok(TaskState::Running), "{t}");
    }
    assert_eq!(k.object_counts(), after_boot);
}

// find_new_reaper (kernel/exit.c), section 4: with boot_at the root is a child subreaper,
// so an orphan below it reparents to it rather than to init.
#[test]
fn orphans_reparent_to_the_child_subreaper() {
    let mut k = Kernel::boot_at(&Origin::default());
    let root = k.root();
    let mid = fork(&mut k, root, 0);
    let orphan = fork(&mut k, mid, 0);
    k.exit(mid, 0).expect("exit");
    assert_eq!(view(&mut k, orphan).ppid, pid(&mut k, root));
    assert_consistent(&k);
}
