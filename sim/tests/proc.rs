//! fs/proc/namespaces.c and fs/proc/array.c: what a task reads about itself, and
//! `Machine::observe_into`, which writes the same into a view the caller keeps.

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// observe_into overwrites every field: a view last filled for a deeper task, with another
// hostname, more interfaces and other ids, reads exactly what observe gives for the next one.
#[test]
fn observe_into_a_used_view_reads_what_observe_reads() {
    let (mut k, root) = boot();
    let deep = fork(&mut k, root, CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNET);
    let deeper = fork(&mut k, deep, CLONE_NEWPID | CLONE_NEWUSER);
    k.sethostname(deep, "elsewhere").expect("sethostname");
    k.link_up(deep, "lo").expect("link up");
    let plain = fork(&mut k, root, 0);
    become_nobody(&mut k, plain);
    let tasks = [root, deep, deeper, plain];
    let mut kept = TaskView::empty();
    for _ in 0..2 {
        for &a in &tasks {
            for &b in &tasks {
                k.observe_into(a, &mut kept).expect("a running task");
                k.observe_into(b, &mut kept).expect("a running task");
                assert_eq!(kept, view(&mut k, b), "{a} then {b}");
            }
        }
    }
    // A task that is gone: ESRCH, and the view is left as it was.
    let before = kept.clone();
    k.exit(plain, 0).expect("exit");
    assert_eq!(errno(k.observe_into(plain, &mut kept)), Errno::ESRCH);
    assert_eq!(kept, before);
}
