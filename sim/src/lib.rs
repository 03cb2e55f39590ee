//! nslab-sim: an executable model of how the Linux kernel creates, shares, joins and frees
//! namespaces on the clone, unshare and setns paths.
//!
//! The model is pure: it does no I/O and has no `unsafe`. Each module mirrors one kernel
//! source file and says which in its first lines; ARCHITECTURE.md at the top of the
//! repository maps them all. [`Kernel`] is the simulated machine; it implements
//! [`Machine`], the interface the real backend implements too.

#![forbid(unsafe_code)]

// The interface and the uapi constants live in `nslab-machine`, shared with the real
// backend and the judge; re-exported here under their old paths.
pub use nslab_machine::{capability, errno, machine, op, sched};

// The machine and its recorder.
pub mod graph;
pub mod invariants;
pub mod inventory;
pub mod kernel;
pub mod stepper;
pub mod syscalls;
pub mod trace;

// One module per kernel source file.
pub mod cgroup_namespace;
pub mod commoncap;
pub mod cred;
pub mod dev;
pub mod exit;
pub mod fork;
pub mod init_main;
pub mod ipc_namespace;
pub mod loopback;
pub mod mnt_namespace;
pub mod net_namespace;
pub mod ns_common;
pub mod nsproxy;
pub mod pid;
pub mod pid_namespace;
pub mod proc;
pub mod proc_generic;
pub mod sys;
pub mod task;
pub mod time_namespace;
pub mod ucount;
pub mod user_namespace;
pub mod utsname;

pub use kernel::Kernel;
pub use nslab_machine::{machine::*, Errno, Op};

// The contract's bound on `NSpid` lines is the model's deepest pid namespace level.
const _: () = assert!(nslab_machine::MAX_PID_NS_LEVEL == pid_namespace::MAX_PID_NS_LEVEL);
