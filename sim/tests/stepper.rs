//! The stepper is a pure fold over the recording: folding every event of a call gives the
//! object counts the model has after the same call made without recording, and folding none
//! gives the state before the call; for clone, unshare, exit and setns after random set-ups.

use nslab_sim::graph::build;
use nslab_sim::sched::CLONE_NEW_ALL;
use nslab_sim::sched::{CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID};
use nslab_sim::sched::{CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS};
use nslab_sim::stepper::{fold, initial_state, State};
use nslab_sim::{CloneArgs, Kernel, Machine, NsFd, Op};
use proptest::prelude::*;

const FLAGS: [u64; 8] = [
    CLONE_NEWNS,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    CLONE_NEWCGROUP,
    CLONE_NEWTIME,
];

/// Makes `setup` calls untraced, then the traced one; `unshare` or `clone` by `kind`.
fn call(k: &mut Kernel, unshare: bool, flags: u64) {
    let init = k.root();
    let _ = if unshare {
        k.unshare(init, flags).map(|_| ())
    } else {
        k.clone_task(init, CloneArgs::new(flags)).map(|_| ())
    };
}

/// The counts of every namespace and nsproxy of `k` (what the fold keeps for them).
fn model_counts(k: &Kernel) -> State {
    initial_state(&build(k, &[], None))
}

/// The traced call of kind `kind` (0 clone, 1 unshare, 2 the exit of a child cloned with
/// `flags`, 3 setns by pidfd into such a child's namespaces), made on `k`; the untraced
/// set-up (the child) is made first, and `trace` turns the recorder on around the call only.
fn traced(k: &mut Kernel, kind: u8, flags: u64, trace: bool) -> Vec<nslab_sim::trace::Record> {
    let init = k.root();
    let child = match kind {
        2 | 3 => k.clone_task(init, CloneArgs::new(flags)).ok(),
        _ => None,
    };
    let op = match (kind, child) {
        (0, _) => Op::Clone(CloneArgs::new(flags)),
        (1, _) => Op::Unshare(flags),
        (2, Some(_)) => Op::Exit(0),
        (3, Some(c)) => Op::Setns {
            fd: NsFd::Pidfd { task: c },
            nstype: flags & CLONE_NEW_ALL,
        },
        _ => Op::Unshare(0),
    };
    let caller = match (kind, child) {
        (2, Some(c)) => c,
        _ => init,
    };
    k.set_recording(trace);
    let _ = op.apply(k, caller);
    let records = k.take_records();
    k.set_recording(false);
    records
}

proptest! {
    #[test]
    fn fold_of_all_events_is_the_model_without_recording(
        setup in proptest::collection::vec((any::<bool>(), 0u8..=255), 0..3),
        kind in 0u8..4,
        bits in 0u8..=255,
    ) {
        let flags_of = |b: u8| FLAGS.iter().enumerate().filter(|(i, _)| b & (1 << i) != 0).fold(0, |a, (_, f)| a | f);
        let mut plain = Kernel::boot();
        let mut rec = Kernel::boot();
        for (u, b) in &setup {
            call(&mut plain, *u, flags_of(*b));
            call(&mut rec, *u, flags_of(*b));
        }
        // The state right before the traced call: on a copy of the model, the untraced
        // set-up alone (the child of exit and setns).
        let flags = flags_of(bits);
        let mut before = rec.clone();
        if kind >= 2 {
            let init = before.root();
            let _ = before.clone_task(init, CloneArgs::new(flags));
        }
        let initial = model_counts(&before);
        let records = traced(&mut rec, kind, flags, true);
        let _ = traced(&mut plain, kind, flags, false);

        // Back to 0: exactly the state before the call.
        prop_assert_eq!(fold(&initial, &records, 0), initial.clone());
        // To the end: every namespace and nsproxy count the model has without recording.
        let end = fold(&initial, &records, records.len());
        let truth = model_counts(&plain);
        for (key, count) in &truth.counts {
            if key.starts_with("nsproxy#") && !end.counts.contains_key(key) {
                // A new nsproxy is recorded as `nsproxy` until its slot is named (see the
                // stepper's notes in ARCHITECTURE.md).
                continue;
            }
            prop_assert_eq!(end.counts.get(key), Some(count), "{} after {} events", key, records.len());
        }
        for key in end.counts.keys().filter(|k| k.contains(":[")) {
            prop_assert!(truth.counts.contains_key(key), "{} folded but freed in the model", key);
        }
    }
}
