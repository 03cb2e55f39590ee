//! The cost of each real operation through nslab against the bare syscall, in one run.
//!
//! `cargo bench -p nslab-real --bench real_ops` prints, per operation, the median time through
//! a [`RealMachine`] and the median of the same syscall made directly in a single-threaded
//! child process (this binary re-executed as `__nslab-bare`, so that the benchmark process
//! itself never changes namespace), and their ratio; then the median of a 10-operation
//! scenario. It prints numbers only and never fails on them.

use nslab_machine::sched::*;
use nslab_machine::{CloneArgs, Machine, NsFd, TaskId};
use nslab_real::RealMachine;
use std::collections::BTreeMap;
use std::path::Path;
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

/// A fork-like raw clone whose child exits at once; the parent waits for it.
fn bare_clone(flags: u64) {
    // SAFETY: this bare-mode process is single-threaded; the child only calls _exit.
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
    if pid == 0 {
        // SAFETY: the child ends at once.
        unsafe { libc::_exit(0) };
    }
    assert!(
        pid > 0,
        "bare clone failed: {}",
        std::io::Error::last_os_error()
    );
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

/// Bare mode: the syscalls themselves, in this single-threaded process; prints `name ns` lines.
fn bare_main() {
    let n = 200;
    let mut out = BTreeMap::new();
    out.insert("clone(0) + exit + wait", time(n, || bare_clone(0)));
    out.insert(
        "clone(CLONE_NEWPID) + exit + wait",
        time(n, || bare_clone(CLONE_NEWPID)),
    );
    out.insert(
        "clone(CLONE_NEWNET) + exit + wait",
        time(n / 2, || bare_clone(CLONE_NEWNET)),
    );
    out.insert(
        "clone(CLONE_NEWUSER|CLONE_NEWNET) + exit + wait",
        time(n / 2, || bare_clone(CLONE_NEWUSER | CLONE_NEWNET)),
    );
    out.insert(
        "unshare(CLONE_NEWNET)",
        time(n / 2, || bare_unshare(CLONE_NEWNET)),
    );
    out.insert(
        "unshare(CLONE_NEWUTS)",
        time(n, || bare_unshare(CLONE_NEWUTS)),
    );
    out.insert(
        "sethostname",
        time(n, || nix::unistd::sethostname("bench").unwrap()),
    );
    let pidfd = {
        // SAFETY: pidfd_open of ourselves.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id(), 0) };
        fd as i32
    };
    out.insert(
        "setns(pidfd, CLONE_NEWNET|CLONE_NEWUTS)",
        // SAFETY: setns on our own pidfd: a valid fd and flags.
        time(n, || {
            assert_eq!(
                unsafe { libc::setns(pidfd, (CLONE_NEWNET | CLONE_NEWUTS) as i32) },
                0
            )
        }),
    );
    out.insert(
        "observe (10 readlinks, status, hostname, getifaddrs)",
        time(n, || {
            for e in nslab_machine::NsEntry::ALL {
                let _ = std::fs::read_link(format!("/proc/thread-self/ns/{}", e.file_name()));
            }
            let _ = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            let _ = nix::unistd::gethostname().unwrap();
            let _ = nix::ifaddrs::getifaddrs().unwrap().count();
        }),
    );
    for (k, v) in out {
        println!("{}\t{}", v.as_nanos(), k);
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    nslab_real::enter_helper_if_requested();
    let exe = std::env::current_exe().unwrap();
    if std::env::args().nth(1).as_deref() == Some(BARE_ARG) {
        bare_main();
        return;
    }
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: real_ops: not root: the bare syscalls need root to compare with");
        return;
    }
    let bare_out = std::process::Command::new(&exe)
        .arg(BARE_ARG)
        .output()
        .unwrap();
    assert!(
        bare_out.status.success(),
        "{}",
        String::from_utf8_lossy(&bare_out.stderr)
    );
    let bare: BTreeMap<String, Duration> = String::from_utf8_lossy(&bare_out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(ns, k)| (k.to_string(), Duration::from_nanos(ns.parse().unwrap())))
        .collect();

    let n = 200;
    let mut m = RealMachine::start(Path::new(&exe)).unwrap();
    let root = m.root();
    let mut nslab = BTreeMap::new();
    let clone_exit = |m: &mut RealMachine, flags: u64, n: usize| {
        time(n, || {
            let c = m.clone_task(root, CloneArgs::new(flags)).unwrap();
            m.exit(c, 0).unwrap();
        })
    };
    nslab.insert("clone(0) + exit + wait", clone_exit(&mut m, 0, n));
    nslab.insert(
        "clone(CLONE_NEWPID) + exit + wait",
        clone_exit(&mut m, CLONE_NEWPID, n),
    );
    nslab.insert(
        "clone(CLONE_NEWNET) + exit + wait",
        clone_exit(&mut m, CLONE_NEWNET, n / 2),
    );
    nslab.insert(
        "clone(CLONE_NEWUSER|CLONE_NEWNET) + exit + wait",
        clone_exit(&mut m, CLONE_NEWUSER | CLONE_NEWNET, n / 2),
    );
    let t = m.clone_task(root, CloneArgs::new(CLONE_NEWUTS)).unwrap();
    nslab.insert(
        "unshare(CLONE_NEWNET)",
        time(n / 2, || m.unshare(t, CLONE_NEWNET).unwrap()),
    );
    nslab.insert(
        "unshare(CLONE_NEWUTS)",
        time(n, || m.unshare(t, CLONE_NEWUTS).unwrap()),
    );
    nslab.insert(
        "sethostname",
        time(n, || m.sethostname(t, "bench").unwrap()),
    );
    nslab.insert(
        "setns(pidfd, CLONE_NEWNET|CLONE_NEWUTS)",
        time(n, || {
            m.setns(t, NsFd::Pidfd { task: t }, CLONE_NEWNET | CLONE_NEWUTS)
                .unwrap()
        }),
    );
    nslab.insert(
        "observe (10 readlinks, status, hostname, getifaddrs)",
        time(n, || drop(m.observe(t).unwrap())),
    );
    m.exit(t, 0).unwrap();

    println!(
        "{:<52} {:>12} {:>12} {:>7}",
        "operation", "nslab µs", "bare µs", "ratio"
    );
    for (k, v) in &nslab {
        let b = bare[*k];
        println!(
            "{:<52} {:>12} {:>12} {:>7.2}",
            k,
            us(*v),
            us(b),
            v.as_secs_f64() / b.as_secs_f64()
        );
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
        let mut m = RealMachine::start(Path::new(&exe)).unwrap();
        scenario(&mut m);
        drop(m);
    });
    println!();
    println!("10-operation scenario, median of 100: {} µs", us(ops_only));
    println!(
        "the same with start and teardown, median of 50: {} µs",
        us(with_start)
    );
}
