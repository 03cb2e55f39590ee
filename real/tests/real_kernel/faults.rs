//! Faults: a helper killed or stopped mid-scenario, the controller killed mid-scenario, and a
//! pid-namespace init that exits while others live. Each ends with nothing left behind.

use crate::harness::{helper_exe, helper_process, probe_exe, start_lab, tests, wait_gone, Outcome};
use nslab_machine::sched::*;
use nslab_machine::{CloneArgs, Errno, Machine, NsEntry, NsFd, SysError, TaskState};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

tests![
    helper_killed_with_sigkill_is_a_fault_and_tears_down,
    hung_helper_times_out_and_tears_down,
    killed_controller_takes_every_helper_with_it,
    init_exit_kills_the_namespace_and_forks_into_it_fail,
];

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill takes integers; the pid is a helper of this test's own machine.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

fn helper_killed_with_sigkill_is_a_fault_and_tears_down() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let a = m.clone_task(root, CloneArgs::new(CLONE_NEWPID)).unwrap();
    let b = m.clone_task(a, CloneArgs::new(0)).unwrap();
    let c = m.clone_task(root, CloneArgs::new(CLONE_NEWNET)).unwrap();
    kill(m.host_pid(b).unwrap(), libc::SIGKILL);
    match m.observe(b) {
        Err(SysError::Fault(f)) => {
            assert!(f.contains("task#2") && f.contains("observe"), "{f}");
            assert!(
                f.contains("killed by signal 9") || f.contains("exited"),
                "{f}"
            );
        }
        other => panic!("a killed helper gave {other:?}"),
    }
    assert!(m.torn_down().is_some());
    assert!(matches!(m.observe(c), Err(SysError::Fault(_))));
    for t in [root, a, b, c] {
        assert_ne!(m.state(t).unwrap(), TaskState::Running, "{t}");
    }
    Outcome::Pass
}

fn hung_helper_times_out_and_tears_down() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let a = m.clone_task(root, CloneArgs::new(CLONE_NEWUTS)).unwrap();
    let b = m.clone_task(a, CloneArgs::new(0)).unwrap();
    kill(m.host_pid(a).unwrap(), libc::SIGSTOP);
    m.set_request_timeout(Duration::from_millis(300));
    match m.sethostname(a, "x") {
        Err(SysError::Fault(f)) => {
            assert!(
                f.contains("task#1") && f.contains("no answer within 300 ms"),
                "{f}"
            );
            assert!(f.contains("state T"), "{f}");
        }
        other => panic!("a stopped helper gave {other:?}"),
    }
    assert!(matches!(m.observe(b), Err(SysError::Fault(_))));
    Outcome::Pass
}

fn killed_controller_takes_every_helper_with_it() -> Outcome {
    let mut probe = Command::new(probe_exe())
        .arg(helper_exe())
        .arg("hold")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(probe.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if let Some(why) = line.strip_prefix("start error: ") {
        probe.wait().unwrap();
        return Outcome::Skip(format!(
            "the probe could not start a machine: {}",
            why.trim()
        ));
    }
    let pids: Vec<i32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("probe said {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 4);
    let procs: Vec<(i32, u64)> = pids
        .iter()
        .map(|&p| (p, helper_process(p).expect("helper running")))
        .collect();
    probe.kill().unwrap();
    probe.wait().unwrap();
    // The root helper dies of its death signal; the others see their channel close. Orphans
    // that outlive the root helper are reaped by the host's init, hence the grace period.
    let left = wait_gone(&procs, Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "helpers left behind a killed controller: {left:?}"
    );
    Outcome::Pass
}

fn init_exit_kills_the_namespace_and_forks_into_it_fail() -> Outcome {
    let mut m = start_lab!();
    let root = m.root();
    let init = m.clone_task(root, CloneArgs::new(CLONE_NEWPID)).unwrap();
    let a = m.clone_task(init, CloneArgs::new(0)).unwrap();
    let b = m.clone_task(a, CloneArgs::new(CLONE_NEWNET)).unwrap();
    // A task outside whose children go into the init's namespace.
    let outside = m.clone_task(root, CloneArgs::new(0)).unwrap();
    m.setns(
        outside,
        NsFd::File {
            task: init,
            entry: NsEntry::Pid,
        },
        CLONE_NEWPID,
    )
    .unwrap();
    let d = m.clone_task(outside, CloneArgs::new(0)).unwrap();
    m.exit(init, 0).unwrap();
    assert_eq!(m.state(init).unwrap(), TaskState::Exited(0));
    for t in [a, b, d] {
        assert_eq!(m.state(t).unwrap(), TaskState::Killed(libc::SIGKILL), "{t}");
    }
    assert_eq!(m.state(outside).unwrap(), TaskState::Running);
    match m.clone_task(outside, CloneArgs::new(0)) {
        Err(SysError::Errno(e)) => assert_eq!(e, Errno::ENOMEM),
        other => panic!("a fork into a dead namespace gave {other:?}"),
    }
    assert_eq!(
        m.observe(outside).unwrap().ns(NsEntry::Pid),
        m.observe(root).unwrap().ns(NsEntry::Pid)
    );
    Outcome::Pass
}
