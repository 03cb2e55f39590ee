//! nslab-real: the operations of the model done with genuine system calls on the running
//! Linux kernel, observed through `/proc`, behind the same [`nslab_machine::Machine`] trait.
//!
//! The calling process (a test or the CLI, usually multithreaded) never creates a namespace:
//! every task of a scenario is a single-threaded helper process that makes its calls on
//! command. See ARCHITECTURE.md at the top of the repository for the design.
//!
//! [`inspect`] is apart from the backend: it reads the whole running system (`nslab lsns`,
//! `nslab graph --live`) and keeps persistent network namespaces in iproute2's convention
//! (`nslab netns`, the only code in nslab that mounts).
//!
//! Invariants of the backend, written as absences: it never mounts anything; it never changes
//! the host's hostname, interfaces or namespace limits (those calls are refused with
//! `SysError::Refused` while a task is still in the starting namespaces); no helper outlives
//! its machine.

pub mod helper;
pub mod host;
pub mod inspect;
pub mod machine;
mod observe;
mod protocol;
pub mod start;
mod sys;

pub use helper::enter_helper_if_requested;
pub use machine::{RealMachine, StartOptions, DEFAULT_TIMEOUT, MAX_HELPERS};
pub use start::StartError;

/// The argv\[1\] that starts a binary as a helper (for callers that build their own command).
pub const HELPER_ARG: &str = protocol::HELPER_ARG;
