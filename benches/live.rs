//! The live commands against their peers, in one run: `nslab unshare`, `nslab nsenter` and
//! `nslab clone` against util-linux `unshare(1)`, `nsenter(1)` and a C build of the lesson's
//! program (book/src/listings/clone_demo.c, compiled with `cc -O2` into a temporary
//! directory), and what `--explain` adds.
//!
//! Each pair is run back to back, alternating which goes first, `--rounds N` times (200 by
//! default); the figure is the median of the pairs' ratios (nslab / peer), and for
//! `--explain` the median of the pairs' differences. Needs root; says SKIPPED otherwise.
//! The host must be unchanged afterwards (checked, like the tests).
//!
//! `cargo bench --bench live [-- --rounds N]`

#[path = "../tests/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NSLAB: &str = env!("CARGO_BIN_EXE_nslab");

fn time(argv: &[String]) -> Duration {
    let t = Instant::now();
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    let d = t.elapsed();
    assert!(status.success(), "{argv:?} failed: {status}");
    d
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// Runs `ours` and `theirs` in alternating pairs; returns (median ours, median theirs,
/// median of the ratios, median of the differences), times in ms.
fn pairs(ours: &[String], theirs: &[String], rounds: usize) -> (f64, f64, f64, f64) {
    // Warm both up (page cache, dynamic loader).
    for _ in 0..5 {
        time(ours);
        time(theirs);
    }
    let (mut a, mut b, mut r, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let (x, y) = if i % 2 == 0 {
            let x = time(ours);
            (x, time(theirs))
        } else {
            let y = time(theirs);
            (time(ours), y)
        };
        let (x, y) = (x.as_secs_f64() * 1e3, y.as_secs_f64() * 1e3);
        a.push(x);
        b.push(y);
        r.push(x / y);
        d.push(x - y);
    }
    (median(a), median(b), median(r), median(d))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|r| r.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Compiles the lesson's program into `dir`.
fn build_clone_demo(dir: &Path) -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/listings/clone_demo.c");
    let out = dir.join("clone_demo");
    let ok = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    if !is_root() {
        println!("SKIPPED: live bench: needs root");
        return;
    }
    for p in ["unshare", "nsenter", "cc"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            println!("SKIPPED: live bench: {p} is not installed");
            return;
        }
    }
    let host = common::host_before();
    let dir = std::env::temp_dir().join(format!("nslab-live-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let demo = build_clone_demo(&dir).expect("cc builds clone_demo.c");

    // A target for nsenter: a process in its own namespaces, removed at the end.
    let mut target = Command::new("unshare")
        .args([
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            "--kill-child",
            "sleep",
            "3600",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("start the target");
    let tpid = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let c = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", target.id()))
                .unwrap_or_default();
            if let Some(p) = c.split_whitespace().next() {
                break p.to_string();
            }
            assert!(Instant::now() < deadline, "the target did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    let n = |w: &[&str]| {
        let mut v = vec![NSLAB.to_string()];
        v.extend(argv(w));
        v
    };
    let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "unshare -n true",
            n(&["unshare", "-n", "true"]),
            argv(&["unshare", "-n", "true"]),
        ),
        (
            "unshare -m -u -i -n -p -f true",
            n(&["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "true"]),
            argv(&["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "true"]),
        ),
        (
            "nsenter -t PID -a true",
            n(&["nsenter", "-t", &tpid, "-a", "true"]),
            argv(&["nsenter", "-t", &tpid, "-a", "true"]),
        ),
        (
            "clone 'NEWNS|NEWPID|NEWNET' true (vs clone_demo.c)",
            n(&["clone", "NEWNS|NEWPID|NEWNET", "true"]),
            vec![demo.to_string_lossy().into_owned(), "true".into()],
        ),
    ];
    println!("live commands, {rounds} alternating pairs each; medians (ms) and the median of the pairs' ratios");
    println!(
        "{:<52} {:>8} {:>8} {:>7}",
        "command", "nslab", "peer", "ratio"
    );
    for (name, ours, theirs) in &cases {
        let (a, b, r, _) = pairs(ours, theirs, rounds);
        println!("{name:<52} {a:>8.3} {b:>8.3} {r:>7.3}");
    }
    println!("--explain: median of the pairs' differences (ms), with and without");
    let explain_cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "unshare --explain -n true",
            n(&["unshare", "--explain", "-n", "true"]),
            n(&["unshare", "-n", "true"]),
        ),
        (
            "unshare --explain -m -u -i -n -p -f true",
            n(&[
                "unshare",
                "--explain",
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "-f",
                "true",
            ]),
            n(&["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "true"]),
        ),
        (
            "nsenter --explain -t PID -a true",
            n(&["nsenter", "--explain", "-t", &tpid, "-a", "true"]),
            n(&["nsenter", "-t", &tpid, "-a", "true"]),
        ),
        (
            "clone --explain 'NEWNS|NEWPID|NEWNET' true",
            n(&["clone", "--explain", "NEWNS|NEWPID|NEWNET", "true"]),
            n(&["clone", "NEWNS|NEWPID|NEWNET", "true"]),
        ),
    ];
    println!(
        "{:<52} {:>8} {:>8} {:>7}",
        "command", "with", "without", "extra"
    );
    for (name, with, without) in &explain_cases {
        let (a, b, _, d) = pairs(with, without, rounds);
        println!("{name:<52} {a:>8.3} {b:>8.3} {d:>7.3}");
    }

    let _ = target.kill();
    let _ = target.wait();
    let _ = std::fs::remove_dir_all(&dir);
    // The target's sleep dies with its parent (--kill-child); wait for it to be gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{tpid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if !common::report_host_safety(&host) {
        std::process::exit(1);
    }
}
