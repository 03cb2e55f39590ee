//! Prediction holes: `?` where a scenario's result goes, for exercises a student fills in.
//!
//! - `-> ?` after a call: its outcome (`ok` or an errno);
//! - `expect A.pid == ?` (and `level`, `ppid`, `uid`, `gid`): a number;
//! - `expect A.ns.net == ?` (any entry): the first task, in the file's order, whose entry
//!   names the same namespace (`init.ns.net`), or `new` when no earlier task has it.
//!
//! A file with holes parses: a `-> ?` is judged as `-> any` and a hole `expect` line is
//! left out, and the holes are returned so that the judge reports them as unanswered.
//! `# hint:` lines are collected for whoever asks for them.

use crate::ast::Scenario;
use crate::parse::{parse, ParseError};

/// What a hole asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HoleKind {
    /// The outcome of the call on this line.
    Outcome,
    /// `TASK.FIELD == ?` with a numeric field.
    Int {
        /// The task's label.
        task: String,
        /// The field (`pid`, `uid`, ...).
        field: String,
    },
    /// `TASK.ns.ENTRY == ?`.
    Ns {
        /// The task's label.
        task: String,
        /// The `/proc/<pid>/ns/` entry.
        entry: String,
    },
}

/// One hole: its line (1-based) and what it asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hole {
    /// The line, from 1.
    pub line: u32,
    /// What it asks for.
    pub(crate) kind: HoleKind,
    /// The line as written.
    pub text: String,
}

impl Hole {
    /// What the hole asks, for a report: `the outcome of line 5`, `A.pid`.
    pub fn question(&self) -> String {
        match &self.kind {
            HoleKind::Outcome => format!("the outcome of `{}`", self.text.trim()),
            HoleKind::Int { task, field } => format!("{task}.{field}"),
            HoleKind::Ns { task, entry } => format!("{task}.ns.{entry}"),
        }
    }
}

/// Recognises a hole on one line.
pub(crate) fn hole_of(line: &str) -> Option<HoleKind> {
    let code = line.split('#').next().unwrap_or("").trim();
    if let Some(head) = code.strip_suffix('?') {
        let head = head.trim_end();
        if head.ends_with("->") {
            return Some(HoleKind::Outcome);
        }
        let lhs = head.strip_suffix("==")?.trim();
        let lhs = lhs.strip_prefix("expect")?.trim();
        let (task, rest) = lhs.split_once('.')?;
        if let Some(entry) = rest.strip_prefix("ns.") {
            return Some(HoleKind::Ns {
                task: task.to_string(),
                entry: entry.to_string(),
            });
        }
        return Some(HoleKind::Int {
            task: task.to_string(),
            field: rest.to_string(),
        });
    }
    None
}

/// The text with every hole made parseable (same line numbers) and the holes.
pub fn strip(text: &str) -> (String, Vec<Hole>) {
    let mut out = String::with_capacity(text.len());
    let mut holes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match hole_of(line) {
            Some(kind) => {
                holes.push(Hole {
                    line: i as u32 + 1,
                    kind: kind.clone(),
                    text: line.to_string(),
                });
                match kind {
                    HoleKind::Outcome => {
                        let at = line.rfind('?').expect("a hole has its ?");
                        out.push_str(&line[..at]);
                        out.push_str("any");
                    }
                    _ => out.push_str("# (hole)"),
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    (out, holes)
}

/// The `# hint:` lines, in order.
pub fn hints(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("# hint:"))
        .map(|h| h.trim().to_string())
        .collect()
}

/// Parses a scenario that may have holes.
pub(crate) fn parse_with_holes(text: &str) -> Result<(Scenario, Vec<Hole>), ParseError> {
    let (clean, holes) = strip(text);
    Ok((parse(&clean)?, holes))
}

/// The text with the hole on each given line replaced by its answer (`ok`, `EPERM`, `2`,
/// `init.ns.net`; `new` becomes `!= T.ns.E` for every task named before the line).
pub fn fill(text: &str, answers: &[(u32, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        match (hole_of(line), answers.iter().find(|(l, _)| *l == n)) {
            (Some(HoleKind::Ns { task, entry }), Some((_, a))) if a == "new" => {
                out.push_str(&format!("expect {task}.ns.{entry} != init.ns.{entry}"));
            }
            (Some(_), Some((_, a))) => {
                let at = line.rfind('?').expect("a hole has its ?");
                out.push_str(&line[..at]);
                out.push_str(a);
                out.push_str(&line[at + 1..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_found_and_the_rest_parses() {
        let text = "# t\nA = init: clone NEWPID -> ?\nexpect A.pid == ?\nexpect A.ns.net == ?\n# hint: look at copy_pid_ns\n";
        let (s, holes) = parse_with_holes(text).unwrap();
        assert_eq!(holes.len(), 3);
        assert_eq!(holes[0].kind, HoleKind::Outcome);
        assert_eq!(
            holes[1].kind,
            HoleKind::Int {
                task: "A".into(),
                field: "pid".into()
            }
        );
        assert_eq!(holes[2].line, 4);
        assert_eq!(s.body.len(), 1);
        assert_eq!(hints(text), vec!["look at copy_pid_ns".to_string()]);
        let filled = fill(
            text,
            &[(2, "ok".into()), (3, "1".into()), (4, "init.ns.net".into())],
        );
        assert!(filled.contains("-> ok\n") && filled.contains("A.pid == 1\n"));
        let (s, holes) = parse_with_holes(&filled).unwrap();
        assert!(holes.is_empty());
        assert_eq!(s.body.len(), 3);
    }
}
