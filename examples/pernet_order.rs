//! Property: pernet operations a module registers run in the kernel's order and roll back in
//! reverse. `my_subsys` is registered with `register_pernet_subsys` (so it comes before
//! every device, `loopback_net_ops` among them) and `my_device` with
//! `register_pernet_device` (after `loopback_net_ops`). For every step of a random sequence,
//! with one init made to fail or none:
//!
//! - the inits `setup_net` enters follow the order of `pernet_list`;
//! - when an init fails, the exits that follow are those of every operation before it in
//!   `pernet_list`, in reverse (and the failing one's exit is not called);
//! - a namespace torn down later (`cleanup_net`) runs the exits in reverse order too.
//!
//! Model only: it reads the model's recorder (docs/kernel-rules.md section 8).
//! `cargo run --example pernet_order`; `cargo test` runs it too.

use nslab_machine::sched::{CLONE_NEWNET, CLONE_NEWUSER};
use nslab_machine::Errno;
use nslab_scenario::property::{check_property, OpKind, OpsConfig, PropertyConfig, Step};
use nslab_sim::kernel::NetRef;
use nslab_sim::net_namespace::{PernetFn, PernetKind, PernetOperations};
use nslab_sim::trace::Step as Event;
use nslab_sim::Kernel;
use std::process::ExitCode;

// ANCHOR: register
fn my_op(_k: &mut Kernel, _net: NetRef) -> Result<(), Errno> {
    Ok(())
}

/// A model with `my_subsys` and `my_device` registered, recording, and `fail` made to fail
/// its init with ENOMEM.
fn boot(fail: Option<&str>) -> Kernel {
    let mut k = Kernel::boot();
    let op = |name, init, exit, kind| PernetOperations {
        init: Some((init, my_op as PernetFn)),
        exit: Some((exit, my_op as PernetFn)),
        ..PernetOperations::new(name, "(my module)", kind)
    };
    let subsys = op(
        "my_subsys",
        "my_subsys_init",
        "my_subsys_exit",
        PernetKind::Subsys,
    );
    let device = op(
        "my_device",
        "my_device_init",
        "my_device_exit",
        PernetKind::Device,
    );
    k.register_pernet_subsys(subsys)
        .expect("registering my_subsys");
    k.register_pernet_device(device)
        .expect("registering my_device");
    if let Some(name) = fail {
        assert!(k.pernet_fail_init(name, Some(Errno::ENOMEM)));
    }
    k.set_recording(true);
    k
}
// ANCHOR_END: register

// ANCHOR: property
/// Checks the pernet calls one step recorded.
fn kernel_order(step: &mut Step<'_, Kernel>) -> Result<(), String> {
    let k = &mut *step.machine;
    let records = k.take_records();
    // Each pernet operation's init and exit, by position in pernet_list.
    let ops: Vec<(Option<&str>, Option<&str>)> = k
        .pernet_list
        .iter()
        .map(|o| (o.init.map(|i| i.0), o.exit.map(|e| e.0)))
        .collect();
    let init_of = |f: &str| ops.iter().position(|o| o.0 == Some(f));
    let exit_of = |f: &str| ops.iter().position(|o| o.1 == Some(f));
    let mut inited: Vec<usize> = Vec::new(); // inits that returned 0, in order
    let mut failed = None; // the position of an init that failed
    let mut exits: Vec<usize> = Vec::new();
    for r in &records {
        match (&r.step, init_of(r.function), exit_of(r.function)) {
            (Event::Enter, Some(i), _)
                if inited.last().is_some_and(|&last| i <= last) || failed.is_some() =>
            {
                return Err(format!("{} entered out of pernet_list order", r.function));
            }
            (Event::Leave { errno: None }, Some(i), _) => inited.push(i),
            (Event::Leave { errno: Some(_) }, Some(i), _) => failed = Some(i),
            (Event::Enter, None, Some(i)) => exits.push(i),
            _ => {}
        }
    }
    let mut sorted = exits.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    if exits != sorted {
        return Err(format!("exits not in reverse pernet_list order: {exits:?}"));
    }
    // Every operation before the failing one was initialised (one without an init, such as
    // `default_device_ops`, trivially): their exits run, in reverse, and no other.
    if let Some(f) = failed {
        let expected: Vec<usize> = (0..f).rev().filter(|&i| ops[i].1.is_some()).collect();
        if exits != expected {
            return Err(format!(
                "after {} failed the exits were {exits:?}, not {expected:?} (the operations \
                 before it, in reverse)",
                ops[f].0.unwrap_or("?")
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: property

fn main() -> ExitCode {
    let ops = OpsConfig::default()
        .only(&[
            OpKind::Clone,
            OpKind::Unshare,
            OpKind::SetnsPidfd,
            OpKind::Exit,
        ])
        .namespace_flags(&[CLONE_NEWNET, CLONE_NEWUSER]);
    for fail in [
        None,
        Some("my_subsys"),
        Some("loopback_net_ops"),
        Some("my_device"),
    ] {
        let config = PropertyConfig {
            cases: 64,
            ..PropertyConfig::default()
        };
        let result = check_property(
            "pernet-order",
            &ops,
            &config,
            || Ok(vec![Box::new(boot(fail))]),
            kernel_order,
        );
        match result {
            Ok(()) => println!("ok: 64 cases, failing init: {}", fail.unwrap_or("none")),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
