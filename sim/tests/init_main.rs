//! init/main.c and init/init_task.c: the booted machine (docs/kernel-rules.md sections 2, 5,
//! 8 and 11; <https://elixir.bootlin.com/linux/v6.18/source/init/init_task.c>), and
//! `Kernel::boot_at`.

mod common;

use common::*;
use nslab_sim::capability::CAP_FULL_SET;
use nslab_sim::sched::*;
use nslab_sim::*;

// include/uapi/linux/nsfs.h, section 8: the eight initial inode numbers (6.18).
#[test]
fn initial_inode_numbers() {
    let (mut k, root) = boot();
    let want = [
        (NsEntry::Net, 4026531833),
        (NsEntry::Uts, 4026531838),
        (NsEntry::Ipc, 4026531839),
        (NsEntry::Pid, 4026531836),
        (NsEntry::PidForChildren, 4026531836),
        (NsEntry::User, 4026531837),
        (NsEntry::Mnt, 4026531832),
        (NsEntry::Cgroup, 4026531835),
        (NsEntry::Time, 4026531834),
        (NsEntry::TimeForChildren, 4026531834),
    ];
    let v = view(&mut k, root);
    assert_eq!(v.ns.len(), 10);
    for (e, i) in want {
        assert_eq!(v.ns(e), Ok(i), "{}", e.file_name());
    }
    assert_eq!(NsEntry::Pid.readlink(4026531836), "pid:[4026531836]");
    assert_eq!(
        NsEntry::PidForChildren.readlink(4026531836),
        "pid:[4026531836]"
    );
    assert_eq!(
        NsEntry::TimeForChildren.readlink(4026531834),
        "time:[4026531834]"
    );
}

// init_nsproxy (init/init_task.c), section 2: the init task uses init_nsproxy, whose
// members are the initial namespaces; its count is the idle task's and init's.
#[test]
fn init_nsproxy_holds_the_initial_namespaces() {
    let (mut k, root) = boot();
    let n = nsproxy_of(&k, root);
    assert_eq!(n, k.init_nsproxy);
    assert_eq!(k.nsproxies[n].count, 2);
    assert_eq!(k.nsproxies[n].net_ns, k.init_net);
    assert_eq!(k.nsproxies[n].pid_ns_for_children, k.init_pid_ns);
    assert_eq!(user_ns_of(&k, root), k.init_user_ns);
    let v = view(&mut k, root);
    assert_eq!(v.nspid[..], [1]);
    assert_eq!((v.uid, v.gid, v.cap_eff), (0, 0, CAP_FULL_SET));
    assert_eq!(&*v.hostname, "(none)");
    assert_eq!(k.proc_inum.in_use(), 0, "no dynamic inode number yet");
}

// net_dev_init (net/core/dev.c) and loopback_net_init, section 5: init_net has lo,
// ifindex 1, DOWN, and is on net_namespace_list.
#[test]
fn init_net_has_lo() {
    let (mut k, root) = boot();
    assert_eq!(
        view(&mut k, root).interfaces[..],
        [Interface {
            name: fit("lo"),
            ifindex: 1,
            up: false
        }]
    );
    assert_eq!(k.net_namespace_list, [k.init_net]);
}

// net_dev_init (net/core/dev.c), section 5: pernet_list is netdev_net_ops (subsys), then
// loopback_net_ops (the first device), then default_device_ops.
#[test]
fn pernet_list_order() {
    let (k, _) = boot();
    let names: Vec<&str> = k.pernet_list.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        ["netdev_net_ops", "loopback_net_ops", "default_device_ops"]
    );
    assert_eq!(k.first_device, Some(1));
}

// The user sysctl table (kernel/ucount.c), section 9: the initial namespace's limits are
// max_threads / 2 (96365 on the reference machine).
#[test]
fn initial_limits() {
    let (k, _) = boot();
    assert_eq!(k.user_namespaces[k.init_user_ns].ucount_max, [96365; 8]);
}

// Kernel::boot_at: the root is placed at the requested pid and user namespace depths, with
// the requested ids and capabilities, as an ordinary task (not an init).
#[test]
fn boot_at_places_the_root() {
    let origin = Origin {
        pid_ns_level: 2,
        user_ns_level: 1,
        uid: 1000,
        gid: 1000,
        cap_eff: 0,
        single_id_map: false,
    };
    let mut k = Kernel::boot_at(&origin);
    assert_consistent(&k);
    let root = k.root();
    assert_eq!(k.origin(), origin);
    assert_eq!(pid_ns_level(&k, root), 2);
    assert_eq!(user_ns_level(&k, root), 1);
    let v = view(&mut k, root);
    assert_eq!((v.uid, v.gid, v.cap_eff), (1000, 1000, 0));
    assert_eq!(v.nspid.len(), 1, "NSpid starts at the root's own level");
    assert_ne!(v.pid(), 1, "the root is not the namespace's init");
    // Not SIGNAL_UNKILLABLE: CLONE_PARENT is allowed.
    fork(&mut k, root, CLONE_PARENT);
    // Unprivileged, in a user namespace owned by its ancestor: EPERM for a new net.
    assert_eq!(clone_err(&mut k, root, CLONE_NEWNET), Errno::EPERM);
}

// Kernel::boot_at with a single id map: the position of an unprivileged real root helper
// (`unshare -r`): its own user namespace maps only id 0 and denies setgroups, and every
// other namespace is still the initial one (owned by the initial user namespace).
#[test]
fn boot_at_single_id_map_is_an_unprivileged_start() {
    let origin = Origin {
        user_ns_level: 1,
        single_id_map: true,
        ..Origin::default()
    };
    let mut k = Kernel::boot_at(&origin);
    assert_consistent(&k);
    let root = k.root();
    assert_eq!(k.origin(), origin);
    let v = view(&mut k, root);
    assert_eq!((v.uid, v.gid, v.cap_eff), (0, 0, CAP_FULL_SET));
    assert_eq!(user_ns_level(&k, root), 1);
    assert_eq!(
        v.ns(NsEntry::Uts),
        Ok(4026531838),
        "the initial uts namespace"
    );
    assert_eq!(
        v.ns(NsEntry::Net),
        Ok(4026531833),
        "the initial net namespace"
    );
    // Only 0 is mapped: no other id to change to.
    assert_eq!(k.setresuid(root, 1000), Err(SysError::Errno(Errno::EINVAL)));
    assert_eq!(k.setresgid(root, 1000), Err(SysError::Errno(Errno::EINVAL)));
    // Root of a user namespace that owns no uts namespace cannot rename it.
    assert_eq!(k.sethostname(root, "x"), Err(SysError::Errno(Errno::EPERM)));
    // A full map, as a container runtime writes, allows the change.
    let mut k = Kernel::boot_at(&Origin {
        single_id_map: false,
        ..origin
    });
    let root = k.root();
    k.setresuid(root, 1000).unwrap();
}

// Kernel::boot_at with the default origin: root with every capability in the initial
// namespaces, a child of init.
#[test]
fn boot_at_default_origin_is_an_initial_namespace_child() {
    let mut k = Kernel::boot_at(&Origin::default());
    assert_consistent(&k);
    let root = k.root();
    let v = view(&mut k, root);
    assert_eq!(v.ns(NsEntry::Net), Ok(4026531833));
    assert_eq!(v.ns(NsEntry::User), Ok(4026531837));
    assert_eq!(v.pid(), 2);
    assert_eq!(v.ppid, 1);
    assert_eq!(v.cap_eff, CAP_FULL_SET);
    fork(&mut k, root, CLONE_NEWPID | CLONE_NEWNET);
}

// Kernel::reboot_at: booting a used machine again in place gives exactly the machine a new
// boot gives (every object, index, count and inode number), whatever ran on it before and
// wherever its root stood.
#[test]
fn reboot_in_place_is_a_fresh_boot() {
    let nested = Origin {
        pid_ns_level: 2,
        user_ns_level: 1,
        uid: 1000,
        gid: 1000,
        cap_eff: 0,
        single_id_map: false,
    };
    let root_no_resource = Origin {
        cap_eff: CAP_FULL_SET & !(1 << nslab_sim::capability::CAP_SYS_RESOURCE),
        ..Origin::default()
    };
    let origins = [Origin::default(), nested, root_no_resource];
    for before in &origins {
        for after in &origins {
            let mut k = Kernel::boot_at(before);
            let root = k.root();
            // Leave objects of every kind behind, some freed and some still live.
            let all = CLONE_NEWNS
                | CLONE_NEWUTS
                | CLONE_NEWIPC
                | CLONE_NEWPID
                | CLONE_NEWNET
                | CLONE_NEWCGROUP
                | CLONE_NEWUSER;
            if let Ok(c) = Machine::clone_task(&mut k, root, CloneArgs::new(all)) {
                let _ = Machine::clone_task(&mut k, c, CloneArgs::new(CLONE_NEWNET));
                let _ = k.sethostname(c, "used");
                let _ = k.exit(c, 0);
            }
            let _ = Machine::clone_task(&mut k, root, CloneArgs::new(CLONE_NEWIPC));
            k.set_recording(true);
            k.reboot_at(after);
            assert!(!k.recording(), "a rebooted machine records nothing");
            let fresh = Kernel::boot_at(after);
            assert_eq!(
                format!("{k:?}"),
                format!("{fresh:?}"),
                "reboot from {before:?} to {after:?}"
            );
            assert_consistent(&k);
        }
    }
}
