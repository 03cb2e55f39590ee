//! Random operation sequences over a few tasks, run step by step on several machines and
//! compared after every step: the engine of the property tests and of `nslab check`.
//!
//! An operation names its tasks by index; index `i` means the `i % n`-th task created so far,
//! so every sequence is valid and proptest can shrink it by dropping operations. Operations
//! that would touch the host on the real backend (`sethostname` in the root's uts namespace,
//! `link_up` in the root's net namespace, `set_max_namespaces` in the root's user namespace)
//! are skipped, as are calls by tasks that no longer run; the decision is taken on the last
//! machine, the judge.

use crate::ast::*;
use crate::canon::{CanonView, NsLabel};
use crate::judge::{agree_records, Disagreement, Outcome, Run};
use nslab_machine::capability::{cap_bit, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_CHROOT};
use nslab_machine::machine::{
    CloneArgs, IdMapExtent, IdMapKind, Machine, NsEntry, NsFd, NsType, TaskState,
};
use nslab_machine::sched::*;
use nslab_machine::Op;
use proptest::prelude::*;
use proptest::sample::select;

/// One random operation: the task that makes it and the call, both naming tasks by their
/// index into the tasks created so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandOp {
    pub task: usize,
    pub op: Op<usize>,
}

/// The namespace flags a random clone or unshare draws from, one bit each.
const NS_BITS: [u64; 8] = [
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    // Through clone3 for a clone (`CloneArgs::new` picks it), and valid for unshare.
    CLONE_NEWTIME,
];

/// Flags that change what is shared besides namespaces, valid alone and with most namespace
/// flags: a shared fs_struct (which joining a mount or user namespace refuses), shared files,
/// shared SysV semaphore undo lists, and the caller's parent (refused from a namespace's
/// init).
const SHARING_BITS: [u64; 4] = [CLONE_FS, CLONE_FILES, CLONE_SYSVSEM, CLONE_PARENT];

/// Flags that make a clone fail in the flag checks, before anything is created (the real
/// backend cannot run a successful `CLONE_THREAD`, so only refused combinations appear).
const BAD_COMBOS: [u64; 8] = [
    CLONE_NEWNS | CLONE_FS,
    CLONE_NEWUSER | CLONE_FS,
    CLONE_NEWIPC | CLONE_SYSVSEM,
    CLONE_THREAD,
    CLONE_SIGHAND,
    CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID,
    CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWUSER,
    // An unknown bit: clone3 and unshare refuse it, legacy clone drops it (above 32 bits).
    1 << 40,
];

fn ns_flags() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => proptest::collection::vec(select(NS_BITS.to_vec()), 0..3)
            .prop_map(|v| v.into_iter().fold(0, |a, b| a | b)),
        1 => (
            proptest::collection::vec(select(NS_BITS.to_vec()), 0..2),
            select(SHARING_BITS.to_vec()),
        )
            .prop_map(|(v, s)| v.into_iter().fold(s, |a, b| a | b)),
        1 => select(BAD_COMBOS.to_vec()),
    ]
}

fn entry() -> impl Strategy<Value = NsEntry> {
    select(NsEntry::ALL.to_vec())
}

/// One random operation.
pub fn op() -> impl Strategy<Value = RandOp> {
    let t = 0usize..8;
    let op = |task: usize, op: Op<usize>| RandOp { task, op };
    prop_oneof![
        6 => (t.clone(), ns_flags()).prop_map(move |(task, flags)| op(task, Op::Clone(CloneArgs::new(flags)))),
        3 => (t.clone(), ns_flags()).prop_map(move |(task, flags)| op(task, Op::Unshare(flags))),
        3 => (t.clone(), t.clone(), entry(), any::<bool>()).prop_map(move |(task, target, entry, typed)| {
            let nstype = if typed { entry.ns_type().clone_flag() } else { 0 };
            op(task, Op::Setns { fd: NsFd::File { task: target, entry }, nstype })
        }),
        2 => (t.clone(), t.clone(), ns_flags()).prop_map(move |(task, target, flags)| {
            op(task, Op::Setns { fd: NsFd::Pidfd { task: target }, nstype: flags })
        }),
        1 => (t.clone(), select(vec![0u32, 1000, 65534]))
            .prop_map(move |(task, uid)| op(task, Op::Setresuid(uid))),
        1 => (t.clone(), select(vec![cap_bit(CAP_SYS_ADMIN), cap_bit(CAP_SYS_CHROOT), cap_bit(CAP_SETUID)]))
            .prop_map(move |(task, caps)| op(task, Op::DropCaps(caps))),
        1 => (t.clone(), t.clone()).prop_map(move |(task, target)| {
            let extents = vec![IdMapExtent { first: 0, lower_first: 0, count: 1 }];
            op(task, Op::WriteIdMap { target, kind: IdMapKind::Uid, extents })
        }),
        1 => (t.clone(), 0u8..3)
            .prop_map(move |(task, name)| op(task, Op::Sethostname(format!("nslab-{name}")))),
        1 => t.clone().prop_map(move |task| op(task, Op::LinkUp("lo".into()))),
        // Only types whose count drops as soon as the namespace is freed: net (cleanup_net),
        // ipc and user (work queues) and pid (RCU) are released late on the real kernel.
        1 => (t.clone(), select(vec![NsType::Uts, NsType::Cgroup]), 0u32..3)
            .prop_map(move |(task, ty, max)| op(task, Op::SetMaxNamespaces(ty, max))),
        1 => t.prop_map(move |task| op(task, Op::Exit(0))),
    ]
}

/// A sequence of 1 to `max_len` operations.
pub fn ops(max_len: usize) -> impl Strategy<Value = Vec<RandOp>> {
    proptest::collection::vec(op(), 1..=max_len.max(1))
}

/// What running one sequence gave.
#[derive(Clone, Debug)]
pub struct SequenceResult {
    /// The steps that ran, with the judge's (last machine's) outcomes as expectations: a
    /// scenario that passes on the judge.
    pub scenario: Scenario,
    /// The first step at which the machines disagreed, if any.
    pub disagreement: Vec<Disagreement>,
    /// The backends, in the order given.
    pub backends: Vec<String>,
}

/// Runs the sequence on every machine, comparing the first with each other after each step.
pub fn run_ops(name: &str, ops: &[RandOp], machines: &mut [&mut dyn Machine]) -> SequenceResult {
    let backends: Vec<String> = machines
        .iter()
        .map(|m| m.backend_name().to_string())
        .collect();
    let mut runs: Vec<Run<'_>> = machines.iter_mut().map(|m| Run::new(&mut **m)).collect();
    let mut labels: Vec<String> = vec!["init".into()];
    let mut body = Vec::new();
    let mut disagreement = Vec::new();
    for (line, op) in ops.iter().enumerate() {
        let Some(stmt) = to_stmt(op, &labels, line as u32 + 2, &mut runs) else {
            continue;
        };
        let mut records = Vec::new();
        for r in runs.iter_mut() {
            let n = r.step(&stmt);
            records.push(r.records()[r.records().len() - n..].to_vec());
        }
        let judge = records.last().cloned().unwrap_or_default();
        for other in &records[..records.len().saturating_sub(1)] {
            for (a, b) in other.iter().zip(&judge) {
                disagreement.extend(agree_records(a, b));
            }
        }
        let ok = judge.first().map(|r| r.outcome == Outcome::Ok);
        let mut stmt = stmt;
        if let (Stmt::Call(c), Some(rec)) = (&mut stmt, judge.first()) {
            c.expect = match &rec.outcome {
                Outcome::Errno(e) => ExpectOutcome::Errno(*e),
                _ => ExpectOutcome::Ok,
            };
            if ok == Some(true) {
                if let Some(b) = &c.bind {
                    labels.push(b.clone());
                }
            }
        }
        body.push(stmt);
        if !disagreement.is_empty() || runs.iter().any(|r| r.aborted().is_some()) {
            if disagreement.is_empty() {
                disagreement.push(Disagreement {
                    line: line as u32 + 2,
                    text: "(run)".into(),
                    what: "backend fault".into(),
                    left: runs[0].aborted().unwrap_or("ok").to_string(),
                    right: runs
                        .last()
                        .and_then(|r| r.aborted())
                        .unwrap_or("ok")
                        .to_string(),
                });
            }
            break;
        }
    }
    // The final snapshot is compared too: it catches a task killed on one side only.
    if disagreement.is_empty() && runs.len() > 1 {
        let reports: Vec<_> = runs.into_iter().map(|r| r.finish(name)).collect();
        if let Some(judge) = reports.last() {
            for other in &reports[..reports.len() - 1] {
                if let (Some(a), Some(b)) = (other.records.last(), judge.records.last()) {
                    disagreement.extend(agree_records(a, b));
                }
            }
        }
    }
    let explanation = if disagreement.is_empty() {
        "A random sequence found by nslab check.".to_string()
    } else {
        let mut s = format!(
            "A disagreement found by nslab check: {} (left) against {} (right, the judge).\n\
             The expectations are the judge's results.",
            backends.first().map(String::as_str).unwrap_or("?"),
            backends.last().map(String::as_str).unwrap_or("?")
        );
        for d in &disagreement {
            s.push_str(&format!(
                "\nline {}: {} differs:\n  left:  {}\n  right: {}",
                d.line, d.what, d.left, d.right
            ));
        }
        s
    };
    SequenceResult {
        scenario: Scenario {
            name: name.to_string(),
            explanation,
            body,
        },
        disagreement,
        backends,
    }
}

fn pick(labels: &[String], i: usize) -> String {
    labels[i % labels.len()].clone()
}

/// The statement for one operation, or `None` when it must be skipped.
fn to_stmt(op: &RandOp, labels: &[String], line: u32, runs: &mut [Run<'_>]) -> Option<Stmt> {
    let task = pick(labels, op.task);
    // Every machine observes, so that their canonical labels keep the same order.
    let mut views: Vec<Option<CanonView>> = runs.iter_mut().map(|r| r.view_of(&task)).collect();
    let view = views.pop().flatten()?;
    if view.state != TaskState::Running || view.observe_error.is_some() {
        return None;
    }
    let not_root = |entry: NsEntry| view.ns(entry).is_some_and(|l| l != NsLabel::Ns(0));
    let skip = match &op.op {
        Op::Sethostname(_) => !not_root(NsEntry::Uts),
        Op::LinkUp(_) => !not_root(NsEntry::Net),
        Op::SetMaxNamespaces(..) => !not_root(NsEntry::User),
        Op::Exit(_) => task == "init",
        _ => false,
    };
    if skip {
        return None;
    }
    let mut call = op.op.map(|i| pick(labels, *i));
    let mut bind = None;
    if let Op::Clone(args) = &mut call {
        // CLONE_PARENT makes the child a sibling of the caller. The root task's parent is
        // outside the machine (the real backend's controller), so it is never asked of
        // the root.
        if task == "init" {
            args.flags &= !CLONE_PARENT;
        }
        bind = Some(format!("T{}", labels.len()));
    }
    Some(Stmt::Call(CallStmt {
        span: Span { line, column: 1 },
        bind,
        task,
        call,
        expect: ExpectOutcome::Any,
    }))
}
