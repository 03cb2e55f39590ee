//! nslab-sim: an executable model of how the Linux kernel creates, shares, joins and frees
//! namespaces on the clone, unshare and setns paths.
//!
//! The model is pure: it does no I/O. Each module mirrors one kernel source file and says
//! which; ARCHITECTURE.md at the top of the repository maps them all.

#![forbid(unsafe_code)]

pub mod capability;
pub mod errno;
pub mod machine;
pub mod sched;

pub use errno::Errno;
pub use machine::*;
