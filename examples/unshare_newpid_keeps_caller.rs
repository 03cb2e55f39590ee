//! Property: `unshare(CLONE_NEWPID)` never moves the caller. Its own pid namespace and its
//! pid (`NSpid`) stay as they were; only `pid_for_children` changes, and the next child is
//! the new namespace's init. Checked on the model, then on the kernel as root.
//!
//! `cargo run --example unshare_newpid_keeps_caller`; `cargo test` runs it too.

use nslab::property::{kernel_unavailable, machines, Backends};
use nslab_machine::sched::CLONE_NEWPID;
use nslab_machine::{Machine, NsEntry, Op};
use nslab_scenario::property::{check_property, OpKind, OpsConfig, PropertyConfig, Step};
use std::process::ExitCode;

// ANCHOR: property
fn unshare_newpid_keeps_caller(step: &mut Step<'_, dyn Machine>) -> Result<(), String> {
    let (Op::Unshare(flags), Ok(_), Some(after)) = (step.op, step.result, step.after) else {
        return Ok(());
    };
    if flags & CLONE_NEWPID == 0 {
        return Ok(());
    }
    if after.ns(NsEntry::Pid) != step.before.ns(NsEntry::Pid) {
        return Err("unshare(CLONE_NEWPID) moved the caller to another pid namespace".into());
    }
    if after.nspid != step.before.nspid {
        return Err(format!(
            "unshare(CLONE_NEWPID) changed the caller's NSpid from {:?} to {:?}",
            step.before.nspid, after.nspid
        ));
    }
    Ok(())
}
// ANCHOR_END: property

fn main() -> ExitCode {
    nslab_real::enter_helper_if_requested();
    let helper = std::env::current_exe().expect("the example's own path");
    let ops = OpsConfig::default()
        .only(&[
            OpKind::Clone,
            OpKind::Unshare,
            OpKind::SetnsPidfd,
            OpKind::Exit,
        ])
        .steps(1, 10);
    let mut backends = vec![(Backends::Model, 128)];
    match kernel_unavailable(&helper) {
        None => backends.push((Backends::Both, 24)),
        Some(why) => println!("SKIPPED: unshare_newpid_keeps_caller on the kernel: {why}"),
    }
    for (on, cases) in backends {
        let config = PropertyConfig {
            cases,
            ..PropertyConfig::default()
        };
        match check_property(
            "unshare-newpid-keeps-caller",
            &ops,
            &config,
            || machines(on, &helper),
            unshare_newpid_keeps_caller,
        ) {
            Ok(()) => println!("ok: {cases} cases on {on:?}"),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
