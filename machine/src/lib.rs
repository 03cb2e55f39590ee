//! nslab-machine: the contract that nslab's two backends implement and everything else
//! drives: the [`Machine`] trait, the one operation type [`Op`], the kernel's errno
//! numbers, the `CLONE_*` flags, capabilities, and what a task sees of itself
//! ([`TaskView`]).
//!
//! It mirrors no kernel code path: the model (`nslab-sim`), the real backend (`nslab-real`)
//! and the judge (`nslab-scenario`) depend on it, so that the real backend and the judge do
//! not compile the model to get the interface. The uapi modules mirror the kernel's headers
//! (each says which).
//!
//! # Guide
//!
//! Write code against [`Machine`] and it runs on either backend: `nslab_sim::Kernel` (the
//! model, no privilege) and `nslab_real::RealMachine` (the running kernel). An operation is
//! one value of [`Op`]; [`Machine::syscall`] makes it, and the methods named after the
//! system calls are shorthands. Errors are the kernel's errno ([`SysError::Errno`]), so a
//! caller compares `EINVAL` with `EINVAL`. [`Machine::observe`] reads what a task sees of
//! itself ([`TaskView`]: its ten `/proc/<pid>/ns` links, `NSpid`, ids, capabilities, hostname,
//! interfaces).
//!
//! ```
//! use nslab_machine::sched::{parse_flags, Flags, CLONE_NEWNET, CLONE_NEWPID};
//! use nslab_machine::{CloneArgs, Machine, NsEntry, SysResult};
//!
//! // The flags as the kernel names them, in any of the accepted spellings.
//! let flags = parse_flags("newpid|CLONE_NEWNET").unwrap();
//! assert_eq!(flags, CLONE_NEWPID | CLONE_NEWNET);
//! assert_eq!(Flags(flags).to_string(), "CLONE_NEWPID|CLONE_NEWNET");
//!
//! /// Whether a child made with `flags` shares its parent's network namespace: the same
//! /// function runs on the model and on the kernel.
//! fn shares_net(m: &mut dyn Machine, flags: u64) -> SysResult<bool> {
//!     let root = m.root();
//!     let child = m.clone_task(root, CloneArgs::new(flags))?;
//!     Ok(m.observe(child)?.ns(NsEntry::Net) == m.observe(root)?.ns(NsEntry::Net))
//! }
//! # let _ = shares_net;
//! ```

#![warn(missing_docs)]
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
