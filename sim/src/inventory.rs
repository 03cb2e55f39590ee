//! A listing of every live namespace, like `lsns` would print for the whole machine.
//!
//! This module mirrors no kernel file; it reads the model's arenas for the CLI's summaries
//! and graphs.

use crate::kernel::Kernel;
use crate::machine::NsType;
use serde::Serialize;

/// One live namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NsInfo {
    #[serde(rename = "type")]
    pub ty: NsType,
    pub inum: u64,
    /// Its reference count.
    pub count: u64,
    /// The owning user namespace's inode (for a user namespace, its parent's; none for the
    /// initial one).
    pub owner: Option<u64>,
    /// Nesting level, for pid and user namespaces.
    pub level: Option<u32>,
}

impl Kernel {
    /// Every live namespace, sorted by inode number.
    pub fn namespaces(&self) -> Vec<NsInfo> {
        let owner = |u: crate::kernel::UserNsRef| Some(self.user_namespaces[u].ns.inum);
        let mut v = Vec::new();
        for (_, n) in self.user_namespaces.iter() {
            v.push(NsInfo {
                ty: NsType::User,
                inum: n.ns.inum,
                count: n.ns.count,
                owner: n.parent.and_then(owner),
                level: Some(n.level),
            });
        }
        for (_, n) in self.pid_namespaces.iter() {
            v.push(NsInfo {
                ty: NsType::Pid,
                inum: n.ns.inum,
                count: n.ns.count,
                owner: owner(n.user_ns),
                level: Some(n.level),
            });
        }
        macro_rules! simple {
            ($slab:ident, $ty:expr) => {
                for (_, n) in self.$slab.iter() {
                    v.push(NsInfo {
                        ty: $ty,
                        inum: n.ns.inum,
                        count: n.ns.count,
                        owner: owner(n.user_ns),
                        level: None,
                    });
                }
            };
        }
        simple!(uts_namespaces, NsType::Uts);
        simple!(ipc_namespaces, NsType::Ipc);
        simple!(mnt_namespaces, NsType::Mnt);
        simple!(cgroup_namespaces, NsType::Cgroup);
        simple!(nets, NsType::Net);
        simple!(time_namespaces, NsType::Time);
        v.sort_by_key(|n| n.inum);
        v
    }
}
