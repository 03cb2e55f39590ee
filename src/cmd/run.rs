//! `nslab run`: run scenario files on the model, the running kernel or both, print what each
//! backend did at every step, and judge expectations and agreement.

use crate::cmd::out::outln;
use anyhow::{bail, Context};
use nslab::both::{check_both, unprivileged_skip};
use nslab_scenario::judge::{Report, StepRecord, Verdict};
use nslab_scenario::{check, parse_file, Disagreement, Scenario};
use nslab_sim::machine::Origin;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Which machine runs the scenarios.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The model (`nslab_sim::Kernel`), booted where a real root helper would stand.
    Sim,
    /// The running kernel, through a helper process (needs root or user namespaces).
    Real,
    /// Both, and judge that they agree.
    Both,
}

/// Arguments of `nslab run`.
#[derive(clap::Args, Debug)]
#[command(after_help = limits_help())]
pub struct RunArgs {
    /// Scenario files (`scenarios/*.scn`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Which backend runs them.
    #[arg(long, value_enum, default_value = "sim")]
    pub backend: Backend,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print only failures, disagreements and the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Show the file's `# hint:` lines (for exercises with `?` holes).
    #[arg(long)]
    pub hints: bool,
}

/// The limits on a scenario file, for `--help` (scenarios/README.md explains them).
fn limits_help() -> String {
    format!(
        "Limits: a scenario file is read only if it is a regular file, and refused, with its \
         line and column, before anything runs when it exceeds {}.",
        nslab_scenario::limits::describe()
    )
}

/// The result of one file on the chosen backends.
#[derive(Serialize, Debug)]
pub struct FileResult {
    pub file: String,
    pub scenario: String,
    pub reports: Vec<Report>,
    pub disagreements: Vec<Disagreement>,
    pub passed: bool,
    /// Why the file was skipped, not judged: the unprivileged mode
    /// ([`nslab::both::unprivileged_skip`]).
    pub skipped: Option<String>,
}

/// This binary, which the real backend starts again as its helper.
pub fn helper_exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("cannot find the nslab binary for the helper")
}

/// Starts the real backend, with this binary as its helper.
pub fn start_real() -> anyhow::Result<nslab_real::RealMachine> {
    nslab_real::RealMachine::start(&helper_exe()?).map_err(real_start_error)
}

/// The message for a real backend that cannot start.
pub fn real_start_error(e: nslab_real::StartError) -> anyhow::Error {
    anyhow::anyhow!("cannot start the real backend: {e}")
}

/// Runs one parsed file on the chosen backends: fresh machines for every scenario (the model
/// `sim` rebooted in place, a new real root helper), the model booted at the real root
/// helper's origin when both run.
pub fn run_file(
    path: &Path,
    scenario: &Scenario,
    backend: Backend,
    sim: &mut nslab_sim::Kernel,
) -> anyhow::Result<FileResult> {
    let (reports, disagreements, skipped) = match backend {
        Backend::Sim => {
            sim.reboot_at(&Origin::default());
            (vec![check(scenario, sim)], Vec::new(), None)
        }
        Backend::Real => {
            let mut real = start_real()?;
            let report = check(scenario, &mut real);
            let origin = nslab_scenario::Machine::origin(&real);
            drop(real);
            // The model in the same position only decides whether a failure is the mode's.
            sim.reboot_at(&origin);
            let model = check(scenario, sim);
            let d = nslab_scenario::agree(&model, &report);
            let skip = unprivileged_skip(scenario, &origin, &model, &report, &d, sim);
            (vec![report], Vec::new(), skip)
        }
        Backend::Both => {
            let both = check_both(scenario, &helper_exe()?, sim).map_err(real_start_error)?;
            (vec![both.sim, both.real], both.disagreements, both.skip)
        }
    };
    let passed = disagreements.is_empty() && reports.iter().all(Report::passed);
    Ok(FileResult {
        file: path.display().to_string(),
        scenario: scenario.name.clone(),
        reports,
        disagreements,
        passed,
        skipped,
    })
}

/// Runs `nslab run`; returns the exit code.
///
/// A file that cannot be read or parsed is reported on stderr (`file:line:col: expected ...`)
/// and counted, and the other files still run; any such file makes the exit status 1. A
/// backend that cannot start stops the whole run, since no file could run on it.
pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let mut results = Vec::new();
    let mut unreadable = 0;
    // One model for the whole run, booted again before each file.
    let mut sim = nslab_sim::Kernel::boot();
    for f in &args.files {
        let scenario = match parse_file(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("nslab: {}", nslab_scenario::printable(&e.to_string()));
                unreadable += 1;
                continue;
            }
        };
        let r = run_file(f, &scenario, args.backend, &mut sim)?;
        if !args.json {
            print_result(&r, args.quiet)?;
            // Prediction holes are not judged: they are reported as unanswered.
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if args.hints {
                for h in nslab_scenario::holes::hints(&text) {
                    outln!("  hint: {h}");
                }
            }
            for h in nslab_scenario::holes::strip(&text).1 {
                outln!(
                    "{:>4}  {}\n        unanswered: {} (a prediction hole)",
                    h.line,
                    h.text.trim(),
                    h.question()
                );
            }
        }
        results.push(r);
    }
    let skipped = results
        .iter()
        .filter(|r| !r.passed && r.skipped.is_some())
        .count();
    let failed = results
        .iter()
        .filter(|r| !r.passed && r.skipped.is_none())
        .count();
    let passed = results.len() - failed - skipped;
    let skipped_text = if skipped > 0 {
        format!(", {skipped} skipped (unprivileged: run as root to judge them)")
    } else {
        String::new()
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&results)?);
    } else if unreadable == 0 {
        outln!("{passed} passed, {failed} failed{skipped_text}");
    } else {
        outln!("{passed} passed, {failed} failed{skipped_text}, {unreadable} could not be loaded");
    }
    if results.is_empty() && unreadable == 0 {
        bail!("no scenario ran");
    }
    Ok(if failed == 0 && unreadable == 0 { 0 } else { 1 })
}

fn verdict_text(r: &StepRecord) -> String {
    let what = if r.observed.is_empty() {
        r.outcome.to_string()
    } else {
        r.observed.clone()
    };
    match &r.verdict {
        Verdict::Pass => format!("{what} PASS"),
        Verdict::Unjudged => what,
        Verdict::Fail(why) => format!("FAIL: {why}"),
    }
}

/// Prints one file's steps: the statement, then each backend's result and verdict.
pub fn print_result(r: &FileResult, quiet: bool) -> anyhow::Result<()> {
    let status = match (&r.skipped, r.passed) {
        (_, true) => "ok",
        (Some(_), false) => "SKIPPED",
        (None, false) => "FAILED",
    };
    outln!("== {} ({}): {status}", r.scenario, r.file);
    if let (Some(why), false) = (&r.skipped, r.passed) {
        outln!("        SKIPPED: {why}");
    }
    // The disagreements by line, looked up once per step (not a scan of all of them).
    let mut by_line: HashMap<u32, Vec<&Disagreement>> = HashMap::new();
    for d in &r.disagreements {
        by_line.entry(d.line).or_default().push(d);
    }
    let steps = r.reports.iter().map(|x| x.records.len()).max().unwrap_or(0);
    for i in 0..steps {
        let Some(first) = r.reports.iter().find_map(|x| x.records.get(i)) else {
            continue;
        };
        if first.line == 0 {
            continue;
        }
        let any_failed = r
            .reports
            .iter()
            .any(|x| x.records.get(i).is_some_and(StepRecord::failed));
        let disagreement: Vec<&Disagreement> = by_line
            .get(&first.line)
            .map(|ds| {
                ds.iter()
                    .filter(|d| *d.text == *first.text)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if quiet && !any_failed && disagreement.is_empty() {
            continue;
        }
        outln!("{:>4}  {}", first.line, first.text);
        for rep in &r.reports {
            if let Some(rec) = rep.records.get(i) {
                outln!("        {:<5} {}", rep.backend, verdict_text(rec));
            }
        }
        if r.reports.len() == 2 {
            if disagreement.is_empty() {
                if !quiet {
                    outln!("        agree");
                }
            } else {
                for d in disagreement {
                    outln!("        DISAGREE on {}: {} | {}", d.what, d.left, d.right);
                }
            }
        }
    }
    for d in r.disagreements.iter().filter(|d| d.line == 0) {
        outln!(
            "   end  DISAGREE on {}:\n          {}\n          {}",
            d.what,
            d.left,
            d.right
        );
    }
    for rep in &r.reports {
        if let Some(a) = &rep.aborted {
            outln!("        {}: aborted: {a}", rep.backend);
        }
    }
    Ok(())
}
