//! Shared steps of the model's integration tests: booting, the usual calls made with
//! `expect`, and readers of what a task sees.
//!
//! Every test file includes this module; each file uses only part of it.
#![allow(dead_code)]

use nslab_sim::capability::CAP_SYS_ADMIN;
use nslab_sim::invariants::ObjectCounts;
use nslab_sim::kernel::{NsproxyRef, TaskRef, UserNsRef};
use nslab_sim::sched::*;
use nslab_sim::*;

/// The overflow id an unmapped uid or gid reads as.
pub const NOBODY: u32 = 65534;

/// A booted machine and its root task (the init task, pid 1, in the initial namespaces).
pub fn boot() -> (Kernel, TaskId) {
    let k = Kernel::boot();
    let root = k.root();
    assert_consistent(&k);
    (k, root)
}

/// Panics with the list of violations if the model's bookkeeping is broken.
pub fn assert_consistent(k: &Kernel) {
    let bad = k.check_invariants();
    assert!(bad.is_empty(), "invariants broken: {bad:#?}");
}

/// The errno of a failed call; panics on success or on a backend fault.
pub fn errno<T: std::fmt::Debug>(r: SysResult<T>) -> Errno {
    match r {
        Err(SysError::Errno(e)) => e,
        other => panic!("expected an errno, got {other:?}"),
    }
}

/// `clone(2)` (or `clone3(2)` when a flag needs it) that must succeed.
pub fn fork(k: &mut Kernel, t: TaskId, flags: u64) -> TaskId {
    let child = Machine::clone_task(k, t, CloneArgs::new(flags))
        .unwrap_or_else(|e| panic!("clone({}) by {t}: {e}", flags_to_string(flags)));
    assert_consistent(k);
    child
}

/// `clone3(2)` that must succeed.
pub fn fork3(k: &mut Kernel, t: TaskId, flags: u64) -> TaskId {
    let args = CloneArgs {
        flags,
        via: CloneVia::Clone3,
    };
    let child = Machine::clone_task(k, t, args)
        .unwrap_or_else(|e| panic!("clone3({}) by {t}: {e}", flags_to_string(flags)));
    assert_consistent(k);
    child
}

/// The errno of a `clone` (legacy unless a flag needs clone3) that must fail.
pub fn clone_err(k: &mut Kernel, t: TaskId, flags: u64) -> Errno {
    errno(Machine::clone_task(k, t, CloneArgs::new(flags)))
}

/// The errno of a `clone3` that must fail.
pub fn clone3_err(k: &mut Kernel, t: TaskId, flags: u64) -> Errno {
    errno(Machine::clone_task(
        k,
        t,
        CloneArgs {
            flags,
            via: CloneVia::Clone3,
        },
    ))
}

/// A new thread in `t`'s thread group (`CLONE_THREAD|CLONE_SIGHAND|CLONE_VM`).
pub fn thread(k: &mut Kernel, t: TaskId) -> TaskId {
    fork(k, t, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)
}

/// `unshare(2)` that must succeed.
pub fn unshare(k: &mut Kernel, t: TaskId, flags: u64) {
    k.unshare(t, flags)
        .unwrap_or_else(|e| panic!("unshare({}) by {t}: {e}", flags_to_string(flags)));
    assert_consistent(k);
}

/// `setresuid(65534)`: an unprivileged task (no capabilities left).
pub fn become_nobody(k: &mut Kernel, t: TaskId) {
    k.setresuid(t, NOBODY).expect("setresuid(65534)");
    assert_eq!(
        view(k, t).cap_eff,
        0,
        "leaving uid 0 clears the capabilities"
    );
}

/// `writer` maps every id of `target`'s new user namespace onto the same ids of the parent
/// (what a container runtime does), uid and gid.
pub fn map_identity(k: &mut Kernel, writer: TaskId, target: TaskId) {
    let full = [IdMapExtent {
        first: 0,
        lower_first: 0,
        count: u32::MAX,
    }];
    k.write_id_map(writer, target, IdMapKind::Uid, &full)
        .expect("uid_map");
    k.write_id_map(writer, target, IdMapKind::Gid, &full)
        .expect("gid_map");
}

/// What the task sees of itself.
pub fn view(k: &mut Kernel, t: TaskId) -> TaskView {
    k.observe(t).expect("observe a live task")
}

/// readlink of one `/proc/<pid>/ns/` entry.
pub fn ns(k: &mut Kernel, t: TaskId, e: NsEntry) -> Result<u64, Errno> {
    view(k, t).ns(e)
}

/// readlink of one entry that must succeed.
pub fn inum(k: &mut Kernel, t: TaskId, e: NsEntry) -> u64 {
    ns(k, t, e).unwrap_or_else(|err| panic!("readlink {} of {t}: {err}", e.file_name()))
}

/// The task's pid in its own pid namespace.
pub fn pid(k: &mut Kernel, t: TaskId) -> i32 {
    view(k, t).pid()
}

/// The model's task behind a handle.
pub fn task_ref(k: &Kernel, t: TaskId) -> TaskRef {
    k.task_of(t).expect("a live task")
}

/// The nsproxy of a task.
pub fn nsproxy_of(k: &Kernel, t: TaskId) -> NsproxyRef {
    k.tasks[task_ref(k, t)]
        .nsproxy
        .expect("a live task has an nsproxy")
}

/// The user namespace of a task's credentials.
pub fn user_ns_of(k: &Kernel, t: TaskId) -> UserNsRef {
    k.task_cred(task_ref(k, t)).user_ns
}

/// The level of the task's active pid namespace.
pub fn pid_ns_level(k: &Kernel, t: TaskId) -> u32 {
    let ns = k.task_active_pid_ns(task_ref(k, t));
    k.pid_namespaces[ns].level
}

/// The level of the task's user namespace.
pub fn user_ns_level(k: &Kernel, t: TaskId) -> u32 {
    k.user_namespaces[user_ns_of(k, t)].level
}

/// Whether the task holds `CAP_SYS_ADMIN` in its own user namespace.
pub fn has_sys_admin(k: &mut Kernel, t: TaskId) -> bool {
    view(k, t).cap_eff & capability::cap_bit(CAP_SYS_ADMIN) != 0
}

/// What must not change when a call fails: every live object count and what each task
/// sees of itself.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub counts: ObjectCounts,
    pub views: Vec<(TaskId, TaskView)>,
}

/// A snapshot over the given tasks (those that are still alive).
pub fn snapshot(k: &mut Kernel, tasks: &[TaskId]) -> Snapshot {
    let counts = k.object_counts();
    let views = tasks
        .iter()
        .filter_map(|t| k.observe(*t).ok().map(|v| (*t, v)))
        .collect();
    Snapshot { counts, views }
}

/// Whether a readlink entry's namespace type is named by the flags.
pub fn entry_flag(e: NsEntry) -> u64 {
    e.ns_type().clone_flag()
}
