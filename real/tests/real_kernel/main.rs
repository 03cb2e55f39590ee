//! The real-kernel tests of nslab-real: each operation checked against the kernel's rules
//! (`docs/kernel-rules.md`), the faults, the bad input, the privilege paths, and host safety.
//!
//! This is a custom test binary (`harness = false`): the tests run in parallel on
//! `--test-threads` threads (default: the number of CPUs), a test that cannot run here prints
//! `SKIPPED: <test>: <reason>` and is counted, and the whole run is bracketed by a host
//! snapshot that must come out unchanged.

mod bad_input;
mod faults;
mod harness;
mod ops;
mod privilege;

use harness::Test;
use nslab_real::host::HostSnapshot;

/// Every test, by module: `ops` (one per operation), `faults` (crashes, hangs, a killed
/// controller, a dying init), `bad_input` (stale handles, bad flags), `privilege` (the
/// unprivileged path and its refusal message).
fn all_tests() -> Vec<Test> {
    let mut v = Vec::new();
    v.extend(ops::tests());
    v.extend(faults::tests());
    v.extend(bad_input::tests());
    v.extend(privilege::tests());
    v
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut filter = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(n) = a.strip_prefix("--test-threads=") {
            threads = n.parse().unwrap_or(threads);
        } else if a == "--test-threads" {
            i += 1;
            threads = args.get(i).and_then(|n| n.parse().ok()).unwrap_or(threads);
        } else if a == "--list" {
            for t in all_tests() {
                println!("{}: test", t.name);
            }
            return;
        } else if !a.starts_with('-') {
            filter = Some(a.clone());
        }
        i += 1;
    }
    let tests = all_tests();
    // A warm-up machine first, so that the fd snapshot does not count what the first
    // start opens once for the life of the process.
    if harness::is_root() {
        if let Ok(m) = nslab_real::RealMachine::start(harness::helper_exe()) {
            drop(m);
        }
    }
    let before = HostSnapshot::take();
    let (mut passed, mut failed, skipped) = harness::run_all(&tests, filter.as_deref(), threads);
    let after = HostSnapshot::take();
    if before == after {
        eprintln!("test host_safety_after_the_whole_run ... ok");
        passed += 1;
    } else {
        eprintln!("test host_safety_after_the_whole_run ... FAILED\n  before: {before:#?}\n  after: {after:#?}");
        failed += 1;
    }
    println!();
    println!("{skipped} real tests skipped");
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}
