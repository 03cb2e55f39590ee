//! [`RealMachine`]: the controller side, which implements [`Machine`] with helpers.
//!
//! The controller never creates a namespace itself (it may be multithreaded). It starts the
//! root helper with posix_spawn(3) (no copy-on-write of the controller, see [`sys::spawn`]),
//! keeps one channel and one pidfd (pidfd_open(2))
//! per helper, opens namespace files and pidfds for `setns` with its own privileges and hands
//! them over with `SCM_RIGHTS`, and learns how a task ended from the pidfd: the
//! `PIDFD_GET_INFO` ioctl with `PIDFD_INFO_EXIT` (Linux 6.15) gives the wait status once the
//! task has been reaped, whoever reaped it. Every request has a timeout; a helper that dies or
//! hangs while asked something is a fault, and the whole tree is torn down.

use crate::protocol::{self, Hello, RecvError, Reply, Request, CHANNEL_FD, HELPER_ARG};
use crate::start::StartError;
use crate::sys::{self, PidfdEvent};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nslab_machine::sched::CLONE_PARENT;
use nslab_machine::{
    CloneArgs, Errno, IdMapExtent, IdMapKind, Machine, NsFd, Op, Origin, SysError, SysResult,
    TaskId, TaskState, TaskView,
};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a request may take by default before its helper is declared hung.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to start a real machine.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Start the root helper with these uid and gid (the controller must be root to ask):
    /// a non-root helper stands in a user namespace of its own, as without root.
    pub run_as: Option<(u32, u32)>,
    /// The timeout of every request.
    pub timeout: Duration,
    /// The most helpers (tasks) running at once; a clone past it is refused
    /// ([`SysError::Refused`]) before the helper is asked.
    pub max_helpers: usize,
    /// How long the controller busy-polls for a helper's answer, or for a task's reap after
    /// `exit`, before it sleeps in poll(2) as usual; zero (the default) never spins. A spin
    /// that ends without the answer makes the next waits sleep at once (1, 2, 4, ... up to
    /// 64 of them), so that a budget too short for the machine's state costs little.
    /// It saves the controller's wakeup only when the helpers have a CPU of their own: on a
    /// machine whose cores are busy with other work the spinning controller takes the CPU
    /// its helpers need, and clones get slower (BENCHMARKS.md, issue 14).
    pub spin: Duration,
    /// Run the machine on one CPU: the thread that starts it and every helper (see
    /// `cpu.rs`). On by default: every request hands the CPU from the controller to a helper
    /// and back, and on a virtual machine a hand-over to another, sleeping CPU costs tens of
    /// microseconds (a helper's clone+exit+wait took about half as long pinned, BENCHMARKS.md
    /// issue 14). The starting thread's previous CPU mask comes back when the last machine it
    /// started is dropped. Off, the scheduler places every process as it likes.
    pub one_cpu: bool,
}

/// The default of [`StartOptions::max_helpers`]: a scenario makes at most 512 clones
/// (`nslab_scenario::limits::MAX_TASKS`), a random sequence a few dozen; this bounds a
/// machine driven directly too, far below any host's pid limit (`kernel.pid_max` is at
/// least 32768 on 64-bit kernels) and its memory (a helper is a few hundred KiB).
pub const MAX_HELPERS: usize = 1024;

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            run_as: None,
            timeout: DEFAULT_TIMEOUT,
            max_helpers: MAX_HELPERS,
            spin: Duration::ZERO,
            one_cpu: true,
        }
    }
}

/// One helper as the controller knows it.
struct Task {
    /// The channel; `None` once the task has ended.
    chan: Option<OwnedFd>,
    /// A pidfd of the helper, opened by the controller; `None` once the task has ended.
    pidfd: Option<OwnedFd>,
    /// Its pid in the pid namespace of the /proc mount (for `/proc/<pid>` paths).
    proc_pid: i32,
    /// Its pid in the controller's pid namespace (for pidfd_open).
    pid: i32,
    state: TaskState,
    /// The controller itself is the parent, so the controller must reap it: a
    /// `CLONE_PARENT` child of a task whose parent is the controller (of the root helper,
    /// or of such a child, at any depth: `copy_process` in kernel/fork.c gives the child
    /// the caller's `real_parent`).
    controller_reaps: bool,
    /// The controller is this task's parent: the root helper (spawned, and reaped through
    /// its [`RootChild`]), and every task `controller_reaps`.
    parent_is_controller: bool,
}

/// The real kernel behind the [`Machine`] trait: each task is a helper process.
///
/// Dropping it kills, reaps and closes everything, synchronously. The root helper has
/// `PR_SET_PDEATHSIG`, which fires when the *thread* that started the machine exits: start
/// and drop a machine on the same thread (or on a thread that outlives it).
pub struct RealMachine {
    tasks: Vec<Task>,
    root_child: Option<RootChild>,
    origin: Origin,
    own_user_ns: bool,
    /// How the levels of `origin` were found.
    pid_level_method: String,
    timeout: Duration,
    /// Busy-polling for an answer or a reap before sleeping.
    spin: Spin,
    /// [`StartOptions::max_helpers`].
    max_helpers: usize,
    /// Why the machine was torn down, once it has been.
    torn_down: Option<String>,
    /// The index in an `NSpid` line of this /proc of the controller's pid namespace.
    controller_level: usize,
    /// The index in an `NSpid` line of this /proc of the root helper's pid namespace (for
    /// `TaskView::nspid`).
    root_level: usize,
    buf: Vec<u8>,
    /// Keeps the starting thread on the machine's CPU ([`StartOptions::one_cpu`]); dropped
    /// after `Drop::drop` has torn the helpers down.
    cpu_pin: Option<crate::cpu::CpuPin>,
}

impl RealMachine {
    /// Starts the root helper from `helper_exe` (a binary whose `main` calls
    /// [`crate::enter_helper_if_requested`] first), as root if the caller is root, else in a
    /// user namespace of its own with the caller mapped to root.
    pub fn start(helper_exe: &Path) -> Result<RealMachine, StartError> {
        RealMachine::start_with(helper_exe, StartOptions::default())
    }

    /// [`RealMachine::start`] with options.
    pub fn start_with(helper_exe: &Path, opts: StartOptions) -> Result<RealMachine, StartError> {
        // First, so that the root helper inherits the CPU mask (and every helper after it).
        let cpu = if opts.one_cpu {
            crate::cpu::pin_current_thread()
        } else {
            None
        };
        let (ours, theirs) = protocol::channel_pair().map_err(StartError::Channel)?;
        let spawn_error = |source| StartError::Spawn {
            exe: helper_exe.to_path_buf(),
            source,
        };
        let mut child = match opts.run_as {
            None => RootChild::spawn(helper_exe, theirs.as_fd()).map_err(spawn_error)?,
            Some((uid, gid)) => {
                RootChild::spawn_as(helper_exe, theirs.as_fd(), uid, gid).map_err(spawn_error)?
            }
        };
        drop(theirs);
        let mut buf = vec![0; protocol::MAX_MESSAGE];
        let hello = match recv_reply(
            ours.as_fd(),
            &mut buf,
            opts.timeout,
            &mut Spin::new(Duration::ZERO),
        ) {
            Ok((Reply::Hello(h), _)) => h,
            other => {
                let _ = child.kill();
                let status = child.wait();
                return Err(StartError::Handshake(match other {
                    Ok((r, _)) => format!("unexpected first message {r:?}"),
                    Err(e) => format!("{e}; helper ended with {status:?}"),
                }));
            }
        };
        let Hello { proc_nspid, root } = hello;
        let info = match root {
            Some(Ok(info)) => info,
            Some(Err(failure)) => {
                let _ = child.wait();
                let errno = Errno::from_raw(failure.errno);
                return Err(
                    if failure.step.contains("CLONE_NEWUSER")
                        || failure.step.contains("_map")
                        || failure.step.contains("setgroups")
                    {
                        StartError::UserNamespaces {
                            step: failure.step,
                            errno,
                        }
                    } else {
                        StartError::Setup {
                            step: failure.step,
                            errno,
                        }
                    },
                );
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Handshake(
                    "no starting position in hello".into(),
                ));
            }
        };
        let controller_level = crate::observe::own_status()
            .map(|s| crate::observe::parse_nspid(&s).len().saturating_sub(1))
            .unwrap_or(0);
        let pidfd = child.pidfd.as_ref().and_then(|p| p.try_clone().ok());
        let root_level = proc_nspid.len().saturating_sub(1);
        let mut origin = info.origin;
        let (user_level, user_method) = user_ns_level(child.id() as i32);
        origin.user_ns_level = user_level;
        // A root helper that made its user namespace mapped only the caller's ids, to 0.
        origin.single_id_map = info.own_user_ns;
        let pid_level_method = format!("pid: {}; user: {user_method}", info.pid_level_method);
        Ok(RealMachine {
            tasks: vec![Task {
                chan: Some(ours),
                pidfd,
                proc_pid: proc_nspid.first().copied().unwrap_or(0),
                pid: child.id() as i32,
                state: TaskState::Running,
                controller_reaps: false,
                parent_is_controller: true,
            }],
            root_child: Some(child),
            origin,
            own_user_ns: info.own_user_ns,
            pid_level_method,
            timeout: opts.timeout,
            spin: Spin::new(opts.spin),
            max_helpers: opts.max_helpers,
            torn_down: None,
            controller_level,
            root_level,
            buf,
            cpu_pin: cpu,
        })
    }

    /// The CPU the machine runs on ([`StartOptions::one_cpu`]): its helpers, and the thread
    /// that started it while the machine exists. `None` when it was off, or there was no
    /// choice to make (one CPU allowed).
    pub fn cpu(&self) -> Option<usize> {
        self.cpu_pin.as_ref().map(|c| c.cpu)
    }

    /// Whether the root helper made a user namespace of its own (the caller was not root).
    pub fn own_user_ns(&self) -> bool {
        self.own_user_ns
    }

    /// How the root helper's pid and user namespace levels were found.
    pub fn level_method(&self) -> &str {
        &self.pid_level_method
    }

    /// The pid of a task as the /proc of this machine shows it (for host-side checks).
    pub fn host_pid(&self, task: TaskId) -> Option<i32> {
        self.tasks.get(task.0 as usize).map(|t| t.proc_pid)
    }

    /// Every task handle this machine gave out, the root first.
    pub fn task_ids(&self) -> Vec<TaskId> {
        (0..self.tasks.len() as u32).map(TaskId).collect()
    }

    /// Changes the timeout of every later request.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Why the machine was torn down after a fault, if it was.
    pub fn torn_down(&self) -> Option<&str> {
        self.torn_down.as_deref()
    }

    /// Tears everything down now and says what, if anything, could not be cleaned up.
    pub fn shutdown(mut self) -> Result<(), String> {
        self.teardown("shut down")
    }

    fn task(&self, task: TaskId) -> SysResult<&Task> {
        self.tasks
            .get(task.0 as usize)
            .ok_or(SysError::Errno(Errno::ESRCH))
    }

    /// Sends one request to a live task and waits for its answer.
    fn request(
        &mut self,
        task: TaskId,
        req: Request,
        fd: Option<BorrowedFd<'_>>,
    ) -> SysResult<(Reply, Vec<OwnedFd>)> {
        if let Some(why) = &self.torn_down {
            return Err(SysError::Fault(format!("machine torn down: {why}")));
        }
        let t = self.task(task)?;
        let chan = match (&t.state, &t.chan) {
            (TaskState::Running, Some(c)) => c.as_raw_fd(),
            _ => return Err(SysError::Errno(Errno::ESRCH)),
        };
        // SAFETY: `chan` stays open in self.tasks for the duration of this call.
        let chan = unsafe { BorrowedFd::borrow_raw(chan) };
        let fds: &[BorrowedFd<'_>] = match &fd {
            Some(fd) => std::slice::from_ref(fd),
            None => &[],
        };
        if let Err(e) = protocol::send(chan, &req, fds) {
            return Err(self.fault(task, &req, &format!("could not send: {e}")));
        }
        if let Request::Call(Op::Exit(_)) = req {
            return Ok((Reply::Ok, Vec::new()));
        }
        match recv_reply(chan, &mut self.buf, self.timeout, &mut self.spin) {
            Ok((Reply::Refused(msg), _)) => Err(SysError::Refused(msg)),
            Ok((Reply::Failed(msg), _)) => Err(SysError::Fault(msg)),
            Ok((Reply::Errno(n), _)) => Err(SysError::Errno(Errno::from_raw(n))),
            Ok(r) => Ok(r),
            Err(e) => Err(self.fault(task, &req, &e)),
        }
    }

    /// A helper died or hung while doing `req`: say so, and tear the whole tree down.
    fn fault(&mut self, task: TaskId, req: &Request, what: &str) -> SysError {
        let pid = self.host_pid(task).unwrap_or(0);
        // A helper killed a moment ago may still be on its way out: give its exit and its
        // reaper a short while, so that the message says how it ended.
        let how = match self.tasks[task.0 as usize].pidfd.as_ref() {
            Some(p) if sys::pidfd_exited(p.as_fd(), 200) => {
                let deadline = Instant::now() + Duration::from_millis(200);
                let reaped = sys::pidfd_wait(p.as_fd(), PidfdEvent::Reaped, deadline);
                match sys::pidfd_exit_status(p.as_fd()) {
                    Ok(Some(st)) if reaped => format!("it ended: {}", describe_status(st)),
                    _ => "it has exited".to_string(),
                }
            }
            Some(_) => format!("it is still there in state {}", proc_state(pid)),
            None => "its pidfd is closed".to_string(),
        };
        let msg = format!(
            "helper {task} (pid {pid}) failed while doing {}: {what}; {how}; the machine is torn down",
            req.describe()
        );
        let _ = self.teardown(&msg);
        SysError::Fault(msg)
    }

    /// Waits until a task is reaped (whoever reaps it), and records how it ended.
    ///
    /// The order matters. The pidfd polls `POLLIN` as soon as the task is a zombie, but its
    /// exit status is recorded only at the reap (`release_task` -> `pidfs_exit`), and asking
    /// `PIDFD_GET_INFO` in between races with the reaper: a reaper that unhashes the task
    /// while the ioctl is looking at it makes the ioctl answer `ESRCH` (see
    /// [`sys::pidfd_exit_status`]). `release_task` records the status *before* it unhashes
    /// the pid and wakes the pidfd's pollers with `POLLHUP`, so the controller sleeps in
    /// poll(2) until `POLLHUP` and then asks once: the status is there, and anything else is
    /// a fault that says what the kernel answered.
    fn wait_reaped(&mut self, task: TaskId, deadline: Instant) -> Result<TaskState, String> {
        let t = &mut self.tasks[task.0 as usize];
        let Some(pidfd) = t.pidfd.as_ref() else {
            return Ok(t.state);
        };
        if t.controller_reaps {
            // A child of the controller itself: nobody else will reap it.
            if !sys::pidfd_wait(pidfd.as_fd(), PidfdEvent::Exited, deadline) {
                return Err(format!("{task} did not exit in time"));
            }
            reap_own_child(pidfd.as_fd());
        }
        let spun = self
            .spin
            .wait(|| sys::poll_now(pidfd.as_fd(), PollFlags::empty(), PollFlags::POLLHUP));
        if !spun && !sys::pidfd_wait(pidfd.as_fd(), PidfdEvent::Reaped, deadline) {
            return Err(if sys::pidfd_exited(pidfd.as_fd(), 0) {
                format!("{task} exited but was not reaped in time")
            } else {
                "it did not exit".to_string()
            });
        }
        match sys::pidfd_exit_status(pidfd.as_fd()) {
            Ok(Some(status)) => {
                t.state = state_of(status);
                t.pidfd = None;
                t.chan = None;
                Ok(t.state)
            }
            Ok(None) => Err(format!(
                "{task} was reaped but PIDFD_GET_INFO has no exit status: this kernel does not report exit statuses by pidfd (Linux 6.15 or later is needed)"
            )),
            Err(e) => Err(format!(
                "PIDFD_GET_INFO failed with {e} after {task} was reaped: this kernel does not report exit statuses by pidfd (Linux 6.15 or later is needed)"
            )),
        }
    }

    /// Records the end of every task that has exited (after an exit, the others that a dying
    /// pid-namespace init took with it).
    fn settle(&mut self) -> SysResult<()> {
        let deadline = Instant::now() + self.timeout;
        // One poll(2) over every running task's pidfd, however many there are.
        let (ids, mut fds): (Vec<usize>, Vec<PollFd<'_>>) = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state == TaskState::Running)
            .filter_map(|(i, t)| {
                Some((i, PollFd::new(t.pidfd.as_ref()?.as_fd(), PollFlags::POLLIN)))
            })
            .unzip();
        let exited: Vec<usize> = match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => Vec::new(),
            Ok(_) => ids
                .iter()
                .zip(&fds)
                .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
                .map(|(&i, _)| i)
                .collect(),
            // More fds than RLIMIT_NOFILE (EINVAL), or no memory for the poll table: look at
            // each in turn.
            Err(_) => ids
                .iter()
                .zip(&fds)
                .filter(|(_, p)| sys::pidfd_exited(p.as_fd(), 0))
                .map(|(&i, _)| i)
                .collect(),
        };
        drop(fds);
        for i in exited {
            self.wait_reaped(TaskId(i as u32), deadline)
                .map_err(SysError::Fault)?;
        }
        Ok(())
    }

    /// Kills every helper, waits until each is reaped, closes every fd.
    fn teardown(&mut self, why: &str) -> Result<(), String> {
        if self.torn_down.is_some() {
            return Ok(());
        }
        self.torn_down = Some(why.to_string());
        let mut problems = Vec::new();
        // The root helper, a subreaper, stays alive while the others die, so that it reaps
        // them (and orphans reparent to it rather than to the host's init).
        for t in self.tasks.iter().skip(1) {
            if let (TaskState::Running, Some(p)) = (t.state, &t.pidfd) {
                let _ = sys::pidfd_send_signal(p.as_fd(), libc::SIGKILL);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for i in 1..self.tasks.len() {
            if self.tasks[i].state == TaskState::Running {
                if let Err(e) = self.wait_reaped(TaskId(i as u32), deadline) {
                    problems.push(e);
                }
            }
        }
        if let Some(mut child) = self.root_child.take() {
            let _ = child.kill();
            match child.wait() {
                Ok(st) => {
                    if self.tasks[0].state == TaskState::Running {
                        self.tasks[0].state = st;
                    }
                }
                Err(e) => problems.push(format!("cannot reap the root helper: {e}")),
            }
        }
        for t in &mut self.tasks {
            t.chan = None;
            t.pidfd = None;
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Drop for RealMachine {
    fn drop(&mut self) {
        if let Err(e) = self.teardown("dropped") {
            eprintln!("nslab-real: teardown incomplete: {e}");
        }
    }
}

impl Machine for RealMachine {
    fn backend_name(&self) -> &'static str {
        "real"
    }

    fn root(&self) -> TaskId {
        TaskId(0)
    }

    fn origin(&self) -> Origin {
        self.origin.clone()
    }

    /// The operations with work of their own on the controller's side (a clone's channel
    /// and pidfd, the fd that setns takes, the reap after an exit, the target of an id map
    /// write) have a method of their own below; every other one goes to the task's helper as
    /// it is.
    fn syscall(&mut self, task: TaskId, op: &Op) -> SysResult<Option<TaskId>> {
        match op {
            Op::Clone(args) => self.clone_task(task, *args).map(Some),
            Op::Setns { fd, nstype } => self.setns(task, *fd, *nstype).map(|()| None),
            Op::Exit(code) => self.exit(task, *code).map(|()| None),
            Op::WriteIdMap {
                target,
                kind,
                extents,
            } => self
                .write_id_map(task, *target, *kind, extents)
                .map(|()| None),
            other => {
                // A task the operation names goes as its pid in the /proc mount's namespace.
                let op = other.map(|t| self.tasks.get(t.0 as usize).map_or(0, |t| t.proc_pid));
                self.request(task, Request::Call(op), None).map(|_| None)
            }
        }
    }

    fn clone_task(&mut self, task: TaskId, args: CloneArgs) -> SysResult<TaskId> {
        let running = self
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Running)
            .count();
        if running >= self.max_helpers {
            return Err(SysError::Refused(format!(
                "{running} helpers are running, the most one machine keeps (max_helpers {}): \
                 every task is a process of the host",
                self.max_helpers
            )));
        }
        let parent_is_controller =
            args.flags & CLONE_PARENT != 0 && self.task(task)?.parent_is_controller;
        let req = Request::Call(Op::Clone(args));
        let describe = req.describe();
        let (reply, fds) = self.request(task, req, None)?;
        let mut fds = fds.into_iter();
        let (Reply::Cloned { pid: parent_view }, Some(chan), Some(pidfd)) =
            (reply, fds.next(), fds.next())
        else {
            let msg =
                format!("helper {task} answered {describe} without the child's channel and pidfd");
            let _ = self.teardown(&msg);
            return Err(SysError::Fault(msg));
        };
        // The child's pids, from the pidfd its parent opened: no message from the child is
        // needed, so the child serves its channel as soon as it is ready and the controller
        // does not wait for it here.
        let pids = match self.controller_level {
            0 => sys::pidfd_pid(pidfd.as_fd()).map(|pid| (pid, pid)),
            level => crate::observe::pidfd_nspid(pidfd.as_fd())
                .ok_or(Errno::ESRCH)
                .and_then(|nspid| match (nspid.first(), nspid.get(level)) {
                    (Some(&proc_pid), Some(&pid)) if proc_pid > 0 => Ok((proc_pid, pid)),
                    _ => Err(Errno::ESRCH),
                }),
        };
        let (proc_pid, pid) = match pids {
            Ok(p) => p,
            Err(e) => {
                let msg = format!(
                    "the child of {describe} by {task} (pid {parent_view} there) has no pid here ({e}): it is already gone"
                );
                let _ = self.teardown(&msg);
                return Err(SysError::Fault(msg));
            }
        };
        self.tasks.push(Task {
            chan: Some(chan),
            pidfd: Some(pidfd),
            proc_pid,
            pid,
            state: TaskState::Running,
            controller_reaps: parent_is_controller,
            parent_is_controller,
        });
        Ok(TaskId(self.tasks.len() as u32 - 1))
    }

    fn setns(&mut self, task: TaskId, fd: NsFd, nstype: u64) -> SysResult<()> {
        let target = *fd.task();
        let gone = match fd {
            NsFd::File { .. } => Errno::ENOENT,
            NsFd::Pidfd { .. } => Errno::ESRCH,
        };
        // A task known to be gone has no /proc entry and no pid: answer as opening would,
        // without opening a pid that may have been reused by another process.
        let alive = self
            .tasks
            .get(target.0 as usize)
            .filter(|t| t.state == TaskState::Running);
        let Some(t) = alive else {
            return Err(SysError::Errno(gone));
        };
        let opened: Result<OwnedFd, Errno> = match fd {
            NsFd::File { entry, .. } => {
                let path = format!("/proc/{}/ns/{}", t.proc_pid, entry.file_name());
                std::fs::File::open(path)
                    .map(OwnedFd::from)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
            }
            NsFd::Pidfd { .. } => sys::pidfd_open(t.pid),
        };
        let req = Request::Call(Op::Setns {
            fd: fd.map(|_| t.proc_pid),
            nstype,
        });
        let nsfd = opened?;
        self.request(task, req, Some(nsfd.as_fd())).map(drop)
    }

    fn exit(&mut self, task: TaskId, code: i32) -> SysResult<()> {
        self.request(task, Request::Call(Op::Exit(code)), None)?;
        let deadline = Instant::now() + self.timeout;
        if task == TaskId(0) {
            // The controller itself reaps the root helper (its `RootChild`), once it has exited.
            let exited = self.tasks[0]
                .pidfd
                .as_ref()
                .is_some_and(|p| sys::pidfd_wait(p.as_fd(), PidfdEvent::Exited, deadline));
            if !exited {
                let req = Request::Call(Op::Exit(code));
                return Err(self.fault(task, &req, "it did not exit"));
            }
            if let Some(mut child) = self.root_child.take() {
                let _ = child.wait();
            }
        }
        // Straight to the reap: one sleep in poll(2) until POLLHUP, not one per stage.
        if let Err(e) = self.wait_reaped(task, deadline) {
            let req = Request::Call(Op::Exit(code));
            return Err(self.fault(task, &req, &e));
        }
        self.settle()
    }

    fn write_id_map(
        &mut self,
        writer: TaskId,
        target: TaskId,
        kind: IdMapKind,
        map: &[IdMapExtent],
    ) -> SysResult<()> {
        // The writer makes the call, so a writer that is gone answers first (ESRCH); a
        // target that is gone has no /proc file to open (ENOENT), as the model says.
        if self.task(writer)?.state != TaskState::Running {
            return Err(SysError::Errno(Errno::ESRCH));
        }
        let t = self
            .task(target)
            .map_err(|_| SysError::Errno(Errno::ENOENT))?;
        if t.state != TaskState::Running {
            return Err(SysError::Errno(Errno::ENOENT));
        }
        let req = Request::Call(Op::WriteIdMap {
            target: t.proc_pid,
            kind,
            extents: map.to_vec(),
        });
        self.request(writer, req, None).map(drop)
    }

    fn observe(&mut self, task: TaskId) -> SysResult<TaskView> {
        let (reply, _) = self.request(task, Request::Observe, None)?;
        match reply {
            Reply::View(mut v) => {
                v.nspid.drain(..self.root_level.min(v.nspid.len()));
                Ok(v)
            }
            other => Err(SysError::Fault(format!(
                "unexpected answer to observe: {other:?}"
            ))),
        }
    }

    fn state(&mut self, task: TaskId) -> SysResult<TaskState> {
        let t = self.task(task)?;
        if t.state != TaskState::Running || self.torn_down.is_some() {
            return Ok(t.state);
        }
        let exited = t
            .pidfd
            .as_ref()
            .is_some_and(|p| sys::pidfd_exited(p.as_fd(), 0));
        if !exited {
            return Ok(TaskState::Running);
        }
        if task == TaskId(0) {
            if let Some(mut child) = self.root_child.take() {
                let _ = child.wait();
            }
        }
        let deadline = Instant::now() + self.timeout;
        self.wait_reaped(task, deadline).map_err(SysError::Fault)
    }
}

/// The C library setting that keeps a helper from registering restartable sequences.
const NO_RSEQ: &str = "glibc.pthread.rseq=0";

/// The root helper's environment: the controller's, with [`NO_RSEQ`] added to
/// `GLIBC_TUNABLES` (after any setting of the controller's, so that it takes effect).
///
/// glibc registers a restartable-sequence area (rseq(2)) for every thread, in its
/// thread-local block, and the kernel writes the current CPU into it each time the thread
/// returns to user space after it was scheduled. In a helper just forked that write is a
/// copy-on-write fault, in the child at its first return and in the parent at its next
/// one: two faults of every clone (`perf record -e page-faults`, BENCHMARKS.md issue 14).
/// A helper never uses rseq, and the setting is inherited by every helper a clone makes.
/// Nothing a task observes depends on it.
fn helper_env() -> std::io::Result<Vec<std::ffi::CString>> {
    helper_env_from(std::env::vars_os())
        .into_iter()
        .map(|kv| std::ffi::CString::new(kv).map_err(std::io::Error::other))
        .collect()
}

/// [`helper_env`] of the variables `vars`, as `KEY=value` byte strings.
fn helper_env_from(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut env = Vec::new();
    let mut tunables = None;
    for (k, v) in vars {
        if k == "GLIBC_TUNABLES" {
            tunables = Some(v);
            continue;
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        env.push(kv);
    }
    let mut t = b"GLIBC_TUNABLES=".to_vec();
    t.extend_from_slice(helper_tunables(tunables).as_bytes());
    env.push(t);
    env
}

/// The helpers' `GLIBC_TUNABLES`: the caller's setting, if any, then [`NO_RSEQ`].
fn helper_tunables(callers: Option<std::ffi::OsString>) -> std::ffi::OsString {
    match callers.filter(|v| !v.is_empty()) {
        Some(mut v) => {
            v.push(":");
            v.push(NO_RSEQ);
            v
        }
        None => NO_RSEQ.into(),
    }
}

/// The root helper: the controller's own child, with a pidfd opened the moment it was
/// spawned, through which it is killed and reaped (a pid alone could name another process
/// once something else reaped it: a host process that ignores `SIGCHLD`, or another thread's
/// `waitpid(-1)`). Only if the pidfd could not be opened are the pid's calls used.
struct RootChild {
    pid: i32,
    pidfd: Option<OwnedFd>,
}

impl RootChild {
    fn new(pid: i32) -> RootChild {
        RootChild {
            pid,
            pidfd: sys::pidfd_open(pid).ok(),
        }
    }

    /// Starts `exe` as the root helper with `channel` at [`CHANNEL_FD`], by posix_spawn(3):
    /// see [`sys::spawn`] for why not `fork`. `exe` is executed as given (no `PATH` search).
    fn spawn(exe: &Path, channel: BorrowedFd<'_>) -> std::io::Result<RootChild> {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |b: &[u8]| CString::new(b).map_err(std::io::Error::other);
        let exe = c(exe.as_os_str().as_bytes())?;
        let arg = c(HELPER_ARG.as_bytes())?;
        let controller = c(std::process::id().to_string().as_bytes())?;
        let env = helper_env()?;
        let env: Vec<&std::ffi::CStr> = env.iter().map(CString::as_c_str).collect();
        let pid = sys::spawn(&exe, &[&arg, &controller], &env, channel, CHANNEL_FD)
            .map_err(|e| std::io::Error::from_raw_os_error(e.as_raw()))?;
        Ok(RootChild::new(pid))
    }

    /// The same with other uid and gid ([`StartOptions::run_as`]), which posix_spawn cannot
    /// set: `std::process::Command` forks, changes them and places the channel before exec.
    fn spawn_as(
        exe: &Path,
        channel: BorrowedFd<'_>,
        uid: u32,
        gid: u32,
    ) -> std::io::Result<RootChild> {
        let mut cmd = Command::new(exe);
        cmd.arg(HELPER_ARG)
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .uid(uid)
            .gid(gid);
        // The same environment as `spawn` gives: ours with rseq turned off.
        cmd.env(
            "GLIBC_TUNABLES",
            helper_tunables(std::env::var_os("GLIBC_TUNABLES")),
        );
        let raw = channel.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe calls (dup2, fcntl; nix's wrappers call them directly and do not
        // allocate) on an fd that is open in the child.
        unsafe {
            cmd.pre_exec(move || {
                use nix::fcntl::{fcntl, FcntlArg, FdFlag};
                if raw == CHANNEL_FD {
                    fcntl(raw, FcntlArg::F_SETFD(FdFlag::empty()))?;
                } else {
                    nix::unistd::dup2(raw, CHANNEL_FD)?;
                }
                Ok(())
            });
        }
        // std's `Child` neither kills nor reaps when dropped, and has no pipes here.
        let child = cmd.spawn()?;
        Ok(RootChild::new(child.id() as i32))
    }

    fn id(&self) -> u32 {
        self.pid as u32
    }

    fn kill(&mut self) -> std::io::Result<()> {
        let e = |e: Errno| std::io::Error::from_raw_os_error(e.as_raw());
        match &self.pidfd {
            Some(p) => sys::pidfd_send_signal(p.as_fd(), libc::SIGKILL).map_err(e),
            None => nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::SIGKILL,
            )
            .map_err(std::io::Error::from),
        }
    }

    /// Waits for it to end, reaps it and says how it ended.
    fn wait(&mut self) -> std::io::Result<TaskState> {
        use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
        loop {
            let r = match &self.pidfd {
                Some(p) => waitid(Id::PIDFd(p.as_fd()), WaitPidFlag::WEXITED),
                None => waitpid(nix::unistd::Pid::from_raw(self.pid), None),
            };
            return match r {
                Ok(WaitStatus::Exited(_, code)) => Ok(TaskState::Exited(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => Ok(TaskState::Killed(sig as i32)),
                Ok(other) => Err(std::io::Error::other(format!(
                    "unexpected wait status {other:?}"
                ))),
                Err(nix::Error::EINTR) => continue,
                Err(e) => Err(e.into()),
            };
        }
    }
}

/// Bounded busy-polling before a blocking wait ([`StartOptions::spin`]), backing off after
/// a spin that ended without what it waited for.
struct Spin {
    budget: Duration,
    /// Waits left that sleep at once.
    skip: u32,
    /// How many waits the next missed spin skips.
    backoff: u32,
}

/// The most waits a missed spin makes sleep at once.
const MAX_SPIN_BACKOFF: u32 = 64;

impl Spin {
    fn new(budget: Duration) -> Spin {
        Spin {
            budget,
            skip: 0,
            backoff: 1,
        }
    }

    /// Busy-polls `ready` for at most the budget, unless backing off; says whether it became
    /// true. The caller then waits as it would without spinning (a `false` changes nothing).
    fn wait(&mut self, ready: impl FnMut() -> bool) -> bool {
        if self.budget.is_zero() {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        if sys::spin_for(self.budget, ready) {
            self.backoff = 1;
            true
        } else {
            self.skip = self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_SPIN_BACKOFF);
            false
        }
    }
}

/// Waits for one message with a timeout.
fn recv_reply(
    chan: BorrowedFd<'_>,
    buf: &mut [u8],
    timeout: Duration,
    spin: &mut Spin,
) -> Result<(Reply, Vec<OwnedFd>), String> {
    let deadline = Instant::now() + timeout;
    spin.wait(|| sys::poll_now(chan, PollFlags::POLLIN, PollFlags::all()));
    loop {
        let mut p = [PollFd::new(chan, PollFlags::POLLIN)];
        let n = nix::poll::poll(&mut p, sys::timeout_until(deadline));
        if n == Err(nix::Error::EINTR) {
            continue;
        }
        if n == Ok(0) {
            return Err(format!("no answer within {} ms", timeout.as_millis()));
        }
        return match protocol::recv::<Reply>(chan, buf) {
            Ok(m) => Ok(m),
            Err(RecvError::Eof) | Err(RecvError::Sys(nix::Error::ECONNRESET)) => {
                Err("its channel closed".to_string())
            }
            Err(RecvError::Sys(e)) => Err(format!("cannot receive: {e}")),
            Err(RecvError::Garbled(s)) => Err(format!("garbled answer: {s}")),
        };
    }
}

/// `waitid(P_PIDFD, WEXITED | __WALL | WNOHANG)` for a child of the controller itself.
fn reap_own_child(pidfd: BorrowedFd<'_>) {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    let _ = waitid(
        Id::PIDFd(pidfd),
        WaitPidFlag::WEXITED | WaitPidFlag::__WALL | WaitPidFlag::WNOHANG,
    );
}

/// The task state of a wait status.
fn state_of(status: i32) -> TaskState {
    if libc::WIFEXITED(status) {
        TaskState::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        TaskState::Killed(libc::WTERMSIG(status))
    } else {
        TaskState::Killed(0)
    }
}

fn describe_status(status: i32) -> String {
    match state_of(status) {
        TaskState::Exited(c) => format!("exit code {c}"),
        TaskState::Killed(s) => format!("killed by signal {s}"),
        TaskState::Running => "running".into(),
    }
}

/// The one-letter state of `/proc/<pid>/stat` (`T` for a stopped helper).
fn proc_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}

/// The initial user namespace's fixed inode (`PROC_USER_INIT_INO`).
const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;

/// The level of a helper's user namespace, and how it was found.
///
/// `NS_GET_PARENT` (ioctl_ns(2)) gives the parent only while it is the caller's own user
/// namespace or below it, so the walk is done here, above the root helper: up from its
/// namespace until the initial one (its inode is `PROC_USER_INIT_INO`, exact) or until
/// `EPERM` at the controller's own, which is then assumed to be one level below the initial
/// one (a container).
fn user_ns_level(pid: i32) -> (u32, &'static str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(f) = std::fs::File::open(format!("/proc/{pid}/ns/user")) else {
        return (0, "unreadable, assumed 0");
    };
    let mut cur: OwnedFd = f.into();
    let mut level = 0;
    loop {
        let ino = std::fs::File::from(cur.try_clone().expect("dup a namespace fd"))
            .metadata()
            .map(|m| m.ino())
            .unwrap_or(0);
        if ino == PROC_USER_INIT_INO {
            return (level, "NS_GET_PARENT walk to the initial user namespace");
        }
        match sys::ns_get_parent(cur.as_fd()) {
            Ok(parent) => {
                level += 1;
                cur = parent;
            }
            Err(_) => {
                return (
                    level + 1,
                    "NS_GET_PARENT walk to the controller's user namespace, assumed level 1",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Spin;
    use std::time::Duration;

    /// Whether `wait` looked at all, and what it answered.
    fn looks(spin: &mut Spin, ready: bool) -> (bool, bool) {
        let mut looked = false;
        let got = spin.wait(|| {
            looked = true;
            ready
        });
        (looked, got)
    }

    #[test]
    fn a_zero_budget_never_looks() {
        let mut s = Spin::new(Duration::ZERO);
        assert_eq!(looks(&mut s, true), (false, false));
    }

    #[test]
    fn a_missed_spin_skips_1_2_4_waits_and_a_caught_one_resets() {
        let mut s = Spin::new(Duration::from_micros(1));
        assert_eq!(looks(&mut s, false), (true, false));
        assert_eq!(looks(&mut s, true), (false, false), "skips 1");
        assert_eq!(looks(&mut s, false), (true, false));
        for _ in 0..2 {
            assert_eq!(looks(&mut s, true), (false, false), "skips 2");
        }
        assert_eq!(looks(&mut s, true), (true, true));
        assert_eq!(looks(&mut s, false), (true, false));
        assert_eq!(looks(&mut s, true), (false, false), "back to 1");
        assert_eq!(looks(&mut s, true), (true, true));
    }

    #[test]
    fn the_helper_environment_adds_the_rseq_setting_after_the_callers_tunables() {
        let vars = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<Vec<(std::ffi::OsString, std::ffi::OsString)>>()
        };
        let text = |e: Vec<Vec<u8>>| {
            e.into_iter()
                .map(|kv| String::from_utf8(kv).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            text(super::helper_env_from(vars(&[
                ("HOME", "/root"),
                ("A", "b=c")
            ]))),
            ["HOME=/root", "A=b=c", "GLIBC_TUNABLES=glibc.pthread.rseq=0"]
        );
        assert_eq!(
            text(super::helper_env_from(vars(&[
                ("GLIBC_TUNABLES", "glibc.malloc.check=3"),
                ("HOME", "/root")
            ]))),
            [
                "HOME=/root",
                "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.pthread.rseq=0"
            ]
        );
        assert_eq!(
            text(super::helper_env_from(vars(&[("GLIBC_TUNABLES", "")]))),
            ["GLIBC_TUNABLES=glibc.pthread.rseq=0"]
        );
    }

    /// posix_spawn(3) reports a failed exec to the caller (glibc's child writes the errno
    /// into the vforked parent's memory), so a missing helper is a `Spawn` error, not a
    /// child that dies before it says hello.
    #[test]
    fn a_missing_helper_is_a_spawn_error_with_the_exec_errno() {
        let missing = std::path::Path::new("/nonexistent/nslab-helper");
        match super::RealMachine::start(missing) {
            Err(crate::StartError::Spawn { exe, source }) => {
                assert_eq!(exe, missing);
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "{source}");
            }
            Err(other) => panic!("expected a spawn error, got {other}"),
            Ok(_) => panic!("a machine started from a missing helper"),
        }
    }

    #[test]
    fn the_backoff_stops_at_its_cap() {
        let mut s = Spin::new(Duration::from_micros(1));
        for _ in 0..20 {
            let _ = looks(&mut s, false);
            while s.skip > 0 {
                let _ = looks(&mut s, false);
            }
        }
        assert_eq!(s.backoff, super::MAX_SPIN_BACKOFF);
    }
}
