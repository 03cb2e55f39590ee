//! Runs every file of `scenarios/` on the model and on the running kernel, judges each
//! against its expectations and judges the two against each other, like klitmus7 and herd7
//! judged by one script. The real side is skipped loudly where it cannot run, never passed.
//!
//! A custom harness (`harness = false`): one line per scenario and backend, then
//! `N passed, N failed, N skipped`.

mod common;

use nslab_scenario::{agree, check, parse_file, Machine};
use std::process::ExitCode;

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
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
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
