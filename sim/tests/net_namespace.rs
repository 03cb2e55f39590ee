//! net/core/net_namespace.c, net/core/dev.c and drivers/net/loopback.c: `copy_net_ns`,
//! `setup_net` and the pernet operations, the loopback device (docs/kernel-rules.md section
//! 8; <https://elixir.bootlin.com/linux/v6.18/source/net/core/net_namespace.c>).

mod common;

use common::*;
use nslab_sim::errno::Errno;
use nslab_sim::kernel::{Kernel, NetRef};
use nslab_sim::net_namespace::{PernetKind, PernetOperations};
use nslab_sim::sched::*;
use nslab_sim::trace::functions_entered;
use nslab_sim::*;

fn lo(up: bool) -> Interfaces {
    [Interface {
        name: fit("lo"),
        ifindex: 1,
        up,
    }]
    .into_iter()
    .collect()
}

fn ok_hook(_: &mut Kernel, _: NetRef) -> Result<(), Errno> {
    Ok(())
}

/// A pernet op whose init and exit are recorded under `init`/`exit`.
fn op(
    name: &'static str,
    init: &'static str,
    exit: &'static str,
    kind: PernetKind,
) -> PernetOperations {
    PernetOperations {
        init: Some((init, ok_hook)),
        exit: Some((exit, ok_hook)),
        ..PernetOperations::new(name, "tests/net_namespace.rs", kind)
    }
}

fn names(k: &Kernel) -> Vec<&'static str> {
    k.pernet_list.iter().map(|o| o.name).collect()
}

// loopback_net_init (drivers/net/loopback.c), section 5: a new network namespace holds
// exactly lo, ifindex 1, DOWN.
#[test]
fn new_net_holds_exactly_lo_down() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNET);
    assert_ne!(
        inum(&mut k, c, NsEntry::Net),
        inum(&mut k, root, NsEntry::Net)
    );
    assert_eq!(view(&mut k, c).interfaces, lo(false));
    let a = fork(&mut k, root, 0);
    unshare(&mut k, a, CLONE_NEWNET);
    assert_eq!(view(&mut k, a).interfaces, lo(false));
}

// dev_ioctl SIOCSIFFLAGS (net/core/dev_ioctl.c), section 5: bringing lo up sets IFF_UP in
// that namespace only; lo gets 127.0.0.1/8 and ::1.
#[test]
fn link_up_brings_lo_up_in_one_namespace() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNET);
    k.link_up(c, "lo").expect("link up");
    assert_eq!(view(&mut k, c).interfaces, lo(true));
    assert_eq!(view(&mut k, root).interfaces, lo(false));
    let net = k.nsproxies[nsproxy_of(&k, c)].net_ns;
    assert_eq!(k.nets[net].dev_base[0].addrs, ["127.0.0.1/8", "::1/128"]);
    assert_eq!(errno(k.link_up(c, "eth0")), Errno::ENODEV);
    // Without CAP_NET_ADMIN over the namespace's owner: EPERM.
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    assert_eq!(errno(k.link_up(a, "lo")), Errno::EPERM);
    assert_eq!(view(&mut k, a).interfaces, lo(false));
    // An unprivileged owner of its own namespace may.
    let b = fork(&mut k, a, CLONE_NEWUSER | CLONE_NEWNET);
    k.link_up(b, "lo").expect("owner");
    assert_eq!(view(&mut k, b).interfaces, lo(true));
}

// register_pernet_subsys/_device and setup_net (net/core/net_namespace.c), section 5:
// subsystems go before the first device, devices at the tail; setup_net runs the inits in
// that order.
#[test]
fn setup_net_runs_subsys_before_devices_in_registration_order() {
    let (mut k, root) = boot();
    k.register_pernet_device(op("dev_a", "dev_a_init", "dev_a_exit", PernetKind::Device))
        .expect("register");
    k.register_pernet_subsys(op("sub_a", "sub_a_init", "sub_a_exit", PernetKind::Subsys))
        .expect("register");
    k.register_pernet_subsys(op("sub_b", "sub_b_init", "sub_b_exit", PernetKind::Subsys))
        .expect("register");
    assert_eq!(
        names(&k),
        [
            "netdev_net_ops",
            "sub_a",
            "sub_b",
            "loopback_net_ops",
            "default_device_ops",
            "dev_a"
        ]
    );
    k.set_recording(true);
    fork(&mut k, root, CLONE_NEWNET);
    let records = k.take_records();
    let inits: Vec<&str> = functions_entered(&records)
        .into_iter()
        .filter(|f| f.ends_with("_init") && *f != "ops_init")
        .collect();
    assert_eq!(
        inits,
        [
            "netdev_init",
            "sub_a_init",
            "sub_b_init",
            "loopback_net_init",
            "dev_a_init"
        ]
    );
}

// __register_pernet_operations (net/core/net_namespace.c), section 5: registering an op
// while namespaces exist runs its init in each of them (and allocates its generic data).
#[test]
fn registering_an_op_runs_its_init_in_every_namespace() {
    let (mut k, root) = boot();
    fork(&mut k, root, CLONE_NEWNET);
    fork(&mut k, root, CLONE_NEWNET);
    assert_eq!(k.net_namespace_list.len(), 3);
    k.set_recording(true);
    let ops = PernetOperations {
        size: 16,
        ..op("late", "late_init", "late_exit", PernetKind::Subsys)
    };
    k.register_pernet_subsys(ops).expect("register");
    let records = k.take_records();
    let n = functions_entered(&records)
        .into_iter()
        .filter(|f| *f == "late_init")
        .count();
    assert_eq!(n, 3);
    for net in k.net_namespace_list.clone() {
        assert_eq!(k.nets[net].generic.len(), 1);
    }
    assert_consistent(&k);
}

// setup_net (net/core/net_namespace.c), sections 2 and 5: a failing init undoes the ops
// already initialised, in reverse, and copy_net_ns leaves nothing behind.
#[test]
fn failing_init_rolls_back_in_reverse() {
    let (mut k, root) = boot();
    k.register_pernet_subsys(op("sub_a", "sub_a_init", "sub_a_exit", PernetKind::Subsys))
        .expect("register");
    k.register_pernet_device(op("dev_z", "dev_z_init", "dev_z_exit", PernetKind::Device))
        .expect("register");
    assert!(k.pernet_fail_init("dev_z", Some(Errno::ENOMEM)));
    let before = snapshot(&mut k, &[root]);
    k.set_recording(true);
    assert_eq!(clone_err(&mut k, root, CLONE_NEWNET), Errno::ENOMEM);
    let records = k.take_records();
    assert_eq!(snapshot(&mut k, &[root]), before);
    assert_consistent(&k);
    let fns = functions_entered(&records);
    let failed = fns
        .iter()
        .position(|f| *f == "dev_z_init")
        .expect("dev_z_init");
    let exits: Vec<&str> = fns[failed..]
        .iter()
        .copied()
        .filter(|f| f.ends_with("_exit") || f.ends_with("_exit_batch"))
        .collect();
    assert_eq!(
        exits,
        ["default_device_exit_batch", "sub_a_exit", "netdev_exit"]
    );
    assert!(
        !fns[failed..].contains(&"dev_z_exit"),
        "the failed op is not undone"
    );
}

// cleanup_net (net/core/net_namespace.c), section 5: destroying a namespace runs every exit
// in reverse registration order, and releases the ucount.
#[test]
fn cleanup_net_runs_exits_in_reverse() {
    let (mut k, root) = boot();
    k.register_pernet_subsys(op("sub_a", "sub_a_init", "sub_a_exit", PernetKind::Subsys))
        .expect("register");
    let c = fork(&mut k, root, CLONE_NEWNET);
    let init_ns = user_ns_of(&k, root);
    assert_eq!(k.ucount(init_ns, 0, NsType::Net), 1);
    k.set_recording(true);
    k.exit(c, 0).expect("exit");
    let records = k.take_records();
    let exits: Vec<&str> = functions_entered(&records)
        .into_iter()
        .filter(|f| *f != "do_exit" && (f.ends_with("_exit") || f.ends_with("_exit_batch")))
        .collect();
    assert_eq!(
        exits,
        ["default_device_exit_batch", "sub_a_exit", "netdev_exit"]
    );
    assert_eq!(k.ucount(init_ns, 0, NsType::Net), 0);
    assert_eq!(k.net_namespace_list.len(), 1);
}

// copy_net_ns (net/core/net_namespace.c), section 5: without CLONE_NEWNET the child shares
// the network namespace (get_net).
#[test]
fn copy_net_ns_without_flag_shares() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUTS);
    assert_eq!(
        inum(&mut k, c, NsEntry::Net),
        inum(&mut k, root, NsEntry::Net)
    );
    k.link_up(c, "lo").expect("link up");
    assert_eq!(view(&mut k, root).interfaces, lo(true));
}
