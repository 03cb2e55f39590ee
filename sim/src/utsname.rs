//! UTS namespaces: the hostname and domain name.
//!
//! Mirrors kernel/utsname.c (v6.18): `copy_utsname`, `clone_uts_ns`, `free_uts_ns`,
//! `utsns_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/utsname.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 9.

use crate::errno::Errno;
use crate::kernel::{Kernel, NsCommon, TaskRef, UserNsRef, UtsNsRef};
use crate::machine::NsType;
use crate::ns_common::owned_ns_refcounting;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWUTS;
use crate::trace::Step;

const FILE: &str = "kernel/utsname.c";

use crate::machine::UtsName;

/// `struct uts_namespace`.
#[derive(Clone, Debug)]
pub struct UtsNamespace {
    /// Inode and reference count.
    pub ns: NsCommon,
    /// The owning user namespace.
    pub user_ns: UserNsRef,
    /// `name.nodename`: what `gethostname` returns (a fixed array, as in the kernel).
    pub nodename: UtsName,
    /// `name.domainname`.
    pub domainname: UtsName,
    /// The ucount charged for it (user namespace, uid).
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

owned_ns_refcounting!(
    uts_namespaces,
    UtsNsRef,
    NsType::Uts,
    get_uts_ns,
    put_uts_ns,
    "free_uts_ns",
    "kernel/utsname.c"
);

impl Kernel {
    /// `copy_utsname(flags, user_ns, old_ns)`: share without `CLONE_NEWUTS`; otherwise a new
    /// namespace owned by `user_ns` whose names are copied from the old one.
    pub(crate) fn copy_utsname(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: UtsNsRef,
        current: TaskRef,
    ) -> Result<UtsNsRef, Errno> {
        self.call("copy_utsname", FILE, |k| {
            if flags & CLONE_NEWUTS == 0 {
                k.get_uts_ns(old);
                return Ok(old);
            }
            k.call("clone_uts_ns", FILE, |k| {
                let euid = k.current_cred(current).euid;
                k.inc_ucount(user_ns, euid, NsType::Uts)?;
                let inum = k.proc_alloc_inum();
                let o = &k.uts_namespaces[old];
                let ns = UtsNamespace {
                    ns: NsCommon { inum, count: 1 },
                    user_ns,
                    nodename: o.nodename,
                    domainname: o.domainname,
                    ucounts_key: Some((user_ns, euid)),
                };
                let r = k.uts_namespaces.insert(ns);
                k.note(|k| Step::Alloc {
                    object: format!(
                        "uts:[{inum}] (nodename \"{}\" copied)",
                        k.uts_namespaces[r].nodename
                    ),
                });
                k.get_user_ns(user_ns);
                Ok(r)
            })
        })
    }

    /// `utsns_install`.
    pub(crate) fn utsns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: UtsNsRef,
    ) -> Result<(), Errno> {
        self.call("utsns_install", FILE, |k| {
            let owner = k.uts_namespaces[ns].user_ns;
            k.install_capable(current, nsset, owner)?;
            k.get_uts_ns(ns);
            let old = k.nsproxies[nsset.nsproxy()].uts_ns;
            k.put_uts_ns(old);
            k.nsproxies[nsset.nsproxy()].uts_ns = ns;
            Ok(())
        })
    }
}
