//! Inode numbers of namespaces.
//!
//! Mirrors fs/proc/generic.c (v6.18): `proc_alloc_inum` and `proc_free_inum` hand out
//! `PROC_DYNAMIC_FIRST` plus the lowest free index of `proc_inum_ida`, so freed numbers are
//! reused, lowest first.
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/fs/proc/generic.c>,
//! <https://elixir.bootlin.com/linux/v6.18/source/include/uapi/linux/nsfs.h>.
//! The rules with their errnos: docs/kernel-rules.md, section 11.

use crate::kernel::Kernel;
use std::collections::BTreeSet;

/// The first dynamic inode number (0xF0000000).
pub const PROC_DYNAMIC_FIRST: u64 = 0xF000_0000;

/// The fixed inode numbers of the initial namespaces (include/uapi/linux/nsfs.h, 6.18).
pub const PROC_IPC_INIT_INO: u64 = 0xEFFF_FFFF;
pub const PROC_UTS_INIT_INO: u64 = 0xEFFF_FFFE;
pub const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;
pub const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
pub const PROC_CGROUP_INIT_INO: u64 = 0xEFFF_FFFB;
pub const PROC_TIME_INIT_INO: u64 = 0xEFFF_FFFA;
pub const PROC_NET_INIT_INO: u64 = 0xEFFF_FFF9;
pub const PROC_MNT_INIT_INO: u64 = 0xEFFF_FFF8;

/// `proc_inum_ida`: an allocator of the lowest free index.
#[derive(Clone, Debug, Default)]
pub struct ProcInumIda {
    /// Indices below `next` that were freed.
    freed: BTreeSet<u64>,
    /// One past the highest index ever handed out.
    next: u64,
}

impl ProcInumIda {
    /// How many dynamic numbers are in use.
    pub fn in_use(&self) -> u64 {
        self.next - self.freed.len() as u64
    }
}

impl Kernel {
    /// `proc_alloc_inum`.
    pub(crate) fn proc_alloc_inum(&mut self) -> u64 {
        let ida = &mut self.proc_inum;
        let i = match ida.freed.pop_first() {
            Some(i) => i,
            None => {
                ida.next += 1;
                ida.next - 1
            }
        };
        PROC_DYNAMIC_FIRST + i
    }

    /// `proc_free_inum`: fixed numbers of the initial namespaces are never freed.
    pub(crate) fn proc_free_inum(&mut self, inum: u64) {
        if inum < PROC_DYNAMIC_FIRST {
            return;
        }
        let i = inum - PROC_DYNAMIC_FIRST;
        let ida = &mut self.proc_inum;
        if i + 1 == ida.next {
            ida.next -= 1;
            while let Some(&last) = ida.freed.last() {
                if last + 1 == ida.next {
                    ida.freed.pop_last();
                    ida.next -= 1;
                } else {
                    break;
                }
            }
        } else {
            ida.freed.insert(i);
        }
    }
}
