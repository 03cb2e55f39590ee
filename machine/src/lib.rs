//! nslab-machine: the contract that nslab's two backends implement and everything else
//! drives: the [`Machine`] trait, the one operation type [`Op`], the kernel's errno
//! numbers, the `CLONE_*` flags, capabilities, and what a task sees of itself
//! ([`TaskView`]).
//!
//! It mirrors no kernel code path: the model (`nslab-sim`), the real backend (`nslab-real`)
//! and the judge (`nslab-scenario`) depend on it, so that the real backend and the judge do
//! not compile the model to get the interface. The uapi modules mirror the kernel's headers
//! (each says which).

#![forbid(unsafe_code)]

pub mod capability;
pub mod errno;
pub mod machine;
pub mod op;
pub mod sched;
pub mod text;

pub use errno::Errno;
pub use machine::*;
pub use op::Op;
