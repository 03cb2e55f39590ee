//! Thin wrappers over the system calls the helpers and the controller make.
//!
//! Each function is named like its system call (see clone(2), clone3(2), unshare(2),
//! setns(2), pidfd_open(2), pidfd_send_signal(2), capget(2), ioctl_ns(2) and the pidfd
//! `PIDFD_GET_INFO` ioctl) and returns the kernel's errno untouched, so that the answer a
//! scenario sees is the kernel's own. Nothing here allocates between a clone and its return
//! in the child, which keeps the fork-like raw clone safe in a single-threaded helper.
//!
//! nix makes the calls it has a wrapper for (waitpid, waitid, poll, signalfd, prctl, socket,
//! and the ioctl request numbers). The rest are raw: `clone` and `clone3` (a fork-like clone
//! with a NULL stack and the full flag word, `CLONE_NEWTIME` included), `unshare` and `setns`
//! with 64-bit flags that nix's `CloneFlags` cannot carry, the pidfd calls, `close_range`,
//! `capget`/`capset`, and `setresuid`/`setresgid` (the raw call, not the C library's
//! broadcast to every thread, whose bookkeeping a raw clone's child does not share).

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nslab_machine::sched::{CLONE_PIDFD, CLONE_SETTLS};
use nslab_machine::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The errno of the last failed call of this thread.
pub fn last_errno() -> Errno {
    Errno::from_raw(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// The kernel's errno of a failed nix call.
pub fn from_nix(e: nix::Error) -> Errno {
    Errno::from_raw(e as i32)
}

/// Turns a raw syscall return value into the kernel's answer.
fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

/// What a clone gave back in the process that made it.
pub enum Forked {
    /// This is the new child.
    Child,
    /// This is the parent; the child has this pid (in the caller's pid namespace) and, if
    /// `CLONE_PIDFD` was asked for, this pidfd.
    Parent { pid: i32, pidfd: Option<OwnedFd> },
}

/// The thread pointer the child must keep when `CLONE_SETTLS` is passed: the caller's own,
/// so that the child's Rust thread-locals stay where they are (a fork-like clone).
#[cfg(target_arch = "x86_64")]
pub(crate) fn current_tls() -> Option<u64> {
    let mut base: u64 = 0;
    // SAFETY: ARCH_GET_FS writes one u64 to the pointer we pass, which is valid.
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            0x1003 as libc::c_long,
            &mut base as *mut u64,
        )
    };
    (r == 0).then_some(base)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn current_tls() -> Option<u64> {
    None
}

/// Legacy `clone(2)` with a NULL stack, fork-like: the child continues from this call.
///
/// All 64 bits of `flags` are passed as the kernel's `unsigned long` argument; the kernel
/// itself keeps the low 32 and takes the low byte as the exit signal. The caller must be
/// single-threaded and must have refused `CLONE_VM`, `CLONE_VFORK` and `CLONE_THREAD`.
pub fn clone(flags: u64) -> Result<Forked, Errno> {
    // A zero exit-signal byte means SIGCHLD, as `CloneArgs` documents for both backends.
    let flags = with_default_exit_signal(flags);
    let mut parent_word: libc::c_int = -1;
    let mut child_word: libc::c_int = 0;
    let tls = if flags & CLONE_SETTLS != 0 {
        current_tls().ok_or(Errno::EOPNOTSUPP)?
    } else {
        0
    };
    let parent_ptr = &mut parent_word as *mut libc::c_int;
    let child_ptr = &mut child_word as *mut libc::c_int;
    // SAFETY: the caller is single-threaded and CLONE_VM is not set, so the child gets a
    // copy of this address space and returns here on its own copy of the stack, exactly as
    // after fork(2). The tid pointers point at live locals of this frame (valid in both
    // copies); the tls value is the current one, so the child's thread pointer is unchanged.
    #[cfg(any(target_arch = "x86_64", target_arch = "s390x"))]
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0 as libc::c_ulong,
            parent_ptr,
            child_ptr,
            tls as libc::c_ulong,
        )
    };
    // SAFETY: as above; these architectures take tls before the child tid pointer.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "s390x")))]
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0 as libc::c_ulong,
            parent_ptr,
            tls as libc::c_ulong,
            child_ptr,
        )
    };
    forked(check(ret)?, flags, parent_word)
}

/// Legacy `clone` flags with `SIGCHLD` as the exit signal when the low byte is zero.
fn with_default_exit_signal(flags: u64) -> u64 {
    if flags & 0xff == 0 {
        flags | libc::SIGCHLD as u64
    } else {
        flags
    }
}

/// What a probe clone with `CLONE_VM` or `CLONE_VFORK` gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// The kernel accepted the flags: a child existed and has already exited.
    Accepted,
}

/// The child of a probe clone: it exits at once, touching nothing of the shared memory but
/// its own stack.
extern "C" fn probe_child(_arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `exit` ends only this task and touches no memory.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    0
}

/// Legacy `clone` with `CLONE_VM` or `CLONE_VFORK`, which a helper cannot survive as a
/// fork-like call: the kernel gets exactly these flags, on a fresh stack, and its answer is
/// what the caller reports. When it accepts them the child exits at once (it would share the
/// helper's memory, or suspend it); a child process is reaped here, a thread reaps itself.
/// The stack of a thread is left mapped (64 KiB), since nothing tells when it stops using it.
pub fn clone_probe(flags: u64) -> Result<Probe, Errno> {
    const STACK: usize = 64 * 1024;
    let flags = with_default_exit_signal(flags);
    // SAFETY: an anonymous private mapping that nothing else refers to.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(last_errno());
    }
    // SAFETY: the child runs `probe_child` on the top of the fresh stack and exits; glibc's
    // wrapper passes the flag word to the kernel (it keeps the low 32 bits, as the kernel
    // does for legacy clone). With CLONE_VM the child writes only its own stack.
    let ret = unsafe {
        libc::clone(
            probe_child,
            (stack as *mut u8).add(STACK) as *mut libc::c_void,
            flags as u32 as libc::c_int,
            std::ptr::null_mut(),
        )
    };
    if ret < 0 {
        let e = last_errno();
        // SAFETY: no child was made, so nothing else uses the mapping.
        unsafe { libc::munmap(stack, STACK) };
        return Err(e);
    }
    let thread = flags & nslab_machine::sched::CLONE_THREAD != 0;
    if thread {
        // The helper must be single-threaded again before its next request (unshare of a
        // user namespace and setns into a mount namespace need it): wait for the thread's
        // exit, which /proc/self/task shows, for up to a second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(1)
            > 1
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }
    let ours = !thread && flags & nslab_machine::sched::CLONE_PARENT == 0;
    if ours {
        let _ = nix::sys::wait::waitpid(Pid::from_raw(ret), Some(WaitPidFlag::__WALL));
    }
    if !thread {
        // A process child had its own copy of the mapping or has been reaped (with
        // CLONE_PARENT its new parent reaps it; with CLONE_VM it may still run, so keep it).
        if ours || flags & nslab_machine::sched::CLONE_VM == 0 {
            // SAFETY: the child that used the stack has been reaped, or used a copy.
            unsafe { libc::munmap(stack, STACK) };
        }
    }
    Ok(Probe::Accepted)
}

/// What a fork-like clone returned, on either side: the child sees 0; the parent gets the
/// child's pid and, with `CLONE_PIDFD`, the pidfd the kernel stored in `pidfd_word`.
fn forked(pid: libc::c_long, flags: u64, pidfd_word: libc::c_int) -> Result<Forked, Errno> {
    if pid == 0 {
        return Ok(Forked::Child);
    }
    let pidfd = (flags & CLONE_PIDFD != 0 && pidfd_word >= 0).then(|| {
        // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd that nobody else owns.
        unsafe { OwnedFd::from_raw_fd(pidfd_word) }
    });
    Ok(Forked::Parent {
        pid: pid as i32,
        pidfd,
    })
}

/// `struct clone_args` of include/uapi/linux/sched.h (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs3 {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `clone3(2)` with no stack (fork-like), `SIGCHLD` as the exit signal and the given flags.
///
/// `CLONE_INTO_CGROUP` is passed with cgroup fd 0, so the kernel answers it as it would any
/// caller that names a descriptor that is not a cgroup directory.
pub fn clone3(flags: u64) -> Result<Forked, Errno> {
    let mut pidfd: libc::c_int = -1;
    let mut parent_word: libc::c_int = 0;
    let mut child_word: libc::c_int = 0;
    let tls = if flags & CLONE_SETTLS != 0 {
        current_tls().ok_or(Errno::EOPNOTSUPP)?
    } else {
        0
    };
    let args = CloneArgs3 {
        flags,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        child_tid: &mut child_word as *mut libc::c_int as u64,
        parent_tid: &mut parent_word as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        tls,
        ..CloneArgs3::default()
    };
    // SAFETY: same reasoning as `clone`: a fork-like clone (no CLONE_VM, no new stack) in a
    // single-threaded caller; every pointer in `args` points at a live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs3,
            std::mem::size_of::<CloneArgs3>(),
        )
    };
    forked(check(ret)?, flags, pidfd)
}

/// `unshare(2)` with the full `unsigned long` flag word.
pub fn unshare(flags: u64) -> Result<(), Errno> {
    // SAFETY: unshare takes a plain integer and touches no memory of ours.
    check(unsafe { libc::syscall(libc::SYS_unshare, flags as libc::c_ulong) }).map(drop)
}

/// `setns(2)` with a namespace file or pidfd.
pub fn setns(fd: BorrowedFd<'_>, nstype: u64) -> Result<(), Errno> {
    // SAFETY: setns takes an fd we keep open for the call and an integer.
    check(unsafe {
        libc::syscall(
            libc::SYS_setns,
            fd.as_raw_fd() as libc::c_long,
            nstype as libc::c_long,
        )
    })
    .map(drop)
}

/// `pidfd_open(2)` of a pid in the caller's pid namespace.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes two integers; on success the new fd is ours alone.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0) })?;
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `pidfd_send_signal(2)` without siginfo.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> Result<(), Errno> {
    // SAFETY: a NULL siginfo is allowed and means "as kill(2) would send it".
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd() as libc::c_long,
            sig as libc::c_long,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// `struct pidfd_info` up to `exit_code` (`PIDFD_INFO_SIZE_VER0`, 64 bytes), from
/// include/uapi/linux/pidfd.h (v6.15+).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
}

/// `PIDFD_INFO_EXIT`: the exit status, filled in by the kernel when the task is reaped.
const PIDFD_INFO_EXIT: u64 = 0x8;

/// The ioctls nix has no wrapper for, with their request numbers built by nix's macros (the
/// functions they generate are `unsafe`: each caller passes a valid pointer).
mod ioctl {
    /// `PIDFS_IOCTL_MAGIC` of include/uapi/linux/pidfd.h.
    const PIDFS_IOCTL_MAGIC: u8 = 0xFF;
    /// `NSIO` of include/uapi/linux/nsfs.h.
    const NSIO: u8 = 0xb7;

    nix::ioctl_readwrite!(
        /// `PIDFD_GET_INFO`: `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)`, the size
        /// encoded being that of the 64-byte first version.
        pidfd_get_info,
        PIDFS_IOCTL_MAGIC,
        11,
        super::PidfdInfo
    );
    nix::ioctl_none!(
        /// `NS_GET_PARENT`: `_IO(NSIO, 0x2)`.
        ns_get_parent,
        NSIO,
        0x2
    );
    nix::ioctl_none!(
        /// `NS_GET_USERNS`: `_IO(NSIO, 0x1)`.
        ns_get_userns,
        NSIO,
        0x1
    );
    nix::ioctl_read!(
        /// `NS_GET_OWNER_UID`: `_IO(NSIO, 0x4)` in the header, but the kernel writes a
        /// `uid_t` through the argument.
        ns_get_owner_uid,
        NSIO,
        0x4,
        libc::uid_t
    );
    nix::ioctl_read_bad!(
        /// `SIOCGIFFLAGS`: reads an interface's flags into an `ifreq`.
        siocgifflags,
        libc::SIOCGIFFLAGS,
        libc::ifreq
    );
    nix::ioctl_write_ptr_bad!(
        /// `SIOCSIFFLAGS`: sets an interface's flags from an `ifreq`.
        siocsifflags,
        libc::SIOCSIFFLAGS,
        libc::ifreq
    );
}

/// The wait status of a reaped task, or `None` while it has not been reaped.
///
/// Linux 6.15 and later record the status for every task that a pidfd refers to in
/// `release_task` (the reap), in `pidfs_exit`, *before* `__unhash_process` detaches the pid
/// and wakes the pidfd's pollers with `POLLHUP`. So once [`pidfd_wait`] has seen
/// [`PidfdEvent::Reaped`], this answers `Some` at once, with what the reaper's `waitpid` saw,
/// even when the reaper was the kernel itself (a dying pid-namespace init reaps its own
/// children).
///
/// Asked earlier, while the task is a zombie, it may answer `ESRCH` rather than `None`:
/// `pidfd_info` (fs/pidfs.c) takes the task with `get_pid_task` and reads its pid last, and a
/// reaper that unhashes the task in between leaves that pid 0, which the kernel reports as
/// `ESRCH` ("incomplete information"). That is why callers wait for the reap first.
pub fn pidfd_exit_status(pidfd: BorrowedFd<'_>) -> Result<Option<i32>, Errno> {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl reads and writes at most size_of::<PidfdInfo>() bytes, the size
    // encoded in the request number, through a pointer to a live local of that type.
    // ENOTTY or EINVAL mean a kernel without PIDFD_GET_INFO; ESRCH, see above.
    unsafe { ioctl::pidfd_get_info(pidfd.as_raw_fd(), &mut info) }.map_err(from_nix)?;
    Ok((info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code))
}

/// The pid of a pidfd's process in the caller's pid namespace (`PIDFD_GET_INFO`, which
/// always fills in `pid`; Linux 6.13+), or `ESRCH` if it has already been reaped.
pub fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<i32, Errno> {
    let mut info = PidfdInfo::default();
    // SAFETY: as in `pidfd_exit_status`.
    unsafe { ioctl::pidfd_get_info(pidfd.as_raw_fd(), &mut info) }.map_err(from_nix)?;
    match info.pid as i32 {
        0 => Err(Errno::ESRCH),
        pid => Ok(pid),
    }
}

/// What [`pidfd_wait`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidfdEvent {
    /// The process has exited (a zombie or gone): the pidfd polls `POLLIN`.
    Exited,
    /// The process has been reaped (unhashed): the pidfd polls `POLLHUP` (Linux 6.9+; the
    /// reap wakes the pollers, so this sleeps until then).
    Reaped,
}

/// Waits until the process of this pidfd has reached `event` or `deadline` has passed, and
/// says whether it has reached it. A deadline in the past just looks.
pub fn pidfd_wait(pidfd: BorrowedFd<'_>, event: PidfdEvent, deadline: Instant) -> bool {
    // POLLHUP is always reported, so `events` = 0 sleeps through the zombie state (POLLIN)
    // until the reap.
    let (events, wanted) = match event {
        PidfdEvent::Exited => (PollFlags::POLLIN, PollFlags::POLLIN | PollFlags::POLLHUP),
        PidfdEvent::Reaped => (PollFlags::empty(), PollFlags::POLLHUP),
    };
    loop {
        let mut p = [PollFd::new(pidfd, events)];
        match nix::poll::poll(&mut p, timeout_until(deadline)) {
            Err(nix::Error::EINTR) => continue,
            // A timeout (0), an error, or POLLNVAL/POLLERR without the event: not reached.
            Ok(n) => return n > 0 && p[0].revents().is_some_and(|r| r.intersects(wanted)),
            Err(_) => return false,
        }
    }
}

/// Busy-polls `ready` (with [`std::hint::spin_loop`] between looks) for at most `budget`,
/// and says whether it became true. Zero just says no.
pub fn spin_for(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    if budget.is_zero() {
        return false;
    }
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= budget {
            return false;
        }
        std::hint::spin_loop();
    }
}

/// Whether `fd` polls any of `events` (or `POLLHUP`/`POLLERR`) right now, without sleeping.
pub fn poll_now(fd: BorrowedFd<'_>, events: PollFlags, wanted: PollFlags) -> bool {
    let mut p = [PollFd::new(fd, events)];
    matches!(nix::poll::poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0)
        && p[0].revents().is_some_and(|r| r.intersects(wanted))
}

/// The poll timeout that ends at `deadline`, rounded up to the next millisecond so that a
/// wait never ends just before it (zero once it has passed).
pub fn timeout_until(deadline: Instant) -> PollTimeout {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_micros().div_ceil(1000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Whether the task of this pidfd has exited (the pidfd polls readable), waiting up to
/// `timeout_ms` (0 = just look).
pub fn pidfd_exited(pidfd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    pidfd_wait(pidfd, PidfdEvent::Exited, deadline)
}

/// `close_range(2)`: closes every fd from `first` up.
pub fn close_from(first: u32) {
    // SAFETY: closing fds this process owns; callers hold no borrowed fd above `first`.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if r < 0 {
        // Kernels before 5.9 lack close_range: close one by one up to the soft limit.
        for fd in first..1024 {
            // SAFETY: as above; EBADF for unused numbers is harmless.
            unsafe { libc::close(fd as i32) };
        }
    }
}

/// `close_range(2)` around one fd: closes every fd from `first` up except `keep`.
pub fn close_from_except(first: u32, keep: u32) {
    if keep < first {
        return close_from(first);
    }
    if keep > first {
        close_between(first, keep - 1);
    }
    close_from(keep + 1);
}

/// `close_range(first, last, 0)`, or one by one on kernels before 5.9.
fn close_between(first: u32, last: u32) {
    // SAFETY: closing fds this process owns; callers hold no borrowed fd in the range.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if r < 0 {
        for fd in first..=last.min(1023) {
            // SAFETY: as above; EBADF for unused numbers is harmless.
            unsafe { libc::close(fd as i32) };
        }
    }
}

/// `struct __user_cap_header_struct` of include/uapi/linux/capability.h.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `capget` then `capset` with `caps` cleared from the effective and permitted sets.
pub fn drop_caps(caps: u64) -> Result<(), Errno> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 uses two data structs, which `data` provides.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) })?;
    for (i, d) in data.iter_mut().enumerate() {
        let mask = (caps >> (32 * i)) as u32;
        d.effective &= !mask;
        d.permitted &= !mask;
    }
    // SAFETY: as above, reading two data structs.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) }).map(drop)
}

/// `setresuid(uid, uid, uid)` as the raw syscall (the helper is single-threaded, so the
/// libc wrapper's broadcast to other threads is not needed).
pub fn setresuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: integers only.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// `setresgid(gid, gid, gid)` as the raw syscall.
pub fn setresgid(gid: u32) -> Result<(), Errno> {
    // SAFETY: integers only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// `NS_GET_PARENT` (ioctl_ns(2)): the parent namespace of a user or pid namespace fd.
pub fn ns_get_parent(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: this ioctl takes no argument and returns a new fd.
    let r = unsafe { ioctl::ns_get_parent(fd.as_raw_fd()) }.map_err(from_nix)?;
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// `NS_GET_USERNS` (ioctl_ns(2)): the user namespace that owns the namespace of `fd`.
pub fn ns_get_userns(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: this ioctl takes no argument and returns a new fd.
    let r = unsafe { ioctl::ns_get_userns(fd.as_raw_fd()) }.map_err(from_nix)?;
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// `NS_GET_OWNER_UID` (ioctl_ns(2)): the uid (in the caller's user namespace) of the creator
/// of the user namespace of `fd`.
pub fn ns_get_owner_uid(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: the ioctl writes one uid_t through the pointer, which is valid for the call.
    unsafe { ioctl::ns_get_owner_uid(fd.as_raw_fd(), &mut uid) }.map_err(from_nix)?;
    Ok(uid)
}

/// `waitpid(-1, WNOHANG | __WALL)`: the pid of one reaped child, if any.
pub fn reap_one() -> Option<i32> {
    match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
        Ok(WaitStatus::StillAlive) | Err(_) => None,
        Ok(status) => status.pid().map(Pid::as_raw),
    }
}

/// `SIOCGIFFLAGS` then `SIOCSIFFLAGS` with `IFF_UP` added, on a datagram socket of the
/// caller's network namespace.
pub fn link_up(ifname: &str) -> Result<(), Errno> {
    let bytes = ifname.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(Errno::ENODEV);
    }
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(from_nix)?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of the valid ifreq we point at.
    unsafe { ioctl::siocgifflags(sock.as_raw_fd(), &mut req) }.map_err(from_nix)?;
    // SAFETY: the union member written by SIOCGIFFLAGS is ifru_flags.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the valid ifreq we point at.
    unsafe { ioctl::siocsifflags(sock.as_raw_fd(), &req) }.map_err(from_nix)?;
    Ok(())
}

/// Sets `SIGCHLD` to be ignored, blocks it and returns a nonblocking signalfd that reads it,
/// so that a helper learns in its poll loop of every exited child it must reap itself.
///
/// With `SIGCHLD` ignored the kernel reaps a child whose exit signal is `SIGCHLD` as it exits
/// (`do_notify_parent` in kernel/signal.c autoreaps it, and `release_task` records the exit
/// status for its pidfd before waking the pidfd's pollers): the controller, waiting on the
/// pidfd, learns of the exit without a helper having to wake up and reap, which was one
/// wakeup of every exit's critical path. The setting is inherited by every helper a clone
/// makes, and applies to orphans reparented to a subreaper or a pid namespace's init too.
/// Children with another exit signal still become zombies, and the loop reaps them.
pub fn sigchld_fd() -> Result<SignalFd, Errno> {
    // SAFETY: SIG_IGN installs no handler, so no code of ours runs in signal context.
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigIgn) }.map_err(from_nix)?;
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(from_nix)?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).map_err(from_nix)
}

/// Reads and discards the signals queued on a nonblocking signalfd.
pub fn drain(sfd: &SignalFd) {
    while let Ok(Some(_)) = sfd.read_signal() {}
}

/// posix_spawn(3)'s file actions and attributes, each destroyed on drop once it was
/// initialised (and only then).
struct SpawnSetup {
    actions: std::mem::MaybeUninit<libc::posix_spawn_file_actions_t>,
    attr: std::mem::MaybeUninit<libc::posix_spawnattr_t>,
    inited: (bool, bool),
}

impl SpawnSetup {
    fn new() -> Result<SpawnSetup, Errno> {
        let mut s = SpawnSetup {
            actions: std::mem::MaybeUninit::uninit(),
            attr: std::mem::MaybeUninit::uninit(),
            inited: (false, false),
        };
        // SAFETY: the init functions write the structs through valid pointers.
        let r = unsafe { libc::posix_spawn_file_actions_init(s.actions.as_mut_ptr()) };
        if r != 0 {
            return Err(Errno::from_raw(r));
        }
        s.inited.0 = true;
        // SAFETY: as above.
        let r = unsafe { libc::posix_spawnattr_init(s.attr.as_mut_ptr()) };
        if r != 0 {
            return Err(Errno::from_raw(r));
        }
        s.inited.1 = true;
        Ok(s)
    }
}

impl Drop for SpawnSetup {
    fn drop(&mut self) {
        // SAFETY: each is destroyed only if its init succeeded, once.
        unsafe {
            if self.inited.0 {
                libc::posix_spawn_file_actions_destroy(self.actions.as_mut_ptr());
            }
            if self.inited.1 {
                libc::posix_spawnattr_destroy(self.attr.as_mut_ptr());
            }
        }
    }
}

/// Starts `exe` with `args` and the environment `env` through posix_spawn(3), with
/// standard input and output on `/dev/null`, standard error inherited, `channel` at fd
/// `at` (above 2), no signal blocked and `SIGPIPE` at its default; returns the child's pid.
/// `exe` is executed as given: a path without a `/` is not looked up in `PATH`.
///
/// glibc's posix_spawn makes the child with `clone(CLONE_VM | CLONE_VFORK)`: the child runs
/// on the parent's memory until it executes, so the parent's pages are not made
/// copy-on-write. A `fork` of a multithreaded controller marks every private page of it
/// copy-on-write, and each page its threads write next is copied, with a TLB shootdown of
/// every other CPU running one of its threads (an inter-processor interrupt, which on a
/// virtual machine is a trap to the hypervisor). That is what `std::process::Command` does
/// when it has a `pre_exec` closure, which placing the channel at a fixed fd needs.
pub fn spawn(
    exe: &std::ffi::CStr,
    args: &[&std::ffi::CStr],
    env: &[&std::ffi::CStr],
    channel: BorrowedFd<'_>,
    at: RawFd,
) -> Result<i32, Errno> {
    assert!(at > 2, "the channel cannot take a standard stream's place");
    let ok = |r: libc::c_int| {
        if r == 0 {
            Ok(())
        } else {
            Err(Errno::from_raw(r))
        }
    };
    let dev_null = c"/dev/null";
    let mut argv: Vec<*mut libc::c_char> = std::iter::once(exe)
        .chain(args.iter().copied())
        .map(|a| a.as_ptr().cast_mut())
        .collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());
    let mut s = SpawnSetup::new()?;
    // A dup2 onto its own number keeps close-on-exec in C libraries before glibc 2.29, so a
    // channel already at `at` is moved through another number first.
    let moved = if channel.as_raw_fd() == at {
        Some(
            nix::fcntl::fcntl(
                channel.as_raw_fd(),
                nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(at + 1),
            )
            .map_err(from_nix)?,
        )
        // SAFETY: fcntl just made this fd, and nothing else owns it.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
    } else {
        None
    };
    let from = moved
        .as_ref()
        .map_or(channel.as_raw_fd(), |fd| fd.as_raw_fd());
    let empty = SigSet::empty();
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    // SAFETY: the structs are initialised; the path is a valid C string that outlives the
    // spawn; `from` is open until the spawn returns, and its copy at `at` has close-on-exec
    // clear (dup2 never copies the flag).
    unsafe {
        ok(libc::posix_spawn_file_actions_adddup2(
            s.actions.as_mut_ptr(),
            from,
            at,
        ))?;
        for (fd, flags) in [(0, libc::O_RDONLY), (1, libc::O_WRONLY)] {
            ok(libc::posix_spawn_file_actions_addopen(
                s.actions.as_mut_ptr(),
                fd,
                dev_null.as_ptr(),
                flags,
                0,
            ))?;
        }
        ok(libc::posix_spawnattr_setsigmask(
            s.attr.as_mut_ptr(),
            empty.as_ref(),
        ))?;
        ok(libc::posix_spawnattr_setsigdefault(
            s.attr.as_mut_ptr(),
            pipe.as_ref(),
        ))?;
        ok(libc::posix_spawnattr_setflags(
            s.attr.as_mut_ptr(),
            (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
        ))?;
    }
    let mut pid: libc::pid_t = 0;
    // SAFETY: argv and envp are NULL-terminated and their strings outlive the call; the
    // actions and attributes are initialised.
    ok(unsafe {
        libc::posix_spawn(
            &mut pid,
            exe.as_ptr(),
            s.actions.as_ptr(),
            s.attr.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    Ok(pid)
}

/// A buffer of its own anonymous mapping that a fork-like child gets back zeroed
/// (`MADV_WIPEONFORK`, madvise(2), Linux 4.14): the kernel neither copies its page tables
/// into the child nor makes the parent's pages copy-on-write, so the parent's next receive
/// into it is not a fault. A helper's receive buffer is one: the child of a clone has no use
/// for what its parent received last.
pub struct WipeOnFork {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl WipeOnFork {
    /// Maps `len` bytes (rounded up to whole pages by the kernel), zeroed.
    pub fn new(len: usize) -> Result<WipeOnFork, Errno> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        let buf = WipeOnFork {
            ptr: std::ptr::NonNull::new(p.cast()).expect("mmap returned a non-null address"),
            len,
        };
        // SAFETY: the range is the mapping just made. A kernel without MADV_WIPEONFORK
        // (EINVAL) leaves an ordinary buffer, which is only slower.
        unsafe { libc::madvise(p, len, libc::MADV_WIPEONFORK) };
        Ok(buf)
    }
}

impl std::ops::Deref for WipeOnFork {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `ptr`, mapped for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for WipeOnFork {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for WipeOnFork {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this value owns; no reference outlives it.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::WipeOnFork;

    /// The spawned program has the channel at the asked number (also when the channel
    /// already has that number, with close-on-exec set), and /dev/null as standard input.
    #[test]
    fn spawn_places_the_channel_and_the_null_input() {
        use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
        let (_ours, theirs) = crate::protocol::channel_pair().unwrap();
        // A number of our own, close-on-exec like every fd of ours.
        let high = nix::fcntl::fcntl(
            theirs.as_raw_fd(),
            nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(500),
        )
        .unwrap();
        // SAFETY: fcntl just made it.
        let high = unsafe { OwnedFd::from_raw_fd(high) };
        let sh = c"/bin/sh";
        for (channel, at) in [
            (theirs.as_fd(), high.as_raw_fd()),
            (high.as_fd(), 777),
            (high.as_fd(), high.as_raw_fd()),
        ] {
            let script = std::ffi::CString::new(format!(
                "[ -S /proc/self/fd/{at} ] && [ \"$(readlink /proc/self/fd/0)\" = /dev/null ]"
            ))
            .unwrap();
            let env: [&std::ffi::CStr; 0] = [];
            let pid = super::spawn(sh, &[c"-c", &script], &env, channel, at).unwrap();
            let mut status = 0;
            // SAFETY: waiting for our own child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "channel {} at {at}: status {status:#x}",
                channel.as_raw_fd()
            );
        }
    }

    /// After a fork the child reads zeros where the parent keeps what it wrote, and the
    /// parent's pages stay writable without a copy: a write after the fork is no fault.
    #[test]
    fn a_wipe_on_fork_buffer_is_zero_in_the_child_and_kept_in_the_parent() {
        let mut buf = WipeOnFork::new(3 * 4096).unwrap();
        buf[0] = 7;
        buf[3 * 4096 - 1] = 9;
        let faults = || {
            // SAFETY: getrusage writes one struct through a valid pointer.
            unsafe {
                let mut u: libc::rusage = std::mem::zeroed();
                libc::getrusage(libc::RUSAGE_THREAD, &mut u);
                u.ru_minflt
            }
        };
        // SAFETY: the child only reads memory and calls _exit, which is async-signal-safe
        // in a child of a multithreaded test process.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let zero = buf.iter().all(|&b| b == 0);
            // SAFETY: the child ends here.
            unsafe { libc::_exit(if zero { 0 } else { 1 }) };
        }
        let before = faults();
        buf[1] = 8;
        let after = faults();
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child saw the parent's bytes"
        );
        assert_eq!((buf[0], buf[1], buf[3 * 4096 - 1]), (7, 8, 9));
        assert_eq!(after, before, "a write after the fork faulted");
    }
}
