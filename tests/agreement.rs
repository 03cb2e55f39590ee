//! The model-based property test: random operation sequences over a few tasks, run on the
//! model and on the kernel, every result and observation compared after each step. A
//! disagreement shrinks to a minimal sequence, printed as a scenario file; the seed is fixed
//! and failures are kept in `tests/agreement.proptest-regressions`, replayed first.
//!
//! A custom harness (`harness = false`) so that a skip is counted and printed: where the real
//! backend cannot start, the test says `SKIPPED` and compares two independently booted models
//! instead (the model must be deterministic), never passing silently.

mod common;

use nslab_scenario::random::{ops, run_ops, SequenceResult};
use nslab_scenario::Machine;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};
use std::process::ExitCode;

/// How many random sequences CI runs; `NSLAB_CASES` overrides it.
const CASES: u32 = 256;

fn config() -> Config {
    let cases = std::env::var("NSLAB_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6e_736c_6162),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

fn run_both(seq: &[nslab_scenario::random::RandOp]) -> SequenceResult {
    match common::start_real() {
        Ok(mut real) => {
            let mut sim = common::boot_sim(Some(&real.origin()));
            let mut ms: [&mut dyn Machine; 2] = [&mut sim, &mut real];
            run_ops("property-disagreement", seq, &mut ms)
        }
        Err(_) => {
            let mut a = common::boot_sim(None);
            let mut b = common::boot_sim(None);
            let mut ms: [&mut dyn Machine; 2] = [&mut a, &mut b];
            run_ops("property-disagreement", seq, &mut ms)
        }
    }
}

fn main() -> ExitCode {
    let host = common::host_before();
    let mut skipped = 0;
    let what = match common::start_real() {
        Ok(_) => "model against kernel",
        Err(why) => {
            println!("SKIPPED: model against kernel: {why}; comparing two models instead");
            skipped += 1;
            "model against model"
        }
    };
    let config = config();
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let result = runner.run(&ops(12), |seq| {
        let r = run_both(&seq);
        if r.disagreement.is_empty() {
            Ok(())
        } else {
            let lines: Vec<String> = r.disagreement.iter().map(|d| d.to_string()).collect();
            Err(TestCaseError::fail(format!(
                "{}\n--- as a scenario file ---\n{}",
                lines.join("\n"),
                r.scenario
            )))
        }
    });
    // The property test starts and drops a real machine per case: the host must come out of
    // all of them as it went in.
    let (mut passed, mut failed) = (0, 0);
    match result {
        Ok(()) => {
            println!("ok: {what}: {cases} random sequences of up to 12 steps agree");
            passed += 1;
        }
        Err(TestError::Fail(why, minimal)) => {
            println!("FAILED: {what}: {why}");
            println!("minimal sequence: {minimal:?}");
            failed += 1;
        }
        Err(TestError::Abort(why)) => {
            println!("FAILED: {what}: aborted: {why}");
            failed += 1;
        }
    }
    common::finish(&host, passed, failed, skipped)
}
