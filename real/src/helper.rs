//! The helper: a single-threaded process that makes one task's system calls on command.
//!
//! A binary calls [`enter_helper_if_requested`] first thing in `main`; when it was started as
//! `<exe> __nslab-helper <controller pid>` it becomes the root helper and never returns.
//! Every other helper is a fork-like raw `clone(2)`/`clone3(2)` child of a helper and runs the
//! same loop in the copied address space (it sends no message of its own: its parent's answer
//! carries its channel and pidfd to the controller). A helper waits in poll(2) on its channel, a
//! signalfd(2) for `SIGCHLD` and a pidfd of each child the kernel will not reap for it.
//! `SIGCHLD` is ignored, so the kernel reaps a child with that exit signal as it exits (the
//! controller, polling its pidfd, then needs no helper to wake up, and the helper does not
//! watch such a child); the loop reaps any other exited child at once
//! (`waitpid(-1, WNOHANG | __WALL)`, since an exit signal may not be `SIGCHLD`), and exits
//! when its channel reaches end of file, which is how the whole tree follows a controller that
//! died. The root helper is also a child subreaper (prctl(2) `PR_SET_CHILD_SUBREAPER`) and has
//! `PR_SET_PDEATHSIG(SIGKILL)`; no other helper has a death signal, so that an orphan
//! reparents to its reaper as in the model.

use crate::observe;
use crate::protocol::{
    self, Hello, Reply, Request, RootInfo, StartFailure, CHANNEL_FD, HELPER_ARG,
};
use crate::sys::{self, Forked};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::unistd::{getegid, geteuid, getgid, getppid, getuid};
use nslab_machine::sched::{
    clone3_flags_invalid, CLONE_FILES, CLONE_PARENT, CLONE_VFORK, CLONE_VM, CSIGNAL,
};
use nslab_machine::{CloneVia, Errno, IdMapKind, NsEntry, Op, Origin};
use smallvec::SmallVec;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

/// If this process was started as a helper, runs the helper and never returns; otherwise
/// returns at once. Call it first thing in `main`, before any thread is started.
pub fn enter_helper_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(HELPER_ARG)) {
        return;
    }
    let controller: i32 = args
        .next()
        .and_then(|a| a.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(-1);
    root_helper_main(controller)
}

/// The identities of the root helper's starting namespaces, which the host-protection rules
/// compare against (every helper inherits them by the fork-like clone).
#[derive(Clone, Copy)]
struct Starting {
    uts: Option<(u64, u64)>,
    net: Option<(u64, u64)>,
    user: Option<(u64, u64)>,
}

/// One helper's state: its channel, its `SIGCHLD` signalfd and a pidfd per child it watches.
struct Helper {
    chan: OwnedFd,
    sigchld: SignalFd,
    /// The children the kernel does not reap for it ([`autoreaped`]), with their pidfds.
    children: Vec<(i32, OwnedFd)>,
    starting: Starting,
    proc_ok: bool,
    /// Every receive and answer goes through it; a clone's child gets it back zeroed.
    buf: sys::WipeOnFork,
}

/// The fds a helper polls, inline for a channel, a signalfd and up to 14 watched children: the loop
/// allocates nothing, since after a fork-like clone every page either process writes costs
/// a copy-on-write fault.
type PollFds<'fd> = SmallVec<[PollFd<'fd>; 16]>;

/// How many bytes of a request a helper receives on its stack ([`protocol::recv_split`]).
const HEAD: usize = 256;

/// What handling one request leads to.
enum Next {
    Reply(Reply),
    /// The clone's answer, which carries the controller's end of the child's channel and the
    /// child's pidfd (if one could be opened); `watch` is the child's pid when the helper
    /// must watch it ([`autoreaped`] is false), and the pidfd then goes to `children` once
    /// the answer is sent.
    Cloned {
        reply: Reply,
        chan: OwnedFd,
        pidfd: Option<OwnedFd>,
        watch: Option<i32>,
    },
    /// This process is the new child of a clone: it serves its new channel from now on.
    BecameChild,
}

/// Whether the kernel reaps a child of this helper as it exits, so that the helper need not
/// watch it: a child whose parent is this helper (no `CLONE_PARENT`, which gives it this
/// helper's parent, and takes this helper's own exit signal) and whose exit signal is
/// `SIGCHLD`, which every helper ignores (`do_notify_parent` in kernel/signal.c). Legacy
/// clone's exit signal is the low byte of the flags, `SIGCHLD` when it is zero
/// ([`sys::clone`]); clone3's is `SIGCHLD` here ([`sys::clone3`]).
///
/// A watched child costs its parent a wakeup when it exits, on the CPU the controller waits
/// to run on (BENCHMARKS.md, issue 14): the poll reports its pidfd, the helper reads the
/// signalfd, calls `waitpid`, polls again and closes the pidfd.
fn autoreaped(flags: u64, via: CloneVia) -> bool {
    // The C library's number, as `sys::clone` and `sys::clone3` use.
    let sigchld = libc::SIGCHLD as u64;
    let exit_signal = match via {
        CloneVia::Clone3 => sigchld,
        CloneVia::Clone if flags & CSIGNAL == 0 => sigchld,
        CloneVia::Clone => flags & CSIGNAL,
    };
    flags & CLONE_PARENT == 0 && exit_signal == sigchld
}

fn root_helper_main(controller: i32) -> ! {
    // The death signal goes first, then the check that the controller did not die before it
    // was set (prctl(2): the signal is armed only for a parent that is still there).
    let _ = prctl::set_pdeathsig(Signal::SIGKILL);
    if getppid().as_raw() != controller {
        // SAFETY: _exit ends this process without running anything else.
        unsafe { libc::_exit(1) };
    }
    // Only the channel at fd 3 and the standard streams stay open in a helper.
    sys::close_from(CHANNEL_FD as u32 + 1);
    // SAFETY: the controller placed our end of the channel at CHANNEL_FD before exec.
    let chan = unsafe { OwnedFd::from_raw_fd(CHANNEL_FD) };
    let proc_ok = observe::proc_is_procfs();
    let root = setup_root(proc_ok);
    let failed = root.is_err();
    let hello = Hello {
        proc_nspid: own_proc_nspid(),
        root: Some(root),
    };
    if protocol::send(chan.as_fd(), &Reply::Hello(hello), &[]).is_err() || failed {
        // SAFETY: as above.
        unsafe { libc::_exit(1) };
    }
    let sigchld = match sys::sigchld_fd() {
        Ok(fd) => fd,
        // SAFETY: as above; without a signalfd the helper could not reap.
        Err(_) => unsafe { libc::_exit(1) },
    };
    let mut helper = Helper {
        chan,
        sigchld,
        children: Vec::new(),
        starting: Starting {
            uts: observe::own_ns_identity(NsEntry::Uts),
            net: observe::own_ns_identity(NsEntry::Net),
            user: observe::own_ns_identity(NsEntry::User),
        },
        proc_ok,
        buf: match sys::WipeOnFork::new(protocol::MAX_MESSAGE) {
            Ok(b) => b,
            // SAFETY: as above; without a buffer the helper could not serve.
            Err(_) => unsafe { libc::_exit(1) },
        },
    };
    from_a_page_top(&mut || helper.run());
    // SAFETY: not reached (the loop never returns); _exit ends the process if it were.
    unsafe { libc::_exit(1) }
}

/// Calls `f` on a stack pointer a little below a page boundary, so that the helper loop's
/// frames (its own, a clone's, a receive's: about 2 KiB) lie on one page of the stack
/// rather than across two: after a clone both the parent helper and the child copy every
/// page of the stack they write, one fault each (BENCHMARKS.md, issue 14). Where the stack
/// starts within its page is random (the kernel's stack randomisation), so this descends
/// in steps of a small frame until the stack pointer has crossed into the next page down.
/// Called once per root helper; every helper a clone makes inherits the position.
#[inline(never)]
fn from_a_page_top(f: &mut dyn FnMut()) {
    // SAFETY: sysconf takes no pointers.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => 4096,
    };
    let pad = [0u8; 64];
    let here = std::hint::black_box(&pad).as_ptr() as usize;
    // Each step's frame is at least 64 bytes, so a page is crossed within page / 64 steps;
    // the bound only guards against a frame the compiler reused.
    descend(here / page, page, page / 64 + 2, f)
}

/// One step of [`from_a_page_top`]: a frame of at least 64 bytes, then the next, until the
/// stack pointer is on the page below `start_page` (or `steps` run out). The pad is used
/// again after the call, so that the compiler cannot make the recursion a loop in one frame.
#[inline(never)]
fn descend(start_page: usize, page: usize, steps: usize, f: &mut dyn FnMut()) {
    let pad = [0u8; 64];
    let here = std::hint::black_box(&pad).as_ptr() as usize;
    if here / page == start_page && steps > 0 {
        descend(start_page, page, steps - 1, f);
    } else {
        f();
    }
    std::hint::black_box(&pad);
}

/// Puts the root helper where it runs: in a user namespace of its own if it is not root,
/// then a subreaper; and says where it stands.
fn setup_root(proc_ok: bool) -> Result<RootInfo, StartFailure> {
    let (euid, egid) = (geteuid().as_raw(), getegid().as_raw());
    let own_user_ns = euid != 0;
    if own_user_ns {
        become_root_in_new_user_ns(euid, egid, proc_ok)?;
        // The credential change of unshare keeps the euid, but arm the signal again so the
        // rule does not depend on that.
        let _ = prctl::set_pdeathsig(Signal::SIGKILL);
    }
    prctl::set_child_subreaper(true).map_err(|e| StartFailure {
        step: "prctl(PR_SET_CHILD_SUBREAPER)".into(),
        errno: e as i32,
    })?;
    let (origin, pid_level_method) = origin();
    Ok(RootInfo {
        origin,
        own_user_ns,
        pid_level_method,
    })
}

/// Like `unshare -r`: a new user namespace with the caller's uid and gid mapped to 0.
fn become_root_in_new_user_ns(uid: u32, gid: u32, proc_ok: bool) -> Result<(), StartFailure> {
    let fail = |step: &str, e: Errno| StartFailure {
        step: step.to_string(),
        errno: e.as_raw(),
    };
    sys::unshare(nslab_machine::sched::CLONE_NEWUSER)
        .map_err(|e| fail("unshare(CLONE_NEWUSER)", e))?;
    if !proc_ok {
        return Err(fail("statfs(/proc) is not procfs", Errno::EINVAL));
    }
    match write_proc("/proc/self/setgroups", "deny") {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(fail("write /proc/self/setgroups", e)),
    }
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1\n"))
        .map_err(|e| fail("write /proc/self/uid_map", e))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1\n"))
        .map_err(|e| fail("write /proc/self/gid_map", e))?;
    Ok(())
}

/// The initial pid namespace's fixed inode (`PROC_PID_INIT_INO`).
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// Where the caller stands, and how its pid namespace level was found.
///
/// The user namespace level is found by the controller: `NS_GET_PARENT` answers `EPERM` for
/// any namespace above the caller's own, so only a process above can walk up. A pid namespace cannot be walked above one's own, so its level is
/// the length of `NSpid` (levels below the /proc mount's pid namespace) plus the level of that
/// namespace: 0 when it is the initial one (its inode is `PROC_PID_INIT_INO`), else assumed 1
/// (a container's /proc directly below the host), and the method says so.
pub(crate) fn origin() -> (Origin, String) {
    let status = observe::own_status().unwrap_or_default();
    let below_proc = observe::parse_nspid(&status).len().saturating_sub(1) as u32;
    let own_pid_ns = observe::own_ns(NsEntry::Pid).ok();
    let (proc_level, method) = if own_pid_ns == Some(PROC_PID_INIT_INO) {
        (0, "own pid namespace is the initial one")
    } else {
        match std::fs::read_link("/proc/1/ns/pid")
            .ok()
            .and_then(|l| observe::parse_ns_link(&l.to_string_lossy()))
        {
            Some(PROC_PID_INIT_INO) => (0, "NSpid length under a /proc of the initial pid namespace"),
            Some(_) => (1, "NSpid length plus 1: /proc belongs to a non-initial pid namespace, assumed level 1"),
            None => (0, "NSpid length: /proc/1/ns/pid unreadable, /proc assumed to be the initial pid namespace's"),
        }
    };
    let (uid, gid) = (getuid().as_raw(), getgid().as_raw());
    let origin = Origin {
        pid_ns_level: proc_level + below_proc,
        // Filled in by the controller, which can walk up from here (see machine.rs).
        user_ns_level: 0,
        uid,
        gid,
        cap_eff: observe::parse_cap_eff(&status),
        // Filled in by the controller, which knows whether this helper made its user
        // namespace (see machine.rs).
        single_id_map: false,
    };
    (origin, method.to_string())
}

/// The caller's `NSpid`, from the /proc mount's pid namespace down.
fn own_proc_nspid() -> nslab_machine::NsPids {
    observe::own_status()
        .map(|s| observe::parse_nspid(&s))
        .unwrap_or_default()
}

/// Writes a whole /proc file in one write(2), as the id map files require.
fn write_proc(path: &str, text: &str) -> Result<(), Errno> {
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    let n = f.write(text.as_bytes()).map_err(io)?;
    if n != text.len() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl Helper {
    fn run(&mut self) -> ! {
        loop {
            // Pushed in place: a collected SmallVec is moved into place with memcpy, whose
            // page of the C library a new helper would fault in for it.
            let mut fds: PollFds<'_> = SmallVec::new();
            fds.push(PollFd::new(self.chan.as_fd(), PollFlags::POLLIN));
            fds.push(PollFd::new(self.sigchld.as_fd(), PollFlags::POLLIN));
            for (_, fd) in &self.children {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            // A timeout makes the helper reap now and then even without a wakeup (a
            // CLONE_PARENT sibling with an unusual exit signal sends neither).
            let Ok(n) = nix::poll::poll(&mut fds, PollTimeout::from(100u8)) else {
                continue;
            };
            let ready = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
            let children_ready = fds[1..].iter().any(ready);
            let request = ready(&fds[0]);
            drop(fds);
            if n == 0 || children_ready {
                self.reap_all();
            }
            if !request {
                continue;
            }
            // A request lands on the stack when it fits (every request but a long id map
            // does), so that a new helper's first request touches no page of `buf`.
            let mut head = [0u8; HEAD];
            let (len, fds) = match protocol::recv_split(self.chan.as_fd(), &mut head, &mut self.buf)
            {
                Ok(got) => got,
                // End of file: the controller closed the channel or died. Leave.
                // SAFETY: _exit ends this process; its children get EOF in turn.
                Err(_) => unsafe { libc::_exit(0) },
            };
            let bytes = if len <= HEAD {
                &head[..len]
            } else {
                &self.buf[..len]
            };
            if let Some(code) = protocol::exit_request_code(bytes) {
                // At once, and without the JSON decoder: reaping first or decoding would
                // only touch more pages of a process that is about to go (its children
                // reparent to their reaper either way).
                // SAFETY: exit_group(2): this task ends here, as the scenario asked.
                unsafe { libc::_exit(code) }
            }
            let req = match protocol::decode::<Request>(bytes) {
                Ok(req) => req,
                // Not a message of the protocol: the controller is not ours to serve.
                // SAFETY: as for end of file.
                Err(_) => unsafe { libc::_exit(0) },
            };
            let fd = fds.into_iter().next();
            // Exited children were reaped above when the poll said so (a child that exits
            // from here on is reaped at the next wakeup, as it would be after any check).
            // The clone is served inline, every other request in `handle`'s own frame.
            let next = match req {
                Request::Call(Op::Clone(args)) => self.serve_clone(args.flags, args.via),
                req => self.handle(req, fd),
            };
            let out = match next {
                Next::Reply(reply) => {
                    protocol::send_in(self.chan.as_fd(), &reply, &[], &mut self.buf)
                }
                Next::Cloned {
                    reply,
                    chan,
                    pidfd,
                    watch,
                } => {
                    let fds: &[BorrowedFd<'_>] = match &pidfd {
                        Some(p) => &[chan.as_fd(), p.as_fd()],
                        None => &[chan.as_fd()],
                    };
                    let sent = protocol::send_in(self.chan.as_fd(), &reply, fds, &mut self.buf);
                    if let (Some(pid), Some(pfd)) = (watch, pidfd) {
                        self.children.push((pid, pfd));
                    }
                    sent
                }
                // The controller already has what it needs from the parent's answer.
                Next::BecameChild => Ok(()),
            };
            if out.is_err() {
                // SAFETY: the controller is gone; so are we.
                unsafe { libc::_exit(0) };
            }
        }
    }

    /// Reaps every exited child (and reparented orphan) and forgets its pidfd. A pidfd that
    /// still reads as exited afterwards is of a task that is not this helper's child (a
    /// `CLONE_PARENT` child is its parent's sibling, reaped by their parent): it is
    /// forgotten too, since it would stay readable and wake every poll at once (a busy
    /// loop). An own child that exits just after the `waitpid` loop loses nothing by this:
    /// its `SIGCHLD` wakes the signalfd, and `waitpid` takes any child.
    fn reap_all(&mut self) {
        sys::drain(&self.sigchld);
        while let Some(pid) = sys::reap_one() {
            self.children.retain(|(p, _)| *p != pid);
        }
        self.children
            .retain(|(_, fd)| !sys::pidfd_exited(fd.as_fd(), 0));
    }

    /// Every request but a clone (which `run` serves itself) and an exit (which it reads
    /// first). Not inlined: its arms' locals would make the loop's stack frame span pages
    /// that a new helper must copy (see `run`).
    #[inline(never)]
    fn handle(&mut self, req: Request, fd: Option<OwnedFd>) -> Next {
        let done = |r: Result<(), Errno>| {
            Next::Reply(match r {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Errno(e.as_raw()),
            })
        };
        match req {
            // `run` serves a clone before it calls this; one arriving here is served alike.
            Request::Call(Op::Clone(args)) => self.serve_clone(args.flags, args.via),
            Request::Call(Op::Unshare(flags)) => done(sys::unshare(flags)),
            Request::Call(Op::Setns { nstype, .. }) => match fd {
                Some(fd) => done(sys::setns(fd.as_fd(), nstype)),
                None => failed("setns without a file descriptor"),
            },
            Request::Call(Op::Exit(code)) => {
                // SAFETY: exit_group(2): this task ends here, as the scenario asked.
                unsafe { libc::_exit(code) }
            }
            Request::Call(Op::Setresuid(uid)) => done(sys::setresuid(uid)),
            Request::Call(Op::Setresgid(gid)) => done(sys::setresgid(gid)),
            Request::Call(Op::DropCaps(caps)) => done(sys::drop_caps(caps)),
            Request::Call(Op::WriteIdMap {
                target: proc_pid,
                kind,
                extents: map,
            }) => {
                if !self.proc_ok {
                    return failed("/proc is not procfs; no id map is written");
                }
                let mut text = String::new();
                for e in &map {
                    text.push_str(&format!("{} {} {}\n", e.first, e.lower_first, e.count));
                }
                let r = match kind {
                    IdMapKind::Uid => write_proc(&format!("/proc/{proc_pid}/uid_map"), &text),
                    IdMapKind::Gid => write_proc(&format!("/proc/{proc_pid}/setgroups"), "deny")
                        .and_then(|()| write_proc(&format!("/proc/{proc_pid}/gid_map"), &text)),
                };
                done(r)
            }
            Request::Call(Op::Sethostname(name)) => {
                if observe::own_ns_identity(NsEntry::Uts) == self.starting.uts {
                    return refused(
                        "sethostname in the starting uts namespace would change the host name",
                    );
                }
                done(nix::unistd::sethostname(&name).map_err(|e| Errno::from_raw(e as i32)))
            }
            Request::Call(Op::LinkUp(ifname)) => {
                if observe::own_ns_identity(NsEntry::Net) == self.starting.net {
                    return refused("bringing up an interface of the starting network namespace would change the host");
                }
                done(sys::link_up(&ifname))
            }
            Request::Call(Op::SetMaxNamespaces(ty, max)) => {
                if observe::own_ns_identity(NsEntry::User) == self.starting.user {
                    return refused(
                        "writing a limit of the starting user namespace would change the host",
                    );
                }
                if !self.proc_ok {
                    return failed("/proc is not procfs; no limit is written");
                }
                done(write_proc(
                    &format!("/proc/sys/user/{}", ty.max_sysctl()),
                    &format!("{max}\n"),
                ))
            }
            Request::Observe => match observe::view() {
                Ok(v) => Next::Reply(Reply::View(v)),
                Err(e) => Next::Reply(Reply::Errno(e.as_raw())),
            },
        }
    }

    /// The clone request: the genuine call, then the child becomes a helper on a new channel
    /// and the parent hands the controller's end of it back.
    fn serve_clone(&mut self, flags: u64, via: CloneVia) -> Next {
        if flags & (CLONE_VM | CLONE_VFORK) != 0 {
            // A helper cannot continue as a child that shares its memory or suspends it, but
            // the kernel's answer to the flags is still worth having: it refuses most such
            // combinations before making anything.
            if via == CloneVia::Clone3 && clone3_flags_invalid(flags) {
                // The kernel refuses these flags in clone3_args_valid (kernel/fork.c), before
                // it makes anything: its EINVAL is the answer.
                return match sys::clone3(flags) {
                    Err(e) => Next::Reply(Reply::Errno(e.as_raw())),
                    // SAFETY: cannot happen (the kernel refuses these flags); were it to, the
                    // child leaves at once without touching memory it may share.
                    Ok(Forked::Child) => unsafe { libc::_exit(0) },
                    Ok(Forked::Parent { .. }) => failed("clone3 accepted flags it must refuse"),
                };
            }
            if via == CloneVia::Clone3 {
                return refused(
                    "CLONE_VM and CLONE_VFORK are run only through legacy clone: a helper cannot continue in a shared address space or with its parent suspended",
                );
            }
            return match sys::clone_probe(flags) {
                Err(e) => Next::Reply(Reply::Errno(e.as_raw())),
                Ok(sys::Probe::Accepted) => refused(
                    "the kernel accepted CLONE_VM/CLONE_VFORK, but a helper cannot continue in a shared address space or with its parent suspended, so the child was made to exit at once",
                ),
            };
        }
        let (ours, theirs) = match protocol::channel_pair() {
            Ok(p) => p,
            Err(e) => return Next::Reply(Reply::Errno(e as i32)),
        };
        // With CLONE_FILES the child shares our fd table until it unshares it; the parent
        // must not close anything before that, so it waits for a byte on this pipe.
        let sync = if flags & CLONE_FILES != 0 {
            match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
                Ok(p) => Some(p),
                Err(e) => return Next::Reply(Reply::Errno(e as i32)),
            }
        } else {
            None
        };
        let forked = match via {
            CloneVia::Clone => sys::clone(flags),
            CloneVia::Clone3 => sys::clone3(flags),
        };
        match forked {
            Err(e) => Next::Reply(Reply::Errno(e.as_raw())),
            Ok(Forked::Child) => {
                if let Some((r, w)) = sync {
                    let _ = sys::unshare(CLONE_FILES);
                    let _ = nix::unistd::write(&w, &[1]);
                    // Closed by become_child's close_range with the rest.
                    std::mem::forget(r);
                    std::mem::forget(w);
                }
                // The parent's end of the new channel is closed by close_range too.
                std::mem::forget(ours);
                self.become_child(theirs);
                Next::BecameChild
            }
            Ok(Forked::Parent { pid, pidfd }) => {
                let pidfd = pidfd.or_else(|| sys::pidfd_open(pid).ok());
                if let (Some((r, _)), Some(pfd)) = (&sync, &pidfd) {
                    let mut p = [
                        PollFd::new(r.as_fd(), PollFlags::POLLIN),
                        PollFd::new(pfd.as_fd(), PollFlags::POLLIN),
                    ];
                    let _ = nix::poll::poll(&mut p, PollTimeout::from(10_000u16));
                }
                drop(sync);
                drop(theirs);
                Next::Cloned {
                    reply: Reply::Cloned { pid },
                    chan: ours,
                    pidfd,
                    watch: (!autoreaped(flags, via)).then_some(pid),
                }
            }
        }
    }

    /// Turns the copied state of the parent into a fresh helper on `chan`.
    ///
    /// The `SIGCHLD` signalfd is kept: a fork-like child inherits the blocked mask, and a
    /// signalfd reads and polls the signals of whichever process uses it (signalfd(2): "a
    /// read(2) from the file descriptor in the child will return information about signals
    /// queued to the child"), so the copy serves the child as a new one would.
    fn become_child(&mut self, chan: OwnedFd) {
        let raw = chan.into_raw_fd();
        // Every helper keeps its channel at CHANNEL_FD, so `self.chan` already names that
        // number; dup2 replaces the copy of the parent's channel there with ours (the
        // parent's own table is separate, so it keeps its channel).
        let _ = nix::unistd::dup2(raw, CHANNEL_FD);
        // The parent's children's pidfds are closed below by close_range (with `raw`
        // itself); forget them so that no Drop closes a number that may be reused. Not
        // written at all when there are none (the usual case): `self` is on a page of the
        // stack that the new helper then need not copy.
        if !self.children.is_empty() {
            for (_, fd) in self.children.drain(..) {
                std::mem::forget(fd);
            }
        }
        sys::close_from_except(CHANNEL_FD as u32 + 1, self.sigchld.as_raw_fd() as u32);
    }
}

/// A deliberate refusal (see [`Reply::Refused`]).
fn refused(msg: &str) -> Next {
    Next::Reply(Reply::Refused(msg.to_string()))
}

/// A request the helper cannot serve (see [`Reply::Failed`]).
fn failed(msg: &str) -> Next {
    Next::Reply(Reply::Failed(msg.to_string()))
}
