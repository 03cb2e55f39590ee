//! The cost of each real operation through nslab against the bare syscall, in one run.
//!
//! `cargo bench -p nslab-real --bench real_ops` times each operation in pairs: once through a
//! [`RealMachine`], once as the bare syscall in a single-threaded child process (this binary
//! re-executed as `__nslab-bare`, so that the benchmark process itself never changes
//! namespace, serving one operation per line on its stdin and answering the nanoseconds it
//! took), back to back, which one goes first alternating from pair to pair, so that a busy
//! moment of this shared machine hits both. It prints per operation the median of each side
//! and the median of the pairs' ratios; then the median of a 10-operation scenario. It
//! prints numbers only and never fails on them.
//!
//! It prints the load average before and after (other processes share the machine).
//! `-- --pairs N` times N pairs of every operation (default 200, 100 for the ones that make a
//! network namespace); `-- --clones` times only the four clone rows; `-- --spin US` starts
//! the machine with [`StartOptions::spin`] (the controller busy-polls up to US µs);
//! `-- --any-cpu` starts it with [`StartOptions::one_cpu`] off. The bare side is started
//! first, as an ordinary process: the machine's CPU is not its.
//!
//! `-- --loop FLAGS N` only makes N clone+exit+wait through nslab (FLAGS a number), for a
//! profiler (BENCHMARKS.md: where a helper clone's time goes). `-- --pingpong` only times a
//! one-byte round trip between two processes, on any CPU and on one (why a machine runs on
//! one CPU). `-- --starts N` only starts and drops N machines. `-- --bare-on-machine-cpu` pins the bare side to the machine's CPU too, for a
//! comparison where neither side's wakeups cross CPUs.
use nslab_machine::sched::*;
use nslab_machine::{CloneArgs, Machine, NsFd, TaskId};
use nslab_real::{RealMachine, StartOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BARE_ARG: &str = "__nslab-bare";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<F: FnMut()>(n: usize, mut f: F) -> Duration {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        v.push(t.elapsed());
    }
    median(v)
}

/// A fork-like raw clone with `flags` and `SIGCHLD` as the exit signal, as a helper makes
/// one: the child's 0, or the parent's child pid.
fn raw_clone(flags: u64) -> libc::c_long {
    // SAFETY: callers are single-threaded; their children only call async-signal-safe
    // functions and end in _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | SIGCHLD) as libc::c_ulong,
            0,
            0,
            0,
            0,
        )
    };
    assert!(
        pid >= 0,
        "bare clone failed: {}",
        std::io::Error::last_os_error()
    );
    pid
}

/// A fork-like raw clone whose child exits at once; the parent waits for it.
fn bare_clone(flags: u64) {
    let pid = raw_clone(flags);
    if pid == 0 {
        // SAFETY: the child ends at once.
        unsafe { libc::_exit(0) };
    }
    let mut st = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid as i32, &mut st, 0) };
}

fn bare_unshare(flags: u64) {
    // SAFETY: unshare takes an integer; this process exists only to be measured.
    let r = unsafe { libc::unshare(flags as libc::c_int) };
    assert_eq!(
        r,
        0,
        "bare unshare failed: {}",
        std::io::Error::last_os_error()
    );
}

/// The operations compared, in the order printed.
#[derive(Clone, Copy, Debug)]
enum Bench {
    Clone(u64),
    Unshare(u64),
    Sethostname,
    SetnsPidfd,
    Observe,
}

impl Bench {
    const ALL: [Bench; 9] = [
        Bench::Clone(0),
        Bench::Clone(CLONE_NEWPID),
        Bench::Clone(CLONE_NEWNET),
        Bench::Clone(CLONE_NEWUSER | CLONE_NEWNET),
        Bench::Observe,
        Bench::Sethostname,
        Bench::SetnsPidfd,
        Bench::Unshare(CLONE_NEWNET),
        Bench::Unshare(CLONE_NEWUTS),
    ];

    fn name(self) -> String {
        match self {
            Bench::Clone(f) => format!("clone({}) + exit + wait", flag_name(f)),
            Bench::Unshare(f) => format!("unshare({})", flag_name(f)),
            Bench::Sethostname => "sethostname".into(),
            Bench::SetnsPidfd => "setns(pidfd, CLONE_NEWNET|CLONE_NEWUTS)".into(),
            Bench::Observe => "observe (10 readlinks, status, hostname, getifaddrs)".into(),
        }
    }

    /// Pairs per operation: the ones that make a network namespace cost more.
    fn pairs(self) -> usize {
        match self {
            Bench::Clone(f) | Bench::Unshare(f) if f & CLONE_NEWNET != 0 => 100,
            _ => 200,
        }
    }
}

fn flag_name(f: u64) -> String {
    if f == 0 {
        return "0".into();
    }
    let mut names = Vec::new();
    for (bit, name) in [
        (CLONE_NEWUSER, "CLONE_NEWUSER"),
        (CLONE_NEWPID, "CLONE_NEWPID"),
        (CLONE_NEWNET, "CLONE_NEWNET"),
        (CLONE_NEWUTS, "CLONE_NEWUTS"),
    ] {
        if f & bit != 0 {
            names.push(name);
        }
    }
    names.join("|")
}

/// Bare mode: serves one operation per line (its index in `Bench::ALL`) on stdin, made in
/// this single-threaded process, and answers the nanoseconds it took.
fn bare_main() {
    // Its own uts namespace first, as the nslab side's task has: `sethostname` must never
    // reach the host's (it did once, when sethostname came before the uts unshare in ALL).
    bare_unshare(CLONE_NEWUTS);
    // SAFETY: pidfd_open of ourselves.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id(), 0) } as i32;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let op = Bench::ALL[line.trim().parse::<usize>().unwrap()];
        let t = Instant::now();
        match op {
            Bench::Clone(f) => bare_clone(f),
            Bench::Unshare(f) => bare_unshare(f),
            Bench::Sethostname => nix::unistd::sethostname("bench").unwrap(),
            Bench::SetnsPidfd => {
                // SAFETY: setns on our own pidfd: a valid fd and flags.
                let r = unsafe { libc::setns(pidfd, (CLONE_NEWNET | CLONE_NEWUTS) as i32) };
                assert_eq!(r, 0);
            }
            Bench::Observe => {
                for e in nslab_machine::NsEntry::ALL {
                    let _ = std::fs::read_link(format!("/proc/thread-self/ns/{}", e.file_name()));
                }
                let _ = std::fs::read_to_string("/proc/thread-self/status").unwrap();
                let _ = nix::unistd::gethostname().unwrap();
                let _ = nix::ifaddrs::getifaddrs().unwrap().count();
            }
        }
        let ns = t.elapsed().as_nanos();
        writeln!(out, "{ns}").unwrap();
        out.flush().unwrap();
    }
}

/// The bare side, a child process serving operations.
struct Bare {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
}

impl Bare {
    fn start(exe: &Path) -> Bare {
        let mut child = Command::new(exe)
            .arg(BARE_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to = child.stdin.take().unwrap();
        let from = BufReader::new(child.stdout.take().unwrap());
        Bare { child, to, from }
    }

    fn time(&mut self, i: usize) -> Duration {
        writeln!(self.to, "{i}").unwrap();
        self.to.flush().unwrap();
        let mut line = String::new();
        self.from.read_line(&mut line).unwrap();
        Duration::from_nanos(line.trim().parse().expect("the bare side failed"))
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// `--pingpong`: what a hand-over between two processes costs, the thing a machine does at
/// every request: a round trip of one byte over a `SOCK_SEQPACKET` socket pair between this
/// process and a forked echo, 5000 times, with both on any CPU and then both pinned to the
/// CPU this process runs on (`StartOptions::one_cpu`'s reason).
fn pingpong() {
    fn round_trips(n: usize) -> (Duration, Duration, Duration) {
        let (a, b) = channel();
        // SAFETY: this process is single-threaded here; the child only echoes and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        let mut byte = [0u8; 1];
        if pid == 0 {
            drop(a);
            loop {
                // SAFETY: reading and writing one byte on an fd we own.
                let r = unsafe { libc::read(b.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
                if r <= 0 {
                    // SAFETY: the echo ends here.
                    unsafe { libc::_exit(0) };
                }
                // SAFETY: as above.
                unsafe { libc::write(b.as_raw_fd(), byte.as_ptr().cast(), 1) };
            }
        }
        drop(b);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            // SAFETY: as above.
            unsafe {
                libc::write(a.as_raw_fd(), byte.as_ptr().cast(), 1);
                libc::read(a.as_raw_fd(), byte.as_mut_ptr().cast(), 1);
            }
            v.push(t.elapsed());
        }
        drop(a);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        v.sort();
        (v[n / 10], v[n / 2], v[n * 9 / 10])
    }
    use std::os::fd::AsRawFd;
    let show = |what: &str, (p10, p50, p90): (Duration, Duration, Duration)| {
        println!(
            "{what:<40} median {:>7} µs   p10 {:>7}   p90 {:>7}",
            us(p50),
            us(p10),
            us(p90)
        );
    };
    println!("round trip of one byte between two processes (5000 each):");
    show("any CPU", round_trips(5000));
    // SAFETY: sched_getcpu takes no arguments.
    let cpu = unsafe { libc::sched_getcpu() } as usize;
    // This thread; the echo inherits it at fork.
    pin(0, cpu);
    show(&format!("both on CPU {cpu}"), round_trips(5000));
}

/// `--floor N`: the least a clone+exit+wait costs when the clone is asked of another process
/// over a socket and the child must be told to exit, as a machine's helpers are: N pairs,
/// on this process's CPU (both sides pinned, as a machine is), of
/// - the bare call: a fork-like `clone`, the child `_exit`s, `waitpid` (as the pairs' bare
///   side makes it);
/// - the same through a minimal helper: one byte to a forked helper process, which makes a
///   socket pair, clones as above (the child moves its end to fd 3, closes the rest, waits for a byte
///   and `_exit`s), opens the child's pidfd and sends both fds back in one `SCM_RIGHTS`
///   message; then one byte to the child, and a poll of its pidfd until it has been reaped
///   (the helper ignores `SIGCHLD`, so the kernel reaps it).
///
/// No encoding, no bookkeeping, no pid lookup: what is left is the design's own cost, the
/// part of a machine's clone that no cut to nslab's code can remove.
fn floor(n: usize) {
    use std::os::fd::AsRawFd;
    fn read_byte(fd: i32) -> bool {
        let mut b = 0u8;
        // SAFETY: reading one byte into a local.
        unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) == 1 }
    }
    fn write_byte(fd: i32) {
        // SAFETY: writing one byte from a local.
        unsafe { libc::write(fd, (&1u8 as *const u8).cast(), 1) };
    }
    /// The helper's loop: serve clone requests on `chan` until it closes.
    fn helper(chan: i32) -> ! {
        // SAFETY: SIG_IGN installs no handler; the kernel then reaps the children.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        while read_byte(chan) {
            let (ours, theirs) = channel();
            // This helper is single-threaded; the child makes plain fd calls and _exits.
            let pid = raw_clone(0) as i32;
            if pid == 0 {
                // SAFETY: plain fd calls, then _exit.
                unsafe {
                    libc::dup2(theirs.as_raw_fd(), 3);
                    libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                    let mut p = libc::pollfd {
                        fd: 3,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    libc::poll(&mut p, 1, -1);
                    read_byte(3);
                    libc::_exit(0);
                }
            }
            drop(theirs);
            // SAFETY: pidfd_open of our own child.
            let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
            let fds = [ours.as_raw_fd(), pidfd];
            let mut cmsg = [0u64; 8];
            let mut byte = 1u8;
            let mut iov = libc::iovec {
                iov_base: (&mut byte as *mut u8).cast(),
                iov_len: 1,
            };
            // SAFETY: a msghdr over locals; the control message fits in `cmsg` (CMSG_SPACE
            // of two ints is 24 bytes) and is written through the CMSG macros.
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = cmsg.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(8) as usize;
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(8) as usize;
                std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), 2);
                libc::sendmsg(chan, &msg, 0);
                libc::close(pidfd);
            }
        }
        // SAFETY: the helper ends here.
        unsafe { libc::_exit(0) }
    }
    /// The controller's side of one clone+exit+wait through the helper.
    fn through_helper(chan: i32) {
        write_byte(chan);
        let mut cmsg = [0u64; 8];
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        let mut fds = [-1i32; 2];
        // SAFETY: as in the helper; the fds the message carries are copied out of it.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cmsg);
            assert_eq!(libc::recvmsg(chan, &mut msg, libc::MSG_CMSG_CLOEXEC), 1);
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert!(!c.is_null(), "no fds in the answer");
            std::ptr::copy_nonoverlapping(libc::CMSG_DATA(c).cast(), fds.as_mut_ptr(), 2);
        }
        let [child_chan, pidfd] = fds;
        write_byte(child_chan);
        let mut p = libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling a pidfd we own until it reports the reap (POLLHUP), then closing
        // both fds.
        unsafe {
            while p.revents & libc::POLLHUP == 0 {
                libc::poll(&mut p, 1, -1);
            }
            libc::close(child_chan);
            libc::close(pidfd);
        }
    }
    // SAFETY: sched_getcpu takes no arguments.
    let cpu = unsafe { libc::sched_getcpu() } as usize;
    pin(0, cpu);
    let (ctl, theirs) = channel();
    // SAFETY: single-threaded here; the helper never returns.
    if unsafe { libc::fork() } == 0 {
        drop(ctl);
        helper(theirs.as_raw_fd());
    }
    drop(theirs);
    let (mut ratios, mut b, mut h) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let time = |f: &dyn Fn()| {
            let t = Instant::now();
            f();
            t.elapsed()
        };
        let (tb, th) = if i % 2 == 0 {
            let tb = time(&|| bare_clone(0));
            (tb, time(&|| through_helper(ctl.as_raw_fd())))
        } else {
            let th = time(&|| through_helper(ctl.as_raw_fd()));
            (time(&|| bare_clone(0)), th)
        };
        ratios.push(th.as_secs_f64() / tb.as_secs_f64());
        b.push(tb);
        h.push(th);
    }
    drop(ctl);
    // SAFETY: reaping the helper, our own child.
    unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
    ratios.sort_by(f64::total_cmp);
    println!(
        "{n} pairs on CPU {cpu}: bare clone+exit+wait {} µs, through a minimal helper {} µs, \
         median pair ratio {:.2}",
        us(median(b)),
        us(median(h)),
        ratios[n / 2]
    );
}

/// A `SOCK_SEQPACKET` socket pair, as a machine's channels are.
fn channel() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair")
}

/// Pins process or thread `pid` (0: the calling thread) to `cpu`.
fn pin(pid: i32, cpu: usize) {
    // SAFETY: a plain bitmask on our stack; `cpu` is a CPU number the kernel gave us, below
    // CPU_SETSIZE.
    let r = unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        libc::sched_setaffinity(pid, std::mem::size_of_val(&one), &one)
    };
    assert_eq!(r, 0, "sched_setaffinity({pid}, CPU {cpu}) failed");
}

/// `--starts N`: N machines started and dropped one after the other, nothing else: the
/// median of each half, for a profiler.
fn profile_starts(exe: &Path, n: usize) {
    let (mut up, mut down) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        let m = RealMachine::start(exe).unwrap();
        up.push(t.elapsed());
        let t = Instant::now();
        drop(m);
        down.push(t.elapsed());
    }
    println!(
        "{n} machines: start {} µs, drop (teardown) {} µs (medians)",
        us(median(up)),
        us(median(down))
    );
}

/// `--loop FLAGS N`: N clone+exit+wait through nslab, nothing else, for a profiler.
fn profile_loop(exe: &Path, flags: u64, n: usize) {
    let mut m = RealMachine::start(exe).unwrap();
    let root = m.root();
    let t = Instant::now();
    for _ in 0..n {
        let c = m.clone_task(root, CloneArgs::new(flags)).unwrap();
        m.exit(c, 0).unwrap();
    }
    println!(
        "{n} clone({}) + exit + wait through nslab: {} µs each (mean)",
        flag_name(flags),
        us(t.elapsed() / n as u32)
    );
}

fn main() {
    nslab_real::enter_helper_if_requested();
    let exe = std::env::current_exe().unwrap();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(BARE_ARG) {
        bare_main();
        return;
    }
    if args.iter().any(|a| a == "--pingpong") {
        return pingpong();
    }
    if let Some(i) = args.iter().position(|a| a == "--floor") {
        let n = args[i + 1].parse().expect("--floor N");
        return floor(n);
    }
    if let Some(i) = args.iter().position(|a| a == "--starts") {
        let n = args[i + 1].parse().expect("--starts N");
        return profile_starts(&exe, n);
    }
    if let Some(i) = args.iter().position(|a| a == "--loop") {
        let flags = args[i + 1].parse().expect("--loop FLAGS N");
        let n = args[i + 2].parse().expect("--loop FLAGS N");
        profile_loop(&exe, flags, n);
        return;
    }
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: real_ops: not root: the bare syscalls need root to compare with");
        return;
    }
    let pairs: Option<usize> = args
        .iter()
        .position(|a| a == "--pairs")
        .map(|i| args[i + 1].parse().expect("--pairs N"));
    let clones_only = args.iter().any(|a| a == "--clones");
    let spin = args
        .iter()
        .position(|a| a == "--spin")
        .map_or(Duration::ZERO, |i| {
            Duration::from_micros(args[i + 1].parse().expect("--spin US"))
        });
    let one_cpu = !args.iter().any(|a| a == "--any-cpu");
    let opts = StartOptions {
        spin,
        one_cpu,
        ..StartOptions::default()
    };
    println!("load average before: {}", loadavg());
    let host = nslab_real::host::HostSnapshot::take();
    let mut bare = Bare::start(&exe);
    let mut m = RealMachine::start_with(Path::new(&exe), opts.clone()).unwrap();
    if !spin.is_zero() {
        println!("controller spin: {} µs", spin.as_micros());
    }
    if !one_cpu {
        println!("the machine's processes on any CPU (StartOptions::one_cpu off)");
    }
    if args.iter().any(|a| a == "--bare-on-machine-cpu") {
        let cpu = m.cpu().expect("a machine on one CPU (not with --any-cpu)");
        pin(bare.child.id() as i32, cpu);
        println!("the bare side pinned to the machine's CPU {cpu}");
    }
    let root = m.root();
    // The task the non-clone operations run in: in its own uts namespace, so sethostname is
    // allowed.
    let t = m.clone_task(root, CloneArgs::new(CLONE_NEWUTS)).unwrap();
    println!(
        "{:<52} {:>10} {:>10} {:>12}",
        "operation", "nslab µs", "bare µs", "pair ratio"
    );
    for (i, op) in Bench::ALL.into_iter().enumerate() {
        if clones_only && !matches!(op, Bench::Clone(_)) {
            continue;
        }
        let mut nslab_op = || {
            let start = Instant::now();
            match op {
                Bench::Clone(f) => {
                    let c = m.clone_task(root, CloneArgs::new(f)).unwrap();
                    m.exit(c, 0).unwrap();
                }
                Bench::Unshare(f) => m.unshare(t, f).unwrap(),
                Bench::Sethostname => m.sethostname(t, "bench").unwrap(),
                Bench::SetnsPidfd => m
                    .setns(t, NsFd::Pidfd { task: t }, CLONE_NEWNET | CLONE_NEWUTS)
                    .unwrap(),
                Bench::Observe => drop(m.observe(t).unwrap()),
            }
            start.elapsed()
        };
        // One warm-up pair.
        nslab_op();
        bare.time(i);
        let (mut ns, mut bs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for p in 0..pairs.unwrap_or(op.pairs()) {
            let (n, b) = if p % 2 == 0 {
                let n = nslab_op();
                (n, bare.time(i))
            } else {
                let b = bare.time(i);
                (nslab_op(), b)
            };
            ns.push(n);
            bs.push(b);
            ratios.push(n.as_secs_f64() / b.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "{:<52} {:>10} {:>10} {:>12.2}",
            op.name(),
            us(median(ns)),
            us(median(bs)),
            ratios[ratios.len() / 2]
        );
    }
    m.exit(t, 0).unwrap();
    println!("load average after the pairs: {}", loadavg());
    // Closing its stdin ends the bare side; both pipe ends go, so the fd count is as before.
    let Bare {
        mut child,
        to,
        from,
    } = bare;
    drop(to);
    drop(from);
    child.wait().unwrap();

    if clones_only {
        drop(m);
        return check_host(&host);
    }
    // A 10-operation scenario on a running machine, and the same with start and teardown.
    let scenario = |m: &mut RealMachine| {
        let root: TaskId = m.root();
        let a = m
            .clone_task(root, CloneArgs::new(CLONE_NEWPID | CLONE_NEWNET))
            .unwrap();
        m.observe(a).unwrap();
        m.link_up(a, "lo").unwrap();
        let b = m.clone_task(a, CloneArgs::new(CLONE_NEWUTS)).unwrap();
        m.sethostname(b, "scenario").unwrap();
        m.observe(b).unwrap();
        let c = m.clone_task(root, CloneArgs::new(0)).unwrap();
        m.setns(c, NsFd::Pidfd { task: a }, CLONE_NEWNET).unwrap();
        m.exit(c, 0).unwrap();
        m.exit(a, 0).unwrap();
    };
    let ops_only = time(100, || scenario(&mut m));
    drop(m);
    let with_start = time(50, || {
        let mut m = RealMachine::start_with(Path::new(&exe), opts.clone()).unwrap();
        scenario(&mut m);
        drop(m);
    });
    println!();
    println!("10-operation scenario, median of 100: {} µs", us(ops_only));
    println!(
        "the same with start and teardown, median of 50: {} µs",
        us(with_start)
    );
    check_host(&host);
}

fn check_host(host: &nslab_real::host::HostSnapshot) {
    let after = nslab_real::host::HostSnapshot::take();
    if after == *host {
        println!("host unchanged");
    } else {
        println!("HOST CHANGED:\n  before: {host:?}\n  after:  {after:?}");
        std::process::exit(1);
    }
}
