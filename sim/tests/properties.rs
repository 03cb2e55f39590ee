//! Properties of the whole model over random sequences of system calls made by several
//! tasks (docs/kernel-rules.md sections 1 to 11):
//!
//! - the bookkeeping is whole after every step (`check_invariants` is empty);
//! - a call that fails changes nothing (object counts and every task's view);
//! - a successful clone shares every namespace whose flag was not passed, and creates a new
//!   one for every flag passed (with the time and pid rules of sections 2 and 3);
//! - every new network namespace holds exactly `lo`, ifindex 1, DOWN;
//! - `unshare(CLONE_NEWPID)` never changes the caller's own pid namespace;
//! - once every task but the root has exited, only the boot objects remain.
//!
//! The root (the init task) only clones, sets its hostname and brings links up, so that its
//! own namespaces and credentials stay the boot ones and the last property can hold.

mod common;

use common::*;
use nslab_sim::capability::{cap_bit, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_CHROOT};
use nslab_sim::sched::*;
use nslab_sim::*;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};

/// Namespace flags a clone or unshare may carry (NEWTIME only through clone3 for clone).
const NS_FLAGS: [u64; 8] = [
    CLONE_NEWNS,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    CLONE_NEWCGROUP,
    CLONE_NEWTIME,
];

/// Other flags, some of which make the call invalid on purpose.
const OTHER_FLAGS: [u64; 7] = [
    CLONE_VM,
    CLONE_FS,
    CLONE_FILES,
    CLONE_SYSVSEM,
    CLONE_PARENT,
    CLONE_THREAD | CLONE_SIGHAND | CLONE_VM,
    CLONE_SIGHAND,
];

/// One system call: `task` picks the caller among the live tasks at run time, and the task
/// the operation names (a setns or id map target) picks among all tasks ever made.
#[derive(Clone, Debug)]
struct Call {
    task: usize,
    op: Op<usize>,
}

fn flags_from(ns_bits: u8, other_bits: u8) -> u64 {
    let mut f = 0;
    for (i, flag) in NS_FLAGS.iter().enumerate() {
        if ns_bits & (1 << i) != 0 {
            f |= flag;
        }
    }
    for (i, flag) in OTHER_FLAGS.iter().enumerate() {
        if other_bits & (1 << i) != 0 {
            f |= flag;
        }
    }
    f
}

/// Sparse random flag sets: each namespace flag with probability 1/4, others rarer.
fn ns_bits() -> impl Strategy<Value = u8> {
    proptest::collection::vec(proptest::bool::weighted(0.25), 8).prop_map(|v| {
        v.iter()
            .enumerate()
            .fold(0u8, |acc, (i, b)| acc | (u8::from(*b) << i))
    })
}

fn other_bits() -> impl Strategy<Value = u8> {
    proptest::collection::vec(proptest::bool::weighted(0.08), 7).prop_map(|v| {
        v.iter()
            .enumerate()
            .fold(0u8, |acc, (i, b)| acc | (u8::from(*b) << i))
    })
}

fn op() -> impl Strategy<Value = Call> {
    let t = 0usize..64;
    let call = |task: usize, op: Op<usize>| Call { task, op };
    prop_oneof![
        6 => (t.clone(), ns_bits(), other_bits(), any::<bool>()).prop_map(
            move |(task, n, o, clone3)| {
                let mut flags = flags_from(n, o);
                if !clone3 {
                    // Legacy clone would read CLONE_NEWTIME as the exit signal.
                    flags &= !CLONE_NEWTIME;
                }
                let via = if clone3 { CloneVia::Clone3 } else { CloneVia::Clone };
                call(task, Op::Clone(CloneArgs { flags, via }))
            }
        ),
        3 => (t.clone(), ns_bits(), other_bits())
            .prop_map(move |(task, n, o)| call(task, Op::Unshare(flags_from(n, o)))),
        3 => (t.clone(), t.clone(), 0usize..10, 0u8..3).prop_map(
            move |(task, target, entry, nstype)| {
                let e = NsEntry::ALL[entry];
                let nstype = match nstype {
                    0 => 0,
                    1 => entry_flag(e),
                    _ => entry_flag(NsEntry::ALL[(entry + 1) % 10]) & !entry_flag(e),
                };
                call(task, Op::Setns { fd: NsFd::File { task: target, entry: e }, nstype })
            }
        ),
        2 => (t.clone(), t.clone(), ns_bits(), proptest::bool::weighted(0.1)).prop_map(
            move |(task, target, n, bad)| {
                let nstype = flags_from(n, 0) | if bad { CLONE_VM } else { 0 };
                call(task, Op::Setns { fd: NsFd::Pidfd { task: target }, nstype })
            }
        ),
        1 => (t.clone(), prop_oneof![Just(0u32), Just(1000), Just(NOBODY)])
            .prop_map(move |(task, uid)| call(task, Op::Setresuid(uid))),
        1 => (
            t.clone(),
            prop_oneof![
                Just(cap_bit(CAP_SYS_ADMIN)),
                Just(cap_bit(CAP_SYS_CHROOT)),
                Just(cap_bit(CAP_SETUID))
            ]
        )
            .prop_map(move |(task, caps)| call(task, Op::DropCaps(caps))),
        1 => (t.clone(), proptest::bool::weighted(0.2)).prop_map(move |(task, long)| {
            let name = if long { "x".repeat(65) } else { format!("h{task}") };
            call(task, Op::Sethostname(name))
        }),
        1 => t.clone().prop_map(move |task| call(task, Op::LinkUp("lo".into()))),
        2 => (t.clone(), t.clone(), any::<bool>(), 0usize..4).prop_map(
            move |(task, target, gid, map)| {
                let (lower_first, count) = match map {
                    0 => (0, u32::MAX),
                    1 => (0, 1),
                    2 => (1000, 1),
                    _ => (NOBODY, 1),
                };
                let extents = vec![IdMapExtent { first: 0, lower_first, count }];
                let kind = if gid { IdMapKind::Gid } else { IdMapKind::Uid };
                call(task, Op::WriteIdMap { target, kind, extents })
            }
        ),
        2 => t.prop_map(move |task| call(task, Op::Exit(0))),
    ]
}

/// The model under test with its task handles.
struct World {
    k: Kernel,
    root: TaskId,
    /// Every handle ever given out, root first.
    all: Vec<TaskId>,
}

impl World {
    fn live(&mut self) -> Vec<TaskId> {
        let all = self.all.clone();
        all.into_iter()
            .filter(|t| self.k.state(*t) == Ok(TaskState::Running))
            .collect()
    }

    /// A live task, chosen by `i`; the root only where `root_ok`.
    fn pick(&mut self, i: usize, root_ok: bool) -> Option<TaskId> {
        let root = self.root;
        let live: Vec<TaskId> = self
            .live()
            .into_iter()
            .filter(|t| root_ok || *t != root)
            .collect();
        (!live.is_empty()).then(|| live[i % live.len()])
    }

    /// Any task ever given out (a dead one makes the call fail).
    fn any(&self, i: usize) -> TaskId {
        self.all[i % self.all.len()]
    }

    fn snapshot(&mut self) -> Snapshot {
        let all = self.all.clone();
        snapshot(&mut self.k, &all)
    }
}

fn lo_down() -> Interfaces {
    [Interface {
        name: fit("lo"),
        ifindex: 1,
        up: false,
    }]
    .into_iter()
    .collect()
}

/// Checks the clone-sharing property for a successful clone of `child` by `parent`.
fn check_clone_shares(
    before: &TaskView,
    parent: &TaskView,
    child: &TaskView,
    flags: u64,
) -> Result<(), TestCaseError> {
    let passed = |f: u64| flags & f != 0;
    for e in [
        NsEntry::Net,
        NsEntry::Uts,
        NsEntry::Ipc,
        NsEntry::User,
        NsEntry::Mnt,
        NsEntry::Cgroup,
    ] {
        if passed(entry_flag(e)) {
            let fresh = before.ns.iter().all(|(_, r)| *r != child.ns(e));
            prop_assert!(fresh, "{} not new: {:?}", e.file_name(), child.ns(e));
        } else {
            prop_assert_eq!(child.ns(e), parent.ns(e), "{} not shared", e.file_name());
        }
    }
    // The child lives in its parent's pid_for_children (sections 1 and 2).
    if passed(CLONE_NEWPID) {
        prop_assert_eq!(child.pid(), 1);
        prop_assert!(before.ns.iter().all(|(_, r)| *r != child.ns(NsEntry::Pid)));
    } else {
        prop_assert_eq!(child.ns(NsEntry::Pid), parent.ns(NsEntry::PidForChildren));
        prop_assert_eq!(
            child.ns(NsEntry::PidForChildren),
            parent.ns(NsEntry::PidForChildren)
        );
    }
    // time: without CLONE_VM the child enters time_for_children (timens_on_fork).
    if passed(CLONE_NEWTIME) {
        let t = child.ns(NsEntry::TimeForChildren);
        prop_assert!(before.ns.iter().all(|(_, r)| *r != t));
        if passed(CLONE_VM) {
            prop_assert_eq!(child.ns(NsEntry::Time), parent.ns(NsEntry::Time));
        } else {
            prop_assert_eq!(child.ns(NsEntry::Time), t);
        }
    } else {
        prop_assert_eq!(
            child.ns(NsEntry::TimeForChildren),
            parent.ns(NsEntry::TimeForChildren)
        );
        if passed(CLONE_VM) {
            prop_assert_eq!(child.ns(NsEntry::Time), parent.ns(NsEntry::Time));
        } else {
            prop_assert_eq!(child.ns(NsEntry::Time), parent.ns(NsEntry::TimeForChildren));
        }
    }
    if passed(CLONE_NEWNET) {
        prop_assert_eq!(&child.interfaces, &lo_down());
    }
    Ok(())
}

/// Runs one operation and checks the per-step properties.
fn step(w: &mut World, call: &Call) -> Result<(), TestCaseError> {
    let before = w.snapshot();
    // The root only clones, sets its hostname and brings links up (see the top).
    let root_ok = matches!(call.op, Op::Clone(_) | Op::Sethostname(_) | Op::LinkUp(_));
    let Some(t) = w.pick(call.task, root_ok) else {
        return Ok(());
    };
    if let Op::Clone(args) = call.op {
        if t == w.root && args.flags & CLONE_THREAD != 0 {
            // A thread of init could not exit on its own (exit_group would end init),
            // so the end-of-run cleanup could not reach the boot state.
            return Ok(());
        }
    }
    let op = call.op.map(|i| w.any(*i));
    let pv = view(&mut w.k, t);
    let result = op.apply(&mut w.k, t);
    match (&op, &result) {
        (Op::Clone(args), Ok(Some(c))) => {
            w.all.push(*c);
            let parent = view(&mut w.k, t);
            let child = view(&mut w.k, *c);
            check_clone_shares(&pv, &parent, &child, args.flags)?;
        }
        (Op::Unshare(flags), r) => {
            let after = view(&mut w.k, t);
            if flags & CLONE_NEWPID != 0 {
                prop_assert_eq!(after.ns(NsEntry::Pid), pv.ns(NsEntry::Pid));
                prop_assert_eq!(&after.nspid, &pv.nspid);
            }
            if r.is_ok() {
                prop_assert_eq!(after.ns(NsEntry::Time), pv.ns(NsEntry::Time));
                if flags & CLONE_NEWNET != 0 {
                    prop_assert_eq!(&after.interfaces, &lo_down());
                }
            }
        }
        _ => {}
    }
    let bad = w.k.check_invariants();
    prop_assert!(bad.is_empty(), "after {:?}: {:?}", call, bad);
    match result {
        Ok(_) => {}
        Err(SysError::Errno(e)) => {
            let after = w.snapshot();
            prop_assert_eq!(
                &after,
                &before,
                "{:?} by {:?} failed with {:?} but changed the machine",
                call,
                t,
                e
            );
        }
        Err(e) => prop_assert!(false, "the model is never refused nor faults: {}", e),
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6e73_6c61_6273_696d),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/properties.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    // Sections 1 to 9: the properties listed at the top of this file, over random runs.
    #[test]
    fn random_syscall_sequences_keep_the_model_whole(ops in proptest::collection::vec(op(), 1..40)) {
        let (k, root) = boot();
        let boot_counts = k.object_counts();
        let mut w = World { k, root, all: vec![root] };
        for op in &ops {
            step(&mut w, op)?;
        }
        // Exit everything but the root, newest first; a task already gone is ESRCH.
        for t in w.all.clone().into_iter().rev() {
            if t != w.root && w.k.state(t) == Ok(TaskState::Running) {
                w.k.exit(t, 0).map_err(|e| TestCaseError::fail(format!("exit {t}: {e}")))?;
                let bad = w.k.check_invariants();
                prop_assert!(bad.is_empty(), "after exit of {}: {:?}", t, bad);
            }
        }
        prop_assert_eq!(w.k.object_counts(), boot_counts);
    }
}
