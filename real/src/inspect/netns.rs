//! Persistent network namespaces in iproute2's convention, so that `ip netns` and
//! `nslab netns` see each other's: a namespace named NAME is an nsfs bind mount on the empty
//! file `/run/netns/NAME`, and `/run/netns` is a shared mount (so that a mount namespace made
//! later, as `ip netns exec` makes one, still sees names added and removed after it).
//!
//! The steps follow iproute2 6.1 (ip/ipnetns.c), described in our words:
//! - `add`: create `/run/netns` (0755) if missing; take `flock(LOCK_EX)` on it; make it a
//!   shared mount (when that fails with `EINVAL` because it is not a mount point, bind-mount it
//!   onto itself first); create the file with `O_CREAT|O_EXCL` (a duplicate is `EEXIST`);
//!   remember the current network namespace, `unshare(CLONE_NEWNET)`, bind-mount
//!   `/proc/thread-self/ns/net` onto the file, and `setns` back. On failure: back, detach,
//!   unlink.
//! - `delete`: `umount2(MNT_DETACH)` and unlink. The namespace lives on while a process or an
//!   fd holds it.
//! - `exec`: `setns` into it, `unshare(CLONE_NEWNS)`, make `/` a recursive slave (so nothing
//!   mounted here reaches the host), remount `/sys` (sysfs shows the network namespace of
//!   whoever mounted it), bind-mount each `/etc/netns/NAME/X` over `/etc/X`, then exec.
//!
//! One difference, on purpose: iproute2 never undoes its `/run/netns` self-bind. nslab
//! records in `/run/nslab-netns-mount` the mount it made (and whether it created the
//! directory); when `delete` leaves `/run/netns` empty and that mount is still the one it made,
//! it detaches the mount (and removes the directory it created), so that the host is left as
//! it was. A self-bind that `ip netns` or anything else made is never touched.
//!
//! Creating a namespace in the calling process is only correct in a single-threaded process
//! (in a multithreaded one `unshare` would move only the calling thread): the functions that
//! do refuse otherwise. The `nslab` binary calls them before it starts any thread.

use crate::sys;
use nix::fcntl::{open, FlockArg, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nslab_machine::Errno;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the names live (iproute2's `NETNS_RUN_DIR`).
pub(crate) const NETNS_RUN_DIR: &str = "/run/netns";
/// Per-namespace configuration files (iproute2's `NETNS_ETC_DIR`).
pub(crate) const NETNS_ETC_DIR: &str = "/etc/netns";
/// Where nslab remembers the `/run/netns` mount it made.
pub const MADE_MARKER: &str = "/run/nslab-netns-mount";
/// `NAME_MAX` (include/uapi/linux/limits.h).
pub(crate) const NAME_MAX: usize = 255;

/// What went wrong, with the rule or the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsError {
    /// The name breaks one of iproute2's rules (which one is said).
    BadName(String),
    /// A system call failed.
    Sys(String),
}

impl std::fmt::Display for NetnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsError::BadName(s) | NetnsError::Sys(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for NetnsError {}

fn sys_err(what: impl std::fmt::Display, e: Errno) -> NetnsError {
    NetnsError::Sys(format!("{what}: {}", e.description().to_lowercase()))
}

fn nix_errno(e: nix::errno::Errno) -> Errno {
    Errno::from_raw(e as i32)
}

/// iproute2's name rules: not empty, at most `NAME_MAX` bytes, no `/`, not `.` or `..`.
pub(crate) fn validate_name(name: &str) -> Result<(), NetnsError> {
    let why = if name.is_empty() {
        "a name may not be empty"
    } else if name.len() > NAME_MAX {
        "a name is at most NAME_MAX (255) bytes"
    } else if name.contains('/') {
        "a name may not contain '/'"
    } else if name == "." || name == ".." {
        "a name may not be '.' or '..'"
    } else {
        return Ok(());
    };
    Err(NetnsError::BadName(format!(
        "invalid netns name \"{name}\": {why}"
    )))
}

/// The file of a name.
pub(crate) fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Refuses in a multithreaded process.
fn single_threaded(what: &str) -> Result<(), NetnsError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if threads == 1 {
        Ok(())
    } else {
        Err(NetnsError::Sys(format!(
            "{what} must run in a single-threaded process (this one has {threads} threads)"
        )))
    }
}

/// `/run/netns`, locked (`flock(LOCK_EX)`) while it is held.
struct Locked {
    _dir: nix::fcntl::Flock<std::fs::File>,
}

/// Locks `/run/netns`. A `delete` that held the lock before may have removed the directory
/// (or its mount) that this process opened and waited on: the lock counts only if the path
/// still leads to the directory locked, else it is taken again.
fn lock_run_dir() -> Result<Locked, NetnsError> {
    for _ in 0..10 {
        let f = std::fs::File::open(NETNS_RUN_DIR)
            .map_err(|e| sys_err(format!("cannot open {NETNS_RUN_DIR}"), io_errno(&e)))?;
        let l = nix::fcntl::Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| sys_err(format!("cannot lock {NETNS_RUN_DIR}"), nix_errno(e)))?;
        let locked = l.metadata().map(|m| (m.dev(), m.ino()));
        let now = std::fs::metadata(NETNS_RUN_DIR).map(|m| (m.dev(), m.ino()));
        match (locked, now) {
            (Ok(a), Ok(b)) if a == b => return Ok(Locked { _dir: l }),
            (_, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(sys_err(
                    format!("cannot open {NETNS_RUN_DIR}"),
                    Errno::ENOENT,
                ))
            }
            _ => continue,
        }
    }
    Err(NetnsError::Sys(format!(
        "cannot lock {NETNS_RUN_DIR}: it keeps changing"
    )))
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// The mount id of the mount whose mount point is exactly `/run/netns` (the top one), from
/// this process's mountinfo.
fn run_dir_mount_id() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines()
        .rev()
        .filter(|l| l.split(' ').nth(4) == Some(NETNS_RUN_DIR))
        .find_map(|l| l.split(' ').next()?.parse().ok())
}

/// Creates `/run/netns` if needed and makes it a shared mount, as iproute2 does; records
/// what it made in [`MADE_MARKER`].
fn prepare_run_dir() -> Result<Locked, NetnsError> {
    // A concurrent `delete` may remove an empty /run/netns between the mkdir and the lock.
    let mut tries = 0;
    loop {
        match prepare_run_dir_once() {
            Err(NetnsError::Sys(m)) if m.ends_with("no such file or directory") && tries < 3 => {
                tries += 1;
            }
            other => return other,
        }
    }
}

fn prepare_run_dir_once() -> Result<Locked, NetnsError> {
    let created = match std::fs::create_dir(NETNS_RUN_DIR) {
        Ok(()) => {
            // mkdir is subject to the umask; iproute2 wants 0755.
            let _ = std::fs::set_permissions(
                NETNS_RUN_DIR,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            );
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            return Err(sys_err(
                format!("mkdir {NETNS_RUN_DIR} failed"),
                io_errno(&e),
            ))
        }
    };
    let lock = lock_run_dir()?;
    let shared = || {
        mount(
            Some(""),
            NETNS_RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => {}
        Err(nix::errno::Errno::EINVAL) => {
            // Not a mount point yet: bind it onto itself, then make that shared.
            mount(
                Some(NETNS_RUN_DIR),
                NETNS_RUN_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| {
                sys_err(
                    format!("mount --bind {NETNS_RUN_DIR} {NETNS_RUN_DIR} failed"),
                    nix_errno(e),
                )
            })?;
            if let Some(id) = run_dir_mount_id() {
                let _ = std::fs::write(
                    MADE_MARKER,
                    format!("mount_id={id}\ncreated_dir={}\n", u8::from(created)),
                );
            }
            shared().map_err(|e| {
                sys_err(
                    format!("mount --make-shared {NETNS_RUN_DIR} failed"),
                    nix_errno(e),
                )
            })?;
        }
        Err(e) => {
            return Err(sys_err(
                format!("mount --make-shared {NETNS_RUN_DIR} failed"),
                nix_errno(e),
            ))
        }
    }
    Ok(lock)
}

/// Creates the empty file for `name` (`O_CREAT|O_EXCL`, mode 0, as iproute2).
fn create_file(name: &str) -> Result<PathBuf, NetnsError> {
    let p = path_of(name);
    let fd = open(
        &p,
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        sys_err(
            format!("cannot create namespace file \"{}\"", p.display()),
            nix_errno(e),
        )
    })?;
    // SAFETY: `open` just returned this fd; we own it and close it here.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(p)
}

/// Undoes a half-made name: detach and unlink.
fn remove_file(p: &Path) {
    let _ = umount2(p, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(p);
}

/// Bind-mounts the namespace file `src` on `dst`.
fn bind(src: &str, dst: &Path) -> Result<(), NetnsError> {
    mount(Some(src), dst, Some("none"), MsFlags::MS_BIND, None::<&str>).map_err(|e| {
        sys_err(
            format!("bind {src} -> {} failed", dst.display()),
            nix_errno(e),
        )
    })
}

/// `ip netns add NAME`: a new network namespace, kept by a bind mount at `/run/netns/NAME`.
pub fn add(name: &str) -> Result<(), NetnsError> {
    validate_name(name)?;
    single_threaded("netns add")?;
    let _lock = prepare_run_dir()?;
    let p = create_file(name)?;
    let here = open(
        "/proc/thread-self/ns/net",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_err("cannot open the current network namespace", nix_errno(e)))?;
    // SAFETY: `open` just returned this fd; we own it.
    let here = unsafe { OwnedFd::from_raw_fd(here) };
    if let Err(e) = sys::unshare(nslab_machine::sched::CLONE_NEWNET) {
        remove_file(&p);
        return Err(sys_err("failed to create a new network namespace", e));
    }
    let bound = bind("/proc/thread-self/ns/net", &p);
    // Back to where we were, whatever happened.
    let back = sys::setns(here.as_fd(), nslab_machine::sched::CLONE_NEWNET);
    if let Err(e) = back {
        remove_file(&p);
        return Err(sys_err(
            "cannot return to the original network namespace",
            e,
        ));
    }
    if let Err(e) = bound {
        remove_file(&p);
        return Err(e);
    }
    Ok(())
}

/// `ip netns attach NAME PID`: names the network namespace of a running process.
pub fn attach(name: &str, pid: i32) -> Result<(), NetnsError> {
    validate_name(name)?;
    let src = format!("/proc/{pid}/ns/net");
    std::fs::metadata(&src).map_err(|e| sys_err(format!("cannot open {src}"), io_errno(&e)))?;
    let _lock = prepare_run_dir()?;
    let p = create_file(name)?;
    if let Err(e) = bind(&src, &p) {
        remove_file(&p);
        return Err(e);
    }
    Ok(())
}

/// `ip netns delete NAME`: detach and unlink; then undo nslab's own `/run/netns` mount when
/// nothing is left in it.
pub fn delete(name: &str) -> Result<(), NetnsError> {
    validate_name(name)?;
    let p = path_of(name);
    let lock = lock_run_dir().map_err(|_| {
        sys_err(
            format!("cannot remove namespace file \"{}\"", p.display()),
            Errno::ENOENT,
        )
    })?;
    let _ = umount2(&p, MntFlags::MNT_DETACH);
    std::fs::remove_file(&p).map_err(|e| {
        sys_err(
            format!("cannot remove namespace file \"{}\"", p.display()),
            io_errno(&e),
        )
    })?;
    cleanup_run_dir(lock);
    Ok(())
}

/// When `/run/netns` is empty and its top mount is the one nslab made, detaches it (and
/// removes the directory when nslab created it). Called with the lock held, which is released
/// last.
fn cleanup_run_dir(lock: Locked) {
    let Ok(marker) = std::fs::read_to_string(MADE_MARKER) else {
        return;
    };
    let field = |k: &str| {
        marker
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let (Some(id), created) = (field("mount_id"), field("created_dir") == Some(1)) else {
        return;
    };
    if run_dir_mount_id() != Some(id) {
        // Someone unmounted or remounted it since: the record is stale.
        let _ = std::fs::remove_file(MADE_MARKER);
        return;
    }
    let empty = std::fs::read_dir(NETNS_RUN_DIR)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !empty {
        return;
    }
    if umount2(NETNS_RUN_DIR, MntFlags::MNT_DETACH).is_ok() {
        let _ = std::fs::remove_file(MADE_MARKER);
        if created {
            // Still under the lock (a directory can be removed while open), so that a
            // process waiting for the lock finds it gone and starts again; remove_dir
            // refuses if anything is in it.
            let _ = std::fs::remove_dir(NETNS_RUN_DIR);
        }
    }
    drop(lock);
}

/// One name of `list`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The name under `/run/netns`.
    pub name: String,
    /// The id the kernel assigned it in the caller's network namespace, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
}

/// `ip netns list`: the names in `/run/netns` (in directory order, as iproute2), with their
/// ids where assigned.
pub fn list() -> Result<Vec<Entry>, NetnsError> {
    let dir = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(sys_err(
                format!("cannot read {NETNS_RUN_DIR}"),
                io_errno(&e),
            ))
        }
    };
    let mut sock = super::nsid::NsidSocket::open();
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let id = std::fs::File::open(e.path())
            .ok()
            .and_then(|f| sock.as_mut()?.nsid(f.as_fd()))
            .filter(|id| *id >= 0);
        out.push(Entry { name, id });
    }
    Ok(out)
}

/// `(dev, ino)` of a path.
fn id_of(p: &str) -> Result<(u64, u64), Errno> {
    std::fs::metadata(p)
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| io_errno(&e))
}

/// `ip netns identify PID`: the names of the network namespace of `pid`.
pub fn identify(pid: i32) -> Result<Vec<String>, NetnsError> {
    let src = format!("/proc/{pid}/ns/net");
    let want = id_of(&src).map_err(|e| sys_err(format!("cannot read {src}"), e))?;
    let mut out = Vec::new();
    for e in list()? {
        if id_of(&path_of(&e.name).to_string_lossy()) == Ok(want) {
            out.push(e.name);
        }
    }
    Ok(out)
}

/// `ip netns pids NAME`: the processes in the named network namespace.
pub fn pids(name: &str) -> Result<Vec<i32>, NetnsError> {
    validate_name(name)?;
    let p = path_of(name);
    let want = id_of(&p.to_string_lossy())
        .map_err(|e| sys_err(format!("cannot open network namespace \"{name}\""), e))?;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if id_of(&format!("/proc/{pid}/ns/net")) == Ok(want) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// `ip netns exec NAME CMD...`: this process enters the namespace, gets a private view of
/// `/sys` and `/etc` in a new mount namespace, closes every fd above 2 (iproute2 leaves them
/// open), and becomes `argv`. Returns only on failure.
/// Warnings about single `/etc/netns` entries are written to stderr, as iproute2 does, and do
/// not stop the exec.
pub fn exec(name: &str, argv: &[String]) -> NetnsError {
    match enter(name) {
        Ok(()) => {}
        Err(e) => return e,
    }
    let Some(prog) = argv.first() else {
        return NetnsError::BadName("netns exec needs a command".into());
    };
    // The command gets stdin, stdout and stderr only (real-backend-pitfalls.md: nothing this
    // process or its caller opened leaks into a program running in another namespace).
    // Nothing here holds an fd above 2 any more: `enter` closed what it opened.
    sys::close_from(3);
    let err =
        std::os::unix::process::CommandExt::exec(std::process::Command::new(prog).args(&argv[1..]));
    sys_err(format!("exec of \"{prog}\" failed"), io_errno(&err))
}

/// What `exec` does before it execs.
pub(crate) fn enter(name: &str) -> Result<(), NetnsError> {
    validate_name(name)?;
    single_threaded("netns exec")?;
    let p = path_of(name);
    let fd = open(&p, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
        sys_err(
            format!("cannot open network namespace \"{name}\""),
            nix_errno(e),
        )
    })?;
    // SAFETY: `open` just returned this fd; we own it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    sys::setns(fd.as_fd(), nslab_machine::sched::CLONE_NEWNET).map_err(|e| {
        sys_err(
            format!("setting the network namespace \"{name}\" failed"),
            e,
        )
    })?;
    sys::unshare(nslab_machine::sched::CLONE_NEWNS)
        .map_err(|e| sys_err("unshare(CLONE_NEWNS) failed", e))?;
    // Nothing mounted from here on may propagate to the host.
    mount(
        Some(""),
        "/",
        Some("none"),
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| sys_err("\"mount --make-rslave /\" failed", nix_errno(e)))?;
    // sysfs shows the network devices of the namespace that mounted it: mount a new one.
    let ro = nix::sys::statvfs::statvfs("/sys")
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    if umount2("/sys", MntFlags::MNT_DETACH).is_ok() {
        let flags = if ro {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        mount(Some(name), "/sys", Some("sysfs"), flags, None::<&str>)
            .map_err(|e| sys_err("mount of /sys failed", nix_errno(e)))?;
    }
    // /etc/netns/NAME/X over /etc/X.
    let etc = Path::new(NETNS_ETC_DIR).join(name);
    if let Ok(dir) = std::fs::read_dir(&etc) {
        for e in dir.flatten() {
            let src = e.path();
            let dst = Path::new("/etc").join(e.file_name());
            if let Err(err) = mount(
                Some(&src),
                &dst,
                Some("none"),
                MsFlags::MS_BIND,
                None::<&str>,
            ) {
                eprintln!(
                    "nslab netns: bind {} -> {} failed: {}",
                    src.display(),
                    dst.display(),
                    nix_errno(err).description().to_lowercase()
                );
            }
        }
    }
    Ok(())
}
