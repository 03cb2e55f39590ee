//! A property that is wrong on purpose: "`unshare(CLONE_NEWUTS)` never fails". The kernel
//! asks for `CAP_SYS_ADMIN` in the caller's user namespace (`unshare_nsproxy_namespaces`,
//! kernel/nsproxy.c), so a task that dropped it (by `capset`, or by leaving uid 0) gets
//! EPERM. The check finds a sequence where the rule breaks, shrinks it to two operations, and
//! prints it as a scenario file.
//!
//! The example exits 0 when it finds and prints that expected counterexample (which must also
//! be the file saved at `examples/wrong-rule.scn`), and 1 if it does not, so that
//! `cargo test` runs it. `cargo run --example wrong_rule`.

use nslab_machine::sched::CLONE_NEWUTS;
use nslab_machine::{Errno, Machine, Op};
use nslab_scenario::property::{
    check_property, CheckError, OpKind, OpsConfig, PropertyConfig, Step,
};
use nslab_sim::Kernel;
use std::process::ExitCode;

// ANCHOR: property
/// The wrong rule.
fn unshare_newuts_never_fails(step: &mut Step<'_, dyn Machine>) -> Result<(), String> {
    match (step.op, step.result) {
        (Op::Unshare(flags), Err(e)) if flags & CLONE_NEWUTS != 0 => {
            Err(format!("unshare(CLONE_NEWUTS) failed: {e}"))
        }
        _ => Ok(()),
    }
}
// ANCHOR_END: property

fn main() -> ExitCode {
    // ANCHOR: run
    let ops = OpsConfig::default()
        .only(&[
            OpKind::Clone,
            OpKind::Unshare,
            OpKind::DropCaps,
            OpKind::Setresuid,
        ])
        .namespace_flags(&[CLONE_NEWUTS]);
    let result = check_property(
        "wrong-rule",
        &ops,
        &PropertyConfig::default(),
        || Ok(vec![Box::new(Kernel::boot()) as Box<dyn Machine>]),
        unshare_newuts_never_fails,
    );
    // ANCHOR_END: run
    let failure = match result {
        Err(CheckError::Failed(f)) => f,
        Err(e) => {
            eprintln!("wrong_rule: the check did not run: {e}");
            return ExitCode::FAILURE;
        }
        Ok(()) => {
            eprintln!("wrong_rule: the wrong rule was not refuted");
            return ExitCode::FAILURE;
        }
    };
    print!("{failure}");
    // The expected counterexample: two operations, the last an unshare refused with EPERM.
    let last = failure.scenario.body.last();
    let eperm = matches!(
        last,
        Some(nslab_scenario::Stmt::Call(c))
            if matches!(c.call, Op::Unshare(_))
                && c.expect == nslab_scenario::ExpectOutcome::Errno(Errno::EPERM)
    );
    if failure.ops.len() != 2 || !eperm {
        eprintln!("wrong_rule: not the expected counterexample (two operations, EPERM last)");
        return ExitCode::FAILURE;
    }
    let saved = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/wrong-rule.scn");
    let printed = failure.scenario.to_string();
    match std::fs::read_to_string(saved) {
        Ok(text) if text == printed => {}
        _ => {
            eprintln!("wrong_rule: {saved} differs from the printed scenario; save it again");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
