//! Every namespace of the running system, and what keeps each alive.
//!
//! A namespace lives while something holds a reference to it. From user space the holders
//! that can be seen are:
//! - a task: the ten links of `/proc/<pid>/ns/` (the process) and of
//!   `/proc/<pid>/task/<tid>/ns/` (a thread that moved on its own, with `unshare` or `setns`
//!   in a multithreaded process);
//! - a bind mount of an nsfs file (`ip netns add`, `unshare --net=FILE`): an `nsfs` line in the
//!   `mountinfo` of a mount namespace, whose root field is the namespace (`net:[4026532177]`)
//!   and whose device field is the nsfs device;
//! - an open fd of a process (`/proc/<pid>/fd/N` linking to `net:[...]`);
//! - a child's link to it: the owner user namespace of any namespace (`NS_GET_USERNS`) and the
//!   parent of a pid or user namespace (`NS_GET_PARENT`), which the kernel keeps alive while
//!   the child lives ("hidden" when nothing else holds it).
//!
//! Identity is `(st_dev, st_ino)`. A process that exits during the scan is skipped without a
//! word (an exiting process is normal); what cannot be read for lack of privilege (`EACCES`,
//! `EPERM`) is listed in [`Scan::unreadable`] and the scan goes on.

use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nslab_machine::{Errno, NsEntry, NsType};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// `(st_dev, st_ino)` of an nsfs inode: a namespace's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId {
    /// The nsfs device (`st_dev`).
    pub dev: u64,
    /// The inode number (what readlink shows).
    pub ino: u64,
}

/// The initial user namespace's inode (`PROC_USER_INIT_INO`, include/linux/proc_ns.h).
pub(crate) const INIT_USER_INO: u64 = 0xEFFF_FFFD;
/// The initial pid namespace's inode (`PROC_PID_INIT_INO`).
pub(crate) const INIT_PID_INO: u64 = 0xEFFF_FFFC;

/// A link to another namespace (owner or parent), as far as it could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    /// There is none: an initial namespace, or a type without parents.
    None,
    /// The namespace it links to.
    Ns(NsId),
    /// The kernel refused to say (`EPERM`: the link leads above the caller's user namespace).
    Unknown(Errno),
}

impl Rel {
    /// The namespace, if known.
    pub fn ns(self) -> Option<NsId> {
        match self {
            Rel::Ns(n) => Some(n),
            _ => None,
        }
    }
}

/// One way a namespace is held.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    /// `/proc/<pid>/ns/<entry>` of a process (its thread-group leader).
    Process {
        /// The process.
        pid: i32,
        /// The `/proc/<pid>/ns/` entry.
        entry: NsEntry,
    },
    /// `/proc/<pid>/task/<tid>/ns/<entry>` of a thread whose namespace differs from its
    /// leader's.
    Thread {
        /// The thread group's leader.
        pid: i32,
        /// The thread.
        tid: i32,
        /// The `/proc/<pid>/task/<tid>/ns/` entry.
        entry: NsEntry,
    },
    /// An nsfs bind mount at `path` in the mount namespace `mnt_ns` (as read through `pid`).
    Mount {
        /// The mount point.
        path: String,
        /// The inode of the mount namespace that has the mount.
        mnt_ns: u64,
        /// A process of that mount namespace, through which it was read.
        pid: i32,
    },
    /// Open file `fd` of process `pid`.
    Fd {
        /// The process.
        pid: i32,
        /// The file descriptor.
        fd: i32,
    },
    /// Nothing else was found: the parent of the pid or user namespace `child`.
    Parent {
        /// The child namespace.
        child: NsId,
    },
    /// Nothing else was found: the owner of the namespace `of`.
    Owner {
        /// The namespace it owns.
        of: NsId,
    },
}

impl Holder {
    /// The kind, as the HELD-BY column names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Holder::Process { .. } => "process",
            Holder::Thread { .. } => "thread",
            Holder::Mount { .. } => "mount",
            Holder::Fd { .. } => "fd",
            Holder::Parent { .. } => "parent-link",
            Holder::Owner { .. } => "owner-link",
        }
    }
}

/// One namespace found.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Its identity.
    pub id: NsId,
    /// Its type.
    pub ty: NsType,
    /// Every holder found, sorted.
    pub holders: Vec<Holder>,
    /// Processes whose `ns/<type>` link (not `*_for_children`) is this namespace, sorted.
    pub procs: Vec<i32>,
    /// The owning user namespace (for a user namespace, its parent).
    pub owner: Rel,
    /// The parent pid or user namespace.
    pub parent: Rel,
    /// For a user namespace: the uid of its creator (`NS_GET_OWNER_UID`).
    pub owner_uid: Option<u32>,
    /// A path that opens it: `/proc/<pid>/ns/<entry>`, a mount point, or `/proc/<pid>/fd/N`.
    pub path: Option<String>,
}

impl Namespace {
    /// `net:[4026531833]`.
    pub(crate) fn label(&self) -> String {
        format!("{}:[{}]", self.ty.proc_name(), self.id.ino)
    }
}

/// One process (thread-group leader).
#[derive(Clone, Debug)]
pub struct Process {
    /// Its pid in the pid namespace of the reading process's /proc.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// The uid: the owner of `/proc/<pid>` (the effective uid, as util-linux shows it), or the
    /// real uid once the status is loaded.
    pub uid: u32,
    /// The effective uid (from the status; the owner of `/proc/<pid>` before).
    pub(crate) euid: u32,
    /// `comm` (`Name:` of status).
    pub(crate) comm: String,
    /// Its pid at every pid-namespace level below the /proc mount's, outermost first (empty
    /// until the status is loaded).
    pub nspid: Vec<i32>,
    /// `CapEff` (0 until the status is loaded).
    pub(crate) cap_eff: u64,
    /// The ten links, where readable.
    pub(crate) ns: [Option<NsId>; 10],
}

impl Process {
    /// The namespace of `entry`.
    pub fn ns_of(&self, entry: NsEntry) -> Option<NsId> {
        let i = NsEntry::ALL.iter().position(|e| *e == entry)?;
        self.ns[i]
    }

    /// The command line (`sleep 30`), or `comm` for a kernel thread; `None` once it exited.
    pub fn command(&self) -> String {
        match std::fs::read(format!("/proc/{}/cmdline", self.pid)) {
            Ok(b) if !b.is_empty() => {
                let s: Vec<String> = b
                    .split(|c| *c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                s.join(" ")
            }
            _ => self.comm.clone(),
        }
    }
}

/// Everything a scan found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Every namespace found, by identity.
    pub namespaces: BTreeMap<NsId, Namespace>,
    /// Every process read, by pid.
    pub processes: BTreeMap<i32, Process>,
    /// What could not be read, and why (`/proc/1/ns: Permission denied`).
    pub unreadable: Vec<String>,
}

/// What to look at.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// Threads whose namespaces differ from their leader's.
    pub threads: bool,
    /// Open namespace fds.
    pub fds: bool,
    /// nsfs bind mounts in every mount namespace readable.
    pub mounts: bool,
    /// Owners, parents and the hidden namespaces behind them (ioctls on every namespace).
    pub relations: bool,
    /// `/proc/<pid>/status` of every process (`NSpid`, `CapEff`, real and effective uid);
    /// without it those are read on demand (by `Process::load_status`, inside this crate).
    pub status: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: true,
            fds: true,
            mounts: true,
            relations: true,
            status: true,
        }
    }
}

/// An errno from an io error.
fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// Whether an error means the process went away (skipped silently).
fn gone(e: Errno) -> bool {
    e == Errno::ENOENT || e == Errno::ESRCH
}

/// fstat(2) of an fd.
fn fstat_id(fd: &OwnedFd) -> Result<NsId, Errno> {
    nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))
        .map(|st| NsId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
        .map_err(|e| Errno::from_raw(e as i32))
}

impl Process {
    /// Reads `/proc/<pid>/status` for what the scan does not read by default: the real and
    /// effective uid, `NSpid` and `CapEff`. A process that exited keeps what it had.
    pub(crate) fn load_status(&mut self) {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return;
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "Uid" => {
                    let mut it = v.split_whitespace().map(|x| x.parse().unwrap_or(0));
                    self.uid = it.next().unwrap_or(self.uid);
                    self.euid = it.next().unwrap_or(self.euid);
                }
                "NSpid" => {
                    self.nspid = v
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                }
                "CapEff" => self.cap_eff = u64::from_str_radix(v, 16).unwrap_or(0),
                _ => {}
            }
        }
    }
}

/// The type whose readlink starts with `name:[`.
fn type_of_link(link: &[u8]) -> Option<(NsType, u64)> {
    let s = std::str::from_utf8(link).ok()?;
    let (name, rest) = s.split_once(":[")?;
    let ino = rest.strip_suffix(']')?.parse().ok()?;
    let ty = match name {
        "mnt" => NsType::Mnt,
        "uts" => NsType::Uts,
        "ipc" => NsType::Ipc,
        "pid" => NsType::Pid,
        "net" => NsType::Net,
        "user" => NsType::User,
        "cgroup" => NsType::Cgroup,
        "time" => NsType::Time,
        _ => return None,
    };
    Some((ty, ino))
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `makedev` of a `major:minor` field.
fn dev_of(field: &str) -> Option<u64> {
    let (ma, mi) = field.split_once(':')?;
    Some(nix::sys::stat::makedev(ma.parse().ok()?, mi.parse().ok()?))
}

impl Scan {
    /// Records a holder; `path` (a way to open the namespace) is asked only for the first.
    fn add(&mut self, id: NsId, ty: NsType, holder: Holder, path: impl FnOnce() -> Option<String>) {
        let n = self.namespaces.entry(id).or_insert_with(|| Namespace {
            id,
            ty,
            holders: Vec::new(),
            procs: Vec::new(),
            owner: Rel::None,
            parent: Rel::None,
            owner_uid: None,
            path: None,
        });
        if let Holder::Process { pid, entry } = &holder {
            if entry.ns_type() == ty
                && !matches!(entry, NsEntry::PidForChildren | NsEntry::TimeForChildren)
            {
                n.procs.push(*pid);
            }
        }
        if n.path.is_none() {
            n.path = path();
        }
        n.holders.push(holder);
    }

    fn cannot(&mut self, what: String, e: Errno) {
        self.unreadable
            .push(format!("{what}: {}", e.description().to_lowercase()));
    }
}

/// Scans the whole system.
pub fn scan(opts: ScanOptions) -> Scan {
    let mut s = Scan::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        s.unreadable.push("/proc: cannot be read".into());
        return s;
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    // One process per mount namespace, to read that namespace's mountinfo through.
    let mut mnt_reps: Vec<(NsId, i32)> = Vec::new();
    let mut buf = Vec::with_capacity(1024);
    for pid in pids {
        scan_process(&mut s, pid, opts, &mut mnt_reps, &mut buf);
    }
    if opts.mounts {
        for (mnt, pid) in mnt_reps {
            scan_mounts(&mut s, pid, mnt.ino);
        }
    }
    if opts.relations {
        relations(&mut s);
    }
    for n in s.namespaces.values_mut() {
        n.holders.sort();
        n.holders.dedup();
        n.procs.sort_unstable();
        n.procs.dedup();
    }
    s
}

/// Opens `name` under the directory `dir` (`openat`).
fn open_at(dir: Option<RawFd>, name: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(dir, name, flags | OFlag::O_CLOEXEC, Mode::empty())
        // SAFETY: `openat` just returned this fd and nothing else owns it.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .map_err(|e| Errno::from_raw(e as i32))
}

/// `fstatat` relative to a directory fd, following the magic link: `(dev, ino)`.
fn stat_at(dir: RawFd, name: &str) -> Result<NsId, Errno> {
    nix::sys::stat::fstatat(Some(dir), name, nix::fcntl::AtFlags::empty())
        .map(|st| NsId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
        .map_err(|e| Errno::from_raw(e as i32))
}

/// One process: everything is read relative to an fd of `/proc/<pid>`, so that each lookup
/// walks one or two path components instead of four (the scan's largest cost).
fn scan_process(
    s: &mut Scan,
    pid: i32,
    opts: ScanOptions,
    mnt_reps: &mut Vec<(NsId, i32)>,
    buf: &mut Vec<u8>,
) {
    let dir = match open_at(
        None,
        &format!("/proc/{pid}"),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
    ) {
        Ok(d) => d,
        Err(e) => {
            if !gone(e) {
                s.cannot(format!("/proc/{pid}"), e);
            }
            return;
        }
    };
    let dfd = dir.as_raw_fd();
    // The owner of /proc/<pid> is the task's effective uid (what util-linux shows as UID).
    let Ok(st) = nix::sys::stat::fstat(dfd) else {
        return;
    };
    // `stat`: comm, ppid and the thread count, without the longer `status`.
    buf.clear();
    match open_at(Some(dfd), "stat", OFlag::O_RDONLY) {
        Ok(f) => {
            // One read: the whole line fits (the kernel writes it at once).
            buf.resize(1024, 0);
            match nix::unistd::read(f.as_raw_fd(), buf) {
                Ok(n) => buf.truncate(n),
                Err(_) => return,
            }
        }
        Err(e) => {
            if !gone(e) {
                s.cannot(format!("/proc/{pid}/stat"), e);
            }
            return;
        }
    }
    let text = String::from_utf8_lossy(buf);
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return;
    };
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the comm: state (3), ppid (4), ..., num_threads (20): indices from field 3.
    let ppid = rest.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let threads: u32 = rest.get(17).and_then(|v| v.parse().ok()).unwrap_or(1);
    // `flags` (field 9): a kernel thread (`PF_KTHREAD`) has no file table of its own, so its
    // empty `fd/` is not listed.
    const PF_KTHREAD: u64 = 0x0020_0000;
    let kthread = rest
        .get(6)
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|f| f & PF_KTHREAD != 0);

    let mut links = [None; 10];
    let mut denied = None;
    for (i, entry) in NsEntry::ALL.iter().enumerate() {
        let rel = ns_rel(*entry);
        match stat_at(dfd, rel) {
            Ok(id) => {
                links[i] = Some(id);
                s.add(
                    id,
                    entry.ns_type(),
                    Holder::Process { pid, entry: *entry },
                    || Some(format!("/proc/{pid}/{rel}")),
                );
            }
            Err(e) if gone(e) => {}
            Err(e) => denied = Some(e),
        }
    }
    if let Some(e) = denied {
        s.cannot(format!("/proc/{pid}/ns"), e);
    }
    if let Some(m) = links[6] {
        if !mnt_reps.iter().any(|(id, _)| *id == m) {
            mnt_reps.push((m, pid));
        }
    }
    // The threads' links and the fd links need the same access as the process's links
    // (ptrace read access): where those were refused, so would these be.
    let refused = denied.is_some() && links.iter().all(Option::is_none);
    if opts.threads && threads > 1 && !refused {
        scan_threads(s, pid, &links);
    }
    if opts.fds && !kthread && !refused {
        scan_fds(s, pid, dfd);
    }
    let mut p = Process {
        pid,
        ppid,
        uid: st.st_uid,
        euid: st.st_uid,
        comm,
        nspid: Vec::new(),
        cap_eff: 0,
        ns: links,
    };
    if opts.status {
        p.load_status();
    }
    s.processes.insert(pid, p);
}

/// `ns/<file>` for an entry, as a static string.
fn ns_rel(e: NsEntry) -> &'static str {
    match e {
        NsEntry::Net => "ns/net",
        NsEntry::Uts => "ns/uts",
        NsEntry::Ipc => "ns/ipc",
        NsEntry::Pid => "ns/pid",
        NsEntry::PidForChildren => "ns/pid_for_children",
        NsEntry::User => "ns/user",
        NsEntry::Mnt => "ns/mnt",
        NsEntry::Cgroup => "ns/cgroup",
        NsEntry::Time => "ns/time",
        NsEntry::TimeForChildren => "ns/time_for_children",
    }
}

/// Threads whose links differ from the leader's (read relative to an fd of the task
/// directory).
fn scan_threads(s: &mut Scan, pid: i32, leader: &[Option<NsId>; 10]) {
    let Ok(mut dir) = nix::dir::Dir::open(
        format!("/proc/{pid}/task").as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let tdir = dir.as_raw_fd();
    let tids: Vec<i32> = dir
        .iter()
        .flatten()
        .filter_map(|e| e.file_name().to_str().ok()?.parse().ok())
        .filter(|tid| *tid != pid)
        .collect();
    let mut rel = String::with_capacity(48);
    for tid in tids {
        for (i, entry) in NsEntry::ALL.iter().enumerate() {
            rel.clear();
            use std::fmt::Write as _;
            let _ = write!(rel, "{tid}/{}", ns_rel(*entry));
            match stat_at(tdir, &rel) {
                Ok(id) if leader[i] != Some(id) => s.add(
                    id,
                    entry.ns_type(),
                    Holder::Thread {
                        pid,
                        tid,
                        entry: *entry,
                    },
                    || Some(format!("/proc/{pid}/task/{rel}")),
                ),
                Ok(_) => {}
                // A thread that exited: the next one.
                Err(e) if gone(e) && *entry == NsEntry::Net => break,
                Err(_) => {}
            }
        }
    }
}

/// Open fds that are namespaces: each `fd/N` link is read, and only one that names a
/// namespace (`net:[...]`) is followed with `fstatat`.
fn scan_fds(s: &mut Scan, pid: i32, dfd: RawFd) {
    let mut dir = match nix::dir::Dir::openat(
        Some(dfd),
        "fd",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(e) => {
            let e = Errno::from_raw(e as i32);
            if !gone(e) {
                s.cannot(format!("/proc/{pid}/fd"), e);
            }
            return;
        }
    };
    let fdir = dir.as_raw_fd();
    let mut found: Vec<(i32, NsType)> = Vec::new();
    for e in dir.iter().flatten() {
        let name = e.file_name();
        let Ok(name) = name.to_str() else { continue };
        let Ok(fd) = name.parse::<i32>() else {
            continue;
        };
        let Ok(link) = nix::fcntl::readlinkat(Some(fdir), name) else {
            continue;
        };
        if let Some((ty, _)) = type_of_link(link.as_bytes()) {
            found.push((fd, ty));
        }
    }
    for (fd, ty) in found {
        if let Ok(id) = stat_at(fdir, &fd.to_string()) {
            s.add(id, ty, Holder::Fd { pid, fd }, || {
                Some(format!("/proc/{pid}/fd/{fd}"))
            });
        }
    }
}

/// nsfs mounts in the mount namespace of `pid`.
fn scan_mounts(s: &mut Scan, pid: i32, mnt_ns: u64) {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) {
        Ok(t) => t,
        Err(e) => {
            let e = errno_of(&e);
            if !gone(e) {
                s.cannot(format!("/proc/{pid}/mountinfo"), e);
            }
            return;
        }
    };
    for line in text.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source ...
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        if !tail.starts_with("nsfs ") {
            continue;
        }
        let f: Vec<&str> = head.split(' ').collect();
        if f.len() < 5 {
            continue;
        }
        let (Some(dev), Some((ty, ino))) = (dev_of(f[2]), type_of_link(f[3].as_bytes())) else {
            continue;
        };
        let mp = unescape(f[4]);
        let open_path = format!("/proc/{pid}/root{mp}");
        s.add(
            NsId { dev, ino },
            ty,
            Holder::Mount {
                path: mp,
                mnt_ns,
                pid,
            },
            || Some(open_path),
        );
    }
}

/// Owners and parents, and the hidden namespaces found through them.
fn relations(s: &mut Scan) {
    // Open every known namespace once; hidden ones arrive as fds from the ioctls.
    let mut queue: Vec<(NsId, OwnedFd)> = Vec::new();
    let ids: Vec<NsId> = s.namespaces.keys().copied().collect();
    for id in ids {
        let n = &s.namespaces[&id];
        let Some(p) = n.path.clone() else { continue };
        let Ok(c) = CString::new(p.clone()) else {
            continue;
        };
        match nix::fcntl::open(
            c.as_c_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            // SAFETY: `open` just returned this fd and nothing else owns it.
            Ok(fd) => queue.push((id, unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })),
            Err(e) => {
                let e = Errno::from_raw(e as i32);
                if !gone(e) {
                    s.cannot(format!("open {p}"), e);
                }
            }
        }
    }
    let mut seen: BTreeSet<NsId> = s.namespaces.keys().copied().collect();
    let mut warned: HashMap<&'static str, bool> = HashMap::new();
    while let Some((id, fd)) = queue.pop() {
        let ty = s.namespaces[&id].ty;
        // The owner (for a user namespace that is its parent, asked below).
        let owner = if ty == NsType::User {
            Rel::None
        } else {
            match sys::ns_get_userns(fd.as_fd()) {
                Ok(ofd) => match fstat_id(&ofd) {
                    Ok(oid) => {
                        if seen.insert(oid) {
                            s.add(oid, NsType::User, Holder::Owner { of: id }, || None);
                            queue.push((oid, ofd));
                        }
                        Rel::Ns(oid)
                    }
                    Err(e) => Rel::Unknown(e),
                },
                Err(e) => {
                    if !warned.insert("owner", true).unwrap_or(false) {
                        s.cannot(
                            format!(
                                "NS_GET_USERNS on {} (and maybe others)",
                                s.namespaces[&id].label()
                            ),
                            e,
                        );
                    }
                    Rel::Unknown(e)
                }
            }
        };
        // The parent, for the two hierarchical types.
        let parent = if matches!(ty, NsType::User | NsType::Pid) {
            let initial = (ty == NsType::User && id.ino == INIT_USER_INO)
                || (ty == NsType::Pid && id.ino == INIT_PID_INO);
            match sys::ns_get_parent(fd.as_fd()) {
                Ok(pfd) => match fstat_id(&pfd) {
                    Ok(pid) => {
                        if seen.insert(pid) {
                            s.add(pid, ty, Holder::Parent { child: id }, || None);
                            queue.push((pid, pfd));
                        }
                        Rel::Ns(pid)
                    }
                    Err(e) => Rel::Unknown(e),
                },
                Err(Errno::EPERM) if initial => Rel::None,
                Err(e) => {
                    if !warned.insert("parent", true).unwrap_or(false) {
                        s.cannot(
                            format!(
                                "NS_GET_PARENT on {} (above the caller's user namespace)",
                                s.namespaces[&id].label()
                            ),
                            e,
                        );
                    }
                    Rel::Unknown(e)
                }
            }
        } else {
            Rel::None
        };
        let owner_uid = if ty == NsType::User {
            sys::ns_get_owner_uid(fd.as_fd()).ok()
        } else {
            None
        };
        let n = s.namespaces.get_mut(&id).expect("added above");
        // A user namespace's owner is its parent (NS_GET_USERNS would give the same).
        n.owner = if ty == NsType::User { parent } else { owner };
        n.parent = if ty == NsType::User {
            Rel::None
        } else {
            parent
        };
        n.owner_uid = owner_uid;
    }
}

/// The capabilities `p` has in the user namespace `target`, and why (the rule of
/// `cap_capable`, security/commoncap.c): in its own user namespace and below it, its effective
/// set, except that in a namespace created in its own by its euid (and below that one) it has
/// every capability; elsewhere none.
pub fn caps_in(scan: &Scan, p: &Process, target: NsId) -> String {
    let Some(own) = p.ns_of(NsEntry::User) else {
        return "unknown (user ns link unreadable)".into();
    };
    let mut ns = target;
    for _ in 0..40 {
        if ns == own {
            // In its own user namespace, or in one below it (where the same set applies).
            let place = if ns == target {
                "own user ns"
            } else {
                "its user ns is an ancestor"
            };
            return if p.cap_eff == 0 {
                format!("none ({place}, no effective caps)")
            } else if p.cap_eff.count_ones() >= 41 {
                format!("all ({place}, effective set full)")
            } else {
                format!("{:#x} ({place}, effective set)", p.cap_eff)
            };
        }
        let Some(n) = scan.namespaces.get(&ns) else {
            return "unknown".into();
        };
        match n.owner {
            Rel::Ns(parent) => {
                if parent == own && n.owner_uid == Some(p.euid) {
                    return format!("all (euid {} owns user:[{}])", p.euid, ns.ino);
                }
                ns = parent;
            }
            Rel::None => return "none (not in or below its user ns)".into(),
            Rel::Unknown(e) => return format!("unknown ({} above)", e.name()),
        }
    }
    "unknown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_ns(s: &mut Scan, ino: u64, parent: Option<u64>, owner_uid: u32) -> NsId {
        let id = NsId { dev: 4, ino };
        s.namespaces.insert(
            id,
            Namespace {
                id,
                ty: NsType::User,
                holders: Vec::new(),
                procs: Vec::new(),
                owner: parent.map_or(Rel::None, |p| Rel::Ns(NsId { dev: 4, ino: p })),
                parent: Rel::None,
                owner_uid: Some(owner_uid),
                path: None,
            },
        );
        id
    }

    fn process(user: NsId, euid: u32, cap_eff: u64) -> Process {
        let mut ns = [None; 10];
        ns[5] = Some(user);
        Process {
            pid: 100,
            ppid: 1,
            uid: euid,
            euid,
            comm: "t".into(),
            nspid: vec![100],
            cap_eff,
            ns,
        }
    }

    /// `cap_capable`'s three answers: the own user namespace gives the effective set; the
    /// owner (by euid) of a namespace created in the process's user namespace has every
    /// capability there and below; elsewhere nothing.
    #[test]
    fn caps_follow_cap_capable() {
        let mut s = Scan::default();
        let u0 = user_ns(&mut s, INIT_USER_INO, None, 0);
        let u1 = user_ns(&mut s, 4026532000, Some(INIT_USER_INO), 1000);
        let u2 = user_ns(&mut s, 4026532001, Some(4026532000), 1000);
        let owner = process(u0, 1000, 0);
        assert_eq!(
            caps_in(&s, &owner, u1),
            "all (euid 1000 owns user:[4026532000])"
        );
        assert_eq!(
            caps_in(&s, &owner, u2),
            "all (euid 1000 owns user:[4026532000])"
        );
        assert_eq!(
            caps_in(&s, &owner, u0),
            "none (own user ns, no effective caps)"
        );
        let other = process(u0, 1001, 0);
        assert_eq!(
            caps_in(&s, &other, u1),
            "none (its user ns is an ancestor, no effective caps)"
        );
        let root = process(u0, 0, (1 << 41) - 1);
        assert_eq!(
            caps_in(&s, &root, u2),
            "all (its user ns is an ancestor, effective set full)"
        );
        let inside = process(u1, 0, (1 << 41) - 1);
        assert_eq!(
            caps_in(&s, &inside, u1),
            "all (own user ns, effective set full)"
        );
        assert_eq!(
            caps_in(&s, &inside, u0),
            "none (not in or below its user ns)"
        );
        let some = process(u2, 0, 1 << 21);
        assert_eq!(
            caps_in(&s, &some, u2),
            "0x200000 (own user ns, effective set)"
        );
    }

    #[test]
    fn mountinfo_escapes_and_links() {
        assert_eq!(unescape("/run/a\\040b"), "/run/a b");
        assert_eq!(unescape("/x\\"), "/x\\");
        assert_eq!(
            type_of_link(b"net:[4026532177]"),
            Some((NsType::Net, 4026532177))
        );
        assert_eq!(type_of_link(b"socket:[12]"), None);
        assert_eq!(type_of_link(b"/dev/null"), None);
    }
}
