//! `nslab quiz`: OSTEP-style problems. A seed makes a problem (a short scenario drawn from
//! the random generator of the property tests, its results hidden as `?`); `-c` prints the
//! same problem with the answers the model computes, each with the rule that decided it;
//! `-t` turns the question around (the results shown, the flags hidden); `--check FILE`
//! grades a filled-in file against the model, and with `--backend real` against the kernel
//! too. One code path makes the question and the answers, so they cannot drift apart.

use super::UsageError;
use nslab_scenario::holes;
use nslab_scenario::random::{self, RandOp};
use nslab_scenario::{ExpectOutcome, Run, Scenario, Stmt};
use nslab_sim::machine::{NsEntry, Origin};
use nslab_sim::sched::*;
use nslab_sim::stepper::refusal;
use nslab_sim::{Kernel, Op};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `nslab quiz`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nslab quiz --seed 7                 (a problem; fill in every ?)
  nslab quiz --seed 7 -c              (the same problem with the answers and their rules)
  nslab quiz --seed 7 -t              (the results shown: which flags were passed?)
  nslab quiz --seed 7 > q.scn; $EDITOR q.scn; nslab quiz --check q.scn [--backend real]")]
pub struct QuizArgs {
    /// The seed: the same seed gives the same problem on every machine.
    #[arg(short = 's', long, default_value_t = 0)]
    pub seed: u64,
    /// 1: one or two clone/unshare calls; 2: up to three calls, setns and exit too; 3: up
    /// to five calls of any kind (ids, maps, limits).
    #[arg(short = 'l', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub level: u8,
    /// Only problems about these (comma-separated): pid, net, user, uts, ipc, mnt, cgroup,
    /// time, setns, limits.
    #[arg(long, value_delimiter = ',')]
    pub topic: Vec<String>,
    /// Compute: print the answers, each with the rule that decided it.
    #[arg(short = 'c')]
    pub compute: bool,
    /// The reverse question: the results are shown, the flags are asked.
    #[arg(short = 't')]
    pub reverse: bool,
    /// Show the hints.
    #[arg(long)]
    pub hints: bool,
    /// Grade a filled-in problem (it carries its ARG lines).
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// With --check: `sim` (the model, default) or `real` (the model and the kernel).
    #[arg(long, default_value = "sim")]
    pub backend: String,
}

const TOPICS: &[&str] = &[
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
        2 => matches!(op.op, Op::Clone(_) | Op::Unshare(_) | Op::Setns { .. } | Op::Exit(_)),
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
pub fn generate(seed: u64, level: u8, topics: &[String]) -> anyhow::Result<Problem> {
    for t in topics {
        if !TOPICS.contains(&t.as_str()) {
            return Err(UsageError(format!(
                "unknown topic '{t}'; valid: {}",
                TOPICS.join(", ")
            ))
            .into());
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
    anyhow::bail!("no interesting problem found for seed {seed} at level {level}")
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
    let mut reverse = text.clone();
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

/// Runs `nslab quiz`.
pub fn run(args: QuizArgs) -> anyhow::Result<u8> {
    if let Some(file) = &args.check {
        return check(file, &args.backend);
    }
    let p = generate(args.seed, args.level, &args.topic)?;
    let shown = if args.reverse {
        &p.reverse_text
    } else {
        &p.text
    };
    for l in shown.lines() {
        if args.hints || !l.starts_with("# hint:") {
            println!("{l}");
        }
    }
    if args.compute {
        println!();
        println!("# answers (the model of Linux v6.18):");
        if args.reverse {
            for (line, flags) in &p.reverse_answers {
                println!("# line {line}: {flags}");
            }
        } else {
            for a in &p.answers {
                println!("# line {}: {} = {}", a.line, a.question, a.answer);
                println!("#   rule: {}", a.rule);
            }
        }
    }
    Ok(0)
}

/// `--check FILE`: the answers of the file's problem (from its ARG lines) against what the
/// student wrote, and with `real` the kernel's verdict on the filled-in file.
fn check(file: &std::path::Path, backend: &str) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let arg = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("# ARG {name} ")))
            .map(str::trim)
    };
    let (Some(seed), Some(level)) = (
        arg("seed").and_then(|s| s.parse::<u64>().ok()),
        arg("level").and_then(|s| s.parse::<u8>().ok()),
    ) else {
        return Err(UsageError(format!(
            "{}: no '# ARG seed N' and '# ARG level N' lines: not a problem of nslab quiz",
            file.display()
        ))
        .into());
    };
    let topics: Vec<String> = match arg("topic") {
        None | Some("any") => Vec::new(),
        Some(t) => t.split(',').map(str::to_string).collect(),
    };
    let p = generate(seed, level, &topics)?;
    let lines: Vec<&str> = text.lines().collect();
    let (mut right, mut wrong, mut open) = (0, 0, 0);
    let mut student_answers = Vec::new();
    for a in &p.answers {
        let given = lines
            .get(a.line as usize - 1)
            .map(|l| student_answer(l))
            .unwrap_or_default();
        match given.as_deref() {
            None | Some("?") => {
                open += 1;
                println!("line {}: {}: unanswered", a.line, a.question);
            }
            Some(g) if g == a.answer => {
                right += 1;
                println!("line {}: {} = {}: right", a.line, a.question, g);
            }
            Some(g) => {
                wrong += 1;
                println!(
                    "line {}: {} = {}: wrong, the model gives {} ({})",
                    a.line, a.question, g, a.answer, a.rule
                );
            }
        }
        if let Some(g) = given {
            student_answers.push((a.line, g));
        }
    }
    println!("{right} right, {wrong} wrong, {open} unanswered (graded by the model of Linux v6.18)");
    match backend {
        "sim" => {}
        "real" => {
            // The kernel is the final judge: the model's answers, filled in, run on it.
            let model: Vec<(u32, String)> =
                p.answers.iter().map(|a| (a.line, a.answer.clone())).collect();
            let filled = holes::fill(&p.text, &model);
            let scenario: Scenario = nslab_scenario::parse(&filled)
                .map_err(|e| anyhow::anyhow!("bug: the filled-in problem does not parse: {e}"))?;
            let mut real = super::run::start_real()?;
            let report = nslab_scenario::check(&scenario, &mut real);
            let findings: Vec<_> = report.failures().collect();
            if findings.is_empty() {
                println!("the kernel agrees with the model on every answer");
            } else {
                for f in findings {
                    println!(
                        "FINDING: line {}: the kernel disagrees with the model: {} ({:?}); the student is not blamed",
                        f.line, f.text, f.verdict
                    );
                }
            }
        }
        other => {
            return Err(UsageError(format!("unknown backend '{other}'; valid: sim, real")).into())
        }
    }
    Ok(u8::from(wrong + open > 0))
}

/// What a student wrote where the hole was: after `->` for an outcome, after `==` for a
/// value, `new` for a `!=` line.
fn student_answer(line: &str) -> Option<String> {
    let code = line.split('#').next().unwrap_or("").trim();
    if let Some((_, rhs)) = code.rsplit_once("->") {
        return Some(rhs.trim().to_string());
    }
    if code.starts_with("expect") && code.contains("!=") {
        return Some("new".to_string());
    }
    code.rsplit_once("==").map(|(_, rhs)| rhs.trim().to_string())
}
