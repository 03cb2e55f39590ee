//! Looking at the live system: every namespace and what holds it ([`lsns`]), persistent
//! network namespaces in iproute2's convention ([`netns`]), and the namespace graph of
//! running processes ([`graph`]).
//!
//! These are the only parts of nslab that read the whole machine's `/proc`, and [`netns`] is
//! the only part that mounts (see ARCHITECTURE.md, "which commands mount and why").

pub mod graph;
pub mod lsns;
pub mod netns;
pub mod nsid;
