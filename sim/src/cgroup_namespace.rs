//! Cgroup namespaces: the root a task sees of the cgroup hierarchy.
//!
//! Mirrors kernel/cgroup/namespace.c (v6.18): `copy_cgroup_ns`, `free_cgroup_ns`,
//! `cgroupns_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/cgroup/namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 10.

use crate::capability::CAP_SYS_ADMIN;
use crate::errno::Errno;
use crate::kernel::{CgroupNsRef, Kernel, NsCommon, TaskRef, UserNsRef};
use crate::machine::NsType;
use crate::ns_common::owned_ns_refcounting;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWCGROUP;
use crate::trace::Step;

const FILE: &str = "kernel/cgroup/namespace.c";

/// `struct cgroup_namespace`.
#[derive(Clone, Debug)]
pub struct CgroupNamespace {
    pub ns: NsCommon,
    pub user_ns: UserNsRef,
    /// `root_cset`: the creator's cgroup at creation, as a path. The model has one cgroup, the
    /// root, so this is always `/`.
    pub root_cgroup: &'static str,
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

owned_ns_refcounting!(
    cgroup_namespaces,
    CgroupNsRef,
    NsType::Cgroup,
    get_cgroup_ns,
    put_cgroup_ns,
    "free_cgroup_ns",
    "kernel/cgroup/namespace.c"
);

impl Kernel {
    /// `copy_cgroup_ns(flags, user_ns, old_ns)`: share without `CLONE_NEWCGROUP`; otherwise
    /// an extra `CAP_SYS_ADMIN` check, then a namespace rooted at the caller's cgroup.
    pub(crate) fn copy_cgroup_ns(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: CgroupNsRef,
        current: TaskRef,
    ) -> Result<CgroupNsRef, Errno> {
        self.call("copy_cgroup_ns", FILE, |k| {
            if flags & CLONE_NEWCGROUP == 0 {
                k.get_cgroup_ns(old);
                return Ok(old);
            }
            let capable = k.ns_capable(current, user_ns, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(user_ns, CAP_SYS_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            let euid = k.current_cred(current).euid;
            k.inc_ucount(user_ns, euid, NsType::Cgroup)?;
            let inum = k.proc_alloc_inum();
            let root_cgroup = k.cgroup_namespaces[old].root_cgroup;
            let r = k.cgroup_namespaces.insert(CgroupNamespace {
                ns: NsCommon { inum, count: 1 },
                user_ns,
                root_cgroup,
                ucounts_key: Some((user_ns, euid)),
            });
            k.note(|_| Step::Alloc {
                object: format!("cgroup:[{inum}] (root = the caller's cgroup)"),
            });
            k.get_user_ns(user_ns);
            Ok(r)
        })
    }

    /// `cgroupns_install`.
    pub(crate) fn cgroupns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: CgroupNsRef,
    ) -> Result<(), Errno> {
        self.call("cgroupns_install", FILE, |k| {
            let owner = k.cgroup_namespaces[ns].user_ns;
            k.install_capable(current, nsset, owner)?;
            let old = k.nsproxies[nsset.nsproxy()].cgroup_ns;
            if old == ns {
                return Ok(());
            }
            k.get_cgroup_ns(ns);
            k.put_cgroup_ns(old);
            k.nsproxies[nsset.nsproxy()].cgroup_ns = ns;
            Ok(())
        })
    }
}
