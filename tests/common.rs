//! What the top-level tests share: starting the backends, loudly skipping the real one where
//! this machine does not allow it.

#![allow(dead_code)]

use nslab_sim::machine::Origin;
use std::path::{Path, PathBuf};

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

/// The real backend, or why it cannot run here.
pub fn start_real() -> Result<nslab_real::RealMachine, String> {
    if std::env::var_os("NSLAB_SKIP_REAL").is_some() {
        return Err("NSLAB_SKIP_REAL is set".into());
    }
    nslab_real::RealMachine::start(Path::new(env!("CARGO_BIN_EXE_nslab")))
        .map_err(|e| format!("the real backend cannot start here: {e}"))
}

/// The host as the test process sees it, before any real-backend work.
pub fn host_before() -> nslab_real::host::HostSnapshot {
    nslab_real::host::HostSnapshot::take()
}

/// Compares the host with `before` and prints the result as the `host-safety` test: the
/// whole run must leave mounts, hostname, interfaces, `/run/netns`, fds, namespaces and
/// children exactly as they were. Returns whether it passed.
pub fn report_host_safety(before: &nslab_real::host::HostSnapshot) -> bool {
    let after = nslab_real::host::HostSnapshot::take();
    if &after == before {
        println!("ok: host-safety");
        true
    } else {
        println!("FAILED: host-safety");
        println!("    the host changed:\n  before: {before:?}\n  after:  {after:?}");
        false
    }
}

/// Ends a custom-harness run: the host-safety check counts as one more test, then the
/// closing `N passed, N failed, N skipped` line and the exit status.
pub fn finish(
    host: &nslab_real::host::HostSnapshot,
    mut passed: usize,
    mut failed: usize,
    skipped: usize,
) -> std::process::ExitCode {
    if report_host_safety(host) {
        passed += 1;
    } else {
        failed += 1;
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// A model booted where the real root helper stands, or at the default origin.
pub fn boot_sim(origin: Option<&Origin>) -> nslab_sim::Kernel {
    nslab_sim::Kernel::boot_at(origin.unwrap_or(&Origin::default()))
}
