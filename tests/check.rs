//! `nslab check` at scale: the report does not depend on `--jobs`, also when the model is
//! made to disagree on purpose; shards partition the case space exactly; `--case I` replays
//! case I; bad `--shard`/`--jobs` values are refused; a `nslab check --jobs 2` killed at a
//! random moment leaves no helper, zombie or namespace behind. Then the host-safety check.
//!
//! A `harness = false` binary run by libtest-mimic. Where the real backend cannot start, the
//! real trials are ignored and say `SKIPPED: <test>: <reason>`.

mod common;

use libtest_mimic::{Completion, Failed, Trial};
use nslab::both::run_ops_both_with;
use nslab::check::{case_hash, Outcome, Plan, Shard};
use nslab_scenario::random::RandOp;
use nslab_scenario::Machine;
use nslab_sim::sched::CLONE_NEWUTS;
use nslab_sim::{Errno, Kernel, Op, Origin, SysError, SysResult, TaskId, TaskState, TaskView};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

type TestResult = Result<Completion, Failed>;

fn nslab(args: &[&str]) -> std::process::Output {
    Command::new(common::helper())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nslab {args:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The report of a run: stdout, and stderr without the timing line (which says how fast,
/// the only thing allowed to differ between job counts).
fn report(args: &[&str]) -> (Option<i32>, String, String) {
    let out = nslab(args);
    let stderr: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| !l.contains(" cases/s on "))
        .map(String::from)
        .collect();
    (out.status.code(), text(&out.stdout), stderr.join("\n"))
}

fn jobs_1_and_2_print_the_same_report() -> TestResult {
    const TEST: &str = "jobs_1_and_2_print_the_same_report";
    if let Err(why) = common::real_available() {
        return Ok(common::skip(TEST, &why));
    }
    let base = ["check", "--seed", "11", "--cases", "48"];
    let one = report(&[&base[..], &["--jobs", "1"]].concat());
    let two = report(&[&base[..], &["--jobs", "2"]].concat());
    if one.0 != Some(0) && one.0 != Some(1) {
        return Err(format!("nslab check --jobs 1 failed: {one:?}").into());
    }
    if one != two {
        return Err(format!("--jobs 1 gave {one:?}\n--jobs 2 gave {two:?}").into());
    }
    Ok(Completion::Completed)
}

/// The model with one rule broken on purpose: `unshare` with `CLONE_NEWUTS` answers EPERM
/// without doing anything, so a case that makes that call disagrees with the kernel.
struct BrokenModel(Kernel);

impl Machine for BrokenModel {
    fn backend_name(&self) -> &'static str {
        "sim"
    }
    fn root(&self) -> TaskId {
        self.0.root()
    }
    fn origin(&self) -> Origin {
        self.0.origin()
    }
    fn syscall(&mut self, task: TaskId, op: &Op) -> SysResult<Option<TaskId>> {
        match op {
            Op::Unshare(flags) if flags & CLONE_NEWUTS != 0 => Err(SysError::Errno(Errno::EPERM)),
            _ => self.0.syscall(task, op),
        }
    }
    fn observe(&mut self, task: TaskId) -> SysResult<TaskView> {
        self.0.observe(task)
    }
    fn observe_into(&mut self, task: TaskId, view: &mut TaskView) -> SysResult<()> {
        self.0.observe_into(task, view)
    }
    fn state(&mut self, task: TaskId) -> SysResult<TaskState> {
        self.0.state(task)
    }
}

fn broken_run(plan: &Plan, jobs: usize) -> Outcome {
    let case = |ops: &[RandOp]| {
        run_ops_both_with("injected", ops, common::helper(), BrokenModel).map_err(|e| e.to_string())
    };
    nslab::check::run(plan, jobs, &case, &|| {})
        .unwrap_or_else(|e| panic!("case {}: the kernel could not run it: {}", e.index, e.error))
}

fn injected_disagreement_is_the_same_for_any_jobs() -> TestResult {
    const TEST: &str = "injected_disagreement_is_the_same_for_any_jobs";
    if let Err(why) = common::real_available() {
        return Ok(common::skip(TEST, &why));
    }
    let plan = Plan::new(64, 5, 12);
    let one = broken_run(&plan, 1);
    let two = broken_run(&plan, 2);
    let (Some(f1), Some(f2)) = (&one.failure, &two.failure) else {
        return Err(format!(
            "the broken model was not caught in 64 cases: {:?} / {:?}",
            one.failure.map(|f| f.index),
            two.failure.map(|f| f.index)
        )
        .into());
    };
    // The failing case is the lowest one: every case below it ran and passed.
    let first = (0..plan.cases)
        .find(|&i| {
            plan.case(i)
                .iter()
                .any(|o| matches!(o.op, Op::Unshare(f) if f & CLONE_NEWUTS != 0))
        })
        .expect("some case unshares a uts namespace");
    assert!(
        f1.index >= first,
        "case {} cannot fail before case {first}",
        f1.index
    );
    assert_eq!(f1.index, f2.index, "first failing case");
    assert_eq!(f1.first, f2.first, "its first disagreement");
    assert_eq!(f1.minimal, f2.minimal, "its shrunk sequence");
    assert_eq!(f1.reason, f2.reason, "the shrunk sequence's disagreement");
    assert_eq!(
        f1.result.scenario.to_string(),
        f2.result.scenario.to_string(),
        "the printed scenario"
    );
    assert!(
        f1.minimal.len() <= 2,
        "the shrinker should reach the one broken call: {:?}",
        f1.minimal
    );
    assert!(
        f1.minimal
            .iter()
            .any(|o| matches!(o.op, Op::Unshare(f) if f & CLONE_NEWUTS != 0)),
        "the shrunk sequence keeps the broken call: {:?}",
        f1.minimal
    );
    Ok(Completion::Completed)
}

fn list(args: &[&str]) -> Vec<(u32, String)> {
    let out = nslab(&[&["check", "--list-cases"], args].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            assert_eq!(w.next(), Some("case"), "{l}");
            let i = w.next().and_then(|i| i.parse().ok()).expect("an index");
            (i, w.next().expect("a hash").to_string())
        })
        .collect()
}

fn shards_partition_the_case_space() -> TestResult {
    let all = list(&["--seed", "9", "--cases", "100"]);
    assert_eq!(all.len(), 100);
    let indices: BTreeSet<u32> = all.iter().map(|c| c.0).collect();
    assert_eq!(
        indices,
        (0..100).collect(),
        "the unsharded run is cases 0..100"
    );
    let mut union: BTreeMap<u32, String> = BTreeMap::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let part = list(&["--seed", "9", "--cases", "100", "--shard", &shard]);
        assert!(!part.is_empty(), "shard {shard} is empty");
        for (i, h) in part {
            assert!(union.insert(i, h).is_none(), "case {i} in two shards");
        }
    }
    let all: BTreeMap<u32, String> = all.into_iter().collect();
    assert_eq!(
        union, all,
        "the shards together are the unsharded run, case by case"
    );
    // A replay of one case draws the same sequence as the run did.
    let plan = Plan::new(100, 9, 12);
    for i in [0u32, 37, 99] {
        let one = list(&["--seed", "9", "--case", &i.to_string()]);
        assert_eq!(one, vec![(i, all[&i].clone())], "--case {i}");
        assert_eq!(all[&i], format!("{:016x}", case_hash(&plan.case(i))));
    }
    // Different seeds draw different cases.
    assert_ne!(
        list(&["--seed", "10", "--cases", "100"]),
        all.into_iter().collect::<Vec<_>>()
    );
    // And a sharded run on the model runs exactly its share.
    let out = nslab(&[
        "check",
        "--backend",
        "sim",
        "--cases",
        "30",
        "--shard",
        "2/3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("10 cases in "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!("2/3".parse::<Shard>(), Ok(Shard { k: 2, n: 3 }));
    Ok(Completion::Completed)
}

fn bad_shard_and_jobs_are_refused() -> TestResult {
    for bad in [
        &["--shard", "0/3"][..],
        &["--shard", "4/3"],
        &["--shard", "1/0"],
        &["--shard", "x"],
        &["--jobs", "0"],
        &["--case", "1", "--shard", "1/2"],
    ] {
        let out = nslab(&[&["check", "--backend", "sim"], bad].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = text(&out.stderr);
        assert!(err.contains("error:"), "{bad:?}: {err}");
        if bad[0] == "--shard" && bad[1] != "1/2" {
            assert!(err.contains("shard must be K/N with 1 <= K <= N"), "{err}");
        }
    }
    Ok(Completion::Completed)
}

/// Pids of processes whose command line is `<nslab> __nslab-helper <controller>`: the helpers
/// of that controller (a helper's clones keep the command line), with their start times.
fn helpers_of(controller: u32) -> Vec<(i32, u64)> {
    let want = [
        common::helper().to_string_lossy().into_owned(),
        nslab_real::HELPER_ARG.to_string(),
        controller.to_string(),
    ];
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(text)
            .collect();
        if args == want {
            if let Some(st) = start_time(pid) {
                found.push((pid, st));
            }
        }
    }
    found
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// The namespaces (`type:[inode]`) a process is in.
fn namespaces(pid: i32) -> BTreeSet<String> {
    let mut ns = BTreeSet::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/ns")) {
        for e in rd.flatten() {
            if let Ok(l) = std::fs::read_link(e.path()) {
                ns.insert(l.to_string_lossy().into_owned());
            }
        }
    }
    ns
}

/// Processes in any of these namespaces that existed at `before` (clock ticks since boot):
/// a holder the killed run left behind. Later processes are other tests' (the kernel reuses
/// inode numbers).
fn holders(ns: &BTreeSet<String>, before: u64) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if start_time(pid).is_some_and(|st| st <= before) {
            if let Some(n) = namespaces(pid).intersection(ns).next() {
                found.push((pid, n.clone()));
            }
        }
    }
    found
}

fn uptime_ticks() -> u64 {
    let up = std::fs::read_to_string("/proc/uptime").unwrap();
    let secs: f64 = up.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: sysconf takes an integer and touches no memory.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (secs * hz) as u64
}

fn killed_check_with_jobs_leaves_nothing_behind() -> TestResult {
    const TEST: &str = "killed_check_with_jobs_leaves_nothing_behind";
    if let Err(why) = common::real_available() {
        return Ok(common::skip(TEST, &why));
    }
    // A moment between 50 and 800 ms after the first case finished, from the clock.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let delay = Duration::from_millis(50 + u64::from(nanos % 750));
    let mut child = Command::new(common::helper())
        .args(["check", "--jobs", "2", "--cases", "100000", "--seed", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let controller = child.id();
    // indicatif draws nothing on a pipe, so wait for helpers to appear instead.
    let stderr = child.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while helpers_of(controller).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(delay);
    // Between two cases a job may have no helper for a moment: look again until one is seen,
    // and kill at once.
    let mut helpers = helpers_of(controller);
    while helpers.is_empty() && Instant::now() < deadline {
        helpers = helpers_of(controller);
    }
    let mut ns: BTreeSet<String> = BTreeSet::new();
    for (pid, _) in &helpers {
        ns.extend(namespaces(*pid));
    }
    // Only the namespaces the run made, not the ones it started in.
    for own in namespaces(std::process::id() as i32) {
        ns.remove(&own);
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let killed_at = uptime_ticks();
    let said: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    if status.success() {
        return Err(format!("the check ended before it was killed: {said:?}").into());
    }
    assert!(!helpers.is_empty(), "no helper seen after {delay:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A zombie still has its stat, so `left` counts zombies too.
        let left: Vec<_> = helpers
            .iter()
            .filter(|(pid, st)| start_time(*pid) == Some(*st))
            .collect();
        let late = helpers_of(controller);
        let held = holders(&ns, killed_at);
        if left.is_empty() && late.is_empty() && held.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "killed after {delay:?}: helpers left {left:?}, {late:?}; namespaces held {held:?}"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Completion::Completed)
}

fn main() -> ExitCode {
    let host = common::host_before();
    let trials = vec![
        Trial::ignorable_test(
            "jobs_1_and_2_print_the_same_report",
            jobs_1_and_2_print_the_same_report,
        ),
        Trial::ignorable_test(
            "injected_disagreement_is_the_same_for_any_jobs",
            injected_disagreement_is_the_same_for_any_jobs,
        ),
        Trial::test("shards_partition_the_case_space", || {
            shards_partition_the_case_space().map(drop)
        }),
        Trial::test("bad_shard_and_jobs_are_refused", || {
            bad_shard_and_jobs_are_refused().map(drop)
        }),
        Trial::ignorable_test(
            "killed_check_with_jobs_leaves_nothing_behind",
            killed_check_with_jobs_leaves_nothing_behind,
        ),
    ];
    common::run_then_check_host(trials, host)
}
