//! `nslab check`: random operation sequences run on two backends and compared after every
//! step; a disagreement is shrunk to a minimal sequence and printed as a scenario file.

use crate::cmd::out::outln;
use crate::cmd::run::{helper_exe, real_start_error, start_real, Backend};
use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use nslab::both::run_ops_both;
use nslab_scenario::random::{ops, run_ops, RandOp, SequenceResult};
use nslab_scenario::Machine;
use nslab_sim::machine::Origin;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;

/// Arguments of `nslab check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// How many random sequences to run.
    #[arg(long, default_value_t = 256)]
    pub cases: u32,
    /// The seed of the random generator (the same seed gives the same sequences).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The longest sequence, in operations.
    #[arg(long, default_value_t = 12)]
    pub max_steps: usize,
    /// `both` compares the model with the kernel; `sim` compares two models (a determinism
    /// check that needs no privilege); `real` compares two kernels.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backend,
}

/// Runs one sequence on a fresh pair of machines.
pub fn run_case(ops: &[RandOp], backend: Backend) -> anyhow::Result<SequenceResult> {
    let name = "check-disagreement";
    Ok(match backend {
        Backend::Sim => {
            let mut a = nslab_sim::Kernel::boot_at(&Origin::default());
            let mut b = nslab_sim::Kernel::boot_at(&Origin::default());
            let mut ms: [&mut dyn Machine; 2] = [&mut a, &mut b];
            run_ops(name, ops, &mut ms)
        }
        Backend::Real => {
            let mut a = start_real()?;
            let mut b = start_real()?;
            let mut ms: [&mut dyn Machine; 2] = [&mut a, &mut b];
            run_ops(name, ops, &mut ms)
        }
        // The kernel is the judge, so it runs last and its results become the expectations
        // of a printed scenario.
        Backend::Both => run_ops_both(name, ops, &helper_exe()?).map_err(real_start_error)?,
    })
}

/// A proptest runner with this seed.
pub fn runner(cases: u32, seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Runs `nslab check`; returns the exit code.
pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    // Fail early and clearly if the real backend cannot start here.
    if args.backend != Backend::Sim {
        drop(start_real()?);
    }
    let bar = ProgressBar::new(u64::from(args.cases));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cases {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let failing = RefCell::new(false);
    let setup_error = RefCell::new(None);
    let mut runner = runner(args.cases, args.seed);
    let result = runner.run(&ops(args.max_steps), |ops| {
        match run_case(&ops, args.backend) {
            Ok(r) if r.disagreement.is_empty() => {
                if !*failing.borrow() {
                    bar.inc(1);
                }
                Ok(())
            }
            Ok(r) => {
                if !*failing.borrow() {
                    *failing.borrow_mut() = true;
                    bar.set_message("disagreement found, shrinking");
                }
                Err(TestCaseError::fail(r.disagreement[0].to_string()))
            }
            Err(e) => {
                *setup_error.borrow_mut() = Some(e.to_string());
                Err(TestCaseError::fail("backend setup failed"))
            }
        }
    });
    bar.finish_and_clear();
    if let Some(e) = setup_error.into_inner() {
        bail!("{e}");
    }
    match result {
        Ok(()) => {
            outln!(
                "no disagreement in {} cases (seed {}, up to {} steps each)",
                args.cases,
                args.seed,
                args.max_steps
            );
            Ok(0)
        }
        Err(TestError::Fail(reason, minimal)) => {
            let r = run_case(&minimal, args.backend)?;
            eprintln!(
                "disagreement (seed {}): {}",
                args.seed,
                nslab_scenario::printable(&reason.to_string())
            );
            eprintln!(
                "minimal sequence of {} operations; save this as a scenario:",
                minimal.len()
            );
            crate::cmd::out::text(&r.scenario.to_string())?;
            Ok(1)
        }
        Err(TestError::Abort(why)) => bail!("check aborted: {why}"),
    }
}
