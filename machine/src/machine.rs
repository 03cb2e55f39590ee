//! The one narrow interface that both backends implement: the simulated kernel in
//! `nslab-sim` and the real kernel in `nslab-real`.
//!
//! This module mirrors no kernel file. It is the contract of a scenario: [`Machine::syscall`]
//! makes one system call ([`Op`]) as one task, answered with the kernel's errno (the methods
//! named after the system calls are shorthands for it); [`Machine::observe`] reads
//! what `/proc/<pid>/ns`, `/proc/<pid>/status`, `gethostname` and `getifaddrs` would show to
//! that task. Handles are opaque and stay valid after the task exits (the calls then fail
//! with `ESRCH`, as a syscall on a stale pidfd does).

use crate::errno::Errno;
use crate::op::Op;
use crate::sched::*;
use arrayvec::{ArrayString, ArrayVec};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt;

/// `__NEW_UTS_LEN` (include/uapi/linux/utsname.h): the longest host or domain name.
pub const NEW_UTS_LEN: usize = 64;

/// `IFNAMSIZ` (include/uapi/linux/if.h): an interface name with its terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// `MAX_PID_NS_LEVEL` (include/linux/pid_namespace.h): the deepest level a pid namespace can
/// have (the initial one is level 0).
pub const MAX_PID_NS_LEVEL: u32 = 32;

/// The most numbers an `NSpid:` line can have: one per level, `MAX_PID_NS_LEVEL` + 1.
pub const NSPID_MAX: usize = MAX_PID_NS_LEVEL as usize + 1;

/// A host or domain name: the kernel keeps it in a fixed `char[__NEW_UTS_LEN + 1]` of
/// `struct new_utsname`, and so does the model (inline, no heap).
pub type UtsName = ArrayString<NEW_UTS_LEN>;

/// An interface name: `char name[IFNAMSIZ]` of `struct net_device`, inline.
pub type IfName = ArrayString<{ IFNAMSIZ - 1 }>;

/// The numbers of an `NSpid:` line, inline (at most [`NSPID_MAX`]).
pub type NsPids = ArrayVec<i32, NSPID_MAX>;

/// The interfaces of a network namespace: inline up to two (a new namespace has `lo`; a
/// scenario may add one), on the heap beyond (the host's own namespace may have many).
pub type Interfaces = SmallVec<[Interface; 2]>;

/// The longest prefix of `s` that fits in `N` bytes, cut at a character boundary: for names
/// read from the real kernel, which bounds them in bytes, after a lossy UTF-8 conversion
/// that may have grown them.
pub fn fit<const N: usize>(s: &str) -> ArrayString<N> {
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    ArrayString::from(&s[..end]).expect("the prefix fits by construction")
}

/// A task of a machine: an index chosen by the backend, never reused within one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId(pub u32);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// What a call on a machine can give back besides success.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SysError {
    /// The kernel refused the call with this errno: part of the behaviour under test.
    Errno(Errno),
    /// The backend refused the call on purpose, before or instead of making it: it would
    /// change the host (the real backend's `sethostname`, `link_up` and
    /// `set_max_namespaces` in the namespaces it started in), or it would make a task the
    /// backend cannot keep (a `CLONE_VM` or `CLONE_VFORK` child). The text says why. Never
    /// part of an agreement.
    Refused(String),
    /// The backend itself failed (a helper crashed or timed out, a channel broke). Never part
    /// of an agreement.
    Fault(String),
}

impl SysError {
    /// The errno, or, for a refusal or a fault, what the backend said as reports print it
    /// (a refusal's text starts with `refused: `).
    pub fn into_errno(self) -> Result<Errno, String> {
        match self {
            SysError::Errno(e) => Ok(e),
            SysError::Refused(s) => Err(format!("refused: {s}")),
            SysError::Fault(s) => Err(s),
        }
    }
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> Self {
        SysError::Errno(e)
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysError::Errno(e) => write!(f, "{e}"),
            SysError::Refused(s) => write!(f, "backend refused: {s}"),
            SysError::Fault(s) => write!(f, "backend fault: {s}"),
        }
    }
}

impl std::error::Error for SysError {}

/// The result of one call on a machine.
pub type SysResult<T> = Result<T, SysError>;

/// The eight namespace types, in the order of `CLONE_NEW*` bits' use in `setns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NsType {
    /// `CLONE_NEWNS`: mount.
    Mnt,
    /// `CLONE_NEWUTS`: hostname and domain name.
    Uts,
    /// `CLONE_NEWIPC`: System V IPC and POSIX message queues.
    Ipc,
    /// `CLONE_NEWPID`: process ids.
    Pid,
    /// `CLONE_NEWNET`: network devices, addresses, routes, sockets.
    Net,
    /// `CLONE_NEWUSER`: user and group ids, capabilities.
    User,
    /// `CLONE_NEWCGROUP`: the cgroup root.
    Cgroup,
    /// `CLONE_NEWTIME`: monotonic and boottime offsets.
    Time,
}

impl NsType {
    /// All eight, in the order `setns` with a pidfd installs them (user first).
    pub const INSTALL_ORDER: [NsType; 8] = [
        NsType::User,
        NsType::Mnt,
        NsType::Uts,
        NsType::Ipc,
        NsType::Pid,
        NsType::Cgroup,
        NsType::Net,
        NsType::Time,
    ];

    /// The `CLONE_NEW*` flag of this type.
    pub const fn clone_flag(self) -> u64 {
        match self {
            NsType::Mnt => CLONE_NEWNS,
            NsType::Uts => CLONE_NEWUTS,
            NsType::Ipc => CLONE_NEWIPC,
            NsType::Pid => CLONE_NEWPID,
            NsType::Net => CLONE_NEWNET,
            NsType::User => CLONE_NEWUSER,
            NsType::Cgroup => CLONE_NEWCGROUP,
            NsType::Time => CLONE_NEWTIME,
        }
    }

    /// The name used in `/proc/<pid>/ns/` and in readlink (`"mnt"`, `"net"`, ...).
    pub const fn proc_name(self) -> &'static str {
        match self {
            NsType::Mnt => "mnt",
            NsType::Uts => "uts",
            NsType::Ipc => "ipc",
            NsType::Pid => "pid",
            NsType::Net => "net",
            NsType::User => "user",
            NsType::Cgroup => "cgroup",
            NsType::Time => "time",
        }
    }

    /// The type named `mnt`, `net`, ... (also accepts `CLONE_NEW*` spellings).
    pub fn from_name(s: &str) -> Option<NsType> {
        let l = s.to_ascii_lowercase();
        let l = l.strip_prefix("clone_").unwrap_or(&l);
        let l = l.strip_prefix("new").unwrap_or(l);
        Some(match l {
            "mnt" | "ns" => NsType::Mnt,
            "uts" => NsType::Uts,
            "ipc" => NsType::Ipc,
            "pid" => NsType::Pid,
            "net" => NsType::Net,
            "user" => NsType::User,
            "cgroup" => NsType::Cgroup,
            "time" => NsType::Time,
            _ => return None,
        })
    }

    /// The name of the `/proc/sys/user` limit on this type (`max_net_namespaces`).
    pub fn max_sysctl(self) -> String {
        format!("max_{}_namespaces", self.proc_name())
    }
}

/// The ten entries of `/proc/<pid>/ns/`, in the order the kernel lists them (6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NsEntry {
    Net,
    Uts,
    Ipc,
    Pid,
    PidForChildren,
    User,
    Mnt,
    Cgroup,
    Time,
    TimeForChildren,
}

impl NsEntry {
    /// All ten, in `/proc/<pid>/ns/` order.
    pub const ALL: [NsEntry; 10] = [
        NsEntry::Net,
        NsEntry::Uts,
        NsEntry::Ipc,
        NsEntry::Pid,
        NsEntry::PidForChildren,
        NsEntry::User,
        NsEntry::Mnt,
        NsEntry::Cgroup,
        NsEntry::Time,
        NsEntry::TimeForChildren,
    ];

    /// The file name under `/proc/<pid>/ns/`.
    pub const fn file_name(self) -> &'static str {
        match self {
            NsEntry::Net => "net",
            NsEntry::Uts => "uts",
            NsEntry::Ipc => "ipc",
            NsEntry::Pid => "pid",
            NsEntry::PidForChildren => "pid_for_children",
            NsEntry::User => "user",
            NsEntry::Mnt => "mnt",
            NsEntry::Cgroup => "cgroup",
            NsEntry::Time => "time",
            NsEntry::TimeForChildren => "time_for_children",
        }
    }

    /// The entry with this file name.
    pub fn from_file_name(s: &str) -> Option<NsEntry> {
        NsEntry::ALL.into_iter().find(|e| e.file_name() == s)
    }

    /// The namespace type the entry links to (`pid_for_children` is a pid namespace).
    pub const fn ns_type(self) -> NsType {
        match self {
            NsEntry::Net => NsType::Net,
            NsEntry::Uts => NsType::Uts,
            NsEntry::Ipc => NsType::Ipc,
            NsEntry::Pid | NsEntry::PidForChildren => NsType::Pid,
            NsEntry::User => NsType::User,
            NsEntry::Mnt => NsType::Mnt,
            NsEntry::Cgroup => NsType::Cgroup,
            NsEntry::Time | NsEntry::TimeForChildren => NsType::Time,
        }
    }

    /// What readlink prints for a namespace with this inode: `pid:[4026531836]`.
    pub fn readlink(self, inum: u64) -> String {
        format!("{}:[{}]", self.ns_type().proc_name(), inum)
    }
}

/// Which system call `clone` goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CloneVia {
    /// Legacy `clone(2)`: flags are 32 bits and the low byte is the exit signal, so
    /// `CLONE_NEWTIME` (0x80) and the clone3-only high flags cannot be passed.
    #[default]
    Clone,
    /// `clone3(2)`: 64-bit flags, exit signal given separately.
    Clone3,
}

/// The arguments of one clone call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CloneArgs {
    /// The `CLONE_*` flags. With legacy `clone`, a zero low byte is replaced by `SIGCHLD` as
    /// the exit signal; a nonzero one (such as `CLONE_NEWTIME`) is taken as the exit signal,
    /// exactly as the kernel does.
    pub flags: u64,
    /// Legacy `clone` or `clone3`.
    pub via: CloneVia,
}

impl CloneArgs {
    /// A `clone` with these flags (legacy `clone` unless a flag needs `clone3`).
    pub fn new(flags: u64) -> Self {
        let via = if flags & (CLONE_NEWTIME | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
            CloneVia::Clone3
        } else {
            CloneVia::Clone
        };
        CloneArgs { flags, via }
    }
}

/// The file descriptor handed to `setns`. The backend opens it with its controller's
/// privileges (as root in the starting namespaces), so opening fails only when the target task
/// is gone (`ENOENT` for a namespace file, `ESRCH` for a pidfd).
///
/// `T` names the task: a [`TaskId`] on a machine, a label in a scenario (see [`crate::Op`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NsFd<T = TaskId> {
    /// `/proc/<pid of task>/ns/<entry>`.
    File { task: T, entry: NsEntry },
    /// A pidfd of the task (`pidfd_open`).
    Pidfd { task: T },
}

impl<T> NsFd<T> {
    /// The task whose namespaces the fd refers to.
    pub fn task(&self) -> &T {
        match self {
            NsFd::File { task, .. } | NsFd::Pidfd { task } => task,
        }
    }

    /// The same fd, its task named by `f`.
    pub fn try_map<U, E>(&self, f: impl FnOnce(&T) -> Result<U, E>) -> Result<NsFd<U>, E> {
        Ok(match self {
            NsFd::File { task, entry } => NsFd::File {
                task: f(task)?,
                entry: *entry,
            },
            NsFd::Pidfd { task } => NsFd::Pidfd { task: f(task)? },
        })
    }

    /// The same fd, its task named by `f`.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> NsFd<U> {
        match self.try_map(|t| Ok::<U, std::convert::Infallible>(f(t))) {
            Ok(fd) => fd,
            Err(e) => match e {},
        }
    }
}

/// Which id map a write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdMapKind {
    /// `/proc/<pid>/uid_map`.
    Uid,
    /// `/proc/<pid>/gid_map` (after `setgroups` is set to `deny`).
    Gid,
}

/// One line of `uid_map`/`gid_map`: ids `first..first+count` inside the target's user
/// namespace are `lower_first..` in the writer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdMapExtent {
    pub first: u32,
    pub lower_first: u32,
    pub count: u32,
}

/// One network interface as `getifaddrs` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interface {
    pub name: IfName,
    pub ifindex: u32,
    /// `IFF_UP` is set.
    pub up: bool,
}

/// What a task sees of itself, read the way the real backend reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// readlink of each of the ten `/proc/<pid>/ns/` entries, in [`NsEntry::ALL`] order: the
    /// inode number, or the errno (`pid_for_children` is `ENOENT` while its namespace has no
    /// init). A fixed array rather than a list: every step observes tasks, and this saves an
    /// allocation per observation.
    pub ns: [(NsEntry, Result<u64, Errno>); NsEntry::ALL.len()],
    /// The `NSpid:` line: the pid at every level from the machine's root task's pid namespace
    /// down to the task's own.
    pub nspid: NsPids,
    /// `getppid()`: the parent's pid in the task's own pid namespace, 0 if it is outside.
    pub ppid: i32,
    /// `getuid()`/`getgid()` as seen inside (65534 when unmapped).
    pub uid: u32,
    pub gid: u32,
    /// The effective capability set (`CapEff:`).
    pub cap_eff: u64,
    /// `gethostname()`.
    pub hostname: UtsName,
    /// Interfaces of the task's network namespace, sorted by ifindex.
    pub interfaces: Interfaces,
}

impl TaskView {
    /// A view with nothing read yet: every entry `ENOENT`, no pid, no name, no interface.
    pub fn empty() -> TaskView {
        TaskView {
            ns: NsEntry::ALL.map(|e| (e, Err(Errno::ENOENT))),
            nspid: NsPids::new(),
            ppid: 0,
            uid: 0,
            gid: 0,
            cap_eff: 0,
            hostname: UtsName::new(),
            interfaces: Interfaces::new(),
        }
    }

    /// The readlink result of one entry.
    pub fn ns(&self, entry: NsEntry) -> Result<u64, Errno> {
        self.ns
            .iter()
            .find(|(e, _)| *e == entry)
            .map(|(_, r)| *r)
            .unwrap_or(Err(Errno::ENOENT))
    }

    /// The task's pid in its own pid namespace (the last `NSpid` number).
    pub fn pid(&self) -> i32 {
        self.nspid.last().copied().unwrap_or(0)
    }
}

/// Whether a task runs, and if not, how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    Running,
    /// It called `exit(code)`.
    Exited(i32),
    /// It was killed by this signal (SIGKILL = 9 when its pid namespace's init died).
    Killed(i32),
}

/// Where the machine's root task stands: the real root helper may run inside a container, and
/// the model is booted in the same position so that depth limits and permissions agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The level of the root task's pid namespace (0 = the initial one).
    pub pid_ns_level: u32,
    /// The level of the root task's user namespace (0 = the initial one).
    pub user_ns_level: u32,
    pub uid: u32,
    pub gid: u32,
    /// The root task's effective (and permitted) capability set.
    pub cap_eff: u64,
    /// The root task's user namespace maps only id 0 (one uid, one gid) and denies
    /// setgroups, as an unprivileged start makes it (`unshare -r`: the caller's ids mapped
    /// to 0): then `setresuid(1000)` is EINVAL there, and a child namespace can map only 0.
    /// Otherwise every user namespace above the root maps all ids, as a container runtime
    /// does. Only meaningful with `user_ns_level` above 0.
    #[serde(default)]
    pub single_id_map: bool,
}

impl Default for Origin {
    /// Root with every capability in the initial namespaces.
    fn default() -> Self {
        Origin {
            pid_ns_level: 0,
            user_ns_level: 0,
            uid: 0,
            gid: 0,
            cap_eff: crate::capability::CAP_FULL_SET,
            single_id_map: false,
        }
    }
}

/// A machine: the tasks of a scenario and the system calls they make, answered as the
/// kernel answers them.
///
/// Both `nslab_sim::Kernel` and `nslab_real::RealMachine` implement it, so one scenario or
/// one property test runs on either and the results are compared. A backend implements
/// [`Machine::syscall`], which makes any [`Op`]; the methods named after the system calls
/// (`clone_task`, `unshare`, ...) are conveniences that build the operation and call it (a
/// backend may override them).
pub trait Machine {
    /// A short name for reports: `"sim"` or `"real"`.
    fn backend_name(&self) -> &'static str;

    /// The task every scenario starts from.
    fn root(&self) -> TaskId;

    /// Where the root task stands.
    fn origin(&self) -> Origin;

    /// Makes one operation as `task`: the child of a clone, `None` for every other call.
    /// [`Op::apply`] is the same call written the other way round.
    fn syscall(&mut self, task: TaskId, op: &Op) -> SysResult<Option<TaskId>>;

    /// `clone(2)` or `clone3(2)` made by `task`; the child is a new task handle.
    ///
    /// `clone3` always passes `SIGCHLD` as the exit signal (so `CLONE_PARENT` and
    /// `CLONE_THREAD` through `clone3` are `EINVAL`). The real backend cannot keep a task that
    /// shares its memory or suspends its parent: it passes `CLONE_VM`/`CLONE_VFORK` to the
    /// kernel (legacy `clone` only), reports the kernel's errno, and when the kernel accepts
    /// them answers `SysError::Refused`.
    fn clone_task(&mut self, task: TaskId, args: CloneArgs) -> SysResult<TaskId> {
        self.syscall(task, &Op::Clone(args))?.ok_or_else(|| {
            SysError::Fault(format!(
                "{} answered a clone without a child",
                self.backend_name()
            ))
        })
    }

    /// `unshare(2)` made by `task`.
    fn unshare(&mut self, task: TaskId, flags: u64) -> SysResult<()> {
        self.syscall(task, &Op::Unshare(flags)).map(drop)
    }

    /// `setns(2)` made by `task` with a namespace file or pidfd, and `nstype`.
    fn setns(&mut self, task: TaskId, fd: NsFd, nstype: u64) -> SysResult<()> {
        self.syscall(task, &Op::Setns { fd, nstype }).map(drop)
    }

    /// `exit(2)`: the task ends; its parent reaps it.
    fn exit(&mut self, task: TaskId, code: i32) -> SysResult<()> {
        self.syscall(task, &Op::Exit(code)).map(drop)
    }

    /// `setresuid(uid, uid, uid)`: leaving uid 0 clears the capabilities, as without
    /// `SECBIT_KEEP_CAPS`.
    fn setresuid(&mut self, task: TaskId, uid: u32) -> SysResult<()> {
        self.syscall(task, &Op::Setresuid(uid)).map(drop)
    }

    /// `setresgid(gid, gid, gid)`.
    fn setresgid(&mut self, task: TaskId, gid: u32) -> SysResult<()> {
        self.syscall(task, &Op::Setresgid(gid)).map(drop)
    }

    /// `capset`: removes these capabilities from the effective and permitted sets.
    fn drop_caps(&mut self, task: TaskId, caps: u64) -> SysResult<()> {
        self.syscall(task, &Op::DropCaps(caps)).map(drop)
    }

    /// `writer` writes `target`'s `uid_map` or `gid_map` (once per namespace). The writer
    /// opens `/proc/<target>/{uid,gid}_map` itself: a target that is gone gives `ENOENT`.
    fn write_id_map(
        &mut self,
        writer: TaskId,
        target: TaskId,
        kind: IdMapKind,
        map: &[IdMapExtent],
    ) -> SysResult<()> {
        let op = Op::WriteIdMap {
            target,
            kind,
            extents: map.to_vec(),
        };
        self.syscall(writer, &op).map(drop)
    }

    /// `sethostname(2)`.
    fn sethostname(&mut self, task: TaskId, name: &str) -> SysResult<()> {
        self.syscall(task, &Op::Sethostname(name.to_string()))
            .map(drop)
    }

    /// `SIOCSIFFLAGS` with `IFF_UP` on the named interface of the task's network namespace.
    fn link_up(&mut self, task: TaskId, ifname: &str) -> SysResult<()> {
        self.syscall(task, &Op::LinkUp(ifname.to_string()))
            .map(drop)
    }

    /// Writes `/proc/sys/user/max_<type>_namespaces` as `task` (the limit of its user
    /// namespace).
    fn set_max_namespaces(&mut self, task: TaskId, ns: NsType, max: u32) -> SysResult<()> {
        self.syscall(task, &Op::SetMaxNamespaces(ns, max)).map(drop)
    }

    /// What the task sees of itself.
    fn observe(&mut self, task: TaskId) -> SysResult<TaskView>;

    /// [`Machine::observe`] into a view the caller keeps, which a backend may fill in place
    /// (the model does: an observation then copies nothing). On an error the view is left
    /// as it was.
    fn observe_into(&mut self, task: TaskId, view: &mut TaskView) -> SysResult<()> {
        *view = self.observe(task)?;
        Ok(())
    }

    /// Whether the task runs; `ESRCH` only for a handle this machine never gave out.
    fn state(&mut self, task: TaskId) -> SysResult<TaskState>;
}
