//! What the top-level tests (and the scenario benchmark) share: the scenario files, the real
//! backend or why it cannot run here, and the host-safety check that closes a run.

#![allow(dead_code)]

use libtest_mimic::{Arguments, Trial};
use nslab_real::host::HostSnapshot;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The scenario files, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

/// The program the real backend's helpers run: the `nslab` binary.
pub fn helper() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nslab"))
}

/// The real backend, or why it cannot run here.
pub fn start_real() -> Result<nslab_real::RealMachine, String> {
    if std::env::var_os("NSLAB_SKIP_REAL").is_some() {
        return Err("NSLAB_SKIP_REAL is set".into());
    }
    nslab_real::RealMachine::start(helper())
        .map_err(|e| format!("the real backend cannot start here: {e}"))
}

/// Whether the real backend can start here (a machine is started and dropped), or why not.
pub fn real_available() -> Result<(), String> {
    start_real().map(drop)
}

/// The host as the test process sees it, before any real-backend work.
pub fn host_before() -> HostSnapshot {
    HostSnapshot::take()
}

/// Compares the host with `before`: the whole run must leave mounts, hostname, interfaces,
/// `/run/netns`, fds, namespaces and children exactly as they were.
pub fn host_unchanged(before: &HostSnapshot) -> Result<(), String> {
    let after = HostSnapshot::take();
    if &after == before {
        Ok(())
    } else {
        Err(format!(
            "the host changed:\n  before: {before:?}\n  after:  {after:?}"
        ))
    }
}

/// Prints the host-safety result (for the benchmark, which has no trials).
pub fn report_host_safety(before: &HostSnapshot) -> bool {
    match host_unchanged(before) {
        Ok(()) => {
            println!("ok: host-safety");
            true
        }
        Err(why) => {
            println!("FAILED: host-safety\n    {why}");
            false
        }
    }
}

/// Runs the trials with libtest-mimic, then `host_safety` as a trial of its own, after all
/// of them: every real machine they started has been dropped, and the host must be as it
/// was at `before`.
pub fn run_then_check_host(trials: Vec<Trial>, before: HostSnapshot) -> ExitCode {
    let args = Arguments::from_args();
    let run = libtest_mimic::run(&args, trials);
    let host = Trial::test("host_safety", move || {
        host_unchanged(&before).map_err(Into::into)
    });
    let safety = libtest_mimic::run(&args, vec![host]);
    if run.has_failed() || safety.has_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A runtime skip: prints `SKIPPED: <test>: <reason>` and gives libtest-mimic an ignored
/// trial with that line as its reason.
pub fn skip(test: &str, why: &str) -> libtest_mimic::Completion {
    let line = format!("SKIPPED: {test}: {why}");
    eprintln!("{line}");
    libtest_mimic::Completion::ignored_with(line)
}
