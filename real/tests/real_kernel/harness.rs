//! What the real-kernel tests share: each test is a function that returns [`Outcome::Pass`]
//! or [`Outcome::Skip`] with a reason, or panics to fail, and becomes a libtest-mimic
//! [`Trial`] ([`trial`]): libtest's own output and counts, a skip an `ignored` trial that
//! says `SKIPPED: <test>: <reason>`. Every machine a test starts goes through [`Lab`], whose
//! drop checks that none of its helper processes (nor zombies) is left.

use libtest_mimic::{Completion, Failed, Trial};
use nslab_machine::TaskId;
use nslab_real::{RealMachine, StartError, StartOptions};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a test ended, when it did not fail.
pub enum Outcome {
    Pass,
    Skip(String),
}

/// One test: a name and a body.
pub struct Test {
    pub name: &'static str,
    pub run: fn() -> Outcome,
}

/// The helper binary of this crate.
pub fn helper_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nslab-real-helper"))
}

/// The probe binary (a controller in a process of its own).
pub fn probe_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nslab-real-probe"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A machine whose drop checks that every helper it ever had is gone.
pub struct Lab {
    machine: Option<RealMachine>,
}

impl Lab {
    /// Starts a machine, or says why this test must be skipped.
    pub fn start() -> Result<Lab, Outcome> {
        Lab::start_with(StartOptions::default())
    }

    pub fn start_with(opts: StartOptions) -> Result<Lab, Outcome> {
        match RealMachine::start_with(helper_exe(), opts) {
            Ok(m) => Ok(Lab { machine: Some(m) }),
            Err(e @ StartError::UserNamespaces { .. }) if !is_root() => {
                Err(Outcome::Skip(format!("not root and {e}")))
            }
            Err(e) => panic!("cannot start a real machine: {e}"),
        }
    }

    /// The helper processes of this machine that exist now: (pid, start time).
    fn living(&self) -> Vec<(i32, u64)> {
        let m = self.machine.as_ref().expect("machine present until drop");
        m.task_ids()
            .into_iter()
            .filter_map(|t| m.host_pid(t))
            .filter_map(|pid| helper_process(pid).map(|st| (pid, st)))
            .collect()
    }
}

impl Deref for Lab {
    type Target = RealMachine;
    fn deref(&self) -> &RealMachine {
        self.machine.as_ref().expect("machine present until drop")
    }
}

impl DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut RealMachine {
        self.machine.as_mut().expect("machine present until drop")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let before = self.living();
        let result = self.machine.take().expect("dropped once").shutdown();
        if std::thread::panicking() {
            return;
        }
        result.unwrap_or_else(|e| panic!("teardown incomplete: {e}"));
        let left: Vec<_> = before
            .iter()
            .filter(|(pid, st)| helper_process(*pid) == Some(*st))
            .collect();
        assert!(left.is_empty(), "helpers left after teardown: {left:?}");
    }
}

/// The start time of a helper process (running or zombie) with this pid, if there is one.
pub fn helper_process(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    if !head.contains("nslab-real-") {
        return None;
    }
    // Field 22 (starttime) is the 20th after the comm's closing parenthesis.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Waits until none of these processes exists any more (the host's init may reap them).
pub fn wait_gone(procs: &[(i32, u64)], within: Duration) -> Vec<(i32, u64)> {
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<_> = procs
            .iter()
            .copied()
            .filter(|(pid, st)| helper_process(*pid) == Some(*st))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of a task in its own pid namespace's numbering, from a fresh observation.
pub fn own_pid(m: &mut Lab, t: TaskId) -> i32 {
    use nslab_machine::Machine;
    m.observe(t).expect("observe").pid()
}

/// The test as a libtest-mimic trial. Its body runs on a thread of its own, which starts
/// and drops its machines (the root helper's death signal is tied to the thread that started
/// it); a panic fails the trial with its message, and a skip is an `ignored` trial whose
/// reason is `SKIPPED: <test>: <reason>`, also printed on its own line.
pub fn trial(test: Test) -> Trial {
    Trial::ignorable_test(test.name, move || {
        match std::thread::spawn(test.run).join() {
            Ok(Outcome::Pass) => Ok(Completion::Completed),
            Ok(Outcome::Skip(why)) => {
                let line = format!("SKIPPED: {}: {why}", test.name);
                eprintln!("{line}");
                Ok(Completion::ignored_with(line))
            }
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("the test panicked");
                Err(Failed::from(msg))
            }
        }
    })
}

/// Starts a [`Lab`] or returns the skip from the test.
macro_rules! start_lab {
    () => {
        match $crate::harness::Lab::start() {
            Ok(l) => l,
            Err(o) => return o,
        }
    };
}
pub(crate) use start_lab;

/// Returns a skip from the test unless the tests run as root.
macro_rules! need_root {
    ($why:expr) => {
        if !$crate::harness::is_root() {
            return $crate::harness::Outcome::Skip(format!("not root: {}", $why));
        }
    };
}
pub(crate) use need_root;

/// The list of tests of a module, each named after its function.
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub fn tests() -> Vec<$crate::harness::Test> {
            vec![$($crate::harness::Test { name: concat!(module_path!(), "::", stringify!($name)), run: $name }),*]
        }
    };
}
pub(crate) use tests;

/// Returns a skip from the test when the machine's root helper stands in a user namespace of
/// its own (the tests run without root), for a test whose facts need ids or capabilities that
/// only real root has.
macro_rules! need_real_root {
    ($m:expr, $why:expr) => {
        if $m.own_user_ns() {
            return $crate::harness::Outcome::Skip(format!(
                "the root helper is root only in a user namespace of its own: {}",
                $why
            ));
        }
    };
}
pub(crate) use need_real_root;
