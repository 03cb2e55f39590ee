//! The 4.19 profile (docs/kernel-rules.md section 12): the teaching text's kernel, with
//! `_do_fork`, no time namespaces, no `clone3`, no pidfds, and dynamic inode numbers for the
//! initial mount and network namespaces.

mod common;

use common::*;
use nslab_sim::kernel::KernelVersion;
use nslab_sim::proc_generic::*;
use nslab_sim::sched::*;
use nslab_sim::trace::functions_entered;
use nslab_sim::*;

fn boot_4_19() -> (Kernel, TaskId) {
    let k = Kernel::boot_version(KernelVersion::V4_19);
    let root = k.root();
    assert_consistent(&k);
    (k, root)
}

// Section 8 and 10: in 4.19 only ipc, uts, user, pid and cgroup have fixed initial inode
// numbers; net and mnt are dynamic; there are no time entries.
#[test]
fn initial_inodes_of_4_19() {
    let (mut k, root) = boot_4_19();
    let v = k.observe(root).unwrap();
    assert_eq!(v.ns(NsEntry::Ipc), Ok(PROC_IPC_INIT_INO));
    assert_eq!(v.ns(NsEntry::Uts), Ok(PROC_UTS_INIT_INO));
    assert_eq!(v.ns(NsEntry::User), Ok(PROC_USER_INIT_INO));
    assert_eq!(v.ns(NsEntry::Pid), Ok(PROC_PID_INIT_INO));
    assert_eq!(v.ns(NsEntry::Cgroup), Ok(PROC_CGROUP_INIT_INO));
    // init_mount_tree runs before net_ns_init, and net_ns_ops gives init_net its number.
    assert_eq!(v.ns(NsEntry::Mnt), Ok(PROC_DYNAMIC_FIRST));
    assert_eq!(v.ns(NsEntry::Net), Ok(PROC_DYNAMIC_FIRST + 1));
    assert_eq!(v.ns(NsEntry::Time), Err(Errno::ENOENT));
    assert_eq!(v.ns(NsEntry::TimeForChildren), Err(Errno::ENOENT));
    assert!(k.time_namespaces.is_empty());
    let names: Vec<&str> = k.pernet_list.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "net_ns_ops",
            "netdev_net_ops",
            "loopback_net_ops",
            "default_device_ops"
        ]
    );
}

// Section 10: the fork entry is `_do_fork`, and 4.19 knows no CLONE_PIDFD checks.
#[test]
fn the_clone_path_goes_through_do_fork() {
    let (mut k, root) = boot_4_19();
    k.set_recording(true);
    fork(&mut k, root, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET);
    let fns = functions_entered(&k.take_records());
    assert!(fns.contains(&"_do_fork"), "{fns:?}");
    assert!(!fns.contains(&"kernel_clone"), "{fns:?}");
    assert!(fns.contains(&"net_ns_net_init"), "{fns:?}");
    assert!(!fns.contains(&"copy_time_ns"), "{fns:?}");
    assert_consistent(&k);
}

// Section 10: CLONE_NEWTIME is not a valid flag (unshare: EINVAL); clone3 does not exist.
#[test]
fn no_time_namespaces_and_no_clone3() {
    let (mut k, root) = boot_4_19();
    assert_eq!(errno(k.unshare(root, CLONE_NEWTIME)), Errno::EINVAL);
    let args = CloneArgs {
        flags: 0,
        via: CloneVia::Clone3,
    };
    assert_eq!(
        errno(Machine::clone_task(&mut k, root, args)),
        Errno::ENOSYS
    );
    // Through legacy clone the bit is the exit signal, as on every version.
    let legacy = CloneArgs {
        flags: CLONE_NEWTIME,
        via: CloneVia::Clone,
    };
    let c = Machine::clone_task(&mut k, root, legacy).unwrap();
    assert_eq!(k.observe(c).unwrap().ns(NsEntry::Time), Err(Errno::ENOENT));
    assert_consistent(&k);
}

// Section 10: setns takes one namespace file; there are no pidfds.
#[test]
fn setns_takes_only_namespace_files() {
    let (mut k, root) = boot_4_19();
    let c = fork(&mut k, root, CLONE_NEWNET | CLONE_NEWUTS);
    let pidfd = NsFd::Pidfd { task: c };
    assert_eq!(errno(k.setns(root, pidfd, CLONE_NEWNET)), Errno::EINVAL);
    let file = NsFd::File {
        task: c,
        entry: NsEntry::Net,
    };
    k.setns(root, file, 0).unwrap();
    let (r, cv) = (k.observe(root).unwrap(), k.observe(c).unwrap());
    assert_eq!(r.ns(NsEntry::Net), cv.ns(NsEntry::Net));
    assert_consistent(&k);
}

// The rules that are the same in both versions hold in 4.19 too, and everything made is
// freed: the counts return to those after boot.
#[test]
fn shared_rules_and_teardown() {
    let (mut k, root) = boot_4_19();
    let at_boot = k.object_counts();
    assert_eq!(
        errno(Machine::clone_task(
            &mut k,
            root,
            CloneArgs::new(CLONE_NEWNS | CLONE_FS)
        )),
        Errno::EINVAL
    );
    let a = fork(&mut k, root, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID);
    let b = fork(&mut k, a, 0);
    assert_eq!(k.observe(b).unwrap().nspid[..], [3, 2]);
    assert_eq!(k.observe(a).unwrap().interfaces.len(), 1);
    k.exit(a, 0).unwrap();
    assert_eq!(k.state(b).unwrap(), TaskState::Killed(9));
    assert_consistent(&k);
    assert_eq!(k.object_counts(), at_boot);
}
