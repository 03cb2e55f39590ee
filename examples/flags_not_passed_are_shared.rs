//! Property: a successful clone shares with its caller every namespace whose flag it did not
//! pass (the child's `pid` is the caller's `pid_for_children`, its `time` the caller's
//! `time_for_children`). Checked on the model, then on the kernel as root.
//!
//! `cargo run --example flags_not_passed_are_shared`; `cargo test` runs it too.

use nslab::property::{kernel_unavailable, machines, Backends};
use nslab_machine::sched::*;
use nslab_machine::{Machine, NsEntry, Op};
use nslab_scenario::property::{check_property, OpKind, OpsConfig, PropertyConfig, Step};
use std::process::ExitCode;

// ANCHOR: property
/// The entry of the caller that the child's `entry` must equal when `flag` is not passed.
const SHARED: [(NsEntry, u64, NsEntry); 8] = [
    (NsEntry::Net, CLONE_NEWNET, NsEntry::Net),
    (NsEntry::Uts, CLONE_NEWUTS, NsEntry::Uts),
    (NsEntry::Ipc, CLONE_NEWIPC, NsEntry::Ipc),
    (NsEntry::Pid, CLONE_NEWPID, NsEntry::PidForChildren),
    (NsEntry::User, CLONE_NEWUSER, NsEntry::User),
    (NsEntry::Mnt, CLONE_NEWNS, NsEntry::Mnt),
    (NsEntry::Cgroup, CLONE_NEWCGROUP, NsEntry::Cgroup),
    (NsEntry::Time, CLONE_NEWTIME, NsEntry::TimeForChildren),
];

fn flags_not_passed_are_shared(step: &mut Step<'_, dyn Machine>) -> Result<(), String> {
    let (Op::Clone(args), Ok(Some(child)), Some(parent)) = (step.op, step.result, step.after)
    else {
        return Ok(()); // only successful clones are concerned
    };
    let child_view = step.machine.observe(*child).map_err(|e| e.to_string())?;
    for (entry, flag, parent_entry) in SHARED {
        if args.flags & flag == 0 && child_view.ns(entry) != parent.ns(parent_entry) {
            return Err(format!(
                "clone {} did not share {}: child {:?}, parent's {} {:?}",
                Flags(args.flags),
                entry.file_name(),
                child_view.ns(entry),
                parent_entry.file_name(),
                parent.ns(parent_entry)
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: property

fn main() -> ExitCode {
    nslab_real::enter_helper_if_requested();
    let helper = std::env::current_exe().expect("the example's own path");
    // ANCHOR: run
    let ops = OpsConfig::default().only(&[OpKind::Clone, OpKind::Unshare, OpKind::SetnsPidfd]);
    let mut backends = vec![(Backends::Model, 128)];
    match kernel_unavailable(&helper) {
        None => backends.push((Backends::Both, 24)),
        Some(why) => println!("SKIPPED: flags_not_passed_are_shared on the kernel: {why}"),
    }
    for (on, cases) in backends {
        let config = PropertyConfig {
            cases,
            ..PropertyConfig::default()
        };
        let result = check_property(
            "flags-not-passed-are-shared",
            &ops,
            &config,
            || machines(on, &helper),
            flags_not_passed_are_shared,
        );
        match result {
            Ok(()) => println!("ok: {cases} cases on {on:?}"),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // ANCHOR_END: run
    ExitCode::SUCCESS
}
