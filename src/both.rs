//! Run on both and agree: start the real backend, boot the model where its root helper
//! stands (same pid and user namespace levels, ids and capabilities, so that depth limits and
//! permissions agree), run the same scenario or random sequence on both, and compare them.
//!
//! `nslab run --backend both`, `nslab check`, `tests/scenarios.rs`, `tests/agreement.rs` and
//! `benches/scenarios.rs` all go through these functions.

use nslab_real::{RealMachine, StartError, StartOptions};
use nslab_scenario::random::{run_ops, RandOp, SequenceResult};
use nslab_scenario::{agree, check, Disagreement, Machine, Report, Scenario};
use nslab_sim::machine::Origin;
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
    /// Why the scenario cannot be judged in the real root helper's position, when it cannot:
    /// see [`unprivileged_skip`]. A run that has this is a skip, not a failure.
    pub skip: Option<String>,
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
    check_both_with(scenario, helper, sim, StartOptions::default())
}

/// [`check_both`] with the real backend's start options (a test as root starts it as uid
/// 65534 to judge the unprivileged position).
pub fn check_both_with(
    scenario: &Scenario,
    helper: &Path,
    sim: &mut Kernel,
    opts: StartOptions,
) -> Result<BothReports, StartError> {
    let mut real = RealMachine::start_with(helper, opts)?;
    let origin = real.origin();
    sim.reboot_at(&origin);
    let sim_report = check(scenario, sim);
    let real_report = check(scenario, &mut real);
    drop(real);
    let disagreements = agree(&sim_report, &real_report);
    let skip = unprivileged_skip(
        scenario,
        &origin,
        &sim_report,
        &real_report,
        &disagreements,
        sim,
    );
    Ok(BothReports {
        sim: sim_report,
        real: real_report,
        disagreements,
        skip,
    })
}

/// Why a scenario is skipped in the unprivileged mode, if it is. Without root the real root
/// helper stands in a user namespace of its own that maps only uid 0 and gid 0 (the
/// caller's ids) and owns none of the pid namespace above it; the model is booted in that
/// same position ([`Origin::single_id_map`]), so the two are compared for real and a
/// disagreement is always reported. But a scenario written for root in the initial
/// namespaces (`setresuid 1000`, joining the root's pid namespace) fails there on both, for
/// the same reason: that is the mode, not the scenario or a backend. It is skipped, loudly,
/// when all of this holds: the origin maps a single id, the two agree, both fail at the
/// same steps, and the model passes as root in the initial namespaces. `sim` is rebooted
/// for that last run.
pub fn unprivileged_skip(
    scenario: &Scenario,
    origin: &Origin,
    sim_report: &Report,
    real_report: &Report,
    disagreements: &[Disagreement],
    sim: &mut Kernel,
) -> Option<String> {
    if !origin.single_id_map || !disagreements.is_empty() || real_report.passed() {
        return None;
    }
    let lines = |r: &Report| r.failures().map(|f| f.line).collect::<Vec<_>>();
    if real_report.aborted.is_some() || lines(sim_report) != lines(real_report) {
        return None;
    }
    sim.reboot_at(&Origin::default());
    if !check(scenario, sim).passed() {
        return None;
    }
    let first = real_report.failures().next()?;
    let why = match &first.verdict {
        nslab_scenario::Verdict::Fail(why) => why.as_str(),
        _ => "",
    };
    Some(format!(
        "unprivileged: the real root helper stands in a user namespace that maps only uid 0 \
         and gid 0 and owns no pid namespace; model and kernel agree there, but this \
         scenario is written for root in the initial namespaces (where the model passes): \
         line {}: {}: {why}; run it as root",
        first.line, first.text
    ))
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
    run_ops_both_with(name, ops, helper, |sim| sim)
}

/// [`run_ops_both`] with the model seen through `model` (a test wraps it to make it answer
/// wrongly on purpose). The real machine is started, used and dropped on the calling thread.
pub fn run_ops_both_with<M: Machine>(
    name: &str,
    ops: &[RandOp],
    helper: &Path,
    model: impl FnOnce(Kernel) -> M,
) -> Result<SequenceResult, StartError> {
    let mut real = RealMachine::start(helper)?;
    let mut sim = model(Kernel::boot_at(&real.origin()));
    let mut machines: [&mut dyn Machine; 2] = [&mut sim, &mut real];
    Ok(run_ops(name, ops, &mut machines))
}
