//! The step recorder (sim/src/trace.rs): the path a clone takes through the kernel
//! functions (docs/kernel-rules.md sections 1, 2 and 8), and that recording changes nothing.

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::trace::{functions_entered, render_tree, Step};
use nslab_sim::*;

/// Whether `want` appears in `have` in order (not necessarily adjacent).
fn is_subsequence(want: &[&str], have: &[&str]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

const SEED: u64 = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET;

// kernel_clone -> copy_process -> copy_namespaces -> create_new_namespaces (kernel/fork.c,
// kernel/nsproxy.c), sections 1, 2 and 5: the seed example's path, in order.
#[test]
fn seed_clone_newns_newpid_newnet_path() {
    let (mut k, root) = boot();
    k.set_recording(true);
    fork(&mut k, root, SEED);
    let records = k.take_records();
    let fns = functions_entered(&records);
    let want = [
        "kernel_clone",
        "copy_process",
        "copy_creds",
        "copy_namespaces",
        "create_new_namespaces",
        "copy_mnt_ns",
        "copy_utsname",
        "copy_ipcs",
        "copy_pid_ns",
        "copy_cgroup_ns",
        "copy_net_ns",
        "setup_net",
        "ops_init",
        "loopback_net_init",
        "copy_time_ns",
        "alloc_pid",
    ];
    assert!(
        is_subsequence(&want, &fns),
        "missing or out of order in:\n{}",
        render_tree(&records)
    );
    // The whole call returned 0.
    let last = records.last().expect("records");
    assert_eq!(last.depth, 0);
    assert_eq!(last.step, Step::Leave { errno: None });
}

// The recorder: a refused call records the refusing rule and the errno it returned.
#[test]
fn a_refused_call_records_its_rule() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    k.set_recording(true);
    assert_eq!(errno(k.unshare(a, CLONE_NEWNET)), Errno::EPERM);
    let records = k.take_records();
    assert!(records
        .iter()
        .any(|r| r.function == "unshare_nsproxy_namespaces"
            && matches!(
                &r.step,
                Step::Check {
                    refused: true,
                    errno: Errno::EPERM,
                    ..
                }
            )));
    assert_eq!(
        records.last().map(|r| &r.step),
        Some(&Step::Leave {
            errno: Some(Errno::EPERM)
        })
    );
}

// The recorder: the same calls with recording off give the same machine.
#[test]
fn recording_off_gives_the_same_result() {
    let run = |record: bool| {
        let (mut k, root) = boot();
        k.set_recording(record);
        let c = fork(&mut k, root, SEED);
        let g = fork(&mut k, c, CLONE_NEWUSER | CLONE_NEWUTS);
        let _ = k.take_records();
        let counts = k.object_counts();
        let views: Vec<TaskView> = [root, c, g].iter().map(|t| view(&mut k, *t)).collect();
        (counts, views, k.check_invariants())
    };
    let on = run(true);
    let off = run(false);
    assert_eq!(on, off);
    assert!(on.2.is_empty());
}

// The recorder: with recording off nothing is collected.
#[test]
fn recording_off_collects_nothing() {
    let (mut k, root) = boot();
    fork(&mut k, root, SEED);
    assert!(!k.recording());
    assert!(k.take_records().is_empty());
}
