//! `nslab quiz`: OSTEP-style problems. A seed makes a problem (a short scenario drawn from
//! the random generator of the property tests, its results hidden as `?`); `-c` prints the
//! same problem with the answers the model computes, each with the rule that decided it;
//! `-t` turns the question around (the results shown, the flags hidden); `--check FILE`
//! grades a filled-in file against the model, and with `--backend real` against the kernel
//! too. One code path makes the question and the answers, so they cannot drift apart.

use super::out::outln;
use super::UsageError;
use nslab::quiz::generate;
use nslab_scenario::holes;
use nslab_scenario::Scenario;
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

/// Runs `nslab quiz`.
pub fn run(args: QuizArgs) -> anyhow::Result<u8> {
    if let Some(file) = &args.check {
        return check(file, &args.backend);
    }
    let p = generate(args.seed, args.level, &args.topic).map_err(UsageError)?;
    let shown = if args.reverse {
        &p.reverse_text
    } else {
        &p.text
    };
    for l in shown.lines() {
        if args.hints || !l.starts_with("# hint:") {
            outln!("{l}");
        }
    }
    if args.compute {
        outln!("");
        outln!("# answers (the model of Linux v6.18):");
        if args.reverse {
            for (line, flags) in &p.reverse_answers {
                outln!("# line {line}: {flags}");
            }
        } else {
            for a in &p.answers {
                outln!("# line {}: {} = {}", a.line, a.question, a.answer);
                outln!("#   rule: {}", a.rule);
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
    let p = generate(seed, level, &topics).map_err(UsageError)?;
    let lines: Vec<&str> = text.lines().collect();
    if text.contains("# Which flags give these results?") {
        return check_reverse(&p, &lines);
    }
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
                outln!("line {}: {}: unanswered", a.line, a.question);
            }
            Some(g) if g == a.answer => {
                right += 1;
                outln!("line {}: {} = {}: right", a.line, a.question, g);
            }
            Some(g) => {
                wrong += 1;
                outln!(
                    "line {}: {} = {}: wrong, the model gives {} ({})",
                    a.line,
                    a.question,
                    g,
                    a.answer,
                    a.rule
                );
            }
        }
        if let Some(g) = given {
            student_answers.push((a.line, g));
        }
    }
    outln!("{right} right, {wrong} wrong, {open} unanswered (graded by the model of Linux v6.18)");
    match backend {
        "sim" => {}
        "real" => {
            // The kernel is the final judge: the model's answers, filled in, run on it.
            let model: Vec<(u32, String)> = p
                .answers
                .iter()
                .map(|a| (a.line, a.answer.clone()))
                .collect();
            let filled = holes::fill(&p.text, &model);
            let scenario: Scenario = nslab_scenario::parse(&filled)
                .map_err(|e| anyhow::anyhow!("bug: the filled-in problem does not parse: {e}"))?;
            let mut real = super::run::start_real()?;
            let report = nslab_scenario::check(&scenario, &mut real);
            let findings: Vec<_> = report.failures().collect();
            if findings.is_empty() {
                outln!("the kernel agrees with the model on every answer");
            } else {
                for f in findings {
                    outln!(
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
    code.rsplit_once("==")
        .map(|(_, rhs)| rhs.trim().to_string())
}

/// Grades a filled-in reverse problem (`-t`): the flags written on each call line against
/// the flags the problem was made with (as sets: any spelling and order).
fn check_reverse(p: &nslab::quiz::Problem, lines: &[&str]) -> anyhow::Result<u8> {
    use nslab_sim::sched::parse_flags;
    let (mut right, mut wrong, mut open) = (0, 0, 0);
    for (line, flags) in &p.reverse_answers {
        let want = parse_flags(flags).unwrap_or(0);
        // `T1 = init: clone3 FLAGS -> ok`: the word after the call's name.
        let given = lines.get(*line as usize - 1).and_then(|l| {
            let call = l.split(':').nth(1)?.split("->").next()?.trim();
            call.split_whitespace().nth(1).map(str::to_string)
        });
        match given.as_deref() {
            None | Some("?") => {
                open += 1;
                outln!("line {line}: the flags: unanswered");
            }
            Some(g) if parse_flags(g).ok() == Some(want) => {
                right += 1;
                outln!("line {line}: {g}: right");
            }
            Some(g) => {
                wrong += 1;
                outln!("line {line}: {g}: wrong, the problem was made with {flags}");
            }
        }
    }
    outln!("{right} right, {wrong} wrong, {open} unanswered (graded by the model of Linux v6.18)");
    Ok(u8::from(wrong + open > 0))
}
