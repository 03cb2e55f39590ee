//! The live commands on the real kernel: `nslab unshare`, `nslab nsenter` and `nslab clone`
//! run through the built binary (`std::process::Command`; this process never creates a
//! namespace), checked against the lesson's observations, against util-linux (differential:
//! namespace structure, exit statuses, bad input), and `--explain` against the kernel.
//!
//! A `harness = false` binary run by libtest-mimic, one trial at a time (each is bracketed by
//! a host snapshot: mounts, hostname, interfaces, `/run/netns`, fds, namespaces, children of
//! this process, which must come out equal, so trials cannot overlap), then `host_safety`
//! for the whole run. A trial that cannot run here prints `SKIPPED: <test>: <reason>` and is
//! `ignored` with that reason. `cargo test --test live -- NAME` runs the trials whose name
//! contains NAME.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NSLAB: &str = env!("CARGO_BIN_EXE_nslab");

/// How a test ended when it did not fail.
enum Pass {
    Ok,
    Skipped(String),
}

type TestResult = Result<Pass, String>;

/// What a command gave.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs a command with `stdin` and a 30 s limit.
fn run(cmd: &mut Command, stdin: &str) -> Out {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("piped");
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("output");
    let _ = writer.join();
    Out {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn nslab(args: &[&str]) -> Command {
    let mut c = Command::new(NSLAB);
    c.args(args);
    c
}

fn cmd(prog: &str, args: &[&str]) -> Command {
    let mut c = Command::new(prog);
    c.args(args);
    c
}

/// As uid and gid 65534 with no groups.
fn as_nobody(prog: &str, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", prog]);
    c.args(args);
    c
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|r| r.split_whitespace().nth(1).map(|u| u == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips unless root and these programs exist.
fn need(progs: &[&str]) -> Option<Pass> {
    if std::env::var_os("NSLAB_SKIP_REAL").is_some() {
        return Some(Pass::Skipped("NSLAB_SKIP_REAL is set".into()));
    }
    if !is_root() {
        return Some(Pass::Skipped(
            "needs root (the util-linux peers and the live demos run as root)".into(),
        ));
    }
    for p in progs {
        if !have(p) {
            return Some(Pass::Skipped(format!("{p} is not installed")));
        }
    }
    if let Err(why) = namespaces_allowed() {
        return Some(Pass::Skipped(why.clone()));
    }
    None
}

/// Whether this machine lets root make namespaces at all (a container may not): util-linux
/// tries every type once; its refusal is the reason to skip.
fn namespaces_allowed() -> &'static Result<(), String> {
    static PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    PROBE.get_or_init(|| {
        let o = Command::new("unshare")
            .args(["-m", "-u", "-i", "-n", "-p", "-f", "-C", "true"])
            .output();
        match o {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "util-linux unshare cannot make namespaces here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("util-linux unshare cannot run: {e}")),
        }
    })
}

macro_rules! need {
    ($($p:expr),*) => {
        if let Some(skip) = need(&[$($p),*]) {
            return Ok(skip);
        }
    };
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// The test process's own namespace links.
fn own_links() -> BTreeMap<String, String> {
    links_of("/proc/self/ns")
}

fn links_of(dir: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    std::fs::read_link(e.path())
                        .ok()
                        .map(|l| (name, l.to_string_lossy().into_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The ten entries, in /proc order.
const ENTRIES: [&str; 10] = [
    "net",
    "uts",
    "ipc",
    "pid",
    "pid_for_children",
    "user",
    "mnt",
    "cgroup",
    "time",
    "time_for_children",
];

/// A program that prints its own ten links, one process (executed directly, so that with
/// `-p` and no fork it is not the first of a new pid namespace that dies with it):
/// `ls -l /proc/self/ns/` (an entry it cannot read shows without ` -> `).
fn print_links() -> Vec<String> {
    vec!["ls".into(), "-l".into(), "/proc/self/ns/".into()]
}

/// Which entries of `ls -l /proc/self/ns/` are new (not the test process's), as `entry=new`,
/// `entry=shared` or `entry=unreadable`: the structure, without inode numbers, in /proc order.
fn structure(printed: &str) -> Vec<String> {
    let own = own_links();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for l in printed.lines() {
        let tail: Vec<&str> = l.split_whitespace().skip(8).collect();
        match tail.as_slice() {
            [name, "->", target] => {
                seen.insert(name, target);
            }
            [name] => {
                seen.insert(name, "");
            }
            _ => {}
        }
    }
    ENTRIES
        .iter()
        .filter_map(|e| {
            let link = seen.get(e)?;
            let state = if link.is_empty() {
                "unreadable"
            } else if own.get(*e).map(String::as_str) == Some(*link) {
                "shared"
            } else {
                "new"
            };
            Some(format!("{e}={state}"))
        })
        .collect()
}

/// The pid of the first child of `parent` (from `/proc/<pid>/task/<pid>/children`).
fn first_child(parent: u32) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(p) = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        {
            return Some(p);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A target for nsenter: `nslab unshare -m -u -i -n -p -f --mount-proc --kill-child sleep
/// 60`; dropping it kills both.
struct Target {
    parent: std::process::Child,
    pid: u32,
}

impl Target {
    fn start() -> Result<Target, String> {
        Target::start_with(&[NSLAB, "unshare"])
    }

    /// The same target started as uid 65534, in a user namespace of its own (`-r`).
    fn start_unprivileged() -> Result<Target, String> {
        Target::start_with(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            NSLAB,
            "unshare",
            "-r",
        ])
    }

    fn start_with(command: &[&str]) -> Result<Target, String> {
        let mut parent = Command::new(command[0])
            .args(&command[1..])
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
                "60",
            ])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the target: {e}"))?;
        let Some(pid) = first_child(parent.id()) else {
            let _ = parent.kill();
            let _ = parent.wait();
            return Err("the target's child did not appear".into());
        };
        // Wait until it is sleep (it was nslab until it executed).
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() != "sleep")
            .unwrap_or(true)
        {
            if Instant::now() > deadline {
                return Err("the target did not execute sleep".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Target { parent, pid })
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // SIGKILL to nslab: its --kill-child makes the kernel kill the sleep.
        let _ = self.parent.kill();
        let _ = self.parent.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

// ---- the lesson's demos ----

/// The lesson's unshare command, word for word, with bash reading its commands from stdin.
fn lesson_unshare_word_for_word() -> TestResult {
    need!("ip", "ps", "bash");
    let o = run(
        &mut nslab(&[
            "unshare",
            "--mount",
            "--ipc",
            "--pid",
            "--net",
            "--mount-proc=/proc",
            "--fork",
            "/bin/bash",
        ]),
        "echo $$\nip addr\nps aux\nexit\n",
    );
    check!(o.code == Some(0), "exit {:?}: {}", o.code, o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    check!(
        lines.first() == Some(&"1"),
        "echo $$ gave {:?}",
        lines.first()
    );
    check!(
        o.stdout.contains("1: lo: <LOOPBACK>") && o.stdout.contains("state DOWN"),
        "ip addr: {}",
        o.stdout
    );
    check!(
        !o.stdout.lines().any(|l| l.starts_with("2: ")),
        "an interface besides lo: {}",
        o.stdout
    );
    let procs: Vec<&str> = o
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("USER"))
        .skip(1)
        .collect();
    check!(
        procs.len() == 2,
        "ps aux lists {} processes: {procs:?}",
        procs.len()
    );
    check!(
        procs
            .iter()
            .any(|p| p.split_whitespace().nth(1) == Some("1") && p.contains("bash")),
        "bash is not pid 1: {procs:?}"
    );
    Ok(Pass::Ok)
}

/// The issue's non-interactive form: pid 1, only lo (DOWN), two processes.
fn lesson_unshare_noninteractive() -> TestResult {
    need!("ps");
    let o = run(
        &mut nslab(&[
            "unshare",
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            "--",
            "sh",
            "-c",
            "echo $$; echo --; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo --; ps -e -o pid=,comm=",
        ]),
        "",
    );
    check!(o.code == Some(0), "exit {:?}: {}", o.code, o.stderr);
    let parts: Vec<&str> = o.stdout.split("--\n").collect();
    check!(parts.len() == 3, "output: {}", o.stdout);
    check!(parts[0].trim() == "1", "echo $$: {:?}", parts[0]);
    check!(
        parts[1].trim() == "lo",
        "/proc/net/dev lists {:?}",
        parts[1]
    );
    let ps: Vec<Vec<&str>> = parts[2]
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    check!(ps.len() == 2, "ps -e lists {ps:?}");
    check!(ps[0] == ["1", "sh"], "pid 1 is not sh: {ps:?}");
    Ok(Pass::Ok)
}

/// The lesson's nsenter command, word for word, into a target nslab made.
fn lesson_nsenter_word_for_word() -> TestResult {
    need!("ip", "ps", "bash", "env");
    let t = Target::start()?;
    let pid = t.pid.to_string();
    let o = run(
        &mut nslab(&[
            "nsenter",
            "--target",
            &pid,
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--pid",
            "--",
            "env",
            "--ignore-environment",
            "--",
            "/bin/bash",
        ]),
        "echo $$\nip addr\nps aux\nexit\n",
    );
    check!(o.code == Some(0), "exit {:?}: {}", o.code, o.stderr);
    let first = o.stdout.lines().next().unwrap_or("");
    check!(
        first != "1" && first.parse::<u32>().is_ok(),
        "echo $$ gave {first:?} (the target is 1)"
    );
    check!(
        o.stdout.contains("1: lo: <LOOPBACK>") && !o.stdout.lines().any(|l| l.starts_with("2: ")),
        "ip addr: {}",
        o.stdout
    );
    // The target's /proc (its mount namespace has its own): sleep is pid 1.
    check!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("1") && l.contains("sleep 60")),
        "ps aux does not show the target's sleep as pid 1: {}",
        o.stdout
    );
    Ok(Pass::Ok)
}

/// The lesson's C program as a command: the messages in order, and inside pid 1 and lo.
fn lesson_clone() -> TestResult {
    need!("ip", "bash");
    let o = run(
        &mut nslab(&["clone", "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET"]),
        "echo $$\nip addr\nexit 4\n",
    );
    check!(
        o.code == Some(4),
        "exit {:?} (bash exited 4): {}",
        o.code,
        o.stderr
    );
    let lines: Vec<&str> = o.stdout.lines().collect();
    check!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("clone() returned ")),
        "first line {:?}",
        lines.first()
    );
    check!(
        lines.get(1) == Some(&"In child process."),
        "second line {:?}",
        lines.get(1)
    );
    check!(
        lines.get(2) == Some(&"1"),
        "echo $$ gave {:?}",
        lines.get(2)
    );
    check!(o.stdout.contains("state DOWN"), "ip addr: {}", o.stdout);
    check!(
        lines.last() == Some(&"child has terminated"),
        "last line {:?}",
        lines.last()
    );
    Ok(Pass::Ok)
}

// ---- differential tests against util-linux ----

/// Flag sets of unshare that both tools run, with the structure each gives.
const UNSHARE_SETS: &[&[&str]] = &[
    &["-n"],
    &["-u", "-i"],
    &["-m", "-u", "-i", "-n", "-p", "-f"],
    &["-p"],
    &["-C"],
    &["-T", "-f"],
    &["-r"],
    &["-U", "-n"],
    &[
        "--mount",
        "--ipc",
        "--pid",
        "--net",
        "--mount-proc=/proc",
        "--fork",
    ],
    &["-munpf"],
];

fn differential_unshare_structure() -> TestResult {
    need!("unshare");
    for set in UNSHARE_SETS {
        let links = print_links();
        let mut args: Vec<&str> = set.to_vec();
        args.push("--");
        args.extend(links.iter().map(String::as_str));
        let ours = {
            let mut a = vec!["unshare"];
            a.extend(&args);
            run(&mut nslab(&a), "")
        };
        let theirs = run(&mut cmd("unshare", &args), "");
        check!(
            ours.code == theirs.code,
            "{set:?}: exit {:?} vs util-linux {:?}: {} / {}",
            ours.code,
            theirs.code,
            ours.stderr,
            theirs.stderr
        );
        let (s1, s2) = (structure(&ours.stdout), structure(&theirs.stdout));
        check!(s1.len() == 10, "{set:?}: nslab printed {:?}", ours.stdout);
        check!(s1 == s2, "{set:?}: structure {s1:?} vs util-linux {s2:?}");
    }
    Ok(Pass::Ok)
}

/// Exit statuses and bad input: the same status from both, and a message in the same words.
fn differential_unshare_statuses() -> TestResult {
    need!("unshare");
    let tmp = tempdir()?;
    let missing = format!("{tmp}/missing");
    let cases: &[&[&str]] = &[
        &["-n", "sh", "-c", "exit 3"],
        &["-n", "-f", "sh", "-c", "exit 5"],
        &["-n", "nslab-no-such-program"],
        &["-n", "/etc/passwd"],
        &["-n", ""],
        &["-n", "-f", ""],
        &["--bogus", "true"],
        &["--propagation", "bogus", "true"],
        &["--setgroups", "bogus", "true"],
        &["--setgroups=allow", "-r", "true"],
        &["--kill-child=NOSUCHSIG", "true"],
    ];
    for c in cases {
        let mut a = vec!["unshare"];
        a.extend(c.iter());
        let ours = run(&mut nslab(&a), "");
        let theirs = run(&mut cmd("unshare", c), "");
        check!(
            ours.code == theirs.code && ours.signal == theirs.signal,
            "{c:?}: nslab {:?}/{:?} vs util-linux {:?}/{:?}: {} / {}",
            ours.code,
            ours.signal,
            theirs.code,
            theirs.signal,
            ours.stderr,
            theirs.stderr
        );
        // util-linux's messages after its name, where both print one of the same kind.
        for key in ["failed to execute", "unsupported"] {
            let t = theirs.stderr.lines().find(|l| l.contains(key));
            let o = ours.stderr.lines().find(|l| l.contains(key));
            if let Some(t) = t {
                let t = t.trim_start_matches("unshare: ");
                check!(
                    o.is_some_and(|o| o.trim_start_matches("nslab unshare: ") == t),
                    "{c:?}: message {o:?} vs util-linux {t:?}"
                );
            }
        }
    }
    // Killed by a signal: both re-raise it (the shell would see 128+N).
    for c in [
        &["-n", "-f", "sh", "-c", "kill -USR1 $$"][..],
        &["-n", "sh", "-c", "kill -USR1 $$"],
    ] {
        let mut a = vec!["unshare"];
        a.extend(c.iter());
        let ours = run(&mut nslab(&a), "");
        let theirs = run(&mut cmd("unshare", c), "");
        check!(
            ours.signal == Some(10) && theirs.signal == Some(10),
            "{c:?}: nslab {:?}/{:?}, util-linux {:?}/{:?}",
            ours.code,
            ours.signal,
            theirs.code,
            theirs.signal
        );
    }
    // A missing FILE for =FILE: exit 1 and the same message but for the pid.
    let ours = run(
        &mut nslab(&["unshare", &format!("--net={missing}"), "true"]),
        "",
    );
    let theirs = run(
        &mut cmd("unshare", &[&format!("--net={missing}"), "true"]),
        "",
    );
    check!(
        ours.code == Some(1) && theirs.code == Some(1),
        "=FILE missing: {ours:?} {theirs:?}"
    );
    let norm = |s: &str, p: &str| -> String {
        let l = s
            .lines()
            .find(|l| l.contains("mount /proc/"))
            .unwrap_or("")
            .to_string();
        let l = l.trim_start_matches(p).to_string();
        // /proc/<pid>/ns/net: the pid differs.
        let mut w: Vec<String> = l.split(' ').map(str::to_string).collect();
        if w.len() > 1 {
            w[1] = w[1]
                .split('/')
                .enumerate()
                .map(|(i, x)| if i == 2 { "<pid>" } else { x })
                .collect::<Vec<_>>()
                .join("/");
        }
        w.join(" ")
    };
    check!(
        norm(&ours.stderr, "nslab unshare: ") == norm(&theirs.stderr, "unshare: "),
        "=FILE missing: {:?} vs {:?}",
        ours.stderr,
        theirs.stderr
    );
    Ok(Pass::Ok)
}

/// A directory of the test's own, removed (if empty) however the test ends.
struct TempDir(String);

impl std::ops::Deref for TempDir {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TempDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn tempdir() -> Result<TempDir, String> {
    let d = std::env::temp_dir().join(format!(
        "nslab-live-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir(&d).map_err(|e| format!("cannot make {}: {e}", d.display()))?;
    Ok(TempDir(d.to_string_lossy().into_owned()))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn differential_nsenter() -> TestResult {
    need!("nsenter");
    let t = Target::start()?;
    let pid = t.pid.to_string();
    let sets: &[&[&str]] = &[
        &["-a"],
        &["-n", "-u"],
        &["--mount", "--uts", "--ipc", "--net", "--pid"],
        &["-p"],
        &["-p", "-F"],
        &["-i", "-u", "-n"],
    ];
    for set in sets {
        let links = print_links();
        let mut args: Vec<&str> = vec!["-t", &pid];
        args.extend(set.iter());
        args.push("--");
        args.extend(links.iter().map(String::as_str));
        let mut a = vec!["nsenter"];
        a.extend(&args);
        let ours = run(&mut nslab(&a), "");
        let theirs = run(&mut cmd("nsenter", &args), "");
        check!(
            ours.code == theirs.code,
            "{set:?}: exit {:?} vs util-linux {:?}: {} / {}",
            ours.code,
            theirs.code,
            ours.stderr,
            theirs.stderr
        );
        let (s1, s2) = (structure(&ours.stdout), structure(&theirs.stdout));
        check!(
            s1.len() == 10 && s1 == s2,
            "{set:?}: structure {s1:?} vs util-linux {s2:?}"
        );
    }
    // The same output: the target's root and working directory, credentials.
    let same_output: &[&[&str]] = &[
        &["-m", "-r", "-w", "pwd"],
        &["-m", "-w/tmp", "pwd"],
        &[
            "-u",
            "-S",
            "65534",
            "-G",
            "65534",
            "sh",
            "-c",
            "id -u; id -g",
        ],
        // In the target's pid namespace, not its init (the numbers depend on its history).
        &[
            "-n",
            "-p",
            "sh",
            "-c",
            "test $$ -gt 1 && test $PPID = 0 && echo inside",
        ],
        &[
            "-n",
            "-p",
            "-F",
            "sh",
            "-c",
            "readlink /proc/self/ns/pid_for_children",
        ],
    ];
    for c in same_output {
        let mut args: Vec<&str> = vec!["-t", &pid];
        args.extend(c.iter());
        let mut a = vec!["nsenter"];
        a.extend(&args);
        let ours = run(&mut nslab(&a), "");
        let theirs = run(&mut cmd("nsenter", &args), "");
        check!(
            ours.code == theirs.code && ours.stdout == theirs.stdout && ours.code == Some(0),
            "{c:?}: nslab {:?} {:?} vs util-linux {:?} {:?} ({} / {})",
            ours.code,
            ours.stdout,
            theirs.code,
            theirs.stdout,
            ours.stderr,
            theirs.stderr
        );
    }
    // Bad input: the same status and the same words.
    let uts = format!("/proc/{pid}/ns/uts");
    let net_uts = format!("--net={uts}");
    let gone = {
        let mut c = Command::new("true").spawn().map_err(|e| e.to_string())?;
        let p = c.id();
        let _ = c.wait();
        p.to_string()
    };
    let bad: Vec<Vec<&str>> = vec![
        vec!["-t", "999999", "-n", "true"],
        vec!["-t", &gone, "-n", "true"],
        vec!["--net=/etc/passwd", "true"],
        vec!["-t", &pid, &net_uts, "true"],
        // The target's user namespace is the caller's own: setns refuses it (EINVAL).
        vec!["-t", &pid, "-U", "true"],
        vec!["-n", "true"],
        vec!["--bogus", "true"],
        vec!["-t", &pid, "-n", "nslab-no-such-program"],
        vec!["-t", &pid, "-n", "/etc/passwd"],
        vec!["-t", &pid, "-n", "-p", "sh", "-c", "exit 6"],
    ];
    for c in &bad {
        let mut a = vec!["nsenter"];
        a.extend(c.iter());
        let ours = run(&mut nslab(&a), "");
        let theirs = run(&mut cmd("nsenter", c), "");
        check!(
            ours.code == theirs.code,
            "{c:?}: nslab {:?} vs util-linux {:?}: {} / {}",
            ours.code,
            theirs.code,
            ours.stderr,
            theirs.stderr
        );
        for key in [
            "cannot open",
            "reassociate to namespace",
            "neither filename",
            "failed to execute",
        ] {
            if let Some(t) = theirs.stderr.lines().find(|l| l.contains(key)) {
                let t = t.trim_start_matches("nsenter: ");
                let o = ours.stderr.lines().find(|l| l.contains(key));
                check!(
                    o.is_some_and(|o| o.trim_start_matches("nslab nsenter: ") == t),
                    "{c:?}: message {o:?} vs util-linux {t:?}"
                );
            }
        }
    }
    Ok(Pass::Ok)
}

/// As uid 65534: the same structure and statuses as util-linux, with and without a user
/// namespace first.
fn differential_unprivileged() -> TestResult {
    need!("unshare", "setpriv");
    let sets: &[&[&str]] = &[
        &["-r"],
        &["-r", "-n"],
        &["-r", "-m", "-u", "-i", "-n", "-p", "-f", "--mount-proc"],
        &["-U"],
        &["-c", "-u"],
        &["-n"],
        &["-p", "-f"],
    ];
    for set in sets {
        let links = print_links();
        let mut args: Vec<&str> = set.to_vec();
        args.push("--");
        args.extend(links.iter().map(String::as_str));
        let mut a = vec!["unshare"];
        a.extend(&args);
        let ours = run(&mut as_nobody(NSLAB, &a), "");
        let theirs = run(&mut as_nobody("unshare", &args), "");
        check!(
            ours.code == theirs.code,
            "{set:?}: exit {:?} vs util-linux {:?}: {} / {}",
            ours.code,
            theirs.code,
            ours.stderr,
            theirs.stderr
        );
        let (s1, s2) = (structure(&ours.stdout), structure(&theirs.stdout));
        check!(s1 == s2, "{set:?}: structure {s1:?} vs util-linux {s2:?}");
    }
    Ok(Pass::Ok)
}

/// Where user namespaces are not allowed (a limit of 0, set inside a user namespace the test
/// makes with util-linux, so the host keeps its own), the message names the sysctl and the
/// fix, and the model, booted with the caller's limits, refuses it too.
fn user_namespace_refusal_names_the_cause() -> TestResult {
    need!("unshare");
    let script =
        format!("echo 0 > /proc/sys/user/max_user_namespaces && {NSLAB} unshare -r -n true");
    let o = run(&mut cmd("unshare", &["-U", "-r", "sh", "-c", &script]), "");
    check!(o.code == Some(1), "exit {:?}: {}", o.code, o.stderr);
    for want in [
        "unshare failed: No space left on device",
        "user.max_user_namespaces",
        "fix:",
        "the model refuses it too",
    ] {
        check!(o.stderr.contains(want), "no {want:?} in: {}", o.stderr);
    }
    let theirs = run(
        &mut cmd(
            "unshare",
            &[
                "-U",
                "-r",
                "sh",
                "-c",
                "echo 0 > /proc/sys/user/max_user_namespaces && unshare -r -n true",
            ],
        ),
        "",
    );
    check!(theirs.code == o.code, "util-linux: {theirs:?}");
    Ok(Pass::Ok)
}

// ---- --explain against the kernel ----

fn agrees(o: &Out) -> bool {
    o.stderr
        .contains("verdict: the kernel agrees with the model")
}

fn explain_agrees_with_the_kernel() -> TestResult {
    need!();
    let unshare_sets: &[&[&str]] = &[
        &["-n"],
        &[
            "--mount",
            "--ipc",
            "--pid",
            "--net",
            "--mount-proc=/proc",
            "--fork",
        ],
        &["-m", "-u", "-i", "-n", "-p", "-f"],
        &["-p"],
        &["-p", "-f"],
        &["-U"],
        &["-r", "-n"],
        &["-r", "-p", "-f", "--mount-proc"],
        &["-C", "-f"],
        &["-T", "-f"],
        &["-u", "-S", "65534", "-G", "65534"],
    ];
    for set in unshare_sets {
        let mut a = vec!["unshare", "--explain"];
        a.extend(set.iter());
        a.push("true");
        let o = run(&mut nslab(&a), "");
        check!(
            o.code == Some(0) && agrees(&o),
            "unshare {set:?}: {:?}\n{}",
            o.code,
            o.stderr
        );
    }
    for flags in [
        "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET",
        "0",
        "NEWUSER|NEWNET",
        "NEWUTS|NEWIPC",
        "NEWTIME",
        "NEWCGROUP|NEWPID",
        "NEWUSER|NEWPID|NEWNS",
    ] {
        let o = run(&mut nslab(&["clone", "--explain", flags, "true"]), "");
        check!(
            o.code == Some(0) && agrees(&o),
            "clone {flags}: {:?}\n{}",
            o.code,
            o.stderr
        );
    }
    let t = Target::start()?;
    let u = Target::start_unprivileged()?;
    let (pid, upid) = (t.pid.to_string(), u.pid.to_string());
    let nsenter_sets: Vec<(&str, &[&str])> = vec![
        (&pid, &["-a"]),
        (&pid, &["-n", "-p"]),
        (&pid, &["--mount", "--uts", "--ipc", "--net", "--pid"]),
        (&pid, &["-u"]),
        // A target in a user namespace of its own: uid 0 there is 65534 here.
        (&upid, &["-a"]),
        (&upid, &["-U", "-n", "-p"]),
        (&upid, &["-U", "--preserve-credentials", "-n"]),
    ];
    for (pid, set) in nsenter_sets {
        let mut a = vec!["nsenter", "--explain", "-t", pid];
        a.extend(set.iter());
        a.push("true");
        let o = run(&mut nslab(&a), "");
        check!(
            o.code == Some(0) && agrees(&o),
            "nsenter {set:?}: {:?}\n{}",
            o.code,
            o.stderr
        );
    }
    Ok(Pass::Ok)
}

/// Refused calls: the kernel's errno, and the model refusing it too, naming its rule.
fn refused_calls_name_the_models_rule() -> TestResult {
    need!("setpriv");
    let cases: Vec<(Command, &str, &str)> = vec![
        (
            nslab(&["clone", "NEWNS|FS", "true"]),
            "Invalid argument",
            "CLONE_NEWNS together with CLONE_FS",
        ),
        (
            nslab(&["clone", "NEWPID|THREAD|SIGHAND|VM", "true"]),
            "Invalid argument",
            "refuses it too",
        ),
        (
            nslab(&["clone", "NEWUSER|FS", "true"]),
            "Invalid argument",
            "refuses it too",
        ),
        (
            as_nobody(NSLAB, &["unshare", "-n", "true"]),
            "Operation not permitted",
            "ns_capable",
        ),
        (
            as_nobody(NSLAB, &["unshare", "-p", "-f", "true"]),
            "Operation not permitted",
            "refuses it too",
        ),
        (
            as_nobody(NSLAB, &["clone", "NEWNET", "true"]),
            "Operation not permitted",
            "refuses it too",
        ),
        (
            as_nobody(NSLAB, &["unshare", "--explain", "-m", "true"]),
            "Operation not permitted",
            "the model refuses it",
        ),
    ];
    for (mut c, errno, rule) in cases {
        let o = run(&mut c, "");
        check!(o.code == Some(1), "{c:?}: exit {:?}: {}", o.code, o.stderr);
        check!(
            o.stderr.contains(errno) && o.stderr.contains(rule),
            "{c:?}: {}",
            o.stderr
        );
        check!(
            !o.stderr.contains("differ"),
            "{c:?}: the model disagrees: {}",
            o.stderr
        );
    }
    // Unprivileged but through a user namespace: accepted, and the model agrees.
    let o = run(
        &mut as_nobody(
            NSLAB,
            &[
                "unshare",
                "--explain",
                "-r",
                "-n",
                "-p",
                "-f",
                "sh",
                "-c",
                "id -u",
            ],
        ),
        "",
    );
    check!(
        o.code == Some(0) && o.stdout.trim() == "0" && agrees(&o),
        "-r as nobody: {o:?}"
    );
    Ok(Pass::Ok)
}

// ---- behaviour users rely on ----

fn signals_are_forwarded() -> TestResult {
    need!();
    for (sig, name, code) in [
        (2, "INT", 11),
        (15, "TERM", 12),
        (1, "HUP", 13),
        (3, "QUIT", 14),
    ] {
        for tool in [&["unshare", "-p", "-f", "--"][..], &["clone", "NEWPID"]] {
            let script =
                format!("trap 'exit {code}' {name}; echo ready; while :; do sleep 0.02; done");
            let mut a = tool.to_vec();
            a.extend(["sh", "-c", &script]);
            let mut child = nslab(&a)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?;
            let mut out = child.stdout.take().expect("piped");
            let mut seen = String::new();
            let mut buf = [0u8; 256];
            while !seen.contains("ready") {
                let n = std::io::Read::read(&mut out, &mut buf).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            // SAFETY-free: kill(1) from the shell, to our own child.
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            let status = loop {
                if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            check!(
                status.and_then(|s| s.code()) == Some(code),
                "{tool:?} SIG{name}: {status:?} (the child's trap exits {code})"
            );
        }
    }
    Ok(Pass::Ok)
}

fn kill_child_kills_the_child() -> TestResult {
    need!();
    let mut parent = nslab(&["unshare", "-p", "--kill-child", "sleep", "60"])
        .spawn()
        .map_err(|e| e.to_string())?;
    let Some(child) = first_child(parent.id()) else {
        let _ = parent.kill();
        let _ = parent.wait();
        return Err("no child".into());
    };
    let _ = parent.kill();
    let _ = parent.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{child}")).exists() {
        check!(
            Instant::now() < deadline,
            "the child {child} outlived nslab"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Pass::Ok)
}

/// A pid-1 child that never reaps: its zombies go with it, nothing of its namespace stays.
fn pid1_zombies_do_not_stay() -> TestResult {
    need!();
    let o = run(
        &mut nslab(&[
            "unshare",
            "-p",
            "-f",
            "--",
            "sh",
            "-c",
            "readlink /proc/self/ns/pid_for_children; sleep 0.01 & sleep 0.01 & exec sleep 0.3",
        ]),
        "",
    );
    check!(o.code == Some(0), "exit {:?}: {}", o.code, o.stderr);
    let ns = o.stdout.trim().to_string();
    check!(ns.starts_with("pid:["), "printed {ns:?}");
    for e in std::fs::read_dir("/proc")
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let p = e.path().join("ns/pid");
        if let Ok(l) = std::fs::read_link(&p) {
            check!(
                l.to_string_lossy() != ns,
                "{} is still in {ns}",
                e.path().display()
            );
        }
    }
    Ok(Pass::Ok)
}

/// The program inherits fds 0, 1 and 2 only, and the environment unchanged.
fn only_fds_0_1_2_and_the_environment() -> TestResult {
    need!();
    let t = Target::start()?;
    let pid = t.pid.to_string();
    // ls lists its own fds: 0, 1, 2 and 3, the directory it reads.
    let probe = "ls /proc/self/fd | tr '\\n' ' '; echo; echo \"$NSLAB_LIVE_PROBE\"";
    let commands: Vec<Vec<&str>> = vec![
        vec!["unshare", "-n", "sh", "-c", probe],
        vec![
            "unshare",
            "--explain",
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            "sh",
            "-c",
            probe,
        ],
        vec!["unshare", "-r", "-m", "-f", "sh", "-c", probe],
        vec!["nsenter", "-t", &pid, "-a", "sh", "-c", probe],
        vec!["nsenter", "--explain", "-t", &pid, "-n", "sh", "-c", probe],
        vec!["clone", "NEWNS|NEWPID|NEWNET", "sh", "-c", probe],
        vec!["clone", "--explain", "NEWNET", "sh", "-c", probe],
        vec!["clone", "NEWTIME", "sh", "-c", probe],
    ];
    for c in &commands {
        let mut command = nslab(c);
        command.env("NSLAB_LIVE_PROBE", "kept");
        let o = run(&mut command, "");
        check!(o.code == Some(0), "{c:?}: exit {:?}: {}", o.code, o.stderr);
        let lines: Vec<&str> = o
            .stdout
            .lines()
            .filter(|l| {
                !l.starts_with("clone() returned")
                    && *l != "In child process."
                    && *l != "child has terminated"
            })
            .collect();
        check!(
            lines.first().map(|l| l.trim()) == Some("0 1 2 3"),
            "{c:?}: fds {:?}",
            lines.first()
        );
        check!(
            lines.get(1) == Some(&"kept"),
            "{c:?}: environment {:?}",
            lines.get(1)
        );
    }
    Ok(Pass::Ok)
}

/// `=FILE` keeps a namespace alive with a bind mount that `umount FILE` frees; nsenter
/// enters it by the file.
fn persistent_namespace_files() -> TestResult {
    need!("umount");
    let dir = tempdir()?;
    let file = format!("{dir}/net");
    std::fs::write(&file, "").map_err(|e| e.to_string())?;
    let o = run(
        &mut nslab(&["unshare", &format!("--net={file}"), "--uts", "true"]),
        "",
    );
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(&file) && l.contains("nsfs"));
    let entered = run(
        &mut nslab(&[
            "nsenter",
            &format!("--net={file}"),
            "readlink",
            "/proc/self/ns/net",
        ]),
        "",
    );
    let ino = std::fs::metadata(&file)
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap_or(0);
    let umount = Command::new("umount").arg(&file).status();
    let still = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(&file);
    let _ = std::fs::remove_file(&file);
    drop(dir);
    check!(o.code == Some(0), "unshare --net=FILE: {o:?}");
    check!(mounted, "no nsfs mount on {file}");
    check!(
        entered.code == Some(0) && entered.stdout.trim() == format!("net:[{ino}]"),
        "nsenter --net=FILE: {entered:?} (file inode {ino})"
    );
    check!(
        umount.is_ok_and(|s| s.success()) && !still,
        "umount {file} did not free it"
    );
    Ok(Pass::Ok)
}

/// Options that change the process: -S, -G, -w, -R, and the conflicts nslab refuses.
fn options_and_conflicts() -> TestResult {
    need!();
    let o = run(
        &mut nslab(&[
            "unshare",
            "-u",
            "-S",
            "65534",
            "-G",
            "65534",
            "sh",
            "-c",
            "id -u; id -g",
        ]),
        "",
    );
    check!(
        o.code == Some(0) && o.stdout == "65534\n65534\n",
        "-S/-G: {o:?}"
    );
    let o = run(&mut nslab(&["unshare", "-u", "-w", "/usr", "pwd"]), "");
    check!(o.code == Some(0) && o.stdout.trim() == "/usr", "-w: {o:?}");
    let o = run(
        &mut nslab(&["unshare", "-m", "-R", "/", "-w", "/etc", "pwd"]),
        "",
    );
    check!(o.code == Some(0) && o.stdout.trim() == "/etc", "-R: {o:?}");
    let o = run(&mut nslab(&["unshare", "-r", "-c", "true"]), "");
    check!(
        o.code == Some(1)
            && o.stderr
                .contains("--map-root-user and --map-current-user are mutually exclusive"),
        "-r -c: {o:?}"
    );
    let o = run(&mut nslab(&["clone", "NEWFOO", "true"]), "");
    check!(
        o.code == Some(1) && o.stderr.contains("unknown clone flag 'NEWFOO'"),
        "bad flag: {o:?}"
    );
    let o = run(&mut nslab(&["clone", "NEWNET", ""]), "");
    check!(
        o.code == Some(127)
            && o.stderr
                .contains("failed to execute : No such file or directory"),
        "empty name: {o:?}"
    );
    let o = run(&mut nslab(&["clone", "NEWNET", "/etc/passwd"]), "");
    check!(o.code == Some(126), "not executable: {o:?}");
    // Trailing arguments reach the program untouched, options included.
    let o = run(
        &mut nslab(&["unshare", "-n", "printf", "%s|", "-n", "--net", "--", "-x"]),
        "",
    );
    check!(o.stdout == "-n|--net|--|-x|", "arguments: {o:?}");
    Ok(Pass::Ok)
}

/// `--mount-proc` leaves the host's /proc and mount table as they were.
fn mount_proc_leaves_the_host_alone() -> TestResult {
    need!();
    let before = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    for prop in ["private", "shared", "slave", "unchanged"] {
        let o = run(
            &mut nslab(&[
                "unshare",
                "-p",
                "-f",
                "--mount-proc",
                "--propagation",
                prop,
                "sh",
                "-c",
                "echo $$",
            ]),
            "",
        );
        check!(
            o.code == Some(0) && o.stdout.trim() == "1",
            "--propagation {prop}: {o:?}"
        );
    }
    let after = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let points = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split_whitespace().nth(4).unwrap_or("").to_string())
            .collect()
    };
    check!(points(&before) == points(&after), "the mount table changed");
    check!(
        std::path::Path::new(&format!("/proc/{}", std::process::id())).exists(),
        "/proc is not the host's"
    );
    Ok(Pass::Ok)
}

type Test = fn() -> TestResult;

const TESTS: &[(&str, Test)] = &[
    ("lesson_unshare_word_for_word", lesson_unshare_word_for_word),
    (
        "lesson_unshare_noninteractive",
        lesson_unshare_noninteractive,
    ),
    ("lesson_nsenter_word_for_word", lesson_nsenter_word_for_word),
    ("lesson_clone", lesson_clone),
    (
        "differential_unshare_structure",
        differential_unshare_structure,
    ),
    (
        "differential_unshare_statuses",
        differential_unshare_statuses,
    ),
    ("differential_nsenter", differential_nsenter),
    ("differential_unprivileged", differential_unprivileged),
    (
        "user_namespace_refusal_names_the_cause",
        user_namespace_refusal_names_the_cause,
    ),
    (
        "explain_agrees_with_the_kernel",
        explain_agrees_with_the_kernel,
    ),
    (
        "refused_calls_name_the_models_rule",
        refused_calls_name_the_models_rule,
    ),
    ("signals_are_forwarded", signals_are_forwarded),
    ("kill_child_kills_the_child", kill_child_kills_the_child),
    ("pid1_zombies_do_not_stay", pid1_zombies_do_not_stay),
    (
        "only_fds_0_1_2_and_the_environment",
        only_fds_0_1_2_and_the_environment,
    ),
    ("persistent_namespace_files", persistent_namespace_files),
    ("options_and_conflicts", options_and_conflicts),
    (
        "mount_proc_leaves_the_host_alone",
        mount_proc_leaves_the_host_alone,
    ),
];

fn main() -> std::process::ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    // Each trial compares the host before and after itself: they must not overlap.
    args.test_threads = Some(1);
    let before_all = common::host_before();
    let trials: Vec<libtest_mimic::Trial> = TESTS
        .iter()
        .map(|&(name, test)| {
            libtest_mimic::Trial::ignorable_test(name, move || {
                let before = nslab_real::host::HostSnapshot::take();
                let result = test();
                let after = nslab_real::host::HostSnapshot::take();
                match result {
                    Ok(Pass::Skipped(why)) => Ok(common::skip(name, &why)),
                    Ok(Pass::Ok) if before == after => Ok(libtest_mimic::Completion::Completed),
                    Ok(Pass::Ok) => Err(format!(
                        "the host changed\n  before: {before:?}\n  after:  {after:?}"
                    )
                    .into()),
                    Err(e) => Err(e.into()),
                }
            })
        })
        .collect();
    let run = libtest_mimic::run(&args, trials);
    let host = libtest_mimic::Trial::test("host_safety", move || {
        common::host_unchanged(&before_all).map_err(Into::into)
    });
    let safety = libtest_mimic::run(&args, vec![host]);
    if run.has_failed() || safety.has_failed() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
