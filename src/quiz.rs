//! The problems of `nslab quiz` (OSTEP's homework simulators are the model): a seed makes a
//! problem from the random generator of the property tests, and the same code path makes its
//! answers with the rule that decided each, so question and answers cannot drift apart.
//! Here in the library so that the benchmark times what the CLI runs.

use nslab_scenario::random::{self, RandOp};
use nslab_scenario::{ExpectOutcome, Run, Stmt};
use nslab_sim::machine::{NsEntry, Origin};
use nslab_sim::sched::*;
use nslab_sim::stepper::refusal;
use nslab_sim::{Kernel, Op};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt::Write as _;

pub(crate) const TOPICS: &[&str] = &[
    "pid", "net", "user", "uts", "ipc", "mnt", "cgroup", "time", "setns", "limits",
];

/// One hole and its answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub line: u32,
    pub question: String,
    pub answer: String,
    /// The rule that decided it: kernel function and file.
    pub rule: String,
}

/// A generated problem.
pub struct Problem {
    /// The problem as printed (ARG lines, the scenario with `?` holes).
    pub text: String,
    pub answers: Vec<Answer>,
    /// For `-t`: the call lines with their flags hidden, and the flags.
    pub reverse_text: String,
    pub reverse_answers: Vec<(u32, String)>,
}

/// Whether an operation is about `topic`.
fn about(op: &RandOp, topic: &str) -> bool {
    let flag = match topic {
        "pid" => CLONE_NEWPID,
        "net" => CLONE_NEWNET,
        "user" => CLONE_NEWUSER,
        "uts" => CLONE_NEWUTS,
        "ipc" => CLONE_NEWIPC,
        "mnt" => CLONE_NEWNS,
        "cgroup" => CLONE_NEWCGROUP,
        "time" => CLONE_NEWTIME,
        "setns" => return matches!(op.op, Op::Setns { .. }),
        "limits" => return matches!(op.op, Op::SetMaxNamespaces(..)),
        _ => return false,
    };
    match &op.op {
        Op::Clone(a) => a.flags & flag != 0,
        Op::Unshare(f) => f & flag != 0,
        Op::Setns { nstype, .. } => nstype & flag != 0,
        _ => false,
    }
}

/// Whether a level allows an operation.
fn level_allows(level: u8, op: &RandOp) -> bool {
    match level {
        1 => matches!(op.op, Op::Clone(_) | Op::Unshare(_)),
        2 => matches!(
            op.op,
            Op::Clone(_) | Op::Unshare(_) | Op::Setns { .. } | Op::Exit(_)
        ),
        _ => true,
    }
}

/// The namespace entry a problem asks about for its topics.
fn entry_for(topics: &[String]) -> NsEntry {
    match topics.first().map(String::as_str) {
        Some("pid") => NsEntry::Pid,
        Some("user") => NsEntry::User,
        Some("uts") => NsEntry::Uts,
        Some("ipc") => NsEntry::Ipc,
        Some("mnt") => NsEntry::Mnt,
        Some("cgroup") => NsEntry::Cgroup,
        Some("time") => NsEntry::Time,
        _ => NsEntry::Net,
    }
}

/// The ARG lines of a problem: what makes it again.
fn arg_lines(seed: u64, level: u8, topics: &[String]) -> String {
    let topic = if topics.is_empty() {
        "any".to_string()
    } else {
        topics.join(",")
    };
    format!("# ARG seed {seed}\n# ARG level {level}\n# ARG topic {topic}\n")
}

/// Draws the problem of (seed, level, topics): the first candidate, of attempts seeded
/// (seed, 0), (seed, 1), ..., that the level and topics allow and that is interesting.
/// An error is a message for the user (an unknown topic, or no problem found).
pub fn generate(seed: u64, level: u8, topics: &[String]) -> Result<Problem, String> {
    for t in topics {
        if !TOPICS.contains(&t.as_str()) {
            return Err(format!("unknown topic '{t}'; valid: {}", TOPICS.join(", ")));
        }
    }
    let max_len = match level {
        1 => 2,
        2 => 3,
        _ => 5,
    };
    for attempt in 0..10_000u64 {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&attempt.to_le_bytes());
        key[16] = level;
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let Ok(tree) = random::ops(max_len).new_tree(&mut runner) else {
            continue;
        };
        let ops = tree.current();
        if !ops.iter().all(|o| level_allows(level, o)) {
            continue;
        }
        if !topics.is_empty() && !ops.iter().any(|o| topics.iter().any(|t| about(o, t))) {
            continue;
        }
        if let Some(p) = build(seed, level, topics, &ops) {
            return Ok(p);
        }
    }
    Err(format!(
        "no interesting problem found for seed {seed} at level {level}"
    ))
}

/// Runs the operations on the model and makes the problem, or `None` when it is not
/// interesting (every call ok and nothing new) or a call was skipped.
fn build(seed: u64, level: u8, topics: &[String], ops: &[RandOp]) -> Option<Problem> {
    let mut k = Kernel::boot_at(&Origin::default());
    let result = random::run_ops("quiz", ops, &mut [&mut k]);
    let scenario = result.scenario;
    let calls: Vec<&nslab_scenario::CallStmt> = scenario
        .body
        .iter()
        .filter_map(|s| match s {
            Stmt::Call(c) => Some(c),
            _ => None,
        })
        .collect();
    if calls.len() != ops.len() || calls.is_empty() {
        return None;
    }
    let refused = calls
        .iter()
        .any(|c| matches!(c.expect, ExpectOutcome::Errno(_)));
    let made_new = calls.iter().any(|c| {
        c.expect == ExpectOutcome::Ok
            && match &c.call {
                Op::Clone(a) => a.flags & CLONE_NEW_ALL != 0,
                Op::Unshare(f) => f & CLONE_NEW_ALL != 0,
                _ => false,
            }
    });
    if !refused && !made_new {
        return None;
    }
    let entry = entry_for(topics);

    // The problem: one line a call, `-> ?`; then for every child that still runs, its pid
    // and its namespace of the asked type.
    let mut text = format!("# quiz-seed-{seed}-level-{level}\n");
    text.push_str(&arg_lines(seed, level, topics));
    text.push_str("# Fill in every ?, then: nslab quiz --check FILE\n");
    let header = text.lines().count() as u32;
    let mut answers = Vec::new();
    let mut reverse = text.replace(
        "# Fill in every ?, then: nslab quiz --check FILE",
        "# Which flags give these results? -t -c shows them",
    );
    let mut reverse_answers = Vec::new();
    let mut line = header;
    let mut statements: Vec<Stmt> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        line += 1;
        let mut printed = (*c).clone();
        printed.expect = ExpectOutcome::Ok;
        let stmt_text = nslab_scenario::print::stmt_line(&Stmt::Call(printed.clone()));
        let stmt_text = stmt_text
            .split(" -> ")
            .next()
            .unwrap_or(&stmt_text)
            .to_string();
        let _ = writeln!(text, "{stmt_text} -> ?");
        let (answer, rule) = outcome_answer(&scenario.body, i, c.expect);
        answers.push(Answer {
            line,
            question: format!("the outcome of `{stmt_text}`"),
            answer,
            rule,
        });
        // Reverse: the flags are the question.
        let flags = match &c.call {
            Op::Clone(a) => Some(a.flags),
            Op::Unshare(f) => Some(*f),
            _ => None,
        };
        match flags {
            Some(f) => {
                let word = flags_to_string(f);
                let _ = writeln!(
                    reverse,
                    "{} -> {}",
                    stmt_text.replace(&word, "?"),
                    outcome_word(c.expect)
                );
                reverse_answers.push((line, word));
            }
            None => {
                let _ = writeln!(reverse, "{stmt_text} -> {}", outcome_word(c.expect));
            }
        }
        statements.push(Stmt::Call((*c).clone()));
    }
    // The final state, read from a run of the whole scenario.
    let mut k = Kernel::boot_at(&Origin::default());
    let mut run = Run::new(&mut k);
    run.exec(&statements);
    let mut labels: Vec<String> = vec!["init".to_string()];
    labels.extend(calls.iter().filter_map(|c| match c.expect {
        ExpectOutcome::Ok => c.bind.clone(),
        _ => None,
    }));
    let views: Vec<(String, nslab_scenario::CanonView)> = labels
        .iter()
        .filter_map(|l| run.view_of(l).map(|v| (l.clone(), v)))
        .collect();
    for (i, (label, view)) in views.iter().enumerate().skip(1) {
        if view.state != nslab_sim::machine::TaskState::Running {
            continue;
        }
        // A task in the root task's pid namespace has no number a scenario can state (the
        // real backend's root is wherever it runs): only the nested ones are asked.
        if let Some(pid) = view.pids.last() {
            line += 1;
            let _ = writeln!(text, "expect {label}.pid == ?");
            let _ = writeln!(reverse, "expect {label}.pid == {pid}");
            answers.push(Answer {
                line,
                question: format!("{label}.pid"),
                answer: pid.to_string(),
                rule: "alloc_pid (kernel/pid.c): a number at every level, from 1 in a new pid namespace; the last is what the task sees".to_string(),
            });
        }
        let mine = view.ns(entry);
        let same = views[..i]
            .iter()
            .find(|(_, v)| v.ns(entry) == mine)
            .map(|(l, _)| format!("{l}.ns.{}", entry.file_name()));
        line += 1;
        let name = entry.file_name();
        let _ = writeln!(text, "expect {label}.ns.{name} == ?");
        let answer = same.unwrap_or_else(|| "new".to_string());
        let _ = writeln!(
            reverse,
            "{}",
            match answer.as_str() {
                "new" => format!("expect {label}.ns.{name} != init.ns.{name}"),
                a => format!("expect {label}.ns.{name} == {a}"),
            }
        );
        answers.push(Answer {
            line,
            question: format!("{label}.ns.{name}"),
            answer,
            rule: match entry {
                NsEntry::User => "copy_creds (kernel/cred.c) calls create_user_ns (kernel/user_namespace.c) for CLONE_NEWUSER, else the child shares its parent's; unshare and setns replace the caller's".to_string(),
                _ => format!(
                    "copy_namespaces / create_new_namespaces (kernel/nsproxy.c): the {} flag makes a new one, else the child shares its parent's; unshare and setns replace the caller's (kernel/fork.c, kernel/nsproxy.c)",
                    flags_to_string(entry.ns_type().clone_flag())
                ),
            },
        });
    }
    text.push_str("# hint: a CLONE_NEW* flag gives the child a new namespace of that type; without it the child shares its parent's\n");
    text.push_str("# hint: the first task in a new pid namespace is its pid 1\n");
    Some(Problem {
        text,
        answers,
        reverse_text: reverse,
        reverse_answers,
    })
}

fn outcome_word(e: ExpectOutcome) -> String {
    match e {
        ExpectOutcome::Errno(e) => e.name().to_string(),
        _ => "ok".to_string(),
    }
}

/// The outcome of call `i` and the rule that decided it, from a recording of that call in
/// its context (the calls before it run first).
fn outcome_answer(body: &[Stmt], i: usize, expect: ExpectOutcome) -> (String, String) {
    let record = |n: usize| {
        let mut k = Kernel::boot_at(&Origin::default());
        k.set_recording(true);
        {
            let mut run = Run::new(&mut k);
            run.exec(&body[..n]);
        }
        k.take_records()
    };
    let before = record(i).len();
    let mut all = record(i + 1);
    let records = all.split_off(before.min(all.len()));
    let answer = outcome_word(expect);
    let rule = match expect {
        ExpectOutcome::Errno(_) => match refusal(&records) {
            Some((rule, f, file)) => format!("{f} ({file}): {rule}"),
            None => "refused before any recorded check".to_string(),
        },
        _ => {
            let made: Vec<String> = records
                .iter()
                .filter_map(|r| match &r.step {
                    nslab_sim::trace::Step::Alloc { object } if object.contains(":[") => {
                        Some(format!(
                            "{} ({}) made {}",
                            r.function,
                            r.file,
                            nslab_sim::stepper::object_key(object)
                        ))
                    }
                    _ => None,
                })
                .collect();
            let entry = records.first().map_or("the entry point", |r| r.function);
            if made.is_empty() {
                format!("{entry}: every check passed; nothing new was made")
            } else {
                format!("{entry}: every check passed; {}", made.join("; "))
            }
        }
    };
    (answer, rule)
}
