//! The uid, gid and hostname system calls.
//!
//! Mirrors kernel/sys.c (v6.18): `__sys_setresuid`, `__sys_setresgid`, `sethostname`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/sys.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 9.

use crate::capability::{CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN};
use crate::errno::Errno;
use crate::kernel::{Kernel, TaskRef};
use crate::machine::{UtsName, NEW_UTS_LEN};
use crate::trace::Step;

const FILE: &str = "kernel/sys.c";

impl Kernel {
    /// `setresuid(uid, uid, uid)`: the id must be mapped in the caller's user namespace
    /// (`EINVAL`); changing to an id the caller does not already hold needs `CAP_SETUID`
    /// (`EPERM`); the capability sets follow `cap_emulate_setxuid`.
    pub(crate) fn sys_setresuid(&mut self, task: TaskRef, uid: u32) -> Result<(), Errno> {
        self.call("__sys_setresuid", FILE, |k| {
            let old = k.tasks[task].cred;
            let user_ns = k.creds[old].user_ns;
            let kuid = k.make_kuid(user_ns, uid);
            k.rule(
                "!uid_valid(make_kuid(ns, uid))",
                kuid.is_none(),
                Errno::EINVAL,
            )?;
            let kuid = kuid.expect("checked above");
            let o = k.creds[old].clone();
            if o.uid == kuid && o.euid == kuid && o.suid == kuid {
                return Ok(());
            }
            let new_id = kuid != o.uid && kuid != o.euid && kuid != o.suid;
            let capable = k.ns_capable(task, user_ns, CAP_SETUID);
            k.rule(
                "a new id without ns_capable_setid(old->user_ns, CAP_SETUID)",
                new_id && !capable,
                Errno::EPERM,
            )?;
            let new = k.prepare_creds(task);
            {
                let c = &mut k.creds[new];
                c.uid = kuid;
                c.euid = kuid;
                c.suid = kuid;
                c.fsuid = kuid;
            }
            k.cap_emulate_setxuid(new, old);
            k.commit_creds(task, new);
            k.note(|_| Step::Set {
                what: format!("uid = euid = suid = {uid}"),
            });
            Ok(())
        })
    }

    /// `setresgid(gid, gid, gid)`: like `setresuid` with `CAP_SETGID`; capabilities stay.
    pub(crate) fn sys_setresgid(&mut self, task: TaskRef, gid: u32) -> Result<(), Errno> {
        self.call("__sys_setresgid", FILE, |k| {
            let old = k.tasks[task].cred;
            let user_ns = k.creds[old].user_ns;
            let kgid = k.make_kgid(user_ns, gid);
            k.rule(
                "!gid_valid(make_kgid(ns, gid))",
                kgid.is_none(),
                Errno::EINVAL,
            )?;
            let kgid = kgid.expect("checked above");
            let o = k.creds[old].clone();
            if o.gid == kgid && o.egid == kgid && o.sgid == kgid {
                return Ok(());
            }
            let new_id = kgid != o.gid && kgid != o.egid && kgid != o.sgid;
            let capable = k.ns_capable(task, user_ns, CAP_SETGID);
            k.rule(
                "a new id without ns_capable_setid(old->user_ns, CAP_SETGID)",
                new_id && !capable,
                Errno::EPERM,
            )?;
            let new = k.prepare_creds(task);
            {
                let c = &mut k.creds[new];
                c.gid = kgid;
                c.egid = kgid;
                c.sgid = kgid;
                c.fsgid = kgid;
            }
            k.commit_creds(task, new);
            Ok(())
        })
    }

    /// `sethostname(name, len)`: `CAP_SYS_ADMIN` over the uts namespace's owner, then at most
    /// 64 bytes. All `len` bytes are copied, a NUL among them too, and the rest of the array
    /// zeroed; `gethostname` reads up to the first NUL (see `proc.rs`).
    pub(crate) fn sys_sethostname(&mut self, task: TaskRef, name: &str) -> Result<(), Errno> {
        self.call("sethostname", FILE, |k| {
            let nsp = k.task_nsproxy(task);
            let uts = k.nsproxies[nsp].uts_ns;
            let owner = k.uts_namespaces[uts].user_ns;
            let capable = k.ns_capable(task, owner, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(current->nsproxy->uts_ns->user_ns, CAP_SYS_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            k.rule(
                "len > __NEW_UTS_LEN (64)",
                name.len() > NEW_UTS_LEN,
                Errno::EINVAL,
            )?;
            k.uts_namespaces[uts].nodename =
                UtsName::from(name).expect("at most __NEW_UTS_LEN bytes, checked above");
            k.note(|k| Step::Set {
                what: format!(
                    "uts:[{}] nodename = \"{name}\"",
                    k.uts_namespaces[uts].ns.inum
                ),
            });
            Ok(())
        })
    }
}
