//! The model-based property test: random operation sequences over a few tasks, run on the
//! model and on the kernel (`nslab::both::run_ops_both`), every result and observation
//! compared after each step. A disagreement shrinks to a minimal sequence, printed as a
//! scenario file; the seed is fixed and failures are kept in
//! `tests/agreement.proptest-regressions`, replayed first.
//!
//! A `harness = false` binary run by libtest-mimic. Where the real backend cannot start, the
//! trial is ignored and says `SKIPPED: <test>: <reason>`; it never compares the model with
//! itself instead. A case the kernel could not run is a failure. The host-safety check runs
//! last.

mod common;

use libtest_mimic::{Completion, Failed, Trial};
use nslab::both::run_ops_both;
use nslab_scenario::random::ops;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};
use std::process::ExitCode;

/// How many random sequences CI runs; `NSLAB_CASES` overrides it.
const CASES: u32 = 256;

/// The longest sequence, in operations.
const STEPS: usize = 12;

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

const TEST: &str = "model_against_kernel";

fn model_against_kernel() -> Result<Completion, Failed> {
    if let Err(why) = common::real_available() {
        return Ok(common::skip(TEST, &why));
    }
    let mut runner = TestRunner::new(config());
    let result = runner.run(&ops(STEPS), |seq| {
        let r = run_ops_both("property-disagreement", &seq, common::helper())
            .map_err(|e| TestCaseError::fail(format!("the kernel could not run this case: {e}")))?;
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
    match result {
        Ok(()) => Ok(Completion::Completed),
        Err(TestError::Fail(why, minimal)) => {
            Err(format!("{why}\nminimal sequence: {minimal:?}").into())
        }
        Err(TestError::Abort(why)) => Err(format!("aborted: {why}").into()),
    }
}

fn main() -> ExitCode {
    let host = common::host_before();
    // The property test starts and drops a real machine per case: the host must come out of
    // all of them as it went in.
    let trials = vec![Trial::ignorable_test(TEST, model_against_kernel)];
    common::run_then_check_host(trials, host)
}
