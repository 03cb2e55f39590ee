//! Runs every file of `scenarios/` on the model and on the running kernel, judges each
//! against its expectations and judges the two against each other, like klitmus7 and herd7
//! judged by one script.
//!
//! A `harness = false` binary run by libtest-mimic, two trials per file: `sim::<scenario>`
//! (the model against the expectations) and `both::<scenario>` (the kernel against the
//! expectations and against the model, through `nslab::both::check_both`), which is an
//! ignored trial saying `SKIPPED: <test>: <reason>` where the real backend cannot start,
//! never a pass. Then `nslab run` itself on a bad file among good ones, and last the
//! host-safety check.

mod common;

use libtest_mimic::{Completion, Failed, Trial};
use nslab::both::check_both;
use nslab_scenario::{check, parse_file, Report, Scenario};
use nslab_sim::machine::Origin;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let host = common::host_before();
    // Whether the kernel can be asked at all here, found once: where it cannot, every
    // `both::` trial is a loud skip; where it can, a scenario it could not run fails.
    let real = common::real_available();
    let mut trials = Vec::new();
    for path in common::scenario_files() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = path.clone();
        trials.push(Trial::test(format!("sim::{name}"), move || sim_trial(&p)));
        let test = format!("both::{name}");
        let t = test.clone();
        let real = real.clone();
        trials.push(Trial::ignorable_test(test, move || match real {
            Ok(()) => both_trial(&path),
            Err(why) => Ok(common::skip(&t, &why)),
        }));
    }
    trials.push(Trial::test("nslab_run_bad_file", run_with_a_bad_file));
    trials.push(Trial::ignorable_test(
        "both::unprivileged_position_agrees",
        unprivileged_position_agrees,
    ));
    common::run_then_check_host(trials, host)
}

fn load(path: &Path) -> Result<Scenario, Failed> {
    parse_file(path).map_err(|e| e.to_string().into())
}

/// Every failed step and the abort of a report, one line each.
fn failures(report: &Report, out: &mut Vec<String>) {
    for f in report.failures() {
        out.push(format!(
            "{} line {}: {}: {:?}",
            report.backend, f.line, f.text, f.verdict
        ));
    }
    if let Some(a) = &report.aborted {
        out.push(format!("{} aborted: {a}", report.backend));
    }
}

fn verdict(lines: Vec<String>) -> Result<(), Failed> {
    if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("\n").into())
    }
}

/// The model, booted where a root helper on the host would stand, against the expectations.
fn sim_trial(path: &Path) -> Result<(), Failed> {
    let scenario = load(path)?;
    let mut sim = nslab_sim::Kernel::boot_at(&Origin::default());
    let mut lines = Vec::new();
    failures(&check(&scenario, &mut sim), &mut lines);
    verdict(lines)
}

/// The kernel and the model booted at its origin: both against the expectations, and
/// against each other.
fn both_trial(path: &Path) -> Result<Completion, Failed> {
    let scenario = load(path)?;
    let mut sim = nslab_sim::Kernel::boot();
    let both = check_both(&scenario, common::helper(), &mut sim)
        .map_err(|e| format!("the real backend could not run this scenario: {e}"))?;
    let mut lines = Vec::new();
    failures(&both.sim, &mut lines);
    failures(&both.real, &mut lines);
    for d in &both.disagreements {
        lines.push(format!("disagreement: {d}"));
    }
    if let Some(why) = &both.skip {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        return Ok(common::skip(&format!("both::{name}"), why));
    }
    verdict(lines).map(|()| Completion::Completed)
}

/// As uid 65534 the real root helper stands in a user namespace that maps only uid 0 and
/// owns no other namespace; the model is booted in that position, so the two agree on every
/// scenario there (before, 11 scenarios failed and `nslab check` disagreed at its first
/// case: model ok, kernel EPERM). Run as root, starting the helper as 65534; as 65534
/// itself, the `both::` trials above are this test.
fn unprivileged_position_agrees() -> Result<Completion, Failed> {
    let name = "both::unprivileged_position_agrees";
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(common::skip(
            name,
            "starting the helper as uid 65534 needs root",
        ));
    }
    let opts = || nslab_real::StartOptions {
        run_as: Some((65534, 65534)),
        ..nslab_real::StartOptions::default()
    };
    let mut sim = nslab_sim::Kernel::boot();
    let (mut skipped, mut passed) = (0, 0);
    let mut lines = Vec::new();
    for path in common::scenario_files() {
        let scenario = load(&path)?;
        let both = nslab::both::check_both_with(&scenario, common::helper(), &mut sim, opts())
            .map_err(|e| format!("the real backend could not start as 65534: {e}"))?;
        if !both.real.origin.single_id_map {
            return Err("started as 65534, the origin does not map a single id".into());
        }
        for d in &both.disagreements {
            lines.push(format!("{}: disagreement: {d}", scenario.name));
        }
        match (&both.skip, both.passed()) {
            (_, true) => passed += 1,
            (Some(_), false) => skipped += 1,
            (None, false) => {
                failures(&both.sim, &mut lines);
                failures(&both.real, &mut lines);
            }
        }
    }
    verdict(lines)?;
    // Most of the set holds there; the rest needs ids or namespaces root has.
    if passed < 3 * skipped {
        return Err(format!("{passed} passed, {skipped} skipped").into());
    }
    Ok(Completion::Completed)
}

/// `nslab run good bad good` on the model: the bad file's parse error is reported with its
/// file, line and column, both good files still run, and the exit status is 1.
fn run_with_a_bad_file() -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("nslab-run-bad-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let good = common::scenario_files();
    let (first, second) = (&good[0], &good[1]);
    let bad = dir.join("bad.scn");
    std::fs::write(
        &bad,
        "# bad\nA = init: clone CLONE_NEWPID\nA: frobnicate 3\n",
    )
    .map_err(|e| e.to_string())?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nslab"))
        .arg("run")
        .args([first, &bad, second])
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let show = || {
        format!(
            "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        )
    };
    let located = format!("{}:3:4:", bad.display());
    if !stderr.contains(&located) {
        return Err(format!("no error at {located}\n{}", show()).into());
    }
    for f in [first, second] {
        if !stdout.contains(&format!("({}): ok", f.display())) {
            return Err(format!("{} did not run\n{}", f.display(), show()).into());
        }
    }
    if !stdout.contains("2 passed, 0 failed, 1 could not be loaded") {
        return Err(format!("no summary counting the bad file\n{}", show()).into());
    }
    if out.status.code() != Some(1) {
        return Err(format!("the exit status is not 1\n{}", show()).into());
    }
    Ok(())
}
