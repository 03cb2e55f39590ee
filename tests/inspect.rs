//! Real-kernel tests of `nslab lsns`, `nslab netns` and `nslab graph --live`, and the SVG
//! check in headless Chromium. A `harness = false` binary run by libtest-mimic: a test that
//! cannot run here is an ignored trial saying `SKIPPED: <test>: <reason>`; after every trial,
//! two more check that `/run/netns` and the host are exactly as they were.
//!
//! Namespaces are made by helper processes started with `std::process::Command` (util-linux
//! `unshare`, iproute2 `ip`, perl for a thread), never in this multithreaded process. Every
//! helper is killed and every `/run/netns` name made here is removed by Drop guards, also
//! when a test fails. Names are unique (`nslab-test-<pid>-<n>`): other test runs may use
//! `/run/netns` at the same time.

mod common;

use libtest_mimic::{Arguments, Completion, Trial};

use serde_json::Value;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const NSLAB: &str = env!("CARGO_BIN_EXE_nslab");

enum Outcome {
    Pass,
    Skip(String),
}

type TestResult = Result<Outcome, String>;

/// A test: its name, its function, and whether it needs root.
type Test = (&'static str, fn() -> TestResult, bool);

/// Helper processes, killed and reaped on drop.
#[derive(Default)]
struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, argv: &[&str]) -> Result<u32, String> {
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {argv:?}: {e}"))?;
        let pid = child.id();
        self.0.push(child);
        Ok(pid)
    }

    /// Kills one helper now.
    fn kill(&mut self, pid: u32) {
        if let Some(i) = self.0.iter().position(|c| c.id() == pid) {
            let mut c = self.0.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `/run/netns` names made by a test, removed on drop (detach and unlink, as `ip netns
/// delete`), whoever made them.
#[derive(Default)]
struct Names(Vec<String>);

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Names {
    fn fresh(&mut self) -> String {
        let n = format!(
            "nslab-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.0.push(n.clone());
        n
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        for n in &self.0 {
            let p = Path::new("/run/netns").join(n);
            if p.exists() {
                let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// What `/run/netns` is: whether it exists, whether it is a mount point, and its entries.
#[derive(Debug, PartialEq, Eq, Clone)]
struct RunNetns {
    exists: bool,
    mounted: bool,
    entries: BTreeSet<String>,
    /// nslab's record of the `/run/netns` mount it made.
    marker: bool,
}

fn run_netns() -> RunNetns {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    RunNetns {
        exists: Path::new("/run/netns").exists(),
        mounted: mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/run/netns")),
        entries: std::fs::read_dir("/run/netns")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        marker: Path::new(nslab_real::inspect::netns::MADE_MARKER).exists(),
    }
}

/// Puts `/run/netns` back as `before` when this run changed what it is (not its entries of
/// other runs): a self-bind or a directory that iproute2 made during the run and never
/// removes. Only an empty directory is touched.
fn restore_run_netns(before: &RunNetns) {
    let now = run_netns();
    let ours_gone = now.entries.iter().all(|e| !e.starts_with("nslab-test-"));
    if !ours_gone || !now.entries.is_empty() {
        return;
    }
    if now.mounted && !before.mounted {
        let _ = nix::mount::umount2("/run/netns", nix::mount::MntFlags::MNT_DETACH);
    }
    // nslab's record of a mount that iproute2's delete left in place (and was undone above).
    if now.marker && !before.marker {
        let _ = std::fs::remove_file(nslab_real::inspect::netns::MADE_MARKER);
    }
    if now.exists && !before.exists {
        let _ = std::fs::remove_dir("/run/netns");
    }
}

/// Runs a command and gives (status, stdout, stderr).
fn run(argv: &[&str]) -> Result<(i32, String, String), String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {argv:?}: {e}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Runs a command that must succeed; gives its stdout.
fn ok(argv: &[&str]) -> Result<String, String> {
    let (code, out, err) = run(argv)?;
    if code != 0 {
        return Err(format!("{argv:?} exited {code}: {err}"));
    }
    Ok(out)
}

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The inode of a namespace link or file.
fn ino(path: &str) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| format!("stat {path}: {e}"))
}

/// Waits until `f` holds (helpers need a moment to unshare and exec).
fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("timed out waiting for {what}"))
}

/// `nslab lsns -J -l --output-all`, flat, by `(type, ns)`.
fn nslab_lsns() -> Result<Vec<Value>, String> {
    let out = ok(&[NSLAB, "lsns", "-J", "-l", "--output-all"])?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("bad JSON: {e}\n{out}"))?;
    Ok(v["namespaces"].as_array().cloned().unwrap_or_default())
}

fn row(rows: &[Value], ns: u64) -> Option<&Value> {
    rows.iter().find(|r| r["ns"].as_u64() == Some(ns))
}

/// The inode of `/proc/<pid>/ns/<entry>` once the process has moved there (it differs from
/// this process's own).
fn moved(pid: u32, entry: &str) -> Result<u64, String> {
    let own = ino(&format!("/proc/self/ns/{entry}"))?;
    let mut got = 0;
    wait_for(
        &format!("pid {pid} to leave our {entry} namespace"),
        || match ino(&format!("/proc/{pid}/ns/{entry}")) {
            Ok(i) if i != own => {
                got = i;
                true
            }
            _ => false,
        },
    )?;
    Ok(got)
}

fn expect_row(rows: &[Value], ns: u64, what: &str, held: &str) -> Result<(), String> {
    let r = row(rows, ns).ok_or_else(|| format!("{what}: ns {ns} not found by nslab lsns"))?;
    let h = r["held-by"].as_str().unwrap_or("");
    if !h.split(',').any(|p| p.starts_with(held)) {
        return Err(format!("{what}: ns {ns} HELD-BY is '{h}', expected {held}"));
    }
    Ok(())
}

/// Every way of holding a namespace, found with the right HELD-BY, PNS and ONS.
fn lsns_finds_every_holder() -> TestResult {
    for p in ["unshare", "sleep", "sh"] {
        if !have(p) {
            return Ok(Outcome::Skip(format!("{p} is not installed")));
        }
    }
    let mut procs = Procs::default();
    let dir = tempdir()?;
    let init_user = ino("/proc/self/ns/user")?;

    // A process.
    let p_proc = procs.spawn(&["unshare", "-n", "sleep", "60"])?;
    let net_proc = moved(p_proc, "net")?;

    // An fd: a second process opens the first one's namespace, then the first one dies.
    let p_fd = procs.spawn(&[
        "sh",
        "-c",
        &format!("exec 3</proc/{p_proc}/ns/net; exec sleep 60"),
    ])?;
    wait_for("the fd holder to open its fd", || {
        std::fs::read_link(format!("/proc/{p_fd}/fd/3")).is_ok()
    })?;
    procs.kill(p_proc);

    // A bind mount in a private mount namespace (nothing reaches the host's mounts).
    let file = dir.0.join("net");
    std::fs::write(&file, b"").map_err(|e| e.to_string())?;
    let p_mnt = procs.spawn(&[
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &format!("unshare --net={} true && exec sleep 60", file.display()),
    ])?;
    let mut net_mnt = 0;
    wait_for("the bind mount", || {
        let Ok(mi) = std::fs::read_to_string(format!("/proc/{p_mnt}/mountinfo")) else {
            return false;
        };
        mi.lines()
            .find(|l| l.contains(" - nsfs ") && l.contains(&file.display().to_string()))
            .and_then(|l| {
                let root = l.split(' ').nth(3)?;
                root.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
            })
            .map(|i| net_mnt = i)
            .is_some()
    })?;

    // A hidden parent: the outer user namespace of `unshare -Ur unshare -Ur sleep` has no
    // process left in it (the first unshare became the second).
    let p_user = procs.spawn(&["unshare", "-Ur", "--", "unshare", "-Ur", "sleep", "60"])?;
    let mut inner_user = 0;
    wait_for("the nested user namespaces", || {
        // The process is in the inner namespace when its cmdline is sleep's.
        let cmd = std::fs::read(format!("/proc/{p_user}/cmdline")).unwrap_or_default();
        if !cmd.starts_with(b"sleep") {
            return false;
        }
        inner_user = ino(&format!("/proc/{p_user}/ns/user")).unwrap_or(0);
        inner_user != 0
    })?;

    // A process in a new pid namespace: its pid at both levels (NSPID `N/1`). `--kill-child`:
    // the forked sleep dies with the unshare that the guard kills, instead of living on as an
    // orphan.
    let p_pid = procs.spawn(&["unshare", "-p", "-f", "--kill-child", "--", "sleep", "60"])?;
    let mut child = 0;
    wait_for("the pid namespace's init", || {
        child = std::fs::read_to_string(format!("/proc/{p_pid}/task/{p_pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        child != 0
    })?;
    let pid_ns = moved(child, "pid")?;

    let rows = nslab_lsns()?;
    let r = row(&rows, pid_ns).ok_or("the new pid namespace is missing")?;
    if r["nspid"].as_str() != Some(format!("{child}/1").as_str())
        || r["pid"].as_u64() != Some(u64::from(child))
    {
        return Err(format!("NSPID of the pid namespace's init: {r}"));
    }
    expect_row(&rows, net_proc, "fd holder", "fd:")?;
    expect_row(&rows, net_mnt, "bind mount", "mount:")?;
    let inner = row(&rows, inner_user).ok_or("inner user namespace not found")?;
    let outer = inner["pns"]
        .as_u64()
        .ok_or("inner user namespace without PNS")?;
    if inner["ons"].as_u64() != Some(outer) {
        return Err(format!("a user namespace's ONS is its parent: {inner}"));
    }
    expect_row(&rows, outer, "hidden parent", "parent-link:")?;
    let outer_row = row(&rows, outer).ok_or("outer user namespace missing")?;
    if outer_row["pns"].as_u64() != Some(init_user) || outer_row["nprocs"].as_u64() != Some(0) {
        return Err(format!("hidden parent: {outer_row}"));
    }
    for ns in [net_proc, net_mnt] {
        let r = row(&rows, ns).ok_or("missing")?;
        if r["ons"].as_u64() != Some(init_user) || r["pns"].as_u64() != Some(0) {
            return Err(format!("ONS/PNS of net {ns}: {r}"));
        }
    }
    // A process holder and the process's pid at every level.
    let me = std::process::id();
    let own_net = ino("/proc/self/ns/net")?;
    let r = row(&rows, own_net).ok_or("our own net namespace is missing")?;
    if !r["held-by"].as_str().unwrap_or("").starts_with("process") {
        return Err(format!("our net namespace: {r}"));
    }
    let _ = me;
    Ok(Outcome::Pass)
}

/// A thread in a network namespace of its own, found with HELD-BY `thread:TID` (perl: the
/// process unshares while it has one thread, starts a thread, and the main thread goes back
/// with setns; the raw syscall numbers are x86_64's).
fn lsns_finds_a_thread_holder() -> TestResult {
    if !have("perl") {
        return Ok(Outcome::Skip(
            "perl is not installed (.ci/run installs it)".into(),
        ));
    }
    if std::env::consts::ARCH != "x86_64" {
        return Ok(Outcome::Skip(
            "the perl helper uses x86_64 syscall numbers".into(),
        ));
    }
    let mut procs = Procs::default();
    let p = procs.spawn(&[
        "perl",
        "-e",
        "use threads; open(my $fh, '<', '/proc/self/ns/net') or die; \
         syscall(272, 0x40000000) == 0 or die \"unshare: $!\"; \
         my $t = threads->create(sub { sleep 60 }); \
         syscall(308, fileno($fh), 0x40000000) == 0 or die \"setns: $!\"; close $fh; $t->join",
    ])?;
    let own = ino("/proc/self/ns/net")?;
    let mut t_net = 0;
    wait_for("the perl thread in its own network namespace", || {
        // The second thread, once the main thread is back in ours.
        let Ok(dir) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            return false;
        };
        let tids: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if tids.len() != 2 || ino(&format!("/proc/{p}/ns/net")).ok() != Some(own) {
            return false;
        }
        t_net = tids
            .iter()
            .filter(|t| **t != p.to_string())
            .find_map(|t| ino(&format!("/proc/{p}/task/{t}/ns/net")).ok())
            .unwrap_or(0);
        t_net != 0 && t_net != own
    })?;
    let rows = nslab_lsns()?;
    expect_row(&rows, t_net, "thread", "thread:")?;
    let r = row(&rows, t_net).ok_or("missing")?;
    if r["nprocs"].as_u64() != Some(0) {
        return Err(format!("a thread is not a process: {r}"));
    }
    Ok(Outcome::Pass)
}

/// Every namespace util-linux `lsns -J` lists (at nearly the same time) is in nslab's list.
fn lsns_is_a_superset_of_util_linux() -> TestResult {
    if !have("lsns") {
        return Ok(Outcome::Skip("util-linux lsns is not installed".into()));
    }
    let mut procs = Procs::default();
    let p = procs.spawn(&["unshare", "-n", "-u", "sleep", "60"])?;
    moved(p, "net")?;
    // Other tests of this binary make and drop namespaces meanwhile (`ip netns exec` makes a
    // mount namespace per run), and the kernel gives a new namespace the lowest free inode
    // number: one util-linux saw may be gone when nslab looks and its number taken again
    // when `still_alive` looks. A namespace nslab really misses is missing every time, so
    // the comparison is made up to five times and passes on the first clean one.
    let mut tries = Vec::new();
    for _ in 0..5 {
        let missing = lsns_missing_from_nslab()?;
        if missing.is_empty() {
            return Ok(Outcome::Pass);
        }
        tries.push(missing);
    }
    Err(format!(
        "util-linux lists what nslab does not, in each of five tries: {tries:?}"
    ))
}

/// The namespaces util-linux's `lsns` lists, nslab's does not, and nslab's lists again just
/// after (so not gone in between).
fn lsns_missing_from_nslab() -> Result<Vec<String>, String> {
    let theirs: Value = serde_json::from_str(&ok(&["lsns", "-J", "-l", "-o", "NS,TYPE"])?)
        .map_err(|e| e.to_string())?;
    let ours = nslab_lsns()?;
    let ours: BTreeSet<(u64, String)> = ours
        .iter()
        .filter_map(|r| Some((r["ns"].as_u64()?, r["type"].as_str()?.to_string())))
        .collect();
    let mut missing = Vec::new();
    let mut total = 0;
    for r in theirs["namespaces"].as_array().into_iter().flatten() {
        let (Some(ns), Some(ty)) = (r["ns"].as_u64(), r["type"].as_str()) else {
            continue;
        };
        total += 1;
        if !ours.contains(&(ns, ty.to_string())) && still_alive(ns) {
            missing.push(format!("{ty}:[{ns}]"));
        }
    }
    if total == 0 {
        return Err("util-linux listed nothing".into());
    }
    Ok(missing)
}

/// With util-linux's columns, `-J` gives util-linux's JSON: the same keys, value types and
/// values for the initial namespaces' rows (all but NPROCS, which moves as processes come and
/// go between the two runs).
fn lsns_json_matches_util_linux() -> TestResult {
    if !have("lsns") {
        return Ok(Outcome::Skip("util-linux lsns is not installed".into()));
    }
    let cols = "NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,NSFS,PNS,ONS";
    let parse = |out: String| -> Result<Vec<Value>, String> {
        let v: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        Ok(v["namespaces"].as_array().cloned().unwrap_or_default())
    };
    let theirs = parse(ok(&["lsns", "-J", "-l", "-o", cols])?)?;
    let ours = parse(ok(&[NSLAB, "lsns", "-J", "-l", "-o", cols])?)?;
    let mut compared = 0;
    for t in &theirs {
        let Some(ns) = t["ns"].as_u64() else { continue };
        // The initial namespaces (fixed inodes below the dynamic range).
        if ns >= 0xF000_0000 {
            continue;
        }
        let o = row(&ours, ns).ok_or_else(|| format!("nslab lacks {t}"))?;
        let (Some(tk), Some(ok_)) = (t.as_object(), o.as_object()) else {
            return Err("rows are not objects".into());
        };
        let tkeys: Vec<&String> = tk.keys().collect();
        let okeys: Vec<&String> = ok_.keys().collect();
        if tkeys != okeys {
            return Err(format!(
                "keys differ: util-linux {tkeys:?}, nslab {okeys:?}"
            ));
        }
        for (k, v) in tk {
            if k == "nprocs" {
                if !ok_[k].is_u64() {
                    return Err(format!("nprocs is not a number: {o}"));
                }
                continue;
            }
            if &ok_[k] != v {
                return Err(format!(
                    "{k} differs for ns {ns}: util-linux {v}, nslab {}",
                    ok_[k]
                ));
            }
        }
        compared += 1;
    }
    if compared < 8 {
        return Err(format!("only {compared} initial namespaces compared"));
    }
    Ok(Outcome::Pass)
}

/// Whether any process still links to namespace `ns` (a process of another test run may
/// exit between the two listings).
fn still_alive(ns: u64) -> bool {
    let out = ok(&[NSLAB, "lsns", "-J", "-l", "-o", "NS"]).unwrap_or_default();
    out.contains(&format!("\"ns\": {ns}"))
}

/// `nslab netns add`, seen and used by iproute2, deleted by iproute2, then gone.
fn netns_nslab_to_iproute2() -> TestResult {
    if !have("ip") {
        return Ok(Outcome::Skip("iproute2 is not installed".into()));
    }
    let mut names = Names::default();
    let name = names.fresh();
    ok(&[NSLAB, "netns", "add", &name])?;
    let list = ok(&["ip", "netns", "list"])?;
    if !list
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name.as_str()))
    {
        return Err(format!("ip netns list does not show {name}: {list}"));
    }
    let file = format!("/run/netns/{name}");
    let ns = ino(&file)?;
    // Inside it, iproute2 sees a fresh namespace: only lo, DOWN.
    let links = ok(&["ip", "netns", "exec", &name, "ip", "-o", "link"])?;
    if links.lines().count() != 1 || !links.contains("lo:") || !links.contains("state DOWN") {
        return Err(format!("ip netns exec {name} ip link: {links}"));
    }
    let inside = ok(&[
        "ip",
        "netns",
        "exec",
        &name,
        "readlink",
        "/proc/self/ns/net",
    ])?;
    if inside.trim() != format!("net:[{ns}]") {
        return Err(format!("ip netns exec joined {inside}, not net:[{ns}]"));
    }
    // nslab lsns: held by the bind mount only (the creating process has exited).
    let rows = nslab_lsns()?;
    expect_row(&rows, ns, "nslab netns add", &format!("mount:{file}"))?;
    ok(&["ip", "netns", "delete", &name])?;
    gone(ns)?;
    Ok(Outcome::Pass)
}

/// Waits until namespace `ns` is no longer found by `nslab lsns` (teardown is asynchronous).
fn gone(ns: u64) -> Result<(), String> {
    wait_for(&format!("namespace {ns} to be freed"), || {
        nslab_lsns().is_ok_and(|rows| row(&rows, ns).is_none())
    })
}

/// `ip netns add`, seen and used by nslab, deleted by nslab, then gone.
fn netns_iproute2_to_nslab() -> TestResult {
    if !have("ip") {
        return Ok(Outcome::Skip("iproute2 is not installed".into()));
    }
    let mut names = Names::default();
    let name = names.fresh();
    ok(&["ip", "netns", "add", &name])?;
    let ns = ino(&format!("/run/netns/{name}"))?;
    let list = ok(&[NSLAB, "netns", "list"])?;
    if !list
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name.as_str()))
    {
        return Err(format!("nslab netns list does not show {name}: {list}"));
    }
    let json: Value =
        serde_json::from_str(&ok(&[NSLAB, "netns", "list", "-j"])?).map_err(|e| e.to_string())?;
    let theirs: Value =
        serde_json::from_str(&ok(&["ip", "-j", "netns", "list"])?).map_err(|e| e.to_string())?;
    let pick = |v: &Value| {
        v.as_array()
            .and_then(|a| a.iter().find(|e| e["name"] == name.as_str()).cloned())
    };
    if pick(&json).is_none() || pick(&json) != pick(&theirs) {
        return Err(format!("-j differs: nslab {json} ip {theirs}"));
    }
    let inside = ok(&[
        NSLAB,
        "netns",
        "exec",
        &name,
        "readlink",
        "/proc/self/ns/net",
    ])?;
    if inside.trim() != format!("net:[{ns}]") {
        return Err(format!("nslab netns exec joined {inside}, not net:[{ns}]"));
    }
    // An id assigned by iproute2 shows in nslab's list and in lsns's NETNSID.
    ok(&["ip", "netns", "set", &name, "auto"])?;
    let theirs = ok(&["ip", "netns", "list"])?;
    let line = theirs
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .unwrap_or("")
        .to_string();
    let ours = ok(&[NSLAB, "netns", "list"])?;
    if !line.contains("(id: ") || !ours.lines().any(|l| l == line) {
        return Err(format!("ids: ip says {line:?}, nslab says {ours}"));
    }
    let id = line
        .split("(id: ")
        .nth(1)
        .and_then(|r| r.trim_end_matches(')').parse::<u64>().ok())
        .ok_or("no id")?;
    let rows = nslab_lsns()?;
    let r = row(&rows, ns).ok_or("the named namespace is missing")?;
    if r["netnsid"].as_u64() != Some(id) {
        return Err(format!("NETNSID {} instead of {id}", r["netnsid"]));
    }
    // exec remounts /sys: the namespace's own devices (only lo).
    let sys = ok(&[NSLAB, "netns", "exec", &name, "ls", "/sys/class/net"])?;
    if sys.split_whitespace().collect::<Vec<_>>() != ["lo"] {
        return Err(format!("/sys/class/net inside: {sys}"));
    }
    // exec passes on stdin, stdout and stderr only (fd 7, open in the caller, is closed).
    let fds = ok(&[
        "sh",
        "-c",
        &format!("exec 7</dev/null; exec {NSLAB} netns exec {name} ls /proc/self/fd"),
    ])?;
    if fds.split_whitespace().collect::<Vec<_>>() != ["0", "1", "2", "3"] {
        return Err(format!("fds of the command (3 is ls's own): {fds}"));
    }
    // pids: a process that joins is listed; identify names its namespace.
    let mut procs = Procs::default();
    let p = procs.spawn(&["ip", "netns", "exec", &name, "sleep", "60"])?;
    wait_for("ip netns exec sleep", || {
        ino(&format!("/proc/{p}/ns/net")).is_ok_and(|i| i == ns)
    })?;
    let pids = ok(&[NSLAB, "netns", "pids", &name])?;
    if !pids.lines().any(|l| l.trim() == p.to_string()) {
        return Err(format!("nslab netns pids {name}: {pids} (expected {p})"));
    }
    let ident = ok(&[NSLAB, "netns", "identify", &p.to_string()])?;
    if ident.trim() != name {
        return Err(format!("nslab netns identify {p}: {ident}"));
    }
    procs.kill(p);
    ok(&[NSLAB, "netns", "delete", &name])?;
    if Path::new(&format!("/run/netns/{name}")).exists() {
        return Err("the file is still there after delete".into());
    }
    gone(ns)?;
    Ok(Outcome::Pass)
}

/// attach names a running process's namespace, which outlives the process; delete frees it.
fn netns_attach_persists() -> TestResult {
    let mut names = Names::default();
    let name = names.fresh();
    let mut procs = Procs::default();
    let p = procs.spawn(&["unshare", "-n", "sleep", "60"])?;
    let ns = moved(p, "net")?;
    ok(&[NSLAB, "netns", "attach", &name, &p.to_string()])?;
    procs.kill(p);
    if ino(&format!("/run/netns/{name}"))? != ns {
        return Err("attach bound another namespace".into());
    }
    let rows = nslab_lsns()?;
    let r = row(&rows, ns).ok_or("the attached namespace died with its process")?;
    if r["nprocs"].as_u64() != Some(0) {
        return Err(format!("after the process exited: {r}"));
    }
    ok(&[NSLAB, "netns", "delete", &name])?;
    gone(ns)?;
    Ok(Outcome::Pass)
}

/// Bad names are refused with the rule and exit 2; a duplicate is EEXIST; nothing is left.
fn netns_bad_input() -> TestResult {
    let long = "x".repeat(256);
    for (bad, rule) in [
        ("", "may not be empty"),
        ("a/b", "may not contain '/'"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        (long.as_str(), "NAME_MAX"),
    ] {
        let (code, _, err) = run(&[NSLAB, "netns", "add", bad])?;
        if code != 2 || !err.contains(rule) {
            return Err(format!("add {bad:?}: exit {code}, {err}"));
        }
    }
    let mut names = Names::default();
    let name = names.fresh();
    ok(&[NSLAB, "netns", "add", &name])?;
    let (code, _, err) = run(&[NSLAB, "netns", "add", &name])?;
    if code != 1 || !err.contains("file exists") {
        return Err(format!("duplicate add: exit {code}, {err}"));
    }
    ok(&[NSLAB, "netns", "delete", &name])?;
    let (code, _, err) = run(&[NSLAB, "netns", "delete", &name])?;
    if code != 1 || !err.contains("no such file") {
        return Err(format!("second delete: exit {code}, {err}"));
    }
    Ok(Outcome::Pass)
}

/// Where `/run/netns` does not exist, add makes it (with its self-bind) and delete of the
/// last name removes both, also when four processes add and delete at once (the flock): run
/// in a private mount namespace with a fresh tmpfs on /run, so the host is not involved.
fn netns_cleans_up_the_run_dir_it_made() -> TestResult {
    let script = format!(
        "set -e; mount -t tmpfs nslab-test /run; \
         count() {{ grep -c ' /run/netns ' /proc/self/mountinfo || true; }}; \
         before=$(count); \
         {n} netns add one; {n} netns add two; \
         test $(count) -eq $((before + 1)); \
         {n} netns delete one; test -e /run/netns/two; \
         test $(count) -eq $((before + 1)); \
         {n} netns delete two; \
         if test -e /run/netns; then echo 'left /run/netns'; exit 1; fi; \
         if test $(count) -ne $before; then echo 'left the mount'; exit 1; fi; \
         for j in 1 2 3 4; do ( for i in 1 2 3 4 5; do \
           {n} netns add c$j-$i || echo FAIL; {n} netns delete c$j-$i || echo FAIL; \
         done ) & done; wait; \
         if test -e /run/netns; then echo 'concurrent use left /run/netns'; exit 1; fi; \
         if test $(count) -ne $before; then echo 'concurrent use left the mount'; exit 1; fi; \
         echo clean",
        n = NSLAB
    );
    let out = ok(&[
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ])?;
    if out.trim() != "clean" {
        return Err(format!("in a private /run: {out}"));
    }
    Ok(Outcome::Pass)
}

/// `exec` binds `/etc/netns/NAME/X` over `/etc/X` in its own mount namespace only: the
/// command sees the namespace's file, the host keeps its own.
fn netns_exec_binds_etc_netns() -> TestResult {
    if !Path::new("/etc/hosts").exists() {
        return Ok(Outcome::Skip("/etc/hosts does not exist here".into()));
    }
    let mut names = Names::default();
    let name = names.fresh();
    // Removes what this test made under /etc/netns, also on failure.
    struct EtcGuard {
        made_parent: bool,
        dir: PathBuf,
    }
    impl Drop for EtcGuard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
            if self.made_parent {
                let _ = std::fs::remove_dir("/etc/netns");
            }
        }
    }
    let guard = EtcGuard {
        made_parent: !Path::new("/etc/netns").exists(),
        dir: Path::new("/etc/netns").join(&name),
    };
    std::fs::create_dir_all(&guard.dir).map_err(|e| e.to_string())?;
    let marker = format!("# hosts of {name}\n");
    std::fs::write(guard.dir.join("hosts"), &marker).map_err(|e| e.to_string())?;
    let host_hosts = std::fs::read_to_string("/etc/hosts").map_err(|e| e.to_string())?;
    ok(&[NSLAB, "netns", "add", &name])?;
    let inside = ok(&[NSLAB, "netns", "exec", &name, "cat", "/etc/hosts"])?;
    ok(&[NSLAB, "netns", "delete", &name])?;
    if inside != marker {
        return Err(format!("/etc/hosts inside: {inside:?}"));
    }
    if std::fs::read_to_string("/etc/hosts").map_err(|e| e.to_string())? != host_hosts {
        return Err("the host's /etc/hosts changed".into());
    }
    drop(guard);
    Ok(Outcome::Pass)
}

/// The live graph and the model's have one shape: after `unshare -n -u` on the kernel and
/// `clone(CLONE_NEWNET|CLONE_NEWUTS)` in the model, the two tasks' nsproxies differ in the
/// same entries (net_ns and uts_ns), and the tasks share their user and pid namespaces.
fn graph_live_and_model_compare() -> TestResult {
    let mut procs = Procs::default();
    let p = procs.spawn(&["unshare", "-n", "-u", "sleep", "60"])?;
    moved(p, "net")?;
    let me = std::process::id();
    let live: Value = serde_json::from_str(&ok(&[
        NSLAB,
        "graph",
        "--live",
        "-p",
        &me.to_string(),
        "-p",
        &p.to_string(),
        "--format",
        "json",
    ])?)
    .map_err(|e| e.to_string())?;
    let model: Value = serde_json::from_str(&ok(&[
        NSLAB,
        "graph",
        "clone",
        "NEWNET|NEWUTS",
        "--format",
        "json",
    ])?)
    .map_err(|e| e.to_string())?;
    // (entries that differ, same user ns, same pid ns) between two tasks of a graph.
    let compare =
        |g: &Value, a: usize, b: usize| -> Result<(BTreeSet<String>, bool, bool), String> {
            let t = |i: usize| &g["tasks"][i];
            let entries = |i: usize| -> Result<Vec<(String, u64)>, String> {
                let n = t(i)["nsproxy"].as_u64().ok_or("a task without nsproxy")? as usize;
                Ok(g["nsproxies"][n]["entries"]
                    .as_array()
                    .ok_or("no entries")?
                    .iter()
                    .filter_map(|e| {
                        let ns = &g["namespaces"][e[1].as_u64()? as usize];
                        Some((e[0].as_str()?.to_string(), ns["inum"].as_u64()?))
                    })
                    .collect())
            };
            let (ea, eb) = (entries(a)?, entries(b)?);
            let differ = ea
                .iter()
                .zip(&eb)
                .filter(|(x, y)| x.1 != y.1)
                .map(|(x, _)| x.0.clone())
                .collect();
            Ok((
                differ,
                t(a)["user_ns"] == t(b)["user_ns"],
                t(a)["pid_ns"] == t(b)["pid_ns"],
            ))
        };
    let index = |g: &Value, pid: u32| {
        g["tasks"].as_array().and_then(|ts| {
            ts.iter()
                .position(|t| t["nspid"][0].as_u64() == Some(u64::from(pid)))
        })
    };
    let (a, b) = (
        index(&live, me).ok_or("the test process is not drawn")?,
        index(&live, p).ok_or("the helper is not drawn")?,
    );
    let live_cmp = compare(&live, a, b)?;
    let model_cmp = compare(&model, 0, 1)?;
    let want: BTreeSet<String> = ["net_ns", "uts_ns"].iter().map(|s| s.to_string()).collect();
    if live_cmp.0 != want || live_cmp != model_cmp {
        return Err(format!("live {live_cmp:?}, model {model_cmp:?}"));
    }
    if live["source"] != "live" || model["source"] != "model" {
        return Err("sources are not marked".into());
    }
    Ok(Outcome::Pass)
}

/// `nslab graph --live -p PID` draws that process's namespaces.
fn graph_live() -> TestResult {
    let mut procs = Procs::default();
    let p = procs.spawn(&["unshare", "-n", "-u", "sleep", "60"])?;
    let net = moved(p, "net")?;
    let uts = ino(&format!("/proc/{p}/ns/uts"))?;
    let dot = ok(&[
        NSLAB,
        "graph",
        "--live",
        "-p",
        &p.to_string(),
        "--format",
        "dot",
    ])?;
    for want in [
        format!("net:[{net}]"),
        format!("uts:[{uts}]"),
        "sleep pid".to_string(),
    ] {
        if !dot.contains(&want) {
            return Err(format!("graph --live lacks {want}:\n{dot}"));
        }
    }
    let tree = ok(&[NSLAB, "graph", "--live", "-p", &p.to_string()])?;
    if !tree.contains(&format!("net_ns                net:[{net}]")) {
        return Err(format!("tree:\n{tree}"));
    }
    Ok(Outcome::Pass)
}

/// The SVG of a model graph renders in headless Chromium.
fn svg_renders_in_chromium() -> TestResult {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| have(c))
    else {
        return Ok(Outcome::Skip(
            "chromium is not installed (.ci/run installs it)".into(),
        ));
    };
    let dir = tempdir()?;
    let svg = ok(&[
        NSLAB,
        "graph",
        "clone",
        "NEWNS|NEWPID|NEWNET",
        "--format",
        "svg",
    ])?;
    let svg_path = dir.0.join("graph.svg");
    std::fs::write(&svg_path, &svg).map_err(|e| e.to_string())?;
    let png = dir.0.join("graph.png");
    let (code, _, err) = run(&[
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        &format!("--user-data-dir={}", dir.0.join("profile").display()),
        &format!("--screenshot={}", png.display()),
        "--window-size=1600,1200",
        &format!("file://{}", svg_path.display()),
    ])?;
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    let head = std::fs::read(&png).unwrap_or_default();
    if code != 0 || size < 1000 || !head.starts_with(b"\x89PNG") {
        return Err(format!(
            "chromium exited {code}, screenshot {size} bytes: {err}"
        ));
    }
    Ok(Outcome::Pass)
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir, String> {
    let p = std::env::temp_dir().join(format!(
        "nslab-live-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&p).map_err(|e| e.to_string())?;
    Ok(TempDir(p))
}

fn main() -> std::process::ExitCode {
    let all: [Test; 13] = [
        ("lsns_finds_every_holder", lsns_finds_every_holder, true),
        (
            "lsns_finds_a_thread_holder",
            lsns_finds_a_thread_holder,
            true,
        ),
        (
            "lsns_json_matches_util_linux",
            lsns_json_matches_util_linux,
            true,
        ),
        (
            "lsns_is_a_superset_of_util_linux",
            lsns_is_a_superset_of_util_linux,
            true,
        ),
        ("netns_nslab_to_iproute2", netns_nslab_to_iproute2, true),
        ("netns_iproute2_to_nslab", netns_iproute2_to_nslab, true),
        ("netns_attach_persists", netns_attach_persists, true),
        ("netns_bad_input", netns_bad_input, true),
        (
            "netns_cleans_up_the_run_dir_it_made",
            netns_cleans_up_the_run_dir_it_made,
            true,
        ),
        (
            "netns_exec_binds_etc_netns",
            netns_exec_binds_etc_netns,
            true,
        ),
        ("graph_live", graph_live, true),
        (
            "graph_live_and_model_compare",
            graph_live_and_model_compare,
            true,
        ),
        ("svg_renders_in_chromium", svg_renders_in_chromium, false),
    ];
    let host = common::host_before();
    let netns_before = run_netns();
    let root = nix::unistd::geteuid().is_root();
    let trials: Vec<Trial> = all
        .into_iter()
        .map(|(name, f, needs_root)| {
            Trial::ignorable_test(name, move || {
                if needs_root && !root {
                    return Ok(common::skip(name, "needs root"));
                }
                if needs_root && std::env::var_os("NSLAB_SKIP_REAL").is_some() {
                    return Ok(common::skip(name, "NSLAB_SKIP_REAL is set"));
                }
                match f() {
                    Ok(Outcome::Pass) => Ok(Completion::Completed),
                    Ok(Outcome::Skip(why)) => Ok(common::skip(name, &why)),
                    Err(e) => Err(e.into()),
                }
            })
        })
        .collect();
    let args = Arguments::from_args();
    let run = libtest_mimic::run(&args, trials);
    // Then, after every trial: /run/netns as it was (what iproute2 made during the run, which
    // it never removes, is undone first) and the host as it was.
    restore_run_netns(&netns_before);
    let after = vec![
        Trial::test("run_netns_as_it_was", move || {
            let now = run_netns();
            let ours = now
                .entries
                .iter()
                .any(|e| e.starts_with(&format!("nslab-test-{}-", std::process::id())));
            if (now.exists, now.mounted, now.marker)
                == (
                    netns_before.exists,
                    netns_before.mounted,
                    netns_before.marker,
                )
                && !ours
            {
                Ok(())
            } else {
                Err(format!("before {netns_before:?}, after {now:?}").into())
            }
        }),
        Trial::test("host_safety", move || {
            common::host_unchanged(&host).map_err(Into::into)
        }),
    ];
    let checks = libtest_mimic::run(&args, after);
    if run.has_failed() || checks.has_failed() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
