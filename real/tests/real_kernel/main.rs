//! The real-kernel tests of nslab-real: each operation checked against the kernel's rules
//! (`docs/kernel-rules.md`), the faults, the bad input, the privilege paths, and host safety.
//!
//! A `harness = false` binary run by libtest-mimic: libtest's arguments (a filter,
//! `--test-threads`, `--list`, ...) and output; a test that cannot run here is an `ignored`
//! trial that says `SKIPPED: <test>: <reason>`, and the whole run is bracketed by a host
//! snapshot that must come out unchanged (`host_safety_after_the_whole_run`, run last).

mod bad_input;
mod faults;
mod harness;
mod ops;
mod privilege;

use harness::Test;
use libtest_mimic::{Arguments, Trial};
use nslab_real::host::HostSnapshot;
use std::process::ExitCode;

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

fn main() -> ExitCode {
    let args = Arguments::from_args();
    // A warm-up machine first, so that the fd snapshot does not count what the first
    // start opens once for the life of the process.
    if harness::is_root() {
        if let Ok(m) = nslab_real::RealMachine::start(harness::helper_exe()) {
            drop(m);
        }
    }
    let before = HostSnapshot::take();
    let tests = all_tests().into_iter().map(harness::trial).collect();
    let run = libtest_mimic::run(&args, tests);
    // The whole run is bracketed by a host snapshot: a trial of its own, after every other.
    let host = Trial::test("host_safety_after_the_whole_run", move || {
        let after = HostSnapshot::take();
        if before == after {
            Ok(())
        } else {
            Err(format!("the host changed\n  before: {before:#?}\n  after: {after:#?}").into())
        }
    });
    let safety = libtest_mimic::run(&args, vec![host]);
    if run.has_failed() || safety.has_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
