//! IPC namespaces: System V IPC objects and POSIX message queues.
//!
//! Mirrors ipc/namespace.c (v6.18): `copy_ipcs`, `create_ipc_ns`, `free_ipc_ns`,
//! `ipcns_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/ipc/namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 10.

use crate::errno::Errno;
use crate::kernel::{IpcNsRef, Kernel, NsCommon, TaskRef, UserNsRef};
use crate::machine::NsType;
use crate::ns_common::owned_ns_refcounting;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWIPC;
use crate::trace::Step;

const FILE: &str = "ipc/namespace.c";

/// `struct ipc_namespace`: a new one starts with no objects.
#[derive(Clone, Debug)]
pub struct IpcNamespace {
    pub ns: NsCommon,
    pub user_ns: UserNsRef,
    /// Keys of System V objects (`ids[]`); empty in a new namespace.
    pub sysv_keys: Vec<i32>,
    /// Names of POSIX message queues (`mq_mnt`); empty in a new namespace.
    pub mqueues: Vec<String>,
    pub ucounts_key: Option<(UserNsRef, u32)>,
}

owned_ns_refcounting!(
    ipc_namespaces,
    IpcNsRef,
    NsType::Ipc,
    get_ipc_ns,
    put_ipc_ns,
    "free_ipc_ns",
    "ipc/namespace.c"
);

impl Kernel {
    /// `copy_ipcs(flags, user_ns, ns)`: share without `CLONE_NEWIPC`; otherwise a new, empty
    /// namespace (`create_ipc_ns`).
    pub(crate) fn copy_ipcs(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: IpcNsRef,
        current: TaskRef,
    ) -> Result<IpcNsRef, Errno> {
        self.call("copy_ipcs", FILE, |k| {
            if flags & CLONE_NEWIPC == 0 {
                k.get_ipc_ns(old);
                return Ok(old);
            }
            k.call("create_ipc_ns", FILE, |k| {
                let euid = k.current_cred(current).euid;
                k.inc_ucount(user_ns, euid, NsType::Ipc)?;
                let inum = k.proc_alloc_inum();
                let r = k.ipc_namespaces.insert(IpcNamespace {
                    ns: NsCommon { inum, count: 1 },
                    user_ns,
                    sysv_keys: Vec::new(),
                    mqueues: Vec::new(),
                    ucounts_key: Some((user_ns, euid)),
                });
                k.note(|_| Step::Alloc {
                    object: format!("ipc:[{inum}] (no SysV objects, empty mqueue)"),
                });
                k.get_user_ns(user_ns);
                Ok(r)
            })
        })
    }

    /// `ipcns_install`.
    pub(crate) fn ipcns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: IpcNsRef,
    ) -> Result<(), Errno> {
        self.call("ipcns_install", FILE, |k| {
            let owner = k.ipc_namespaces[ns].user_ns;
            k.install_capable(current, nsset, owner)?;
            k.get_ipc_ns(ns);
            let old = k.nsproxies[nsset.nsproxy()].ipc_ns;
            k.put_ipc_ns(old);
            k.nsproxies[nsset.nsproxy()].ipc_ns = ns;
            Ok(())
        })
    }
}
