//! User namespaces: creation at clone/unshare, id maps, joining.
//!
//! Mirrors kernel/user_namespace.c (v6.18): `create_user_ns`, `free_user_ns`, `map_write`,
//! `new_idmap_permitted`, `verify_root_map`, `proc_setgroups_write`, `userns_install`, and
//! the id mapping helpers of include/linux/uidgid.h.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/user_namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 4.

use crate::capability::{
    cap_bit, CAP_DAC_OVERRIDE, CAP_FULL_SET, CAP_SETFCAP, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN,
};
use crate::errno::Errno;
use crate::kernel::{CredRef, Kernel, NsCommon, TaskRef, UserNsRef};
use crate::machine::{IdMapExtent, IdMapKind, NsType};
use crate::nsproxy::Nsset;
use crate::trace::Step;

const FILE: &str = "kernel/user_namespace.c";

/// Nesting limit checked by `create_user_ns`: a parent above level 32 cannot have children.
pub(crate) const MAX_USER_NS_LEVEL: u32 = 32;
/// `overflowuid`/`overflowgid`: what an unmapped id reads as.
pub(crate) const OVERFLOW_ID: u32 = 65534;

/// `struct user_namespace`.
#[derive(Clone, Debug)]
pub struct UserNamespace {
    /// Inode and reference count.
    pub ns: NsCommon,
    /// `parent`: one reference held; `None` for `init_user_ns`.
    pub parent: Option<UserNsRef>,
    /// `level`: 0 for `init_user_ns`.
    pub level: u32,
    /// `owner`/`group`: the creator's euid and egid (kernel ids).
    pub owner: u32,
    /// The creator's gid (`group`).
    pub group: u32,
    /// `uid_map`/`gid_map`, with `lower_first` already in kernel ids, as the kernel stores
    /// them. Empty until written; written once.
    pub uid_map: UidGidMap,
    /// `gid_map`.
    pub gid_map: UidGidMap,
    /// `flags & USERNS_SETGROUPS_ALLOWED`.
    pub setgroups_allowed: bool,
    /// `parent_could_setfcap`: the creator held `CAP_SETFCAP`.
    pub parent_could_setfcap: bool,
    /// `ucount_max[]`, indexed by [`crate::ucount::ucount_index`].
    pub ucount_max: [u32; 8],
    /// `ucounts`: the (parent namespace, owner) counter this namespace is charged to.
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

/// `UID_GID_MAP_MAX_BASE_EXTENTS`: a `struct uid_gid_map` keeps this many extents inline;
/// more (up to 340) go to separately allocated arrays.
pub(crate) const UID_GID_MAP_MAX_BASE_EXTENTS: usize = 5;

/// `struct uid_gid_map`: the extents, inline up to [`UID_GID_MAP_MAX_BASE_EXTENTS`] as in
/// the kernel.
pub(crate) type UidGidMap = smallvec::SmallVec<[IdMapExtent; UID_GID_MAP_MAX_BASE_EXTENTS]>;

/// Maps an id through a map from inside to below (`map_id_down`).
pub(crate) fn map_id_down(map: &[IdMapExtent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.first && (id - e.first) < e.count)
        .map(|e| e.lower_first + (id - e.first))
}

/// Maps a lower id to the id inside (`map_id_up`).
pub(crate) fn map_id_up(map: &[IdMapExtent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.lower_first && (id - e.lower_first) < e.count)
        .map(|e| e.first + (id - e.lower_first))
}

/// The identity map of `init_user_ns`: every id maps to itself.
pub(crate) fn identity_map() -> UidGidMap {
    smallvec::smallvec![IdMapExtent {
        first: 0,
        lower_first: 0,
        count: u32::MAX,
    }]
}

impl Kernel {
    pub(crate) fn user_ns_name(&self, ns: UserNsRef) -> String {
        format!("user:[{}]", self.user_namespaces[ns].ns.inum)
    }

    /// `get_user_ns`.
    pub(crate) fn get_user_ns(&mut self, ns: UserNsRef) {
        let count = {
            let n = &mut self.user_namespaces[ns];
            n.ns.count += 1;
            n.ns.count
        };
        self.note(|k| Step::Get {
            object: k.user_ns_name(ns),
            count,
        });
    }

    /// `put_user_ns`: the last reference schedules `free_user_ns`, which frees the namespace,
    /// uncharges its creator and puts its parent (and so on up the chain).
    pub(crate) fn put_user_ns(&mut self, ns: UserNsRef) {
        let mut ns = ns;
        loop {
            let count = {
                let n = &mut self.user_namespaces[ns];
                n.ns.count -= 1;
                n.ns.count
            };
            self.note(|k| Step::Put {
                object: k.user_ns_name(ns),
                count,
            });
            if count != 0 {
                return;
            }
            self.note(|k| Step::Free {
                object: format!("{} (free_user_ns)", k.user_ns_name(ns)),
            });
            let n = self.user_namespaces.remove(ns);
            self.proc_free_inum(n.ns.inum);
            if let Some((pns, owner)) = n.ucounts_key {
                self.dec_ucount(pns, owner, NsType::User);
            }
            match n.parent {
                Some(p) => ns = p,
                None => return,
            }
        }
    }

    /// `make_kuid(ns, uid)`: the kernel id of an id inside `ns`.
    pub(crate) fn make_kuid(&self, ns: UserNsRef, uid: u32) -> Option<u32> {
        map_id_down(&self.user_namespaces[ns].uid_map, uid)
    }

    /// `make_kgid(ns, gid)`.
    pub(crate) fn make_kgid(&self, ns: UserNsRef, gid: u32) -> Option<u32> {
        map_id_down(&self.user_namespaces[ns].gid_map, gid)
    }

    /// `from_kuid_munged(ns, kuid)`: the id as seen inside `ns`, 65534 when unmapped.
    #[allow(clippy::wrong_self_convention)] // the kernel's name; `self` is the kernel
    pub(crate) fn from_kuid_munged(&self, ns: UserNsRef, kuid: u32) -> u32 {
        map_id_up(&self.user_namespaces[ns].uid_map, kuid).unwrap_or(OVERFLOW_ID)
    }

    /// `from_kgid_munged(ns, kgid)`.
    #[allow(clippy::wrong_self_convention)] // the kernel's name; `self` is the kernel
    pub(crate) fn from_kgid_munged(&self, ns: UserNsRef, kgid: u32) -> u32 {
        map_id_up(&self.user_namespaces[ns].gid_map, kgid).unwrap_or(OVERFLOW_ID)
    }

    /// `create_user_ns(new)`: a child of `new->user_ns` owned by `new`'s euid/egid; the
    /// credentials move into it with every capability. The parent reference the credentials
    /// held becomes the new namespace's `parent` reference.
    pub(crate) fn create_user_ns(&mut self, current: TaskRef, new: CredRef) -> Result<(), Errno> {
        self.call("create_user_ns", FILE, |k| {
            let (parent_ns, owner, group, cap_eff) = {
                let c = &k.creds[new];
                (c.user_ns, c.euid, c.egid, c.cap_effective)
            };
            let parent_level = k.user_namespaces[parent_ns].level;
            k.rule(
                "parent_ns->level > 32 (nesting limit)",
                parent_level > MAX_USER_NS_LEVEL,
                Errno::ENOSPC,
            )?;
            k.inc_ucount(parent_ns, owner, NsType::User)?;
            let unmapped = map_id_up(&k.user_namespaces[parent_ns].uid_map, owner).is_none()
                || map_id_up(&k.user_namespaces[parent_ns].gid_map, group).is_none();
            if let Err(e) = k.rule(
                "!kuid_has_mapping(parent_ns, owner) || !kgid_has_mapping(parent_ns, group)",
                unmapped,
                Errno::EPERM,
            ) {
                k.dec_ucount(parent_ns, owner, NsType::User);
                return Err(e);
            }
            let _ = current;
            let inum = k.proc_alloc_inum();
            let parent = &k.user_namespaces[parent_ns];
            let ns = UserNamespace {
                ns: NsCommon { inum, count: 1 },
                parent: Some(parent_ns),
                level: parent_level + 1,
                owner,
                group,
                uid_map: UidGidMap::new(),
                gid_map: UidGidMap::new(),
                setgroups_allowed: parent.setgroups_allowed,
                parent_could_setfcap: cap_eff & cap_bit(CAP_SETFCAP) != 0,
                ucount_max: [i32::MAX as u32; 8],
                ucounts_key: Some((parent_ns, owner)),
            };
            let r = k.user_namespaces.insert(ns);
            k.note(|k| Step::Alloc {
                object: format!(
                    "{} (level {}, owner {owner})",
                    k.user_ns_name(r),
                    parent_level + 1
                ),
            });
            k.set_cred_user_ns(new, r);
            Ok(())
        })
    }

    /// `set_cred_user_ns`: credentials in a fresh namespace hold every capability in it.
    fn set_cred_user_ns(&mut self, cred: CredRef, ns: UserNsRef) {
        let c = &mut self.creds[cred];
        c.cap_inheritable = 0;
        c.cap_permitted = CAP_FULL_SET;
        c.cap_effective = CAP_FULL_SET;
        c.cap_bset = CAP_FULL_SET;
        c.user_ns = ns;
        self.note(|k| Step::Set {
            what: format!(
                "{}->user_ns = {}, full capabilities",
                k.cred_name(cred),
                k.user_ns_name(ns)
            ),
        });
    }

    /// `userns_install(nsset, ns)`: joining a user namespace with `setns`.
    pub(crate) fn userns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: UserNsRef,
    ) -> Result<(), Errno> {
        self.call("userns_install", FILE, |k| {
            let cur_ns = k.current_user_ns(current);
            k.rule("user_ns == current_user_ns()", ns == cur_ns, Errno::EINVAL)?;
            let threads = k.tasks[k.tasks[current].group_leader].nr_threads;
            k.rule("!thread_group_empty(current)", threads > 1, Errno::EINVAL)?;
            let fs_users = k.tasks[current]
                .fs
                .map(|f| k.fs_structs[f].users)
                .unwrap_or(1);
            k.rule("current->fs->users != 1", fs_users != 1, Errno::EINVAL)?;
            let capable = k.ns_capable(current, ns, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(user_ns, CAP_SYS_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            let cred = nsset.cred_for_write(k, current);
            let old = k.creds[cred].user_ns;
            k.put_user_ns(old);
            k.get_user_ns(ns);
            k.set_cred_user_ns(cred, ns);
            Ok(())
        })
    }

    /// Opening `/proc/<target>/{uid_map,gid_map,setgroups}` for writing (mode 0644):
    /// `generic_permission` lets the owner write, or a caller with `CAP_DAC_OVERRIDE` in its
    /// user namespace over an owner mapped there; else `EACCES`. The owner is the target's
    /// euid while it is dumpable, else root of its mm's user namespace (`task_dump_owner`,
    /// fs/proc/base.c).
    pub(crate) fn proc_open_for_write(
        &mut self,
        writer: TaskRef,
        target: TaskRef,
    ) -> Result<(), Errno> {
        self.call("generic_permission", "fs/namei.c", |k| {
            let t = &k.tasks[target];
            let owner = if t.dumpable {
                k.creds[t.cred].euid
            } else {
                k.make_kuid(t.mm_user_ns, 0).unwrap_or(0)
            };
            let w = k.current_cred(writer);
            let writer_ns = w.user_ns;
            let is_owner = w.fsuid == owner;
            let dac_override = k.ns_capable(writer, writer_ns, CAP_DAC_OVERRIDE)
                && map_id_up(&k.user_namespaces[writer_ns].uid_map, owner).is_some();
            k.rule(
                "fsuid is not the file's owner (task_dump_owner) and no CAP_DAC_OVERRIDE over it",
                !is_owner && !dac_override,
                Errno::EACCES,
            )
        })
    }

    /// `proc_setgroups_write(... "deny")`: allowed until the gid map is written.
    pub(crate) fn setgroups_deny(&mut self, target: TaskRef) -> Result<(), Errno> {
        self.call("proc_setgroups_write", FILE, |k| {
            let ns = k.task_cred(target).user_ns;
            let written = !k.user_namespaces[ns].gid_map.is_empty();
            let allowed = k.user_namespaces[ns].setgroups_allowed;
            k.rule(
                "deny after gid_map was written while setgroups was allowed",
                written && allowed,
                Errno::EPERM,
            )?;
            k.user_namespaces[ns].setgroups_allowed = false;
            Ok(())
        })
    }

    /// `proc_uid_map_write`/`proc_gid_map_write` -> `map_write`: `writer` writes the id map of
    /// `target`'s user namespace (the file's opener is the writer).
    pub(crate) fn map_write(
        &mut self,
        writer: TaskRef,
        target: TaskRef,
        kind: IdMapKind,
        map: &[IdMapExtent],
    ) -> Result<(), Errno> {
        self.call("map_write", FILE, |k| {
            let map_ns = k.task_cred(target).user_ns;
            let seq_ns = k.current_user_ns(writer);
            let parent = k.user_namespaces[map_ns].parent;
            k.rule(
                "!ns->parent (the initial map is fixed)",
                parent.is_none(),
                Errno::EPERM,
            )?;
            let parent = parent.expect("checked above");
            k.rule(
                "seq_ns != ns && seq_ns != ns->parent",
                seq_ns != map_ns && seq_ns != parent,
                Errno::EPERM,
            )?;
            let (cap_setid, written) = {
                let n = &k.user_namespaces[map_ns];
                match kind {
                    IdMapKind::Uid => (CAP_SETUID, !n.uid_map.is_empty()),
                    IdMapKind::Gid => (CAP_SETGID, !n.gid_map.is_empty()),
                }
            };
            k.rule("map->nr_extents != 0 (written once)", written, Errno::EPERM)?;
            let capable = k.ns_capable(writer, map_ns, CAP_SYS_ADMIN);
            k.rule(
                "!file_ns_capable(file, map_ns, CAP_SYS_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            let malformed = map.is_empty()
                || map.len() > 340
                || map.iter().any(|e| {
                    e.count == 0
                        || e.first.checked_add(e.count).is_none()
                        || e.lower_first.checked_add(e.count).is_none()
                })
                || map.iter().enumerate().any(|(i, a)| {
                    map[..i].iter().any(|b| {
                        (a.first < b.first + b.count && b.first < a.first + a.count)
                            || (a.lower_first < b.lower_first + b.count
                                && b.lower_first < a.lower_first + a.count)
                    })
                });
            k.rule("malformed or overlapping extents", malformed, Errno::EINVAL)?;
            let permitted = k.new_idmap_permitted(writer, map_ns, cap_setid, map);
            k.rule("!new_idmap_permitted()", !permitted, Errno::EPERM)?;
            let parent_map = {
                let p = &k.user_namespaces[parent];
                match kind {
                    IdMapKind::Uid => p.uid_map.clone(),
                    IdMapKind::Gid => p.gid_map.clone(),
                }
            };
            let mut stored = UidGidMap::with_capacity(map.len());
            let mut unmapped = false;
            for e in map {
                let lo = map_id_down(&parent_map, e.lower_first);
                let hi = map_id_down(&parent_map, e.lower_first + (e.count - 1));
                match (lo, hi) {
                    (Some(lo), Some(hi)) if hi - lo == e.count - 1 => stored.push(IdMapExtent {
                        first: e.first,
                        lower_first: lo,
                        count: e.count,
                    }),
                    _ => unmapped = true,
                }
            }
            k.rule(
                "lower ids not mapped in the parent namespace",
                unmapped,
                Errno::EPERM,
            )?;
            let n = &mut k.user_namespaces[map_ns];
            match kind {
                IdMapKind::Uid => n.uid_map = stored,
                IdMapKind::Gid => n.gid_map = stored,
            }
            k.note(|k| Step::Set {
                what: format!(
                    "{} {} written",
                    k.user_ns_name(map_ns),
                    if kind == IdMapKind::Uid {
                        "uid_map"
                    } else {
                        "gid_map"
                    }
                ),
            });
            Ok(())
        })
    }

    /// `new_idmap_permitted`: the owner may map its own euid (or egid, once setgroups is
    /// denied) with a single one-id extent; anything else needs `CAP_SETUID`/`CAP_SETGID`
    /// over the parent namespace. Mapping the parent's id 0 also needs `CAP_SETFCAP`
    /// (`verify_root_map`).
    fn new_idmap_permitted(
        &self,
        writer: TaskRef,
        ns: UserNsRef,
        cap_setid: u32,
        map: &[IdMapExtent],
    ) -> bool {
        let cred_ref = self.tasks[writer].cred;
        let cred = &self.creds[cred_ref];
        let n = &self.user_namespaces[ns];
        let parent = n.parent.expect("checked by the caller");
        if cap_setid == CAP_SETUID && map.iter().any(|e| e.lower_first == 0) {
            let ok = if cred.user_ns == ns {
                n.parent_could_setfcap
            } else {
                self.cap_capable(cred_ref, parent, CAP_SETFCAP)
            };
            if !ok {
                return false;
            }
        }
        if map.len() == 1 && map[0].count == 1 && n.owner == cred.euid {
            let id = map[0].lower_first;
            if cap_setid == CAP_SETUID && self.make_kuid(parent, id) == Some(cred.euid) {
                return true;
            }
            if cap_setid == CAP_SETGID
                && !n.setgroups_allowed
                && self.make_kgid(parent, id) == Some(cred.egid)
            {
                return true;
            }
        }
        self.cap_capable(cred_ref, parent, cap_setid)
    }
}
