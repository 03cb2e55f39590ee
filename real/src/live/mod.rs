//! The live commands: `nslab unshare`, `nslab nsenter` and `nslab clone` run a program in new
//! or joined namespaces with the genuine system calls, as util-linux `unshare(1)` and
//! `nsenter(1)` and the lesson's C program do.
//!
//! Unlike the real backend's helpers, these run in the `nslab` process itself: it is
//! single-threaded when a subcommand starts (mimalloc starts no thread, and nothing here
//! starts one), so it may unshare, setns and fork directly. The argument parsing and the
//! mapping of an outcome to an exit status live in the binary (`src/cmd/`); everything that
//! talks to the kernel is here.
//!
//! What the three share: [`Program`] (the program to execute, prepared before any fork, with
//! the exit statuses of util-linux: 127 not found, 126 not executable), `Forwarder` (a
//! parent that waits for its child, forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT to it),
//! `exit_like` (the child's status becomes ours, a fatal signal re-raised), and the
//! `--explain` hook ([`explain`]).

pub mod clone;
pub mod explain;
pub mod nsenter;
pub mod unshare;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nslab_machine::Errno;
use std::ffi::{CString, OsString};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Why a live command stopped before its program ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveError {
    /// A step failed; the text is the whole message after `nslab <command>: `.
    Failed(String),
    /// The kernel refused a namespace call: `call` names it as util-linux does (`unshare`,
    /// `setns`, `clone`); the binary adds the model's rule.
    Refused {
        /// The system call.
        call: String,
        /// The exact call, for the model: `unshare(CLONE_NEWNET)`.
        flags: u64,
        /// The kernel's errno.
        errno: Errno,
        /// What the message says before the errno (`unshare failed`).
        what: String,
    },
    /// execvp(3) failed: exit 127 when the program does not exist, 126 otherwise.
    Exec {
        /// The program.
        program: String,
        /// Why `execvp` failed.
        errno: Errno,
    },
}

impl LiveError {
    /// The exit status util-linux gives for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            LiveError::Exec {
                errno: Errno::ENOENT,
                ..
            } => 127,
            LiveError::Exec { .. } => 126,
            _ => 1,
        }
    }

    /// A failed step with the kernel's errno, in util-linux's words: `{what}: {strerror}`.
    pub(crate) fn sys(what: impl fmt::Display, errno: Errno) -> LiveError {
        LiveError::Failed(format!("{what}: {}", strerror(errno)))
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Failed(s) => f.write_str(s),
            LiveError::Refused { what, errno, .. } => write!(f, "{what}: {}", strerror(*errno)),
            LiveError::Exec { program, errno } => {
                write!(f, "failed to execute {program}: {}", strerror(*errno))
            }
        }
    }
}

impl std::error::Error for LiveError {}

/// The C library's text for an errno (`No such file or directory`), as util-linux prints it.
pub(crate) fn strerror(e: Errno) -> &'static str {
    nix::errno::Errno::from_raw(e.as_raw()).desc()
}

/// The errno of a nix error.
pub(crate) fn errno(e: nix::Error) -> Errno {
    Errno::from_raw(e as i32)
}

/// The errno of an I/O error.
pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The program a live command executes, prepared before any fork: a child after a
/// `CLONE_VM` clone may not allocate.
#[derive(Debug)]
pub struct Program {
    argv: Vec<CString>,
    /// `argv`'s pointers and a NULL, for execvp(3). They point into the `CString`s' own
    /// buffers, which do not move while `argv` lives (and `argv` is never changed), so the
    /// type is not `Clone`.
    ptrs: Vec<*const libc::c_char>,
    display: String,
}

impl Program {
    /// `args` as given after the options; empty means `$SHELL`, else `/bin/sh`, as
    /// util-linux does.
    pub fn new(args: &[OsString]) -> Result<Program, LiveError> {
        let args: Vec<OsString> = if args.is_empty() {
            vec![std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into())]
        } else {
            args.to_vec()
        };
        Program::exactly(&args)
    }

    /// `args` as given, with no default (`nslab clone` defaults to bash itself).
    pub fn exactly(args: &[OsString]) -> Result<Program, LiveError> {
        let argv = args
            .iter()
            .map(|a| {
                CString::new(a.as_bytes()).map_err(|_| {
                    LiveError::Failed(format!(
                        "argument contains a NUL byte: {}",
                        a.to_string_lossy()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if argv.is_empty() {
            return Err(LiveError::Failed("no program to execute".into()));
        }
        let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Ok(Program {
            display: args[0].to_string_lossy().into_owned(),
            argv,
            ptrs,
        })
    }

    /// The program's name as given.
    pub(crate) fn name(&self) -> &str {
        &self.display
    }

    /// Executes the program in this process: `SIGPIPE` back to its default (Rust's runtime
    /// ignores it, and an ignored signal stays ignored across exec), every fd but 0, 1 and 2
    /// closed, then execvp(3). Returns only on failure.
    pub(crate) fn exec(&self) -> LiveError {
        let errno = self.exec_raw();
        LiveError::Exec {
            program: self.display.clone(),
            errno,
        }
    }

    /// [`Program::exec`] without allocating: for a child that shares its parent's memory.
    fn exec_raw(&self) -> Errno {
        // SAFETY: resetting a signal disposition to its default is async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        crate::sys::close_from(3);
        // SAFETY: argv[0] and every pointer of `ptrs` are NUL-terminated strings owned by
        // `self.argv`, alive until the call returns, and `ptrs` ends with NULL.
        unsafe { libc::execvp(self.argv[0].as_ptr(), self.ptrs.as_ptr()) };
        crate::sys::last_errno()
    }
}

/// How a waited-for child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildStatus {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

/// Ends this process the way its child ended, as util-linux does: the same exit status, or
/// the same fatal signal re-raised (without a core dump), so the caller's shell sees 128+N.
pub(crate) fn exit_like(status: ChildStatus) -> ! {
    match status {
        ChildStatus::Exited(code) => std::process::exit(code),
        ChildStatus::Signaled(sig) => {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: plain syscalls on this process: no core file, the default action for
            // `sig`, the signal unblocked, then raised.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                libc::signal(sig, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            // A signal whose default is to continue (or that is ignored): say it the shell way.
            std::process::exit(128 + sig)
        }
    }
}

/// The signals a waiting parent forwards to its child.
pub(crate) const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// A parent that waits for one child and forwards [`FORWARDED`] to it. Made before the fork:
/// it blocks those signals and `SIGCHLD`, so none is lost between the fork and the wait; the
/// child calls [`Forwarder::child`] at once to get the caller's mask back.
pub(crate) struct Forwarder {
    old: SigSet,
    set: SigSet,
}

impl Forwarder {
    /// Blocks the forwarded signals and `SIGCHLD`.
    pub(crate) fn block() -> Result<Forwarder, LiveError> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        set.add(Signal::SIGCHLD);
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .map_err(|e| LiveError::sys("sigprocmask failed", errno(e)))?;
        Ok(Forwarder { old, set })
    }

    /// In the child: the caller's signal mask again (exec keeps the mask).
    pub(crate) fn child(&self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }

    /// The caller's mask, for a child that must not call into nix (it may share memory).
    pub(crate) fn old_raw(&self) -> libc::sigset_t {
        *self.old.as_ref()
    }

    /// In the parent, when no child was made: the caller's mask again.
    pub(crate) fn restore(&self) {
        self.child();
    }

    /// In the parent: waits until `child` ends, forwarding signals, and reaps it.
    pub(crate) fn wait(&self, child: Pid) -> Result<ChildStatus, LiveError> {
        loop {
            if let Some(s) = reap(child, true)? {
                return Ok(s);
            }
            match self.set.wait() {
                Ok(Signal::SIGCHLD) => {}
                Ok(sig) => {
                    let _ = nix::sys::signal::kill(child, sig);
                }
                Err(nix::Error::EINTR) => {}
                Err(e) => return Err(LiveError::sys("sigwait failed", errno(e))),
            }
        }
    }
}

/// `waitpid(child)`, without blocking when `nohang`: how it ended, if it has.
pub(crate) fn reap(child: Pid, nohang: bool) -> Result<Option<ChildStatus>, LiveError> {
    let flags = nohang.then_some(WaitPidFlag::WNOHANG);
    loop {
        match waitpid(child, flags.map(|f| f | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Some(ChildStatus::Exited(code))),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return Ok(Some(ChildStatus::Signaled(sig as i32)))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(LiveError::sys("waitpid failed", errno(e))),
        }
    }
}

/// Writes a whole file in one write(2), as `/proc/<pid>/{uid,gid}_map` and `setgroups`
/// require.
pub(crate) fn write_once(path: &str, text: &str) -> Result<(), Errno> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_errno(&e))?;
    match f.write(text.as_bytes()) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err(Errno::EINVAL),
        Err(e) => Err(io_errno(&e)),
    }
}

/// `PR_SET_PDEATHSIG(sig)`, then a check that the parent (`parent`, a pidfd opened before
/// the fork) has not already died before the call, when the signal would never come.
/// getppid(2) cannot tell: in a new pid namespace it answers 0 either way.
pub(crate) fn kill_with_parent(sig: i32, parent: &OwnedFd) -> Result<(), LiveError> {
    let signal = nix::sys::signal::Signal::try_from(sig)
        .map_err(|e| LiveError::sys("prctl(PR_SET_PDEATHSIG) failed", errno(e)))?;
    nix::sys::prctl::set_pdeathsig(signal)
        .map_err(|e| LiveError::sys("prctl(PR_SET_PDEATHSIG) failed", errno(e)))?;
    if crate::sys::pidfd_exited(parent.as_fd(), 0) {
        // SAFETY: raising a signal in this process.
        unsafe { libc::raise(sig) };
        std::process::exit(1);
    }
    Ok(())
}

/// `setgroups(0)` (when allowed), `setresgid` and `setresuid`, as `-G` and `-S` ask; util-linux
/// sets the groups first.
pub(crate) fn set_ids(uid: Option<u32>, gid: Option<u32>) -> Result<(), LiveError> {
    if let Some(g) = gid {
        // EPERM when setgroups is denied in this user namespace: the groups then stay.
        match nix::unistd::setgroups(&[]) {
            Ok(()) | Err(nix::Error::EPERM) => {}
            Err(e) => return Err(LiveError::sys("setgroups failed", errno(e))),
        }
        crate::sys::setresgid(g).map_err(|e| LiveError::sys("setgid failed", e))?;
    }
    if let Some(u) = uid {
        crate::sys::setresuid(u).map_err(|e| LiveError::sys("setuid failed", e))?;
    }
    Ok(())
}

/// chroot(2) to `root` and chdir(2) to its `/`, then chdir to `wd`, as `-R` and `-w` ask.
pub(crate) fn change_root(
    root: Option<&std::path::Path>,
    wd: Option<&std::path::Path>,
) -> Result<(), LiveError> {
    if let Some(r) = root {
        nix::unistd::chroot(r).map_err(|e| {
            LiveError::sys(
                format!("cannot change root directory to {}", r.display()),
                errno(e),
            )
        })?;
        nix::unistd::chdir("/").map_err(|e| LiveError::sys("cannot chdir to '/'", errno(e)))?;
    }
    if let Some(d) = wd {
        nix::unistd::chdir(d)
            .map_err(|e| LiveError::sys(format!("cannot chdir to '{}'", d.display()), errno(e)))?;
    }
    Ok(())
}

/// This process's effective uid and gid (what `-r`, `-c` and the maps are written from).
pub fn effective_ids() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// The uid of a user name (the system's user database).
pub fn user_id(name: &str) -> Option<u32> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

/// The gid of a group name.
pub fn group_id(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// A signal by name (`KILL`, `SIGKILL`, any case) or number.
pub fn parse_signal(s: &str) -> Option<i32> {
    use nix::sys::signal::Signal;
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok().map(|s| s as i32);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().ok().map(|s| s as i32)
}

/// Whether `path` is a namespace file (statfs(2) says nsfs, `NSFS_MAGIC`).
pub fn is_ns_file(path: &std::path::Path) -> bool {
    const NSFS_MAGIC: u64 = 0x6e73_6673;
    // The field is signed in glibc's statfs and unsigned in musl's.
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type().0 as u64 == NSFS_MAGIC)
        .unwrap_or(false)
}

/// The inode number of a namespace file (the namespace's), following links.
pub fn ns_inode(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

/// The type of the namespace a file refers to (`NS_GET_NSTYPE`, ioctl_ns(2)), or `None` for
/// a file that is not a namespace.
pub fn ns_type_of(path: &std::path::Path) -> Option<nslab_machine::NsType> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb7 << 8 | 0x3;
    let f = std::fs::File::open(path).ok()?;
    // SAFETY: this ioctl takes no argument and returns the type as an integer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE as _) };
    if r <= 0 {
        return None;
    }
    nslab_machine::NsType::INSTALL_ORDER
        .into_iter()
        .find(|t| t.clone_flag() == r as u64)
}

/// This process's hostname (gethostname(2)), or `None` if it cannot be read.
pub fn own_hostname() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
}

/// `SIGPIPE` ignored, as Rust's start-up does for a program with a Rust `main` (the `nslab`
/// binary has a C `main`): a write to a reader that has gone is then `EPIPE`.
pub fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to "ignore" touches no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_give_util_linux_s_statuses() {
        let e = |errno| LiveError::Exec {
            program: "x".into(),
            errno,
        };
        assert_eq!(e(Errno::ENOENT).exit_code(), 127);
        assert_eq!(e(Errno::EACCES).exit_code(), 126);
        assert_eq!(LiveError::Failed("x".into()).exit_code(), 1);
        assert_eq!(
            e(Errno::ENOENT).to_string(),
            "failed to execute x: No such file or directory"
        );
    }

    #[test]
    fn a_program_is_prepared_whole_and_refuses_nul() {
        let p = Program::exactly(&["sh".into(), "-c".into()]).expect("plain words");
        assert_eq!(p.name(), "sh");
        assert_eq!(p.ptrs.len(), 3);
        assert!(p.ptrs[2].is_null());
        let nul = std::ffi::OsString::from(std::ffi::OsStr::from_bytes(b"a\0b"));
        assert!(Program::exactly(&[nul]).is_err());
        assert!(Program::exactly(&[]).is_err());
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("KILL"), Some(libc::SIGKILL));
        assert_eq!(parse_signal("sigterm"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("15"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("NOSUCH"), None);
    }
}
