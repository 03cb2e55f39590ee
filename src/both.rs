//! Run on both and agree: start the real backend, boot the model where its root helper
//! stands (same pid and user namespace levels, ids and capabilities, so that depth limits and
//! permissions agree), run the same scenario or random sequence on both, and compare them.
//!
//! `nslab run --backend both`, `nslab check`, `tests/scenarios.rs`, `tests/agreement.rs` and
//! `benches/scenarios.rs` all go through these functions.

use nslab_real::{RealMachine, StartError};
use nslab_scenario::random::{run_ops, RandOp, SequenceResult};
use nslab_scenario::{agree, check, Disagreement, Machine, Report, Scenario};
use nslab_sim::Kernel;
use std::path::Path;

/// A scenario judged on both backends.
#[derive(Clone, Debug)]
pub struct BothReports {
    /// The model's report.
    pub sim: Report,
    /// The kernel's report.
    pub real: Report,
    /// Where the two differ ([`agree`]`(sim, real)`): empty when they agree.
    pub disagreements: Vec<Disagreement>,
}

impl BothReports {
    /// Whether both met every expectation and they agree.
    pub fn passed(&self) -> bool {
        self.disagreements.is_empty() && self.sim.passed() && self.real.passed()
    }
}

/// Runs the scenario on a fresh real machine (`helper` is the program its helpers run, a
/// binary that calls `nslab_real::enter_helper_if_requested` first) and on `sim`, booted
/// again in place at the real root helper's origin; the model runs first. Fails only when
/// the real backend cannot start.
pub fn check_both(
    scenario: &Scenario,
    helper: &Path,
    sim: &mut Kernel,
) -> Result<BothReports, StartError> {
    let mut real = RealMachine::start(helper)?;
    sim.reboot_at(&real.origin());
    let sim_report = check(scenario, sim);
    let real_report = check(scenario, &mut real);
    let disagreements = agree(&sim_report, &real_report);
    Ok(BothReports {
        sim: sim_report,
        real: real_report,
        disagreements,
    })
}

/// Runs a random sequence on a fresh real machine and a model booted at its origin, compared
/// after every step ([`run_ops`]). The kernel is the judge: it runs last, and its results are
/// the expectations of the scenario the result holds. Fails only when the real backend
/// cannot start.
pub fn run_ops_both(
    name: &str,
    ops: &[RandOp],
    helper: &Path,
) -> Result<SequenceResult, StartError> {
    let mut real = RealMachine::start(helper)?;
    let mut sim = Kernel::boot_at(&real.origin());
    let mut machines: [&mut dyn Machine; 2] = [&mut sim, &mut real];
    Ok(run_ops(name, ops, &mut machines))
}
