//! `nslab clone FLAGS [PROGRAM [ARGS...]]`: the lesson's C program as a command.
//!
//! Legacy `clone(2)` is called as the C program calls it, through the C library's wrapper
//! with a stack of its own (1 MiB) and the flags plus `SIGCHLD` (when the exit-signal byte is
//! empty): so even `CLONE_VM` and `CLONE_VFORK` work, the child running only async-signal-safe
//! code (two writes and execvp) on its own stack. Flags that only `clone3(2)` can pass
//! (`CLONE_NEWTIME`, `CLONE_CLEAR_SIGHAND`, `CLONE_INTO_CGROUP`) go through a fork-like
//! `clone3` without a stack; with those, `CLONE_VM` is refused (the child would run on the
//! parent's stack).
//!
//! The parent prints `clone() returned PID` and only then lets the child print `In child
//! process.` (a pipe; the C program leaves the order to the scheduler, a transcript cannot),
//! except with `CLONE_VFORK`, where the parent sleeps until the child executes. It waits,
//! forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT, prints `child has terminated` and ends as
//! the child ended.

use super::explain::{Explain, Proc};
use super::{exit_like, Forwarder, LiveError, Program};
use nslab_machine::sched::{
    CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SETTLS, CLONE_VFORK, CLONE_VM,
};
use nslab_machine::{CloneVia, Errno};
use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What `nslab clone` does.
#[derive(Debug)]
pub struct CloneSpec {
    /// The `CLONE_*` flags (and, for legacy clone, an exit signal in the low byte).
    pub flags: u64,
    /// Legacy `clone` or `clone3`.
    pub via: CloneVia,
    /// The program the child runs.
    pub program: Program,
}

/// The size of the child's stack for legacy clone, as in the lesson's program.
const STACK_BYTES: usize = 1024 * 1024;

/// What the child of a legacy clone gets: everything prepared before the call.
struct ChildCtx<'a> {
    program: &'a Program,
    /// The read end of the go pipe, or -1 (`CLONE_VFORK`).
    go: RawFd,
    /// The caller's signal mask.
    mask: libc::sigset_t,
}

/// Writes bytes to fd 2 or 1 without allocating.
fn raw_write(fd: i32, b: &[u8]) {
    // SAFETY: writing a live buffer.
    unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
}

/// The child of a legacy clone: no allocation, only async-signal-safe calls (it may share
/// its parent's memory).
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the ChildCtx the parent keeps alive until the child has executed or
    // exited (it waits for the child), or, without CLONE_VM, a copy of it.
    let ctx = unsafe { &*(arg as *const ChildCtx<'_>) };
    // SAFETY: restoring the caller's signal mask and reading one byte are plain syscalls.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, &ctx.mask, std::ptr::null_mut());
        if ctx.go >= 0 {
            let mut b = 0u8;
            while libc::read(ctx.go, (&mut b as *mut u8).cast(), 1) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
        }
    }
    raw_write(1, b"In child process.\n");
    let e = ctx.program.exec_raw();
    raw_write(2, b"nslab clone: failed to execute ");
    raw_write(2, ctx.program.name().as_bytes());
    raw_write(2, b": ");
    raw_write(2, super::strerror(e).as_bytes());
    raw_write(2, b"\n");
    // SAFETY: ends this child only, without running the parent's exit handlers.
    unsafe { libc::_exit(if e == Errno::ENOENT { 127 } else { 126 }) }
}

/// Runs the command. Returns only on failure.
pub fn run(spec: &CloneSpec, mut explain: Option<&mut dyn Explain>) -> LiveError {
    match run_inner(spec, &mut explain) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn run_inner(
    spec: &CloneSpec,
    explain: &mut Option<&mut dyn Explain>,
) -> Result<std::convert::Infallible, LiveError> {
    let proc = match explain {
        Some(_) => Some(Proc::open()?),
        None => None,
    };
    let vfork = spec.flags & CLONE_VFORK != 0;
    if spec.via == CloneVia::Clone3 && spec.flags & CLONE_VM != 0 {
        return Err(LiveError::Failed(
            "CLONE_VM with a clone3-only flag: the child would need a stack of its own, which nslab clone gives only to legacy clone".into(),
        ));
    }
    let (go_r, go_w): (Option<OwnedFd>, Option<OwnedFd>) = if vfork {
        (None, None)
    } else {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| LiveError::sys("pipe failed", super::errno(e)))?;
        (Some(r), Some(w))
    };
    let fwd = Forwarder::block()?;
    // Flush what is buffered, so that a child sharing nothing still prints after it.
    let _ = std::io::stdout().flush();

    let refused = |errno: Errno| LiveError::Refused {
        call: "clone".into(),
        flags: spec.flags,
        errno,
        what: "clone failed".into(),
    };
    let pid: i32 = match spec.via {
        CloneVia::Clone => {
            // The child gets the caller's mask back first thing.
            let mask = fwd.old_raw();
            let ctx = ChildCtx {
                program: &spec.program,
                go: go_r.as_ref().map_or(-1, |f| f.as_raw_fd()),
                mask,
            };
            // SAFETY: an anonymous private mapping nobody else refers to.
            let stack = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    STACK_BYTES,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                    -1,
                    0,
                )
            };
            if stack == libc::MAP_FAILED {
                return Err(LiveError::sys("mmap failed", crate::sys::last_errno()));
            }
            let flags = if spec.flags & 0xff == 0 {
                spec.flags | libc::SIGCHLD as u64
            } else {
                spec.flags
            };
            let mut ptid: libc::c_int = -1;
            let mut ctid: libc::c_int = 0;
            let tls = if flags & CLONE_SETTLS != 0 {
                crate::sys::current_tls().unwrap_or(0)
            } else {
                0
            };
            // SAFETY: the child runs `child_main` on the top of the fresh stack (stacks grow
            // down) with `ctx`, which lives until the parent has waited for it; the tid
            // pointers point at live locals; tls is this thread's own pointer. The wrapper
            // passes the low 32 bits of the flags, as legacy clone takes them.
            let r = unsafe {
                libc::clone(
                    child_main,
                    (stack as *mut u8).add(STACK_BYTES).cast(),
                    flags as u32 as libc::c_int,
                    &ctx as *const ChildCtx<'_> as *mut libc::c_void,
                    &mut ptid as *mut libc::c_int,
                    tls as *mut libc::c_void,
                    &mut ctid as *mut libc::c_int,
                )
            };
            if r < 0 {
                let e = crate::sys::last_errno();
                // SAFETY: no child was made.
                unsafe { libc::munmap(stack, STACK_BYTES) };
                fwd.restore();
                return Err(refused(e));
            }
            if flags & CLONE_PIDFD != 0 && flags & CLONE_PARENT_SETTID == 0 && ptid >= 0 {
                // SAFETY: the kernel stored a new pidfd there that nobody else owns.
                drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ptid) });
            }
            // The child's stack stays mapped until this process ends: with CLONE_VM the
            // child may still be on it.
            let _ = ctx;
            r
        }
        CloneVia::Clone3 => match crate::sys::clone3(spec.flags) {
            Err(e) => {
                fwd.restore();
                return Err(refused(e));
            }
            Ok(crate::sys::Forked::Child) => {
                fwd.child();
                if let Some(r) = &go_r {
                    let mut b = [0u8; 1];
                    while let Err(nix::Error::EINTR) = nix::unistd::read(r.as_raw_fd(), &mut b) {}
                }
                raw_write(1, b"In child process.\n");
                return Err(spec.program.exec());
            }
            Ok(crate::sys::Forked::Parent { pid, .. }) => pid,
        },
    };
    drop(go_r);
    println!("clone() returned {pid}");
    let _ = std::io::stdout().flush();
    if let (Some(x), Some(proc)) = (explain.as_deref_mut(), &proc) {
        let own = crate::observe::parse_nspid(&proc.read("thread-self/status").unwrap_or_default());
        x.observed(&proc.observe(&pid.to_string(), pid, "child", Some(&own)));
    }
    // Go: a byte, not end of file (the child holds a copy of the write end).
    if let Some(w) = &go_w {
        let _ = nix::unistd::write(w, &[1]);
    }
    drop(go_w);
    let child = nix::unistd::Pid::from_raw(pid);
    let status = if spec.flags & CLONE_PARENT != 0 {
        // A sibling, not our child: wait through a pidfd; its status is its parent's to see.
        if let Ok(fd) = crate::sys::pidfd_open(pid) {
            crate::sys::pidfd_wait(
                std::os::fd::AsFd::as_fd(&fd),
                crate::sys::PidfdEvent::Exited,
                std::time::Instant::now() + std::time::Duration::from_secs(86400 * 365),
            );
        }
        super::ChildStatus::Exited(0)
    } else {
        fwd.wait(child)?
    };
    println!("child has terminated");
    let _ = std::io::stdout().flush();
    exit_like(status)
}
