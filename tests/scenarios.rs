//! Runs every file of `scenarios/` on the model and on the running kernel, judges each
//! against its expectations and judges the two against each other, like klitmus7 and herd7
//! judged by one script. The real side is skipped loudly where it cannot run, never passed.
//!
//! A custom harness (`harness = false`): one line per scenario and backend, then
//! `N passed, N failed, N skipped`. Last, `nslab run` itself on a bad file among good ones.

mod common;

use nslab_scenario::{agree, check, parse_file, Machine};
use std::process::ExitCode;

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let host = common::host_before();
    for path in common::scenario_files() {
        let scenario = match parse_file(&path) {
            Ok(s) => s,
            Err(e) => {
                println!("FAILED: {e}");
                failed += 1;
                continue;
            }
        };
        if filter
            .as_ref()
            .is_some_and(|f| !scenario.name.contains(f.as_str()))
        {
            continue;
        }
        let mut real = common::start_real();
        let origin = real.as_ref().ok().map(|r| r.origin());
        let mut sim = common::boot_sim(origin.as_ref());
        let sim_report = check(&scenario, &mut sim);
        let mut failures = Vec::new();
        for f in sim_report.failures() {
            failures.push(format!("sim line {}: {}: {:?}", f.line, f.text, f.verdict));
        }
        if let Some(a) = &sim_report.aborted {
            failures.push(format!("sim aborted: {a}"));
        }
        match real.as_mut() {
            Ok(real) => {
                let real_report = check(&scenario, real);
                for f in real_report.failures() {
                    failures.push(format!("real line {}: {}: {:?}", f.line, f.text, f.verdict));
                }
                if let Some(a) = &real_report.aborted {
                    failures.push(format!("real aborted: {a}"));
                }
                for d in agree(&sim_report, &real_report) {
                    failures.push(format!("disagreement: {d}"));
                }
            }
            Err(why) => {
                println!("SKIPPED: {} on real: {why}", scenario.name);
                skipped += 1;
            }
        }
        if failures.is_empty() {
            println!("ok: {}", scenario.name);
            passed += 1;
        } else {
            println!("FAILED: {}", scenario.name);
            for f in failures {
                println!("    {f}");
            }
            failed += 1;
        }
    }
    let wanted = match &filter {
        None => true,
        Some(f) => "nslab-run-bad-file".contains(f.as_str()),
    };
    if wanted {
        match run_with_a_bad_file() {
            Ok(()) => {
                println!("ok: nslab-run-bad-file");
                passed += 1;
            }
            Err(why) => {
                println!("FAILED: nslab-run-bad-file\n    {why}");
                failed += 1;
            }
        }
    }
    // Every real machine above was dropped at the end of its scenario: the host must be as it
    // was before the first.
    common::finish(&host, passed, failed, skipped)
}

/// `nslab run good bad good` on the model: the bad file's parse error is reported with its
/// file, line and column, both good files still run, and the exit status is 1.
fn run_with_a_bad_file() -> Result<(), String> {
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
        return Err(format!("no error at {located}\n{}", show()));
    }
    for f in [first, second] {
        if !stdout.contains(&format!("({}): ok", f.display())) {
            return Err(format!("{} did not run\n{}", f.display(), show()));
        }
    }
    if !stdout.contains("2 passed, 0 failed, 1 could not be loaded") {
        return Err(format!("no summary counting the bad file\n{}", show()));
    }
    if out.status.code() != Some(1) {
        return Err(format!("the exit status is not 1\n{}", show()));
    }
    Ok(())
}
