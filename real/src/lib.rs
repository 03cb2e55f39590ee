//! nslab-real: the operations of the model done with genuine system calls on the running
//! Linux kernel, observed through `/proc`, behind the same [`nslab_machine::Machine`] trait.
//!
//! The calling process (a test or the CLI, usually multithreaded) never creates a namespace:
//! every task of a scenario is a single-threaded helper process that makes its calls on
//! command. See ARCHITECTURE.md at the top of the repository for the design.
//!
//! [`inspect`] is apart from the backend: it reads the whole running system (`nslab lsns`,
//! `nslab graph --live`) and keeps persistent network namespaces in iproute2's convention
//! (`nslab netns`, the only code in nslab that mounts). It is there for the `nslab` binary
//! and the workspace's tests, not as an API for users: its items are public because the
//! binary is another crate, and may change with the commands.
//!
//! Invariants of the backend, written as absences: it never mounts anything; it never changes
//! the host's hostname, interfaces or namespace limits (those calls are refused with
//! `SysError::Refused` while a task is still in the starting namespaces); no helper outlives
//! its machine.
//!
//! [`live`] is the other user of the kernel: the `nslab unshare`, `nsenter` and `clone`
//! commands, which run in the (single-threaded) `nslab` process itself and mount only what
//! their user asks for, in namespaces they made (see its documentation). It too is the
//! binary's plumbing (the commands' argument parsing is in the binary, the system calls
//! here), not an API for users.
//!
//! [`host`] is for tests, the workspace's and a user's: a [`host::HostSnapshot`] taken before
//! and after real-backend work shows that the host was left as it was.
//!
//! # Guide
//!
//! A [`RealMachine`] is started with a helper program: a binary whose `main` calls
//! [`enter_helper_if_requested`] before anything else (the `nslab` binary does; a test or an
//! example can pass its own executable). Then it is used as the model is, through
//! [`nslab_machine::Machine`]. The example below needs root (or user namespaces) and makes
//! real namespaces, so it is compiled but not run by `cargo test` (`no_run`); the examples
//! `flags_not_passed_are_shared` and `unshare_newpid_keeps_caller` of the repository run it
//! for real as root.
//!
//! ```no_run
//! use nslab_machine::sched::CLONE_NEWNET;
//! use nslab_machine::{CloneArgs, Machine, NsEntry};
//! use nslab_real::RealMachine;
//!
//! fn main() {
//!     nslab_real::enter_helper_if_requested(); // a helper process never returns from here
//!     let exe = std::env::current_exe().unwrap();
//!     let mut m = RealMachine::start(&exe).expect("root, or user namespaces");
//!     let root = m.root();
//!     let child = m.clone_task(root, CloneArgs::new(CLONE_NEWNET)).unwrap();
//!     let v = m.observe(child).unwrap();
//!     assert_ne!(v.ns(NsEntry::Net), m.observe(root).unwrap().ns(NsEntry::Net));
//!     // Dropping the machine kills and reaps every helper.
//! }
//! ```

#![warn(missing_docs)]
mod cpu;
mod helper;
pub mod host;
pub mod inspect;
pub mod live;
mod machine;
mod observe;
mod protocol;
mod start;
mod sys;

pub use helper::enter_helper_if_requested;
pub use machine::{RealMachine, StartOptions, DEFAULT_TIMEOUT, MAX_HELPERS};
pub use start::StartError;

/// The argv\[1\] that starts a binary as a helper (for callers that build their own command).
pub const HELPER_ARG: &str = protocol::HELPER_ARG;
