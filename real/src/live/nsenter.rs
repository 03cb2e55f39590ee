//! `nslab nsenter`: run a program in the namespaces of another process (or of namespace
//! files), as util-linux `nsenter(1)` does.
//!
//! Every fd is opened before the first setns(2) (a file given with `=FILE` or the target's
//! `/proc/<pid>/ns/<type>`, its root and working directory), as util-linux does, so that a
//! joined mount namespace cannot hide them. The namespaces taken from the target are joined
//! in one setns(2) with a pidfd (Linux 5.8+): all at once or none, with the kernel checking
//! every permission before it changes anything. Namespaces given as files are joined one
//! file at a time, in util-linux's order (user first), a user namespace before the pidfd
//! call and the rest after it. Where `pidfd_open(2)` does not exist, or the pidfd call
//! answers `EINVAL` (a kernel before 5.8, or a namespace that may not be joined, such as the
//! caller's own user namespace), the target's files are joined one by one instead, which
//! names the namespace at fault in util-linux's words. After joining a pid namespace the command forks (the caller itself
//! cannot move into it) unless `--no-fork`.

use super::explain::{Explain, Proc};
use super::{errno, exit_like, Forwarder, LiveError, Program};
use nix::unistd::{fork, ForkResult};
use nslab_machine::sched::CLONE_NEWPID;
use nslab_machine::{Errno, NsType};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// The order util-linux joins namespace files in: user first, mount late.
pub(crate) const FILE_ORDER: [NsType; 8] = [
    NsType::User,
    NsType::Cgroup,
    NsType::Ipc,
    NsType::Uts,
    NsType::Net,
    NsType::Pid,
    NsType::Mnt,
    NsType::Time,
];

/// Where a directory option takes its directory from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirFrom {
    /// The target's (`/proc/<pid>/root` or `/proc/<pid>/cwd`).
    Target,
    /// This directory.
    Path(PathBuf),
}

/// What `nslab nsenter` does, resolved from its options by the binary.
#[derive(Debug)]
pub struct NsenterSpec {
    /// `--target PID`: the process whose namespaces are entered.
    pub target: Option<i32>,
    /// The type options given, each with its `=FILE` if any.
    pub types: Vec<(NsType, Option<PathBuf>)>,
    /// `--all`: every type of the target not given above (the user namespace only when it
    /// is not the caller's own).
    pub all: bool,
    /// `--setuid`.
    pub setuid: Option<u32>,
    /// `--setgid`.
    pub setgid: Option<u32>,
    /// `--preserve-credentials`.
    pub preserve_credentials: bool,
    /// `--root`.
    pub root: Option<DirFrom>,
    /// `--wd`.
    pub wd: Option<DirFrom>,
    /// `--no-fork`.
    pub no_fork: bool,
    /// The program run inside.
    pub program: Program,
}

/// One namespace to join: its type, and the file it comes from (`None`: from the target).
pub type Join = (NsType, Option<PathBuf>);

/// The `/proc/<pid>/ns/` file of a type: the task's own pid and time namespaces.
pub(crate) fn ns_file(ty: NsType) -> &'static str {
    ty.proc_name()
}

/// The namespaces to join, in `FILE_ORDER` (util-linux's order): the type options, and with `--all` the rest of
/// the target's. An option without a file and without a target is an error (util-linux's
/// message).
pub fn plan(spec: &NsenterSpec) -> Result<Vec<Join>, LiveError> {
    let mut out: Vec<Join> = Vec::new();
    for ty in FILE_ORDER {
        if let Some((_, file)) = spec.types.iter().find(|(t, _)| *t == ty) {
            if file.is_none() && spec.target.is_none() {
                return Err(LiveError::Failed(format!(
                    "neither filename nor target pid supplied for ns/{}",
                    ns_file(ty)
                )));
            }
            out.push((ty, file.clone()));
        } else if spec.all {
            let Some(pid) = spec.target else {
                return Err(LiveError::Failed(
                    "no target PID specified for --all".into(),
                ));
            };
            if ty == NsType::User {
                let ident = |p: String| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                };
                let theirs = ident(format!("/proc/{pid}/ns/user"));
                if theirs.is_some() && theirs == ident("/proc/self/ns/user".into()) {
                    continue;
                }
            }
            out.push((ty, None));
        }
    }
    Ok(out)
}

/// Runs the command with the namespaces of [`plan`]. Returns only on failure.
pub fn run(spec: &NsenterSpec, joins: &[Join], mut explain: Option<&mut dyn Explain>) -> LiveError {
    match run_inner(spec, joins, &mut explain) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// An fd opened before joining: a namespace file or the target's pidfd.
struct Opened {
    /// One setns(2) with a pidfd for these flags.
    pidfd: Option<(OwnedFd, u64)>,
    /// One setns(2) per file, in order.
    files: Vec<(NsType, OwnedFd)>,
}

fn open_file(path: &str) -> Result<OwnedFd, LiveError> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| LiveError::sys(format!("cannot open {path}"), super::io_errno(&e)))
}

fn open_all(spec: &NsenterSpec, joins: &[Join]) -> Result<Opened, LiveError> {
    let mut opened = Opened {
        pidfd: None,
        files: Vec::new(),
    };
    let from_target: u64 = joins
        .iter()
        .filter(|(_, f)| f.is_none())
        .map(|(t, _)| t.clone_flag())
        .sum();
    if let (Some(pid), true) = (spec.target, from_target != 0) {
        match crate::sys::pidfd_open(pid) {
            Ok(fd) => {
                // The target must still have the namespace files (a zombie has none): check
                // the way util-linux would fail, naming the first file.
                for (ty, f) in joins {
                    if f.is_none() {
                        let path = format!("/proc/{pid}/ns/{}", ns_file(*ty));
                        if let Err(e) = std::fs::metadata(&path) {
                            return Err(LiveError::sys(
                                format!("cannot open {path}"),
                                super::io_errno(&e),
                            ));
                        }
                    }
                }
                opened.pidfd = Some((fd, from_target));
            }
            // No pidfds (before 5.3) or no such process: the target's files, which fail as
            // util-linux's do when the target does not exist.
            Err(_) => {
                for (ty, f) in joins {
                    if f.is_none() {
                        let fd = open_file(&format!("/proc/{pid}/ns/{}", ns_file(*ty)))?;
                        opened.files.push((*ty, fd));
                    }
                }
            }
        }
    }
    for (ty, f) in joins {
        if let Some(path) = f {
            let fd = open_file(&path.to_string_lossy())?;
            opened.files.push((*ty, fd));
        }
    }
    // Files in util-linux's order.
    opened
        .files
        .sort_by_key(|(t, _)| FILE_ORDER.iter().position(|x| x == t));
    Ok(opened)
}

fn open_dir(from: &DirFrom, target: Option<i32>, which: &str) -> Result<OwnedFd, LiveError> {
    let path = match from {
        DirFrom::Path(p) => p.to_string_lossy().into_owned(),
        DirFrom::Target => match target {
            Some(pid) => format!("/proc/{pid}/{which}"),
            None => {
                return Err(LiveError::Failed(format!(
                    "neither filename nor target pid supplied for {which}"
                )))
            }
        },
    };
    open_file(&path)
}

fn setns_file(ty: NsType, fd: &OwnedFd) -> Result<(), LiveError> {
    crate::sys::setns(fd.as_fd(), ty.clone_flag()).map_err(|e| LiveError::Refused {
        call: "setns".into(),
        flags: ty.clone_flag(),
        errno: e,
        what: format!("reassociate to namespace 'ns/{}' failed", ns_file(ty)),
    })
}

fn run_inner(
    spec: &NsenterSpec,
    joins: &[Join],
    explain: &mut Option<&mut dyn Explain>,
) -> Result<std::convert::Infallible, LiveError> {
    let proc = match explain {
        Some(_) => Some(Proc::open()?),
        None => None,
    };
    let opened = open_all(spec, joins)?;
    let root = spec
        .root
        .as_ref()
        .map(|r| open_dir(r, spec.target, "root"))
        .transpose()?;
    let wd = spec
        .wd
        .as_ref()
        .map(|w| open_dir(w, spec.target, "cwd"))
        .transpose()?;

    // A user namespace file first, then the target's namespaces at once, then the rest.
    let (user_files, other_files): (Vec<_>, Vec<_>) =
        opened.files.iter().partition(|(t, _)| *t == NsType::User);
    for (ty, fd) in &user_files {
        setns_file(*ty, fd)?;
    }
    if let Some((fd, flags)) = &opened.pidfd {
        match crate::sys::setns(fd.as_fd(), *flags) {
            Ok(()) => {}
            // Before Linux 5.8 setns(2) takes no pidfd (EINVAL); and where the kernel
            // refuses the set as invalid, one file at a time names the namespace at fault
            // in util-linux's words. A refused pidfd call changed nothing: it is all or none.
            Err(Errno::EINVAL) => {
                let pid = spec.target.unwrap_or(0);
                for ty in FILE_ORDER {
                    if flags & ty.clone_flag() != 0 {
                        let file = open_file(&format!("/proc/{pid}/ns/{}", ns_file(ty)))?;
                        setns_file(ty, &file)?;
                    }
                }
            }
            Err(e) => {
                return Err(LiveError::Refused {
                    call: "setns".into(),
                    flags: *flags,
                    errno: e,
                    what: format!(
                        "reassociate to the namespaces of pid {} ({}) failed",
                        spec.target.unwrap_or(0),
                        nslab_machine::sched::flags_to_string(*flags)
                    ),
                })
            }
        }
    }
    for (ty, fd) in &other_files {
        setns_file(*ty, fd)?;
    }

    if let Some(r) = &root {
        nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(r))
            .and_then(|()| nix::unistd::chroot("."))
            .map_err(|e| LiveError::sys("cannot change root directory", errno(e)))?;
        if wd.is_none() {
            nix::unistd::chdir("/").map_err(|e| LiveError::sys("cannot chdir to '/'", errno(e)))?;
        }
    }
    if let Some(w) = &wd {
        nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(w))
            .map_err(|e| LiveError::sys("cannot change directory", errno(e)))?;
    }
    drop((root, wd, opened));

    let joined_user = joins.iter().any(|(t, _)| *t == NsType::User);
    if joined_user && !spec.preserve_credentials {
        // As util-linux: root of the joined user namespace unless -S/-G say otherwise.
        super::set_ids(
            Some(spec.setuid.unwrap_or(0)),
            Some(spec.setgid.unwrap_or(0)),
        )?;
    } else {
        super::set_ids(spec.setuid, spec.setgid)?;
    }

    let joined_pid = joins.iter().any(|(t, _)| t.clone_flag() == CLONE_NEWPID);
    if !joined_pid || spec.no_fork {
        if let (Some(x), Some(proc)) = (explain.as_deref_mut(), &proc) {
            x.observed(&proc.observe_self("this process"));
        }
        return Err(spec.program.exec());
    }

    let fwd = Forwarder::block()?;
    // SAFETY: single-threaded, as for unshare.
    match unsafe { fork() }.map_err(|e| LiveError::sys("fork failed", errno(e)))? {
        ForkResult::Child => {
            fwd.child();
            // The child reports what the kernel shows for it before it executes the program
            // (its parent, no longer dumpable after joining a user namespace, might not be
            // allowed to read it).
            if let (Some(x), Some(proc)) = (explain.as_deref_mut(), &proc) {
                x.observed(&proc.observe_self("child"));
            }
            Err(spec.program.exec())
        }
        ForkResult::Parent { child } => exit_like(fwd.wait(child)?),
    }
}
