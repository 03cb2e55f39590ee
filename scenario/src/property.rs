//! Property testing for users: proptest strategies of operations, flag sets and whole
//! sequences over several tasks, with knobs ([`OpsConfig`]), and [`check_property`], which runs
//! a property of your own after every step on any [`Machine`] (the model, the kernel, or
//! both), shrinks a failure to a minimal sequence and prints it as a scenario file.
//!
//! The sequences are those of [`crate::random`] (the generator `nslab check` uses): an
//! operation names its tasks by index, index `i` meaning the `i % n`-th task made so far, so
//! every sequence is valid and proptest shrinks it by dropping operations. A call by a task
//! that no longer runs is skipped, and so are calls that would change the host on the real
//! backend (`sethostname`, `link_up` and `set_max_namespaces` in the root task's own
//! namespaces), an `exit` of the root task, and `CLONE_PARENT` asked by the root task.
//!
//! ```
//! use nslab_machine::{NsEntry, Op};
//! use nslab_scenario::property::{check_property, OpKind, OpsConfig, PropertyConfig};
//! use nslab_sim::Kernel;
//!
//! // unshare(CLONE_NEWPID) never moves the caller: only pid_for_children changes.
//! let ops = OpsConfig::default().only(&[OpKind::Clone, OpKind::Unshare]);
//! let checked = check_property(
//!     "unshare-newpid-keeps-caller",
//!     &ops,
//!     &PropertyConfig { cases: 32, ..PropertyConfig::default() },
//!     || Ok(vec![Box::new(Kernel::boot())]),
//!     |step| match (step.op, step.result, step.after) {
//!         (Op::Unshare(f), Ok(_), Some(after)) if f & nslab_machine::sched::CLONE_NEWPID != 0 => {
//!             if after.ns(NsEntry::Pid) == step.before.ns(NsEntry::Pid) {
//!                 Ok(())
//!             } else {
//!                 Err("the caller moved to another pid namespace".into())
//!             }
//!         }
//!         _ => Ok(()),
//!     },
//! );
//! assert!(checked.is_ok(), "{}", checked.unwrap_err());
//! ```

use crate::ast::*;
use crate::random::RandOp;
use nslab_machine::capability::{cap_bit, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_CHROOT};
use nslab_machine::machine::{
    CloneArgs, IdMapExtent, IdMapKind, Machine, NsEntry, NsFd, NsType, SysError, SysResult, TaskId,
    TaskState, TaskView,
};
use nslab_machine::sched::*;
use nslab_machine::Op;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;
use std::fmt;

/// The kinds of operation a sequence draws from (one per variant of [`Op`] that the
/// generator makes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `clone` or `clone3` with a flag set of [`OpsConfig::flags`].
    Clone,
    /// `unshare` with a flag set.
    Unshare,
    /// `setns` on a `/proc/<pid>/ns/<entry>` file of another task.
    SetnsFile,
    /// `setns` on a pidfd of another task, with a flag set.
    SetnsPidfd,
    /// `setresuid` to 0, 1000 or 65534.
    Setresuid,
    /// `capset` dropping `CAP_SYS_ADMIN`, `CAP_SYS_CHROOT` or `CAP_SETUID`.
    DropCaps,
    /// Writing another task's `uid_map` (`0 0 1`).
    UidMap,
    /// `sethostname`.
    Sethostname,
    /// `link_up lo`.
    LinkUp,
    /// Writing `max_uts_namespaces` or `max_cgroup_namespaces`.
    SetMaxNamespaces,
    /// `exit 0`.
    Exit,
}

impl OpKind {
    /// Every kind, with the weight `nslab check` gives it.
    pub const ALL: [(OpKind, u32); 11] = [
        (OpKind::Clone, 6),
        (OpKind::Unshare, 3),
        (OpKind::SetnsFile, 3),
        (OpKind::SetnsPidfd, 2),
        (OpKind::Setresuid, 1),
        (OpKind::DropCaps, 1),
        (OpKind::UidMap, 1),
        (OpKind::Sethostname, 1),
        (OpKind::LinkUp, 1),
        (OpKind::SetMaxNamespaces, 1),
        (OpKind::Exit, 1),
    ];
}

/// Which flags a clone, an unshare or a pidfd setns draws: a few namespace flags; sometimes
/// one sharing flag with them; sometimes one combination from `invalid` (which the kernel
/// refuses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagConfig {
    /// Namespace flags, zero to two of them at a time (`CLONE_NEWPID`, ...).
    pub namespaces: Vec<u64>,
    /// Other flags, one at a time with the namespace flags (`CLONE_FS`, `CLONE_PARENT`).
    pub sharing: Vec<u64>,
    /// Whole flag sets drawn as they are, usually ones the kernel refuses.
    pub invalid: Vec<u64>,
}

impl Default for FlagConfig {
    /// The flags `nslab check` draws: the eight namespace flags, `CLONE_FS`, `CLONE_FILES`,
    /// `CLONE_SYSVSEM`, `CLONE_PARENT`, and combinations refused by `copy_process`.
    fn default() -> Self {
        FlagConfig {
            namespaces: vec![
                CLONE_NEWUTS,
                CLONE_NEWIPC,
                CLONE_NEWPID,
                CLONE_NEWNET,
                CLONE_NEWUSER,
                CLONE_NEWNS,
                CLONE_NEWCGROUP,
                CLONE_NEWTIME,
            ],
            sharing: vec![CLONE_FS, CLONE_FILES, CLONE_SYSVSEM, CLONE_PARENT],
            invalid: vec![
                CLONE_NEWNS | CLONE_FS,
                CLONE_NEWUSER | CLONE_FS,
                CLONE_NEWIPC | CLONE_SYSVSEM,
                CLONE_THREAD,
                CLONE_SIGHAND,
            ],
        }
    }
}

/// The knobs of a random sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsConfig {
    /// The kinds drawn, with their weights.
    pub kinds: Vec<(OpKind, u32)>,
    /// Task indices are drawn in `0..tasks` (taken modulo the tasks made so far).
    pub tasks: usize,
    /// The fewest operations in a sequence (at least 1).
    pub min_steps: usize,
    /// The most operations in a sequence.
    pub max_steps: usize,
    /// The flag sets drawn.
    pub flags: FlagConfig,
}

impl Default for OpsConfig {
    /// Every kind with `nslab check`'s weights, 8 task indices, 1 to 12 steps, the default
    /// flags.
    fn default() -> Self {
        OpsConfig {
            kinds: OpKind::ALL.to_vec(),
            tasks: 8,
            min_steps: 1,
            max_steps: 12,
            flags: FlagConfig::default(),
        }
    }
}

impl OpsConfig {
    /// The same configuration drawing only these kinds (with their default weights).
    pub fn only(mut self, kinds: &[OpKind]) -> Self {
        self.kinds = OpKind::ALL
            .iter()
            .copied()
            .filter(|(k, _)| kinds.contains(k))
            .collect();
        self
    }

    /// The same configuration with these namespace flags and no other flag.
    pub fn namespace_flags(mut self, flags: &[u64]) -> Self {
        self.flags = FlagConfig {
            namespaces: flags.to_vec(),
            sharing: Vec::new(),
            invalid: Vec::new(),
        };
        self
    }

    /// The same configuration with sequences of `min..=max` operations.
    pub fn steps(mut self, min: usize, max: usize) -> Self {
        self.min_steps = min.max(1);
        self.max_steps = max.max(self.min_steps);
        self
    }
}

/// A random flag set drawn as [`FlagConfig`] says.
pub fn flag_set(cfg: &FlagConfig) -> BoxedStrategy<u64> {
    let or = |v: Vec<u64>| v.into_iter().fold(0, |a, b| a | b);
    let mut arms: Vec<(u32, BoxedStrategy<u64>)> = Vec::new();
    if cfg.namespaces.is_empty() {
        arms.push((4, Just(0).boxed()));
    } else {
        arms.push((
            4,
            proptest::collection::vec(select(cfg.namespaces.clone()), 0..3)
                .prop_map(or)
                .boxed(),
        ));
        if !cfg.sharing.is_empty() {
            arms.push((
                1,
                (
                    proptest::collection::vec(select(cfg.namespaces.clone()), 0..2),
                    select(cfg.sharing.clone()),
                )
                    .prop_map(move |(v, s)| or(v) | s)
                    .boxed(),
            ));
        }
    }
    if !cfg.invalid.is_empty() {
        arms.push((1, select(cfg.invalid.clone()).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// One random operation of a kind of [`OpsConfig::kinds`].
///
/// # Panics
///
/// If `cfg.kinds` is empty.
pub fn op_with(cfg: &OpsConfig) -> BoxedStrategy<RandOp> {
    assert!(
        !cfg.kinds.is_empty(),
        "an OpsConfig needs at least one kind"
    );
    let t = 0..cfg.tasks.max(1);
    let flags = flag_set(&cfg.flags);
    let mk = |task: usize, op: Op<usize>| RandOp { task, op };
    let arms: Vec<(u32, BoxedStrategy<RandOp>)> = cfg
        .kinds
        .iter()
        .map(|&(kind, weight)| {
            let s = match kind {
                OpKind::Clone => (t.clone(), flags.clone())
                    .prop_map(move |(task, f)| mk(task, Op::Clone(CloneArgs::new(f))))
                    .boxed(),
                OpKind::Unshare => (t.clone(), flags.clone())
                    .prop_map(move |(task, f)| mk(task, Op::Unshare(f)))
                    .boxed(),
                OpKind::SetnsFile => (
                    t.clone(),
                    t.clone(),
                    select(NsEntry::ALL.to_vec()),
                    any::<bool>(),
                )
                    .prop_map(move |(task, target, entry, typed)| {
                        let nstype = if typed {
                            entry.ns_type().clone_flag()
                        } else {
                            0
                        };
                        let fd = NsFd::File {
                            task: target,
                            entry,
                        };
                        mk(task, Op::Setns { fd, nstype })
                    })
                    .boxed(),
                OpKind::SetnsPidfd => (t.clone(), t.clone(), flags.clone())
                    .prop_map(move |(task, target, nstype)| {
                        let fd = NsFd::Pidfd { task: target };
                        mk(task, Op::Setns { fd, nstype })
                    })
                    .boxed(),
                OpKind::Setresuid => (t.clone(), select(vec![0u32, 1000, 65534]))
                    .prop_map(move |(task, uid)| mk(task, Op::Setresuid(uid)))
                    .boxed(),
                OpKind::DropCaps => (
                    t.clone(),
                    select(vec![
                        cap_bit(CAP_SYS_ADMIN),
                        cap_bit(CAP_SYS_CHROOT),
                        cap_bit(CAP_SETUID),
                    ]),
                )
                    .prop_map(move |(task, caps)| mk(task, Op::DropCaps(caps)))
                    .boxed(),
                OpKind::UidMap => (t.clone(), t.clone())
                    .prop_map(move |(task, target)| {
                        let extents = vec![IdMapExtent {
                            first: 0,
                            lower_first: 0,
                            count: 1,
                        }];
                        let kind = IdMapKind::Uid;
                        mk(
                            task,
                            Op::WriteIdMap {
                                target,
                                kind,
                                extents,
                            },
                        )
                    })
                    .boxed(),
                OpKind::Sethostname => (t.clone(), 0u8..3)
                    .prop_map(move |(task, n)| mk(task, Op::Sethostname(format!("nslab-{n}"))))
                    .boxed(),
                OpKind::LinkUp => t
                    .clone()
                    .prop_map(move |task| mk(task, Op::LinkUp("lo".into())))
                    .boxed(),
                OpKind::SetMaxNamespaces => (
                    t.clone(),
                    select(vec![NsType::Uts, NsType::Cgroup]),
                    0u32..3,
                )
                    .prop_map(move |(task, ty, max)| mk(task, Op::SetMaxNamespaces(ty, max)))
                    .boxed(),
                OpKind::Exit => t
                    .clone()
                    .prop_map(move |task| mk(task, Op::Exit(0)))
                    .boxed(),
            };
            (weight, s)
        })
        .collect();
    Union::new_weighted(arms).boxed()
}

/// A whole sequence of `min_steps..=max_steps` operations over several tasks.
pub fn ops_with(cfg: &OpsConfig) -> BoxedStrategy<Vec<RandOp>> {
    let min = cfg.min_steps.max(1);
    proptest::collection::vec(op_with(cfg), min..=cfg.max_steps.max(min)).boxed()
}

/// What a property sees after one step on one machine.
pub struct Step<'a, M: ?Sized> {
    /// The machine, to observe any task ([`Machine::observe`]) or, on the model, to read
    /// its recorder.
    pub machine: &'a mut M,
    /// The backend's name (`sim`, `real`).
    pub backend: &'static str,
    /// The index of the step among the steps that ran (skipped operations do not count).
    pub index: usize,
    /// The task that made the call.
    pub caller: TaskId,
    /// The call, the task it names as a handle of this machine.
    pub op: &'a Op<TaskId>,
    /// What the call gave: the child of a clone, `None` for any other call.
    pub result: &'a SysResult<Option<TaskId>>,
    /// The caller's view just before the call.
    pub before: &'a TaskView,
    /// The caller's view just after the call; `None` when it no longer runs.
    pub after: Option<&'a TaskView>,
    /// Every task made so far (the root first), in order.
    pub tasks: &'a [TaskId],
}

/// What a property gives back: `Err` with a sentence saying what did not hold.
pub type PropertyResult = Result<(), String>;

/// How many cases to run, and from which seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyConfig {
    /// How many random sequences.
    pub cases: u32,
    /// The seed: the same seed gives the same sequences.
    pub seed: u64,
    /// The most shrinking steps after a failure.
    pub max_shrink_iters: u32,
}

impl Default for PropertyConfig {
    /// 64 cases from seed 0, up to 2048 shrinking steps.
    fn default() -> Self {
        PropertyConfig {
            cases: 64,
            seed: 0,
            max_shrink_iters: 2048,
        }
    }
}

/// A property that did not hold, on the minimal sequence shrinking found.
#[derive(Clone, Debug)]
pub struct PropertyFailure {
    /// The backend it failed on.
    pub backend: String,
    /// What the property said.
    pub message: String,
    /// The minimal sequence.
    pub ops: Vec<RandOp>,
    /// The steps that ran on that backend, up to the failing one, with its results as
    /// expectations: save it as a `.scn` file and `nslab run` replays it.
    pub scenario: Scenario,
}

impl fmt::Display for PropertyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property failed on {} after {} operations: {}",
            self.backend,
            self.ops.len(),
            self.message
        )?;
        writeln!(f, "minimal sequence; save this as a scenario:")?;
        write!(f, "{}", self.scenario)
    }
}

impl std::error::Error for PropertyFailure {}

/// Why a property check did not pass: it failed, or a backend could not run.
#[derive(Clone, Debug)]
pub enum CheckError {
    /// The property did not hold.
    Failed(Box<PropertyFailure>),
    /// The machines could not be made, or a backend faulted (the text says which).
    Backend(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Failed(p) => write!(f, "{p}"),
            CheckError::Backend(s) => write!(f, "backend: {s}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Runs a property over `config.cases` random sequences drawn from `ops`: for each sequence,
/// `machines` makes fresh machines (one or more: the model, the kernel, or both), every
/// machine runs the sequence, and `property` is called after every step on every machine. A
/// failure is shrunk to a minimal sequence and returned with the scenario of that sequence
/// on the backend where it failed.
///
/// `M` is the machine type: `nslab_sim::Kernel` when a property reads the model's recorder,
/// `dyn Machine` to run on several backends.
pub fn check_property<M, F, P>(
    name: &str,
    ops: &OpsConfig,
    config: &PropertyConfig,
    mut machines: F,
    mut property: P,
) -> Result<(), CheckError>
where
    M: Machine + ?Sized,
    F: FnMut() -> Result<Vec<Box<M>>, String>,
    P: FnMut(&mut Step<'_, M>) -> PropertyResult,
{
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&config.seed.to_le_bytes());
    let runner_config = Config {
        cases: config.cases,
        failure_persistence: None,
        max_shrink_iters: config.max_shrink_iters,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        runner_config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let backend_error = RefCell::new(None::<String>);
    let mut run_one = |seq: &[RandOp]| -> Result<(), Box<PropertyFailure>> {
        let ms = machines().map_err(|e| {
            *backend_error.borrow_mut() = Some(e);
            Box::new(dummy_failure())
        })?;
        for mut m in ms {
            run_sequence(name, seq, &mut *m, &mut property)?;
        }
        Ok(())
    };
    let run_one = RefCell::new(&mut run_one);
    let result = runner.run(&ops_with(ops), |seq| {
        (run_one.borrow_mut())(&seq).map_err(|f| TestCaseError::fail(f.message))
    });
    if let Some(e) = backend_error.borrow_mut().take() {
        return Err(CheckError::Backend(e));
    }
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(_, minimal)) => match (run_one.borrow_mut())(&minimal) {
            Err(f) => Err(CheckError::Failed(f)),
            Ok(()) => Err(CheckError::Backend(
                "the minimal sequence passed when run again: the property or a backend is \
                 not deterministic"
                    .into(),
            )),
        },
        Err(TestError::Abort(why)) => Err(CheckError::Backend(format!("aborted: {why}"))),
    }
}

fn dummy_failure() -> PropertyFailure {
    PropertyFailure {
        backend: String::new(),
        message: "backend setup failed".into(),
        ops: Vec::new(),
        scenario: Scenario {
            name: String::new(),
            explanation: String::new(),
            body: Vec::new(),
        },
    }
}

/// Runs one sequence on one machine, calling `property` after every step that ran. On a
/// failure (of the property, or a backend fault, which is reported as a failure of the
/// sequence) gives the scenario of the steps so far.
pub fn run_sequence<M: Machine + ?Sized>(
    name: &str,
    seq: &[RandOp],
    machine: &mut M,
    property: &mut dyn FnMut(&mut Step<'_, M>) -> PropertyResult,
) -> Result<Scenario, Box<PropertyFailure>> {
    let backend = machine.backend_name();
    let root = machine.root();
    let mut tasks = vec![root];
    let mut labels = vec!["init".to_string()];
    let mut body = Vec::new();
    let fail = |message: String, body: Vec<Stmt>| {
        Box::new(PropertyFailure {
            backend: backend.to_string(),
            message: message.clone(),
            ops: seq.to_vec(),
            scenario: Scenario {
                name: name.to_string(),
                explanation: format!(
                    "A counterexample found by a property on {backend}: {message}\n\
                     The expectations are what {backend} gave."
                ),
                body,
            },
        })
    };
    let root_view = match machine.observe(root) {
        Ok(v) => v,
        Err(e) => return Err(fail(format!("cannot observe the root task: {e}"), body)),
    };
    let mut index = 0;
    for r in seq {
        let caller_i = r.task % tasks.len();
        let caller = tasks[caller_i];
        if machine.state(caller) != Ok(TaskState::Running) {
            continue;
        }
        let before = match machine.observe(caller) {
            Ok(v) => v,
            Err(e) => return Err(fail(format!("observing {}: {e}", labels[caller_i]), body)),
        };
        let in_root = |e: NsEntry| before.ns(e) == root_view.ns(e);
        let skip = match &r.op {
            Op::Sethostname(_) => in_root(NsEntry::Uts),
            Op::LinkUp(_) => in_root(NsEntry::Net),
            Op::SetMaxNamespaces(..) => in_root(NsEntry::User),
            Op::Exit(_) => caller == root,
            _ => false,
        };
        if skip {
            continue;
        }
        let mut op = r.op.clone();
        if let (Op::Clone(a), true) = (&mut op, caller == root) {
            a.flags &= !CLONE_PARENT;
        }
        let op_ids = op.map(|i| tasks[i % tasks.len()]);
        let call = op.map(|i| labels[i % labels.len()].clone());
        let result = machine.syscall(caller, &op_ids);
        let bind = matches!(op, Op::Clone(_)).then(|| format!("T{}", labels.len()));
        body.push(Stmt::Call(CallStmt {
            span: Span {
                line: body.len() as u32 + 3,
                column: 1,
            },
            bind: bind.clone(),
            task: labels[caller_i].clone(),
            call,
            expect: match &result {
                Ok(_) => ExpectOutcome::Ok,
                Err(SysError::Errno(e)) => ExpectOutcome::Errno(*e),
                Err(e) => return Err(fail(format!("{} faulted: {e}", labels[caller_i]), body)),
            },
        }));
        if let (Ok(Some(child)), Some(b)) = (&result, bind) {
            tasks.push(*child);
            labels.push(b);
        }
        let after = match machine.state(caller) {
            Ok(TaskState::Running) => match machine.observe(caller) {
                Ok(v) => Some(v),
                Err(e) => return Err(fail(format!("observing {}: {e}", labels[caller_i]), body)),
            },
            _ => None,
        };
        let mut step = Step {
            machine: &mut *machine,
            backend,
            index,
            caller,
            op: &op_ids,
            result: &result,
            before: &before,
            after: after.as_ref(),
            tasks: &tasks,
        };
        if let Err(message) = property(&mut step) {
            return Err(fail(message, body));
        }
        index += 1;
    }
    Ok(Scenario {
        name: name.to_string(),
        explanation: format!("A sequence a property passed on {backend}."),
        body,
    })
}
