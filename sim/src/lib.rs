//! nslab-sim: an executable model of how the Linux kernel creates, shares, joins and frees
//! namespaces on the clone, unshare and setns paths.
//!
//! The model is pure: it does no I/O and has no `unsafe`. Each module mirrors one kernel
//! source file and says which in its first lines; ARCHITECTURE.md at the top of the
//! repository maps them all. [`Kernel`] is the simulated machine; it implements
//! [`Machine`], the interface the real backend implements too.
//!
//! # Guide
//!
//! Boot a model, make calls as its tasks, and look at what each task sees, exactly as the
//! real backend would show it:
//!
//! ```
//! use nslab_sim::sched::{CLONE_NEWNET, CLONE_NEWPID};
//! use nslab_sim::{CloneArgs, Errno, Kernel, Machine, NsEntry, SysError};
//!
//! let mut k = Kernel::boot(); // Linux 6.18's boot namespaces, the init task as root
//! let init = k.root();
//! let child = k.clone_task(init, CloneArgs::new(CLONE_NEWPID | CLONE_NEWNET)).unwrap();
//!
//! let parent = k.observe(init).unwrap();
//! let view = k.observe(child).unwrap();
//! assert_ne!(view.ns(NsEntry::Net), parent.ns(NsEntry::Net)); // a new network namespace
//! assert_eq!(view.ns(NsEntry::Uts), parent.ns(NsEntry::Uts)); // the rest is shared
//! assert_eq!(&view.nspid[..], &[2, 1]); // pid 2 outside, 1 inside
//! assert_eq!(view.interfaces.len(), 1); // only lo, DOWN
//!
//! // A refused call gives the kernel's errno.
//! k.drop_caps(child, u64::MAX).unwrap();
//! assert_eq!(k.unshare(child, CLONE_NEWNET), Err(SysError::Errno(Errno::EPERM)));
//! ```
//!
//! Step through what the kernel does: with recording on, each call leaves the functions it
//! entered, every check with its outcome, every allocation and reference count
//! ([`trace::Record`]), which [`trace::render_tree`] prints as `nslab trace` does.
//!
//! ```
//! use nslab_sim::sched::CLONE_NEWPID;
//! use nslab_sim::trace::{functions_entered, render_tree};
//! use nslab_sim::{Kernel, Machine};
//!
//! let mut k = Kernel::boot();
//! k.set_recording(true);
//! let init = k.root();
//! k.unshare(init, CLONE_NEWPID).unwrap();
//! let records = k.take_records();
//! let path = functions_entered(&records);
//! let at = |f: &str| path.iter().position(|g| *g == f).unwrap();
//! assert!(at("unshare_nsproxy_namespaces") < at("create_new_namespaces"));
//! assert!(at("create_new_namespaces") < at("copy_pid_ns"));
//! assert!(render_tree(&records).contains("kernel/pid_namespace.c"));
//! ```
//!
//! To check a rule of your own over random sequences of calls, see
//! `nslab_scenario::property` and the book's chapter "Write your own property".

#![warn(missing_docs)]
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
