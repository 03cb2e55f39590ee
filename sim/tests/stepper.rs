//! The stepper is a pure fold over the recording: folding every event of a call gives the
//! object counts the model has after the same call made without recording, and folding none
//! gives the state before the call.

use nslab_sim::graph::build;
use nslab_sim::sched::{CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID};
use nslab_sim::sched::{CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS};
use nslab_sim::stepper::{fold, initial_state, State};
use nslab_sim::{CloneArgs, Kernel, Machine};
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

proptest! {
    #[test]
    fn fold_of_all_events_is_the_model_without_recording(
        setup in proptest::collection::vec((any::<bool>(), 0u8..=255), 0..3),
        unshare in any::<bool>(),
        bits in 0u8..=255,
    ) {
        let flags_of = |b: u8| FLAGS.iter().enumerate().filter(|(i, _)| b & (1 << i) != 0).fold(0, |a, (_, f)| a | f);
        let mut plain = Kernel::boot();
        let mut rec = Kernel::boot();
        for (u, b) in &setup {
            call(&mut plain, *u, flags_of(*b));
            call(&mut rec, *u, flags_of(*b));
        }
        let initial = model_counts(&rec);
        rec.set_recording(true);
        call(&mut rec, unshare, flags_of(bits));
        let records = rec.take_records();
        rec.set_recording(false);
        call(&mut plain, unshare, flags_of(bits));

        // Back to 0: exactly the state before the call.
        prop_assert_eq!(fold(&initial, &records, 0), initial.clone());
        // To the end: every namespace and nsproxy count the model has without recording.
        let end = fold(&initial, &records, records.len());
        let truth = model_counts(&plain);
        for (key, count) in &truth.counts {
            if key.starts_with("nsproxy#") && !end.counts.contains_key(key) {
                // An nsproxy is recorded by slot only once it is named; a new one is
                // allocated as `nsproxy` (see the stepper's notes).
                continue;
            }
            prop_assert_eq!(end.counts.get(key), Some(count), "{} after {} events", key, records.len());
        }
        for key in end.counts.keys().filter(|k| k.contains(":[")) {
            prop_assert!(truth.counts.contains_key(key), "{} folded but freed in the model", key);
        }
    }
}
