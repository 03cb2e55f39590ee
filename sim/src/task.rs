//! The task and the few per-task structures that namespace rules look at.
//!
//! Mirrors include/linux/sched.h (`struct task_struct`), include/linux/sched/signal.h
//! (`SIGNAL_UNKILLABLE`, child subreapers) and include/linux/fs_struct.h (v6.18).
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/include/linux/sched.h>,
//! <https://elixir.bootlin.com/linux/v6.18/source/include/linux/sched/signal.h>,
//! <https://elixir.bootlin.com/linux/v6.18/source/include/linux/fs_struct.h>.

use crate::kernel::{CredRef, FsRef, NsproxyRef, PidRef, TaskRef, UserNsRef};
use crate::machine::{TaskId, TaskState};

/// `struct task_struct`, reduced to what the namespace paths read and write.
#[derive(Clone, Debug)]
pub struct TaskStruct {
    /// `thread_pid`: the task's `struct pid`, with a number at every pid-namespace level.
    pub pid: PidRef,
    /// `group_leader`: itself for a process, the leader for a `CLONE_THREAD` child.
    pub group_leader: TaskRef,
    /// Live tasks in the thread group (kept on the leader; `signal->nr_threads`).
    pub nr_threads: u32,
    /// `real_parent`; `None` only for the init task.
    pub real_parent: Option<TaskRef>,
    /// `children`: the tasks whose `real_parent` this is.
    pub children: Vec<TaskRef>,
    /// `real_cred`: the objective credentials.
    pub real_cred: CredRef,
    /// `cred`: the subjective credentials (the same object outside overrides).
    pub cred: CredRef,
    /// `nsproxy`: `None` after `exit_task_namespaces`.
    pub nsproxy: Option<NsproxyRef>,
    /// `fs`: root, cwd and umask, shared with `CLONE_FS`.
    pub fs: Option<FsRef>,
    /// `exit_signal`: sent to the parent at exit (0 for threads).
    pub exit_signal: u64,
    /// `signal->flags & SIGNAL_UNKILLABLE`: set on a pid namespace's init.
    pub signal_unkillable: bool,
    /// `signal->is_child_subreaper` (`PR_SET_CHILD_SUBREAPER`).
    pub is_child_subreaper: bool,
    /// `signal->has_child_subreaper`: an ancestor is a subreaper.
    pub has_child_subreaper: bool,
    /// `get_dumpable(mm) == SUID_DUMP_USER`: cleared when the credentials change ids or
    /// lose capabilities (`commit_creds`); a task that is not dumpable has its `/proc/<pid>`
    /// files owned by root.
    pub dumpable: bool,
    /// `mm->user_ns`: the user namespace the program was executed in (never changed by
    /// clone or unshare). The model holds no reference for it: it is always a namespace that a
    /// task which never exits holds (see `init_main.rs`).
    pub mm_user_ns: UserNsRef,
    /// `exit_state`, as the observer sees it.
    pub state: TaskState,
    /// The handle given out through `Machine`, if any.
    pub handle: Option<TaskId>,
}

/// `struct fs_struct`: only its user count matters to the namespace rules (a shared
/// fs_struct forbids joining a mount or user namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsStruct {
    /// `users`: tasks sharing it.
    pub users: u32,
}
