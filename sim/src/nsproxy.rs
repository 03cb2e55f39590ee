//! The nsproxy: the set of namespaces a task uses, shared until one of them changes.
//!
//! Mirrors kernel/nsproxy.c (v6.18): `create_nsproxy`, `create_new_namespaces`,
//! `copy_namespaces`, `free_nsproxy`, `unshare_nsproxy_namespaces`,
//! `switch_task_namespaces`, `exit_task_namespaces`, and `setns` with `prepare_nsset`,
//! `validate_ns`, `validate_nsset`, `commit_nsset`, `put_nsset`.
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/nsproxy.c>,
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/ptrace.c>.
//! The rules with their errnos: docs/kernel-rules.md, sections 2 and 3.

use crate::capability::{CAP_SYS_ADMIN, CAP_SYS_PTRACE};
use crate::errno::Errno;
use crate::kernel::{
    CgroupNsRef, CredRef, IpcNsRef, Kernel, MntNsRef, NetRef, NsproxyRef, PidNsRef, TaskRef,
    TimeNsRef, UserNsRef, UtsNsRef,
};
use crate::machine::{NsEntry, NsFd, NsType};
use crate::sched::*;
use crate::task::TaskStruct;
use crate::trace::Step;

const FILE: &str = "kernel/nsproxy.c";

/// `struct nsproxy` (6.18 layout). The user namespace is not here (it is in the
/// credentials), nor is the active pid namespace (it comes from the task's `struct pid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsproxy {
    /// `count`: tasks using this nsproxy, plus temporary holders.
    pub count: u64,
    /// `uts_ns`.
    pub uts_ns: UtsNsRef,
    /// `ipc_ns`.
    pub ipc_ns: IpcNsRef,
    /// `mnt_ns`.
    pub mnt_ns: MntNsRef,
    /// `pid_ns_for_children`.
    pub pid_ns_for_children: PidNsRef,
    /// `net_ns`.
    pub net_ns: NetRef,
    /// `time_ns` and `time_ns_for_children`: absent in 4.19, which has no time namespaces.
    pub time_ns: Option<TimeNsRef>,
    /// `time_ns_for_children`.
    pub time_ns_for_children: Option<TimeNsRef>,
    /// `cgroup_ns`.
    pub cgroup_ns: CgroupNsRef,
}

/// What `create_new_namespaces` has made before a later copy fails.
#[derive(Debug, Default)]
struct Partial {
    mnt: Option<MntNsRef>,
    uts: Option<UtsNsRef>,
    ipc: Option<IpcNsRef>,
    pid: Option<PidNsRef>,
    cgroup: Option<CgroupNsRef>,
    net: Option<NetRef>,
}

/// `struct nsset`: what `setns` builds before committing.
#[derive(Debug)]
pub(crate) struct Nsset {
    /// The `CLONE_NEW*` flags being joined.
    pub flags: u64,
    /// A private copy of the caller's nsproxy that the installs modify; `None` once
    /// `commit_nsset` has given it to the task (the kernel sets the pointer to NULL).
    pub nsproxy: Option<NsproxyRef>,
    /// New credentials, prepared only when a user namespace is joined.
    pub cred: Option<CredRef>,
    /// The fs_struct is the caller's own (only `CLONE_NEWNS` alone); otherwise a private copy.
    pub fs_shared: bool,
}

impl Nsset {
    /// `nsset->nsproxy` before the commit, which is when every install runs.
    pub(crate) fn nsproxy(&self) -> NsproxyRef {
        self.nsproxy
            .expect("the installs run before commit_nsset takes the nsproxy")
    }

    /// `nsset->cred`: the prepared credentials, or the caller's.
    pub(crate) fn cred(&self, k: &Kernel, current: TaskRef) -> CredRef {
        self.cred.unwrap_or_else(|| k.tasks[current].cred)
    }

    /// `nsset_cred(nsset)`: the prepared credentials, which a user namespace install edits.
    pub(crate) fn cred_for_write(&mut self, k: &mut Kernel, current: TaskRef) -> CredRef {
        match self.cred {
            Some(c) => c,
            None => {
                let c = k.prepare_creds(current);
                self.cred = Some(c);
                c
            }
        }
    }
}

/// A namespace object of any type, as `setns` finds it behind a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NsObject {
    /// A mount namespace.
    Mnt(MntNsRef),
    /// A UTS namespace.
    Uts(UtsNsRef),
    /// An IPC namespace.
    Ipc(IpcNsRef),
    /// A pid namespace.
    Pid(PidNsRef),
    /// A network namespace.
    Net(NetRef),
    /// A user namespace.
    User(UserNsRef),
    /// A cgroup namespace.
    Cgroup(CgroupNsRef),
    /// A time namespace.
    Time(TimeNsRef),
}

impl NsObject {
    /// `ns->ops->type`.
    pub(crate) fn ns_type(self) -> NsType {
        match self {
            NsObject::Mnt(_) => NsType::Mnt,
            NsObject::Uts(_) => NsType::Uts,
            NsObject::Ipc(_) => NsType::Ipc,
            NsObject::Pid(_) => NsType::Pid,
            NsObject::Net(_) => NsType::Net,
            NsObject::User(_) => NsType::User,
            NsObject::Cgroup(_) => NsType::Cgroup,
            NsObject::Time(_) => NsType::Time,
        }
    }
}

impl Kernel {
    pub(crate) fn nsproxy_name(&self, n: NsproxyRef) -> String {
        format!("nsproxy#{}", n.0)
    }

    /// `tsk->nsproxy` of a running task (only an exiting task has none, and the model
    /// never calls on one).
    pub(crate) fn task_nsproxy(&self, t: TaskRef) -> NsproxyRef {
        self.tasks[t]
            .nsproxy
            .expect("a running task has an nsproxy")
    }

    /// `get_nsproxy`.
    pub(crate) fn get_nsproxy(&mut self, n: NsproxyRef) {
        let count = {
            let p = &mut self.nsproxies[n];
            p.count += 1;
            p.count
        };
        self.note(|k| Step::Get {
            object: k.nsproxy_name(n),
            count,
        });
    }

    /// `put_nsproxy`: the last reference frees it.
    pub(crate) fn put_nsproxy(&mut self, n: NsproxyRef) {
        let count = {
            let p = &mut self.nsproxies[n];
            p.count -= 1;
            p.count
        };
        self.note(|k| Step::Put {
            object: k.nsproxy_name(n),
            count,
        });
        if count == 0 {
            self.free_nsproxy(n);
        }
    }

    /// `free_nsproxy`: puts every namespace in the 6.18 order (mnt, uts, ipc,
    /// pid_for_children, time, time_for_children, cgroup, net; 4.19 has no time) and frees the
    /// nsproxy.
    pub(crate) fn free_nsproxy(&mut self, n: NsproxyRef) {
        let _ = self.call("free_nsproxy", FILE, |k| {
            let p = k.nsproxies.remove(n);
            k.note(|k| Step::Free {
                object: k.nsproxy_name(n),
            });
            k.put_mnt_ns(p.mnt_ns);
            k.put_uts_ns(p.uts_ns);
            k.put_ipc_ns(p.ipc_ns);
            k.put_pid_ns(p.pid_ns_for_children);
            if let (Some(t), Some(tc)) = (p.time_ns, p.time_ns_for_children) {
                k.put_time_ns(t);
                k.put_time_ns(tc);
            }
            k.put_cgroup_ns(p.cgroup_ns);
            k.put_net(p.net_ns);
            Ok(())
        });
    }

    /// `create_new_namespaces(flags, tsk, user_ns, new_fs)`: a new nsproxy whose members are
    /// copied (with `flags`) or shared from `tsk`'s, in kernel order; on failure everything
    /// made so far is put back in reverse and the nsproxy freed. `current` is the caller
    /// (whose credentials the checks and ucounts use); `old` is the nsproxy being copied.
    pub(crate) fn create_new_namespaces(
        &mut self,
        flags: u64,
        current: TaskRef,
        old: NsproxyRef,
        user_ns: UserNsRef,
    ) -> Result<NsproxyRef, Errno> {
        self.call("create_new_namespaces", FILE, |k| {
            let r = Kernel::fill_new_nsproxy(k, flags, current, old, user_ns);
            if r.is_err() {
                k.note(|_| Step::Free {
                    object: "nsproxy (kmem_cache_free after the unwinding)".to_string(),
                });
            }
            r
        })
    }

    /// The body of `create_new_namespaces`: each copy in kernel order, each failure putting
    /// back what was made before it, in reverse.
    fn fill_new_nsproxy(
        k: &mut Kernel,
        flags: u64,
        current: TaskRef,
        old: NsproxyRef,
        user_ns: UserNsRef,
    ) -> Result<NsproxyRef, Errno> {
        let o = k.nsproxies[old].clone();
        // `create_nsproxy()`: the new nsproxy exists from here, count 1; the model fills
        // its fields as the copies succeed.
        k.note(|_| Step::Alloc {
            object: "nsproxy (create_nsproxy, count 1)".to_string(),
        });
        // What is made so far; a failure puts it back, newest first, as the kernel's
        // `out_time` .. `out_uts` labels do.
        let mut made = Partial::default();
        macro_rules! or_unwind {
            ($copy:expr) => {
                match $copy {
                    Ok(v) => v,
                    Err(e) => {
                        k.put_partial(&made);
                        return Err(e);
                    }
                }
            };
        }
        let mnt = or_unwind!(k.copy_mnt_ns(flags, o.mnt_ns, user_ns, current));
        made.mnt = Some(mnt);
        let uts = or_unwind!(k.copy_utsname(flags, user_ns, o.uts_ns, current));
        made.uts = Some(uts);
        let ipc = or_unwind!(k.copy_ipcs(flags, user_ns, o.ipc_ns, current));
        made.ipc = Some(ipc);
        let pid = or_unwind!(k.copy_pid_ns(flags, user_ns, o.pid_ns_for_children, current));
        made.pid = Some(pid);
        let cgroup = or_unwind!(k.copy_cgroup_ns(flags, user_ns, o.cgroup_ns, current));
        made.cgroup = Some(cgroup);
        let net = or_unwind!(k.copy_net_ns(flags, user_ns, o.net_ns, current));
        made.net = Some(net);
        // 4.19 has no time namespaces: its nsproxy has no time fields.
        let (time_ns, time_for_children) = match (o.time_ns, o.time_ns_for_children) {
            (Some(time_ns), Some(old_children)) => {
                let v = or_unwind!(k.copy_time_ns(flags, user_ns, old_children, current));
                k.get_time_ns(time_ns);
                (Some(time_ns), Some(v))
            }
            _ => (None, None),
        };
        let r = k.nsproxies.insert(Nsproxy {
            count: 1,
            uts_ns: uts,
            ipc_ns: ipc,
            mnt_ns: mnt,
            pid_ns_for_children: pid,
            net_ns: net,
            time_ns,
            time_ns_for_children: time_for_children,
            cgroup_ns: cgroup,
        });
        k.note(|k| Step::Set {
            what: format!("{} filled", k.nsproxy_name(r)),
        });
        Ok(r)
    }

    /// `copy_namespaces(flags, tsk)` at clone. `user_ns` is the child's credential user
    /// namespace, already replaced by `copy_creds` after `CLONE_NEWUSER`.
    pub(crate) fn copy_namespaces(
        &mut self,
        current: TaskRef,
        flags: u64,
        tsk: TaskRef,
    ) -> Result<(), Errno> {
        self.call("copy_namespaces", FILE, |k| {
            let old = k.task_nsproxy(current);
            let user_ns = k.task_cred(tsk).user_ns;
            if flags & NSPROXY_FLAGS == 0 {
                let o = &k.nsproxies[old];
                let same_time = o.time_ns_for_children == o.time_ns;
                if flags & CLONE_VM != 0 || same_time {
                    k.note(|_| Step::Set {
                        what: "fast path: no CLONE_NEW* flag, and CLONE_VM or time_ns_for_children == time_ns: share the nsproxy".to_string(),
                    });
                    k.get_nsproxy(old);
                    k.tasks[tsk].nsproxy = Some(old);
                    return Ok(());
                }
            } else {
                // The parent's credentials against the child's user namespace.
                let capable = k.ns_capable(current, user_ns, CAP_SYS_ADMIN);
                k.rule("!ns_capable(user_ns, CAP_SYS_ADMIN)", !capable, Errno::EPERM)?;
            }
            k.rule(
                "CLONE_NEWIPC together with CLONE_SYSVSEM",
                flags & (CLONE_NEWIPC | CLONE_SYSVSEM) == (CLONE_NEWIPC | CLONE_SYSVSEM),
                Errno::EINVAL,
            )?;
            let new = k.create_new_namespaces(flags, current, old, user_ns)?;
            if flags & CLONE_VM == 0 {
                k.timens_on_fork(new);
            }
            k.tasks[tsk].nsproxy = Some(new);
            k.note(|k| Step::Set {
                what: format!("tsk->nsproxy = {}", k.nsproxy_name(new)),
            });
            Ok(())
        })
    }

    /// `unshare_nsproxy_namespaces`: nothing to do without a namespace flag; otherwise
    /// `CAP_SYS_ADMIN` in the (possibly new) user namespace, then `create_new_namespaces`.
    pub(crate) fn unshare_nsproxy_namespaces(
        &mut self,
        current: TaskRef,
        flags: u64,
        new_cred: Option<CredRef>,
    ) -> Result<Option<NsproxyRef>, Errno> {
        if flags & NSPROXY_FLAGS == 0 {
            return Ok(None);
        }
        self.call("unshare_nsproxy_namespaces", FILE, |k| {
            let cred = new_cred.unwrap_or_else(|| k.tasks[current].cred);
            let user_ns = k.creds[cred].user_ns;
            let capable = k.ns_capable(current, user_ns, CAP_SYS_ADMIN);
            k.rule(
                "!ns_capable(user_ns, CAP_SYS_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            let old = k.task_nsproxy(current);
            k.create_new_namespaces(flags, current, old, user_ns)
                .map(Some)
        })
    }

    /// `switch_task_namespaces(p, new)`: swap the pointer, then put the old nsproxy.
    pub(crate) fn switch_task_namespaces(&mut self, p: TaskRef, new: Option<NsproxyRef>) {
        let _ = self.call("switch_task_namespaces", FILE, |k| {
            let old = std::mem::replace(&mut k.tasks[p].nsproxy, new);
            k.note(|k| Step::Set {
                what: match new {
                    Some(n) => format!("p->nsproxy = {}", k.nsproxy_name(n)),
                    None => "p->nsproxy = NULL".to_string(),
                },
            });
            if let Some(old) = old {
                k.put_nsproxy(old);
            }
            Ok(())
        });
    }

    /// `exit_task_namespaces(p)`.
    pub(crate) fn exit_task_namespaces(&mut self, p: TaskRef) {
        let _ = self.call("exit_task_namespaces", FILE, |k| {
            k.switch_task_namespaces(p, None);
            Ok(())
        });
    }

    /// The namespace behind `/proc/<pid>/ns/<entry>` of a live task: what opening the file
    /// finds (`ENOENT` for `pid_for_children` before its namespace has an init).
    pub(crate) fn ns_of_entry(&self, t: TaskRef, entry: NsEntry) -> Result<NsObject, Errno> {
        let task = &self.tasks[t];
        let n = task.nsproxy.ok_or(Errno::ENOENT)?;
        let p = &self.nsproxies[n];
        let active = self.task_active_pid_ns(t);
        self.ns_of_entry_in(task, p, active, entry)
    }

    /// [`Kernel::ns_of_entry`] for a task whose nsproxy and active pid namespace the caller
    /// has looked up already (reading all ten entries looks them up once).
    #[inline(always)]
    pub(crate) fn ns_of_entry_in(
        &self,
        task: &TaskStruct,
        p: &Nsproxy,
        active_pid_ns: PidNsRef,
        entry: NsEntry,
    ) -> Result<NsObject, Errno> {
        Ok(match entry {
            NsEntry::Net => NsObject::Net(p.net_ns),
            NsEntry::Uts => NsObject::Uts(p.uts_ns),
            NsEntry::Ipc => NsObject::Ipc(p.ipc_ns),
            NsEntry::Pid => NsObject::Pid(active_pid_ns),
            NsEntry::PidForChildren => {
                let ns = p.pid_ns_for_children;
                if self.pid_namespaces[ns].child_reaper.is_none() {
                    return Err(Errno::ENOENT);
                }
                NsObject::Pid(ns)
            }
            NsEntry::User => NsObject::User(self.creds[task.cred].user_ns),
            NsEntry::Mnt => NsObject::Mnt(p.mnt_ns),
            NsEntry::Cgroup => NsObject::Cgroup(p.cgroup_ns),
            NsEntry::Time => NsObject::Time(p.time_ns.ok_or(Errno::ENOENT)?),
            NsEntry::TimeForChildren => {
                NsObject::Time(p.time_ns_for_children.ok_or(Errno::ENOENT)?)
            }
        })
    }

    /// The inode number of a namespace object.
    #[inline]
    pub(crate) fn ns_inum(&self, ns: NsObject) -> u64 {
        match ns {
            NsObject::Mnt(r) => self.mnt_namespaces[r].ns.inum,
            NsObject::Uts(r) => self.uts_namespaces[r].ns.inum,
            NsObject::Ipc(r) => self.ipc_namespaces[r].ns.inum,
            NsObject::Pid(r) => self.pid_namespaces[r].ns.inum,
            NsObject::Net(r) => self.nets[r].ns.inum,
            NsObject::User(r) => self.user_namespaces[r].ns.inum,
            NsObject::Cgroup(r) => self.cgroup_namespaces[r].ns.inum,
            NsObject::Time(r) => self.time_namespaces[r].ns.inum,
        }
    }

    /// `ptrace_may_access(tsk, PTRACE_MODE_READ_REALCREDS)` (kernel/ptrace.c): the same
    /// thread group; or the same real ids, or `CAP_SYS_PTRACE` over the target's user
    /// namespace; then a target that is not dumpable also needs `CAP_SYS_PTRACE` over its
    /// mm's user namespace; and last the LSM hook, `cap_ptrace_access_check`.
    pub(crate) fn ptrace_may_access(&self, current: TaskRef, tsk: TaskRef) -> bool {
        if self.tasks[current].group_leader == self.tasks[tsk].group_leader {
            return true;
        }
        let t = &self.tasks[tsk];
        self.ptrace_creds_match(current, tsk)
            && (t.dumpable || self.ns_capable(current, t.mm_user_ns, CAP_SYS_PTRACE))
            && self.cap_ptrace_access_check(current, tsk)
    }

    /// The credential part of `__ptrace_may_access`.
    fn ptrace_creds_match(&self, current: TaskRef, tsk: TaskRef) -> bool {
        let c = self.current_cred(current);
        let t = self.task_cred(tsk);
        let same_ids = c.uid == t.euid
            && c.uid == t.suid
            && c.uid == t.uid
            && c.gid == t.egid
            && c.gid == t.sgid
            && c.gid == t.gid;
        same_ids || self.ns_capable(current, t.user_ns, CAP_SYS_PTRACE)
    }

    /// `setns(fd, flags)` made by `current`. The fd is opened first, as the backend's
    /// controller would open it: a namespace file of a task that is gone is `ENOENT`, a pidfd
    /// of a task that is gone is `ESRCH`.
    pub(crate) fn sys_setns(
        &mut self,
        current: TaskRef,
        fd: NsFd,
        nstype: u64,
    ) -> Result<(), Errno> {
        // Opening the file happens before the syscall: a dead task has no /proc entry, and a
        // pidfd cannot be opened for it.
        let target = match fd {
            NsFd::File { task, entry } => {
                let t = self.task_of(task).map_err(|_| Errno::ENOENT)?;
                Target::File(self.ns_of_entry(t, entry)?)
            }
            NsFd::Pidfd { task } => Target::Pidfd(self.task_of(task)?),
        };
        self.call("setns", FILE, |k| {
            let flags = match target {
                Target::File(ns) => {
                    let ty = ns.ns_type().clone_flag();
                    k.rule(
                        "flags && ns->ops->type != flags",
                        nstype != 0 && nstype != ty,
                        Errno::EINVAL,
                    )?;
                    ty
                }
                Target::Pidfd(_) if !k.version.has_pidfd() => {
                    return Err(k.refuse(
                        "proc_ns_fget: not a namespace file (setns takes a pidfd from Linux 5.8)",
                        Errno::EINVAL,
                    ));
                }
                Target::Pidfd(_) => {
                    k.call("check_setns_flags", FILE, |k| {
                        k.rule(
                            "!flags || (flags & ~CLONE_NS_ALL)",
                            nstype == 0 || nstype & !CLONE_NEW_ALL != 0,
                            Errno::EINVAL,
                        )
                    })?;
                    nstype
                }
            };
            let mut nsset = k.prepare_nsset(current, flags)?;
            let r = match target {
                Target::File(ns) => k.validate_ns(current, &mut nsset, ns),
                Target::Pidfd(t) => k.validate_nsset(current, &mut nsset, t),
            };
            if r.is_ok() {
                k.commit_nsset(current, &mut nsset);
            }
            k.put_nsset(nsset);
            r
        })
    }

    /// `prepare_nsset`: a private copy of the caller's nsproxy (every member gets a
    /// reference), and new credentials when a user namespace is being joined.
    /// 4.19 does the same inline in `setns`, one namespace at a time.
    fn prepare_nsset(&mut self, current: TaskRef, flags: u64) -> Result<Nsset, Errno> {
        let name = self.version.has_pidfd().then_some("prepare_nsset");
        self.call_if(name, FILE, |k| {
            let old = k.task_nsproxy(current);
            let user_ns = k.current_user_ns(current);
            let nsproxy = k.create_new_namespaces(0, current, old, user_ns)?;
            let cred = (flags & CLONE_NEWUSER != 0).then(|| k.prepare_creds(current));
            Ok(Nsset {
                flags,
                nsproxy: Some(nsproxy),
                cred,
                fs_shared: flags == CLONE_NEWNS,
            })
        })
    }

    /// Puts back what a failed `create_new_namespaces` made, in reverse: net, cgroup, pid,
    /// ipc, uts, mnt.
    fn put_partial(&mut self, p: &Partial) {
        if let Some(n) = p.net {
            self.put_net(n);
        }
        if let Some(n) = p.cgroup {
            self.put_cgroup_ns(n);
        }
        if let Some(n) = p.pid {
            self.put_pid_ns(n);
        }
        if let Some(n) = p.ipc {
            self.put_ipc_ns(n);
        }
        if let Some(n) = p.uts {
            self.put_uts_ns(n);
        }
        if let Some(n) = p.mnt {
            self.put_mnt_ns(n);
        }
    }

    /// The permission the uts, ipc, pid, cgroup, net and time installs share:
    /// `CAP_SYS_ADMIN` over the namespace's owner and in the user namespace of the
    /// credentials being installed (the caller's, or the new ones of a user namespace joined
    /// in the same call), checked with the caller's credentials; else `EPERM`.
    pub(crate) fn install_capable(
        &mut self,
        current: TaskRef,
        nsset: &Nsset,
        owner: UserNsRef,
    ) -> Result<(), Errno> {
        let cred_ns = self.creds[nsset.cred(self, current)].user_ns;
        let ok = self.ns_capable(current, owner, CAP_SYS_ADMIN)
            && self.ns_capable(current, cred_ns, CAP_SYS_ADMIN);
        self.rule(
            "!ns_capable(ns->user_ns, CAP_SYS_ADMIN) || !ns_capable(nsset->cred->user_ns, CAP_SYS_ADMIN)",
            !ok,
            Errno::EPERM,
        )
    }

    /// `validate_ns`: `ns->ops->install(nsset, ns)`.
    fn validate_ns(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        ns: NsObject,
    ) -> Result<(), Errno> {
        match ns {
            NsObject::Mnt(r) => self.mntns_install(current, nsset, r),
            NsObject::Uts(r) => self.utsns_install(current, nsset, r),
            NsObject::Ipc(r) => self.ipcns_install(current, nsset, r),
            NsObject::Pid(r) => self.pidns_install(current, nsset, r),
            NsObject::Net(r) => self.netns_install(current, nsset, r),
            NsObject::User(r) => self.userns_install(current, nsset, r),
            NsObject::Cgroup(r) => self.cgroupns_install(current, nsset, r),
            NsObject::Time(r) => self.timens_install(current, nsset, r),
        }
    }

    /// `validate_nsset` for a pidfd: the target must be alive and ptrace-readable; then each
    /// requested namespace of the target is installed, user first.
    fn validate_nsset(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        tsk: TaskRef,
    ) -> Result<(), Errno> {
        self.call("validate_nsset", FILE, |k| {
            let may = k.ptrace_may_access(current, tsk);
            k.rule(
                "!ptrace_may_access(tsk, PTRACE_MODE_READ_REALCREDS)",
                !may,
                Errno::EPERM,
            )?;
            let nsp = k.tasks[tsk].nsproxy;
            k.rule(
                "tsk->nsproxy == NULL (exiting)",
                nsp.is_none(),
                Errno::ESRCH,
            )?;
            let flags = nsset.flags;
            for ty in NsType::INSTALL_ORDER {
                if flags & ty.clone_flag() == 0 {
                    continue;
                }
                let entry = match ty {
                    NsType::Mnt => NsEntry::Mnt,
                    NsType::Uts => NsEntry::Uts,
                    NsType::Ipc => NsEntry::Ipc,
                    NsType::Pid => NsEntry::Pid,
                    NsType::Net => NsEntry::Net,
                    NsType::User => NsEntry::User,
                    NsType::Cgroup => NsEntry::Cgroup,
                    NsType::Time => NsEntry::Time,
                };
                let ns = k.ns_of_entry(tsk, entry)?;
                k.validate_ns(current, nsset, ns)?;
            }
            Ok(())
        })
    }

    /// `commit_nsset`: new credentials first, then the nsproxy swap. (4.19 commits the
    /// credentials inside `userns_install` and swaps in `setns`; the effect is the same.)
    fn commit_nsset(&mut self, current: TaskRef, nsset: &mut Nsset) {
        let name = self.version.has_pidfd().then_some("commit_nsset");
        let _ = self.call_if(name, FILE, |k| {
            if nsset.flags & CLONE_NEWUSER != 0 {
                if let Some(c) = nsset.cred.take() {
                    // The prepared reference passes to the task.
                    k.commit_creds(current, c);
                }
            }
            if nsset.flags & CLONE_NEWTIME != 0 {
                if let Some(t) = k.nsproxies[nsset.nsproxy()].time_ns {
                    k.time_namespaces[t].frozen_offsets = true;
                }
            }
            let new = nsset.nsproxy.take();
            k.switch_task_namespaces(current, new);
            Ok(())
        });
    }

    /// `put_nsset`: drops whatever was not committed.
    fn put_nsset(&mut self, nsset: Nsset) {
        if let Some(n) = nsset.nsproxy {
            self.free_nsproxy(n);
        }
        if let Some(c) = nsset.cred {
            self.abort_creds(c);
        }
    }
}

/// What the fd given to `setns` refers to.
#[derive(Clone, Copy, Debug)]
enum Target {
    File(NsObject),
    Pidfd(TaskRef),
}
