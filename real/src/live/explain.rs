//! What the kernel shows for the task that is about to run the program, for `--explain`.
//!
//! The live commands call [`Explain::observed`] once that task is final (its namespaces
//! joined or made, its ids set, a new proc mounted), and only then let it execute the
//! program. For `unshare` and `nsenter` the task reads itself (`Proc::observe_self`); for
//! `clone`, whose child may share its parent's memory, the parent reads the child while the
//! child waits. What is read: readlink of the ten `/proc/<pid>/ns/*` entries, the
//! `NSpid:`, `Uid:`, `Gid:` and `CapEff:` lines of its status, its hostname and its
//! interfaces with their `IFF_UP` flag (getifaddrs(3)). The hostname and interfaces belong to
//! its uts and network namespaces: when those are not the reader's, the reader enters them
//! for the reading and returns (it is single-threaded, so setns(2) moves the whole process;
//! the namespace files are opened before and the caller's own kept open to return to).
//!
//! `/proc` is read through a directory fd opened before anything is mounted: `--mount-proc`
//! may cover the caller's `/proc` with the child's.

use super::{errno, LiveError};
use crate::observe::{parse_cap_eff, parse_ns_link, parse_nspid};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nslab_machine::{Errno, IdMapExtent, Interfaces, NsEntry, NsPids, TaskView, UtsName};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// Receives what the kernel shows (the binary compares it with the model).
pub trait Explain {
    /// The task that runs the program, as the kernel shows it, before it executes.
    fn observed(&mut self, seen: &Seen);
}

/// What the kernel shows for one task.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its pid as the caller's `/proc` shows it.
    pub pid: i32,
    /// `"child"`, or `"this process"` when the command executes the program itself.
    pub role: &'static str,
    /// The view, as the model's `observe` gives one: `nspid` from the caller's `/proc` mount's
    /// pid namespace down, `uid`/`gid` as the task itself sees them, `ppid` as getppid(2)
    /// would answer it.
    pub view: TaskView,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// The caller's `/proc`, held open.
pub struct Proc {
    dir: OwnedFd,
}

impl Proc {
    /// Opens `/proc` (before anything covers it).
    pub fn open() -> Result<Proc, LiveError> {
        let fd = nix::fcntl::open(
            "/proc",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| LiveError::sys("cannot open /proc", errno(e)))?;
        // SAFETY: the kernel just gave us this fd.
        Ok(Proc {
            dir: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn raw(&self) -> Option<i32> {
        Some(self.dir.as_raw_fd())
    }

    /// A file under `/proc`, read whole.
    pub(crate) fn read(&self, rel: &str) -> Result<String, Errno> {
        let fd = nix::fcntl::openat(
            self.raw(),
            rel,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        // SAFETY: the kernel just gave us this fd.
        let f = unsafe { std::fs::File::from_raw_fd(fd) };
        std::io::read_to_string(f).map_err(|e| super::io_errno(&e))
    }

    /// Opens a file under `/proc` (a namespace file).
    pub(crate) fn open_at(&self, rel: &str) -> Result<OwnedFd, Errno> {
        let fd = nix::fcntl::openat(
            self.raw(),
            rel,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        // SAFETY: the kernel just gave us this fd.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The inode number a namespace link names.
    pub(crate) fn ns_link(&self, rel: &str) -> Result<u64, Errno> {
        let target = nix::fcntl::readlinkat(self.raw(), rel).map_err(errno)?;
        parse_ns_link(&target.to_string_lossy()).ok_or(Errno::EINVAL)
    }

    /// The device and inode of a namespace file: its identity.
    pub(crate) fn ns_identity(&self, rel: &str) -> Option<(u64, u64)> {
        nix::sys::stat::fstatat(self.raw(), rel, AtFlags::empty())
            .ok()
            .map(|st| (st.st_dev, st.st_ino))
    }

    /// What the kernel shows for `who` (a pid as this `/proc` shows it, or `thread-self`):
    /// see the module's documentation. `parent_nspid` is the `NSpid` of its parent when the
    /// caller is that parent (for getppid(2)'s answer), `None` for the caller itself.
    pub fn observe(
        &self,
        who: &str,
        pid: i32,
        role: &'static str,
        parent_nspid: Option<&NsPids>,
    ) -> Seen {
        self.observe_with(who, pid, role, parent_nspid, true)
    }

    /// What the kernel shows for the calling process itself, as `role`: a task may always
    /// read its own `/proc` entries, whatever its credentials became (after joining a user
    /// namespace and changing ids it is no longer dumpable, and its parent could not read
    /// them). The pid is the first `NSpid` number, as this `/proc` shows it; the parent's pid
    /// is getppid(2)'s answer.
    pub(crate) fn observe_self(&self, role: &'static str) -> Seen {
        let status = self.read("thread-self/status").unwrap_or_default();
        let pid = parse_nspid(&status).first().copied().unwrap_or(0);
        self.observe_with("thread-self", pid, role, None, true)
    }

    /// The caller's own view before any call, without its interfaces: they are the caller's
    /// network namespace's, which the comparison shows as `the caller's` (listing them, on a
    /// host with many, cost a tenth of a millisecond of `--explain`).
    pub fn caller(&self) -> Seen {
        let me = nix::unistd::getpid().as_raw();
        self.observe_with("thread-self", me, "this process", None, false)
    }

    fn observe_with(
        &self,
        who: &str,
        pid: i32,
        role: &'static str,
        parent_nspid: Option<&NsPids>,
        with_interfaces: bool,
    ) -> Seen {
        let mut notes = Vec::new();
        let ns = NsEntry::ALL.map(|e| (e, self.ns_link(&format!("{who}/ns/{}", e.file_name()))));
        let status = self.read(&format!("{who}/status")).unwrap_or_else(|e| {
            notes.push(format!("{who}/status: {}", super::strerror(e)));
            String::new()
        });
        let nspid = parse_nspid(&status);
        let field = |name: &str| -> u32 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
        };
        let same_user =
            self.ns_identity(&format!("{who}/ns/user")) == self.ns_identity("thread-self/ns/user");
        // Status shows ids in the reader's user namespace; inside a new one, map them up
        // through the task's own maps (which show lower ids in the reader's namespace).
        let (uid, gid) = if same_user {
            (field("Uid:"), field("Gid:"))
        } else {
            let up = |map: &str, id: u32| {
                let extents = parse_id_map(&self.read(&format!("{who}/{map}")).unwrap_or_default());
                map_id_up(&extents, id).unwrap_or(65534)
            };
            (up("uid_map", field("Uid:")), up("gid_map", field("Gid:")))
        };
        let ppid = match parent_nspid {
            // getppid() of the caller itself.
            None => nix::unistd::getppid().as_raw(),
            // The parent is in the child's pid namespace only if the child is not deeper.
            Some(p) if p.len() == nspid.len() => p.last().copied().unwrap_or(0),
            Some(_) => 0,
        };
        let hostname = self
            .inside(who, NsEntry::Uts, || {
                nix::unistd::gethostname()
                    .map(|h| {
                        nslab_machine::fit::<{ nslab_machine::NEW_UTS_LEN }>(&h.to_string_lossy())
                    })
                    .map_err(errno)
            })
            .unwrap_or_else(|e| {
                notes.push(format!("hostname unreadable: {}", super::strerror(e)));
                UtsName::new()
            });
        let interfaces = if !with_interfaces {
            Ok(Interfaces::new())
        } else {
            self.inside(who, NsEntry::Net, crate::observe::interfaces)
        };
        let interfaces = interfaces.unwrap_or_else(|e| {
            notes.push(format!("interfaces unreadable: {}", super::strerror(e)));
            Interfaces::new()
        });
        Seen {
            pid,
            role,
            view: TaskView {
                ns,
                nspid,
                ppid,
                uid,
                gid,
                cap_eff: parse_cap_eff(&status),
                hostname,
                interfaces,
            },
            notes,
        }
    }

    /// Runs `f` in `who`'s namespace of type `entry`: here when it is the caller's own, else
    /// after setns(2) into it and back.
    fn inside<T>(
        &self,
        who: &str,
        entry: NsEntry,
        f: impl FnOnce() -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let theirs = format!("{who}/ns/{}", entry.file_name());
        let ours = format!("thread-self/ns/{}", entry.file_name());
        if self.ns_identity(&theirs) == self.ns_identity(&ours) {
            return f();
        }
        let back = self.open_at(&ours)?;
        let there = self.open_at(&theirs)?;
        let flag = entry.ns_type().clone_flag();
        crate::sys::setns(there.as_fd(), flag)?;
        let out = f();
        if let Err(e) = crate::sys::setns(back.as_fd(), flag) {
            // Nothing sensible can continue in the wrong namespace.
            eprintln!(
                "nslab: cannot return to the original {} namespace: {}",
                entry.file_name(),
                super::strerror(e)
            );
            std::process::exit(1);
        }
        out
    }
}

/// An id of the reader's user namespace as the map's namespace sees it (the kernel's
/// `from_kuid` through a map read from outside), if mapped.
fn map_id_up(map: &[IdMapExtent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.lower_first && (id - e.lower_first) < e.count)
        .map(|e| e.first + (id - e.lower_first))
}

/// The lines of a `uid_map`/`gid_map` file.
pub fn parse_id_map(text: &str) -> Vec<IdMapExtent> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some(IdMapExtent {
                first: w.next()??,
                lower_first: w.next()??,
                count: w.next()??,
            })
        })
        .collect()
}

/// The caller's starting position, for booting the model where it stands: uid, gid and
/// `CapEff` of this process; the pid namespace level as the real backend's root helper finds
/// it; the user namespace level 0 when this process is in the initial user namespace (its
/// fixed inode), else assumed 1 (a process cannot walk above its own user namespace with
/// `NS_GET_PARENT`). The text says how the levels were found.
pub fn caller_origin() -> (nslab_machine::Origin, String) {
    const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;
    let (mut origin, pid_method) = crate::helper::origin();
    let user = crate::observe::own_ns(NsEntry::User).ok();
    let user_method = if user == Some(PROC_USER_INIT_INO) {
        origin.user_ns_level = 0;
        "the initial user namespace"
    } else {
        origin.user_ns_level = 1;
        "not the initial user namespace, assumed level 1"
    };
    (origin, format!("pid: {pid_method}; user: {user_method}"))
}

/// How many numbers the `NSpid:` line of a status file has (the levels visible from its
/// `/proc`).
pub fn nspid_len(status: &str) -> usize {
    parse_nspid(status).len()
}

/// The limits of the caller's user namespace on the types of `flags` (`CLONE_NEW*`) from
/// `/proc/sys/user/max_*_namespaces`, which show the reader's own user namespace, for booting
/// the model with them.
pub fn namespace_limits(flags: u64) -> Vec<(nslab_machine::NsType, u32)> {
    nslab_machine::NsType::INSTALL_ORDER
        .into_iter()
        .filter(|t| flags & t.clone_flag() != 0)
        .filter_map(|t| {
            std::fs::read_to_string(format!("/proc/sys/user/{}", t.max_sysctl()))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(|n| (t, n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_are_read_and_mapped_up() {
        let map = parse_id_map("         0      65534          1\n  1000 100000 65536\nbad line\n");
        assert_eq!(map.len(), 2);
        assert_eq!(map_id_up(&map, 65534), Some(0));
        assert_eq!(map_id_up(&map, 100_005), Some(1005));
        // An id outside every extent is unmapped (the caller then shows the overflow id).
        assert_eq!(map_id_up(&map, 0), None);
        assert_eq!(map_id_up(&map, 165_536), None);
    }
}
