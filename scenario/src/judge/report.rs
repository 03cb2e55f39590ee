//! What a judged run gives back: a [`Report`] of [`StepRecord`]s, and [`agree`], which
//! compares two reports of the same scenario by structure.

use crate::canon::CanonView;
use nslab_machine::machine::Origin;
use nslab_machine::Errno;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt;
use std::rc::Rc;

/// What a step did on one machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The call succeeded (or the facts could be read).
    Ok,
    /// The kernel refused the call with this errno.
    Errno(Errno),
    /// The backend failed: never an agreement, always a failure.
    Fault(String),
    /// The step could not be made: it names a task that does not exist.
    NotRun(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Errno(e) => write!(f, "{}", e.display_name()),
            Outcome::Fault(s) => write!(f, "fault: {s}"),
            Outcome::NotRun(s) => write!(f, "not run: {s}"),
        }
    }
}

/// Whether a step met its expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The expectation holds.
    Pass,
    /// It does not, and why.
    Fail(String),
    /// `-> any`: nothing was expected.
    Unjudged,
}

/// One executed statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The line of the statement in its file (0 for the final snapshot).
    pub line: u32,
    /// The statement, printed back (shared: printed once per statement of a run, not once
    /// per time it runs).
    pub text: Rc<str>,
    /// What the call gave.
    pub outcome: Outcome,
    /// For an `expect`, the values it read, canonical (`A.ns.pid=pid#0 init.ns.pid=pid#0`).
    pub observed: String,
    /// The judgement of the expectation.
    pub verdict: Verdict,
    /// What the tasks the step touched saw afterwards, by task name. Names and views are
    /// shared with the run (a view is computed once per observation and a name once per
    /// task), so recording them copies no strings; they serialise as plain pairs. A step
    /// touches at most two tasks, kept inline; the final snapshot's list spills to the heap.
    #[serde(with = "shared_views")]
    pub(crate) views: NamedViews,
}

/// A task's name and its canonical view, both shared.
pub type NamedView = (Rc<str>, Rc<CanonView>);

/// The views of a record.
pub type NamedViews = SmallVec<[NamedView; 2]>;

/// Serde for [`StepRecord::views`]: a list of `(name, view)` pairs, as if unshared.
mod shared_views {
    use super::{CanonView, NamedView, NamedViews};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::rc::Rc;

    pub(crate) fn serialize<S: Serializer>(views: &[NamedView], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(views.iter().map(|(n, v)| (&**n, &**v)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NamedViews, D::Error> {
        let views: Vec<(String, CanonView)> = Deserialize::deserialize(d)?;
        Ok(views
            .into_iter()
            .map(|(n, v)| (Rc::from(n), Rc::new(v)))
            .collect())
    }
}

impl StepRecord {
    /// Whether the step failed its expectation or faulted.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Fail(_))
    }
}

/// Everything one machine did for one scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub(crate) scenario: String,
    /// The backend it ran on.
    pub backend: String,
    /// Where the backend's root task stood.
    pub origin: Origin,
    /// One record per statement run, then the final snapshot.
    pub records: Vec<StepRecord>,
    /// Why the run stopped early (a backend fault), if it did.
    pub aborted: Option<String>,
}

impl Report {
    /// Whether every expectation held and nothing faulted.
    pub fn passed(&self) -> bool {
        self.aborted.is_none() && !self.records.iter().any(StepRecord::failed)
    }

    /// The failed steps.
    pub fn failures(&self) -> impl Iterator<Item = &StepRecord> {
        self.records.iter().filter(|r| r.failed())
    }
}

/// Where two reports of the same scenario differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The line of the statement.
    pub line: u32,
    /// The statement as printed.
    pub text: String,
    /// What differs: `outcome`, `observed`, or the view of a task.
    pub what: String,
    /// The first report's value.
    pub left: String,
    /// The second report's value.
    pub right: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: {} differs\n  left:  {}\n  right: {}",
            self.line, self.text, self.what, self.left, self.right
        )
    }
}

/// Compares two reports step by step: outcomes and errnos exactly, namespaces by canonical
/// label, pids only inside created namespaces. A fault on either side is a disagreement.
pub fn agree(left: &Report, right: &Report) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (a, b) in left.records.iter().zip(&right.records) {
        out.extend(agree_records(a, b));
    }
    if left.records.len() != right.records.len() {
        let n = left.records.len().min(right.records.len());
        let describe = |r: &Report| match r.records.get(n) {
            Some(s) => format!("{} steps, then '{}'", r.records.len(), s.text),
            None => format!("{} steps{}", r.records.len(), abort_note(r)),
        };
        out.push(Disagreement {
            line: 0,
            text: "(the whole run)".into(),
            what: "number of steps".into(),
            left: describe(left),
            right: describe(right),
        });
    }
    if let Some(why) = left.aborted.as_ref().or(right.aborted.as_ref()) {
        if out.is_empty() {
            out.push(Disagreement {
                line: 0,
                text: "(the whole run)".into(),
                what: "abort".into(),
                left: left.aborted.clone().unwrap_or_else(|| "completed".into()),
                right: right.aborted.clone().unwrap_or_else(|| why.clone()),
            });
        }
    }
    out
}

fn abort_note(r: &Report) -> String {
    r.aborted
        .as_ref()
        .map(|a| format!(" (aborted: {a})"))
        .unwrap_or_default()
}

/// Compares two records of the same step.
pub fn agree_records(a: &StepRecord, b: &StepRecord) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let mut push = |what: &str, l: String, r: String| {
        out.push(Disagreement {
            line: a.line,
            text: a.text.to_string(),
            what: what.to_string(),
            left: l,
            right: r,
        })
    };
    let fault = |o: &Outcome| matches!(o, Outcome::Fault(_));
    if a.outcome != b.outcome || fault(&a.outcome) {
        push("outcome", a.outcome.to_string(), b.outcome.to_string());
    }
    if a.observed != b.observed {
        push("observed", a.observed.clone(), b.observed.clone());
    }
    if a.views.len() != b.views.len() {
        push("tasks observed", names(&a.views), names(&b.views));
    }
    for ((na, va), (nb, vb)) in a.views.iter().zip(&b.views) {
        if na != nb || va != vb {
            push(
                &format!("view of {na}"),
                format!("{na}: {va}"),
                format!("{nb}: {vb}"),
            );
        }
    }
    out
}

fn names(v: &[NamedView]) -> String {
    v.iter().map(|(n, _)| &**n).collect::<Vec<_>>().join(",")
}
