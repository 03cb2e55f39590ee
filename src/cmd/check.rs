//! `nslab check`: random operation sequences run on two backends and compared after every
//! step, on every core; the lowest-numbered disagreement is shrunk to a minimal sequence and
//! printed as a scenario file. The case space and the runner are `nslab::check`.

use crate::cmd::out::outln;
use crate::cmd::run::{helper_exe, real_start_error, start_real, Backend};
use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use nslab::both::run_ops_both;
use nslab::check::{case_hash, default_jobs, Plan, Shard};
use nslab_scenario::random::{run_ops, RandOp, SequenceResult};
use nslab_scenario::Machine;
use nslab_sim::machine::Origin;
use std::path::Path;
use std::time::Instant;

/// Arguments of `nslab check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// How many random sequences to run (cases 0 to N-1).
    #[arg(long, default_value_t = 256)]
    pub cases: u32,
    /// The seed of the random generator (case I of seed S is always the same sequence).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The longest sequence, in operations.
    #[arg(long, default_value_t = 12)]
    pub max_steps: usize,
    /// `both` compares the model with the kernel; `sim` compares two models (a determinism
    /// check that needs no privilege); `real` compares two kernels.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backend,
    /// How many cases run at once, each on its own thread with its own machines (default:
    /// the available cores). The report is the same for any number.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Run only part K of N of the case space (the cases whose index is K-1 modulo N), for N
    /// machines or CI jobs; the N parts together are exactly the unsharded run.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Run only case I (to replay a failing case with its seed).
    #[arg(long, value_name = "I", conflicts_with = "shard")]
    pub case: Option<u32>,
    /// Print the cases this run would take (index and a hash of the sequence), run nothing.
    #[arg(long)]
    pub list_cases: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// Runs one sequence on a fresh pair of machines, on the calling thread.
pub fn run_case(ops: &[RandOp], backend: Backend, helper: &Path) -> anyhow::Result<SequenceResult> {
    let name = "check-disagreement";
    Ok(match backend {
        Backend::Sim => {
            let mut a = nslab_sim::Kernel::boot_at(&Origin::default());
            let mut b = nslab_sim::Kernel::boot_at(&Origin::default());
            let mut ms: [&mut dyn Machine; 2] = [&mut a, &mut b];
            run_ops(name, ops, &mut ms)
        }
        Backend::Real => {
            let mut a = nslab_real::RealMachine::start(helper).map_err(real_start_error)?;
            let mut b = nslab_real::RealMachine::start(helper).map_err(real_start_error)?;
            let mut ms: [&mut dyn Machine; 2] = [&mut a, &mut b];
            run_ops(name, ops, &mut ms)
        }
        // The kernel is the judge, so it runs last and its results become the expectations
        // of a printed scenario.
        Backend::Both => run_ops_both(name, ops, helper).map_err(real_start_error)?,
    })
}

impl CheckArgs {
    fn plan(&self) -> Plan {
        Plan {
            cases: self.cases,
            seed: self.seed,
            max_steps: self.max_steps,
            shard: self.shard.unwrap_or(Shard::ALL),
            only: self.case,
        }
    }

    /// What the run covers, as the report names it.
    fn scope(&self) -> String {
        match (self.case, self.shard) {
            (Some(i), _) => format!("case {i}"),
            (None, Some(s)) => format!("shard {s} of {} cases", self.cases),
            (None, None) => format!("{} cases", self.cases),
        }
    }
}

/// Runs `nslab check`; returns the exit code.
pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let plan = args.plan();
    if args.list_cases {
        for i in plan.indices() {
            outln!("case {i} {:016x}", case_hash(&plan.case(i)));
        }
        return Ok(0);
    }
    // Fail early and clearly if the real backend cannot start here.
    if args.backend != Backend::Sim {
        drop(start_real()?);
    }
    let helper = helper_exe()?;
    let jobs = args.jobs.map_or_else(default_jobs, |j| j as usize);
    let planned = plan.indices().len();
    let bar = ProgressBar::new(planned as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cases ({per_sec}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("{jobs} jobs"));
    let started = Instant::now();
    let case = |ops: &[RandOp]| run_case(ops, args.backend, &helper);
    let outcome = nslab::check::run(&plan, jobs, &case, &|| bar.inc(1));
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => bail!("case {}: {:#}", e.index, e.error),
    };
    let rate = outcome.completed as f64 / elapsed.as_secs_f64().max(1e-9);
    // The timing goes to stderr, so that stdout is the same for any number of jobs.
    eprintln!(
        "{} cases in {:.2} s: {rate:.1} cases/s on {jobs} jobs",
        outcome.completed,
        elapsed.as_secs_f64()
    );
    match outcome.failure {
        None => {
            outln!(
                "no disagreement in {} (seed {}, up to {} steps each)",
                args.scope(),
                args.seed,
                args.max_steps
            );
            Ok(0)
        }
        Some(f) => {
            eprintln!(
                "disagreement in case {} (seed {}): {}",
                f.index,
                args.seed,
                nslab_scenario::printable(&f.reason)
            );
            eprintln!(
                "replay it alone: nslab check --seed {} --max-steps {} --case {}",
                args.seed, args.max_steps, f.index
            );
            eprintln!(
                "minimal sequence of {} operations; save this as a scenario:",
                f.minimal.len()
            );
            crate::cmd::out::text(&f.result.scenario.to_string())?;
            Ok(1)
        }
    }
}
