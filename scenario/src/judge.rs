//! The judge: [`check`] runs a scenario on one machine and records, for every step, what the
//! machine did, whether it met the expectation and what the touched tasks saw; [`agree`]
//! compares two such reports by structure.
//!
//! Every caller (the tests, `nslab run`, `nslab check`) goes through these two functions, as
//! the LKMM litmus tests go through one judging script for herd7 and klitmus7.

use crate::ast::*;
use crate::canon::{caps_text, state_text, CanonView, Canonicalizer, NsLabel};
use crate::print::{push_stmt_line, stmt_line};
use arrayvec::ArrayVec;
use nslab_machine::machine::TaskView;
use nslab_machine::machine::{Machine, NsEntry, NsType, Origin, SysError, TaskId, TaskState};
use nslab_machine::Errno;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt::{self, Write as _};
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
            Outcome::Errno(e) => f.write_str(&e.name()),
            Outcome::Fault(s) => write!(f, "fault: {s}"),
            Outcome::NotRun(s) => write!(f, "not run: {s}"),
        }
    }
}

/// Whether a step met its expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
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
    pub outcome: Outcome,
    /// For an `expect`, the values it read, canonical (`A.ns.pid=pid#0 init.ns.pid=pid#0`).
    pub observed: String,
    pub verdict: Verdict,
    /// What the tasks the step touched saw afterwards, by task name. Names and views are
    /// shared with the run (a view is computed once per observation and a name once per
    /// task), so recording them copies no strings; they serialise as plain pairs. A step
    /// touches at most two tasks, kept inline; the final snapshot's list spills to the heap.
    #[serde(with = "shared_views")]
    pub views: NamedViews,
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

    pub fn serialize<S: Serializer>(views: &[NamedView], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(views.iter().map(|(n, v)| (&**n, &**v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NamedViews, D::Error> {
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
    pub scenario: String,
    pub backend: String,
    pub origin: Origin,
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

/// Runs the scenario on the machine and judges every step: the one judge of this project.
/// The report also holds what every touched task saw after each step, and every task at the
/// end, for [`agree`].
pub fn check(scenario: &Scenario, machine: &mut dyn Machine) -> Report {
    let mut run = Run::new(machine);
    // One record per statement run, and the final snapshot: reserved at once, so that the
    // list of (large) records is not moved as it grows. A bound keeps a file with a huge
    // repeat count from reserving more than it may ever use (a fault stops a run early).
    let steps = record_count(&scenario.body, &run.origin) + 1;
    run.records.reserve(steps.min(4096));
    // Likewise the lists kept per task (the depth-limit scenarios make 34 tasks; their
    // observations are a few hundred bytes each).
    let tasks = clone_count(&scenario.body, &run.origin)
        .saturating_add(1)
        .min(4096);
    run.tasks.reserve(tasks.saturating_sub(run.tasks.len()));
    run.seen.reserve(tasks.saturating_sub(run.seen.len()));
    // The scenario is borrowed for the whole run: its statements are printed once each.
    run.pin_texts(&scenario.body);
    run.exec(&scenario.body);
    run.finish(&scenario.name)
}

/// Where two reports of the same scenario differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    pub line: u32,
    pub text: String,
    /// What differs: `outcome`, `observed`, or the view of a task.
    pub what: String,
    pub left: String,
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

/// A scenario being run on one machine, one statement at a time. [`check`] drives it over a
/// whole file; the random sequences of [`crate::random`] drive it step by step.
pub struct Run<'m> {
    machine: &'m mut dyn Machine,
    origin: Origin,
    env: Env,
    /// Every task the run created, in creation order, with its display name.
    tasks: Vec<(TaskId, Rc<str>)>,
    /// How many children each clone label has named so far (`A`, `A~2`, ...).
    name_uses: Vec<(String, u32)>,
    canon: Canonicalizer,
    /// The printed texts of statements, by address: those of a scenario [`check`] runs, and
    /// those of the `repeat` bodies being run (a body runs up to 33 times, and its statements
    /// print the same each time). Only statements borrowed for as long as they are here are
    /// pinned, so an address cannot be reused while it is here.
    texts: Vec<(usize, Rc<str>)>,
    records: Vec<StepRecord>,
    aborted: Option<String>,
    /// The last observation of each task, with its canonical form once computed. Those made
    /// since the last call are `fresh`: a machine changes only through calls, so a second look
    /// at a task before the next call would read the same, and consecutive `expect` lines,
    /// the labels' garbage collection and the touched tasks' views after a step, and the
    /// final snapshot share one observation. Each task keeps its entry for the whole run, and
    /// the next observation is written into it.
    seen: Vec<Seen>,
    /// The namespaces running tasks hold, gathered by [`Run::collect_garbage`]; kept between
    /// calls so that its storage is reused.
    held: Vec<(NsType, u64)>,
    /// A buffer for building task names, reused.
    scratch: String,
}

/// A task's last observation (see `Run::seen`).
struct Seen {
    id: TaskId,
    /// Inline (no allocation): a view is a few hundred bytes of fixed arrays.
    view: TaskView,
    /// Made since the last call (and of a running task).
    fresh: bool,
    /// The canonical form of a fresh `view`, with the canonicalizer's epoch it was computed
    /// in: it holds while no label has been dropped since (see [`Canonicalizer::retain`]).
    canon: Option<(u64, Rc<CanonView>)>,
}

impl<'m> Run<'m> {
    /// Starts a run: `init` names the machine's root task, whose namespaces become `#0`.
    pub fn new(machine: &'m mut dyn Machine) -> Run<'m> {
        let root = machine.root();
        let origin = machine.origin();
        // Room for a typical scenario's tasks and statements, so that the lists are not
        // copied as they grow (an observation is a few hundred bytes).
        const TASKS: usize = 8;
        let mut tasks = Vec::with_capacity(TASKS);
        tasks.push((root, Rc::from("init")));
        let mut run = Run {
            machine,
            origin,
            env: Env(Vec::with_capacity(TASKS)),
            tasks,
            name_uses: Vec::with_capacity(TASKS),
            canon: Canonicalizer::default(),
            texts: Vec::with_capacity(2 * TASKS),
            records: Vec::new(),
            aborted: None,
            seen: Vec::with_capacity(TASKS),
            held: Vec::with_capacity(2 * TASKS),
            scratch: String::with_capacity(64),
        };
        run.env.insert("init", root);
        match run.machine.observe(root) {
            Ok(v) => {
                run.canon.root_hostname = Some(v.hostname);
                run.canon.view(TaskState::Running, &v);
            }
            Err(e) => run.aborted = Some(format!("cannot observe the root task: {e}")),
        }
        run
    }

    /// Which backend runs.
    pub fn backend_name(&self) -> &'static str {
        self.machine.backend_name()
    }

    /// Where the root task stands.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether a fault stopped the run.
    pub fn aborted(&self) -> Option<&str> {
        self.aborted.as_deref()
    }

    /// The records so far.
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// Whether a label names a task.
    pub fn has_label(&self, label: &str) -> bool {
        self.env.get(label).is_some()
    }

    /// Runs statements in order, stopping at a fault.
    pub fn exec(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            if self.aborted.is_some() {
                return;
            }
            self.step(s);
        }
    }

    /// Runs one statement and returns how many records it added.
    pub fn step(&mut self, stmt: &Stmt) -> usize {
        let before = self.records.len();
        if self.aborted.is_some() {
            return 0;
        }
        match stmt {
            Stmt::Alias {
                span,
                label,
                target,
            } => {
                let (outcome, verdict) = match self.env.get(target) {
                    Some(id) => {
                        self.env.insert(label, id);
                        (Outcome::Ok, Verdict::Pass)
                    }
                    None => missing(target),
                };
                self.records.push(StepRecord {
                    line: span.line,
                    text: self.text(stmt),
                    outcome,
                    observed: String::new(),
                    verdict,
                    views: NamedViews::new(),
                });
            }
            Stmt::Call(c) => {
                let text = self.text(stmt);
                let r = self.call(c, text);
                self.records.push(r);
            }
            Stmt::Expect { span, fact } => {
                let text = self.text(stmt);
                let r = self.expect(*span, fact, text);
                self.records.push(r);
            }
            Stmt::Repeat { count, body, .. } => {
                let n = repeat_count(*count, &self.origin);
                let pinned = self.texts.len();
                self.pin_texts(body);
                for _ in 0..n {
                    self.exec(body);
                }
                self.texts.truncate(pinned);
            }
        }
        self.records.len() - before
    }

    /// The statement printed back, for its record.
    fn text(&self, stmt: &Stmt) -> Rc<str> {
        let addr = stmt as *const Stmt as usize;
        match self.texts.iter().rev().find(|(a, _)| *a == addr) {
            Some((_, t)) => t.clone(),
            None => Rc::from(stmt_line(stmt)),
        }
    }

    /// Prints these statements (and those of their `repeat` bodies) once, for [`Run::text`].
    /// The caller keeps them borrowed until it truncates `texts` back.
    fn pin_texts(&mut self, stmts: &[Stmt]) {
        for st in stmts {
            let addr = st as *const Stmt as usize;
            if !self.texts.iter().any(|(a, _)| *a == addr) {
                // Printed into the kept buffer, then copied once into the shared string.
                self.scratch.clear();
                push_stmt_line(&mut self.scratch, st);
                self.texts.push((addr, Rc::from(self.scratch.as_str())));
            }
            if let Stmt::Repeat { body, .. } = st {
                self.pin_texts(body);
            }
        }
    }

    /// Ends the run with a snapshot of every task it created.
    pub fn finish(mut self, scenario: &str) -> Report {
        if self.aborted.is_none() {
            let mut views = NamedViews::with_capacity(self.tasks.len());
            for i in 0..self.tasks.len() {
                let id = self.tasks[i].0;
                match self.snapshot(id) {
                    Ok(v) => views.push((self.tasks[i].1.clone(), v)),
                    Err(f) => {
                        self.aborted = Some(f);
                        break;
                    }
                }
            }
            self.records.push(StepRecord {
                line: 0,
                text: "(every task at the end)".into(),
                outcome: Outcome::Ok,
                observed: String::new(),
                verdict: Verdict::Pass,
                views,
            });
        }
        Report {
            scenario: scenario.to_string(),
            backend: self.machine.backend_name().to_string(),
            origin: self.origin,
            records: self.records,
            aborted: self.aborted,
        }
    }

    /// The canonical view of a labelled task now, or `None` if the label is unbound or the
    /// backend faulted.
    pub fn view_of(&mut self, label: &str) -> Option<CanonView> {
        let id = self.env.get(label)?;
        self.snapshot(id).ok().map(Rc::unwrap_or_clone)
    }

    /// The canonical view of a task now, shared with the run's observation of it.
    fn snapshot(&mut self, id: TaskId) -> Result<Rc<CanonView>, String> {
        let state = match self.machine.state(id) {
            Ok(s) => s,
            Err(SysError::Fault(f)) => return Err(f),
            Err(SysError::Errno(e)) => return Ok(Rc::new(CanonView::unobservable(e))),
        };
        if state != TaskState::Running {
            return Ok(Rc::new(CanonView::gone(state)));
        }
        match self.look(id, Some(state)) {
            Ok((_, c)) => Ok(c),
            Err(SysError::Fault(f)) => Err(f),
            Err(SysError::Errno(e)) => Ok(Rc::new(CanonView::unobservable(e))),
        }
    }

    /// The raw observation of a task since the last call, made now if there is none: its
    /// index in `seen`. Entries are never removed during a run, so an index stays valid: the
    /// observation is written in place into the task's entry (the model copies nothing).
    fn look_raw(&mut self, id: TaskId) -> Result<usize, SysError> {
        let i = match self.seen.iter().position(|s| s.id == id) {
            Some(i) if self.seen[i].fresh => return Ok(i),
            Some(i) => i,
            None => {
                self.seen.push(Seen {
                    id,
                    view: TaskView::empty(),
                    fresh: false,
                    canon: None,
                });
                self.seen.len() - 1
            }
        };
        let s = &mut self.seen[i];
        s.canon = None;
        self.machine.observe_into(id, &mut s.view)?;
        s.fresh = true;
        Ok(i)
    }

    /// The canonical form of a task's observation, with the index of the observation in
    /// `seen`. `state` is the task's state if the caller has read it; otherwise it is read
    /// after the observation.
    fn look(
        &mut self,
        id: TaskId,
        state: Option<TaskState>,
    ) -> Result<(usize, Rc<CanonView>), SysError> {
        let i = self.look_raw(id)?;
        if let Some((epoch, c)) = &self.seen[i].canon {
            if *epoch == self.canon.epoch() {
                return Ok((i, c.clone()));
            }
        }
        let state = match state {
            Some(s) => s,
            None => self.machine.state(id).unwrap_or(TaskState::Running),
        };
        let c = Rc::new(self.canon.view(state, &self.seen[i].view));
        if state == TaskState::Running {
            self.seen[i].canon = Some((self.canon.epoch(), c.clone()));
        } else {
            // Only running tasks' observations are kept for the next look.
            self.seen[i].fresh = false;
        }
        Ok((i, c))
    }

    /// Drops the canonical labels of namespaces that no running task shows (see
    /// [`Canonicalizer::retain`]).
    fn collect_garbage(&mut self) -> Result<(), String> {
        let mut held = std::mem::take(&mut self.held);
        held.clear();
        for i in 0..self.tasks.len() {
            let id = self.tasks[i].0;
            if !matches!(self.machine.state(id), Ok(TaskState::Running)) {
                continue;
            }
            match self.look_raw(id) {
                Ok(i) => {
                    for (e, r) in &self.seen[i].view.ns {
                        if let Ok(inum) = r {
                            held.push((e.ns_type(), *inum));
                        }
                    }
                }
                Err(SysError::Fault(f)) => return Err(f),
                Err(SysError::Errno(_)) => {}
            }
        }
        held.sort_unstable();
        held.dedup();
        self.canon.retain(&held);
        self.held = held;
        Ok(())
    }

    fn task_name(&self, id: TaskId) -> Rc<str> {
        self.tasks
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| Rc::from(id.to_string()))
    }

    fn call(&mut self, c: &CallStmt, text: Rc<str>) -> StepRecord {
        let mut record = StepRecord {
            line: c.span.line,
            text,
            outcome: Outcome::Ok,
            observed: String::new(),
            verdict: Verdict::Pass,
            views: NamedViews::new(),
        };
        let Some(actor) = self.env.get(&c.task) else {
            (record.outcome, record.verdict) = missing(&c.task);
            return record;
        };
        // The call may change what any task sees.
        for s in &mut self.seen {
            s.fresh = false;
        }
        // The call, with the task it names (a setns target, an id map's owner) found by label.
        let env = &self.env;
        let resolved = c
            .call
            .apply_with(&mut *self.machine, actor, |label| env.get(label).ok_or(()));
        let Ok(result) = resolved else {
            let label = c.call.target().map_or("?", String::as_str);
            (record.outcome, record.verdict) = missing(label);
            return record;
        };
        // The tasks whose view the step may change: the child of a clone (its parent shows
        // the change at the next step that touches it, and in the final snapshot), the
        // target of a map write, the caller of anything else.
        let mut touched: ArrayVec<TaskId, 1> = match &c.call {
            Call::Clone(_) => ArrayVec::new(),
            Call::WriteIdMap { target, .. } => self.env.get(target).into_iter().collect(),
            _ => [actor].into(),
        };
        record.outcome = match result {
            Ok(child) => {
                if let Some(child) = child {
                    let label = c.bind.as_deref().unwrap_or("_");
                    let uses = match self.name_uses.iter_mut().find(|(l, _)| l == label) {
                        Some((_, n)) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            self.name_uses.push((label.to_string(), 1));
                            1
                        }
                    };
                    let name: Rc<str> = if uses == 1 {
                        Rc::from(label)
                    } else {
                        // Written into a kept buffer: the name is then copied once, into
                        // its shared string.
                        self.scratch.clear();
                        let _ = write!(self.scratch, "{label}~{uses}");
                        Rc::from(self.scratch.as_str())
                    };
                    self.tasks.push((child, name));
                    touched.push(child);
                    if let Some(b) = &c.bind {
                        self.env.insert(b, child);
                    }
                }
                Outcome::Ok
            }
            Err(SysError::Errno(e)) => {
                // A failed clone leaves its label unbound, so later steps that use it say so
                // instead of silently acting on an older task.
                if let Some(b) = &c.bind {
                    self.env.remove(b);
                }
                Outcome::Errno(e)
            }
            Err(SysError::Fault(f)) => {
                self.aborted = Some(format!("line {}: {f}", c.span.line));
                record.verdict = Verdict::Fail(format!("backend fault: {f}"));
                record.outcome = Outcome::Fault(f);
                return record;
            }
        };
        record.verdict = match (c.expect, &record.outcome) {
            (ExpectOutcome::Any, _) => Verdict::Unjudged,
            (ExpectOutcome::Ok, Outcome::Ok) => Verdict::Pass,
            (ExpectOutcome::Errno(want), Outcome::Errno(got)) if want == *got => Verdict::Pass,
            (want, got) => Verdict::Fail(format!(
                "expected {}, got {got}",
                match want {
                    ExpectOutcome::Ok => "ok".to_string(),
                    ExpectOutcome::Errno(e) => e.name(),
                    ExpectOutcome::Any => "any".to_string(),
                }
            )),
        };
        if record.outcome == Outcome::Ok
            && matches!(
                c.call,
                Call::Exit(_) | Call::Unshare(_) | Call::Setns { .. }
            )
        {
            if let Err(f) = self.collect_garbage() {
                self.aborted = Some(format!("line {}: {f}", c.span.line));
                record.outcome = Outcome::Fault(f.clone());
                record.verdict = Verdict::Fail(format!("backend fault: {f}"));
                return record;
            }
        }
        for id in touched {
            match self.snapshot(id) {
                Ok(v) => record.views.push((self.task_name(id), v)),
                Err(f) => {
                    self.aborted = Some(format!("line {}: {f}", c.span.line));
                    record.outcome = Outcome::Fault(f.clone());
                    record.verdict = Verdict::Fail(format!("backend fault: {f}"));
                    break;
                }
            }
        }
        record
    }

    fn expect(&mut self, span: Span, fact: &Fact, text: Rc<str>) -> StepRecord {
        let mut record = StepRecord {
            line: span.line,
            text,
            outcome: Outcome::Ok,
            observed: String::new(),
            verdict: Verdict::Pass,
            views: NamedViews::new(),
        };
        match self.eval(fact) {
            Ok((observed, verdict)) => {
                record.observed = observed;
                record.verdict = verdict;
            }
            Err(EvalError::Missing(t)) => (record.outcome, record.verdict) = missing(&t),
            Err(EvalError::Fault(f)) => {
                self.aborted = Some(format!("line {}: {f}", span.line));
                record.verdict = Verdict::Fail(format!("backend fault: {f}"));
                record.outcome = Outcome::Fault(f);
            }
        }
        record
    }

    fn id(&self, label: &str) -> Result<TaskId, EvalError> {
        self.env
            .get(label)
            .ok_or_else(|| EvalError::Missing(label.to_string()))
    }

    fn observe(&mut self, label: &str) -> Result<Observed, EvalError> {
        let id = self.id(label)?;
        match self.look(id, None) {
            Ok((i, canon)) => Ok(Observed::View(i, canon)),
            Err(SysError::Errno(e)) => Ok(Observed::Errno(e)),
            Err(SysError::Fault(f)) => Err(EvalError::Fault(f)),
        }
    }

    /// Reads a fact and judges it. The observed text is written into one string (no
    /// intermediate strings per part), and the comparisons are made on the values the text
    /// shows, so they say exactly what comparing the printed parts would.
    fn eval(&mut self, fact: &Fact) -> Result<(String, Verdict), EvalError> {
        let t = &fact.task;
        // The reason is copied only when the expectation fails.
        let judge = |ok: bool, why: &str| {
            if ok {
                Verdict::Pass
            } else {
                Verdict::Fail(why.to_string())
            }
        };
        // Writing into a String cannot fail, so the results of `write!` are ignored below.
        let mut o = String::with_capacity(64);
        if let FactCheck::State(want) = &fact.check {
            let id = self.id(t)?;
            let got = match self.machine.state(id) {
                Ok(s) => s,
                Err(SysError::Errno(e)) => {
                    let _ = write!(o, "{t}.state={}", e.display_name());
                    return Ok((o.clone(), Verdict::Fail(o)));
                }
                Err(SysError::Fault(f)) => return Err(EvalError::Fault(f)),
            };
            let wanted = match want {
                StateWant::Running => TaskState::Running,
                StateWant::Exited(c) => TaskState::Exited(*c),
                StateWant::Killed(s) => TaskState::Killed(*s),
            };
            let _ = write!(o, "{t}.state={}", state_text(got));
            let v = judge(got == wanted, &o);
            return Ok((o, v));
        }
        // `vi`: the observation's index in `seen`, which stays valid for the whole run.
        let (vi, canon) = match self.observe(t)? {
            Observed::View(v, c) => (v, c),
            Observed::Errno(e) => {
                let _ = write!(o, "{t}: observe gave {}", e.display_name());
                return Ok((o.clone(), Verdict::Fail(o)));
            }
        };
        Ok(match &fact.check {
            FactCheck::SameNs {
                entry,
                equal,
                other,
                other_entry,
            } => {
                let mine = canon.ns(*entry);
                // `A.ns.net=net#1 B.ns.net=net#1`, appended piece by piece: the most common
                // expectation, and `write!` through `Display` cost more than the rest of it.
                push_ns_fact(&mut o, t, *entry, mine);
                o.push(' ');
                o.push_str(other);
                o.push_str(".ns.");
                o.push_str(other_entry.file_name());
                o.push('=');
                let theirs = match self.observe(other)? {
                    Observed::View(_, c) => {
                        let l = c.ns(*other_entry);
                        push_label(&mut o, l, other_entry.ns_type());
                        l
                    }
                    Observed::Errno(e) => {
                        let _ = write!(o, "observe: {}", e.display_name());
                        None
                    }
                };
                // The same namespace: both entries name one (`type#n`, not an errno), of the
                // same type, with the same label; what comparing the two printed labels says.
                let same = match (mine, theirs) {
                    (Some(NsLabel::Ns(a)), Some(NsLabel::Ns(b))) => {
                        a == b && entry.ns_type() == other_entry.ns_type()
                    }
                    _ => false,
                };
                let v = judge(same == *equal, &o);
                (o, v)
            }
            FactCheck::NsErrno { entry, errno } => {
                let got = canon.ns(*entry);
                push_ns_fact(&mut o, t, *entry, got);
                let v = judge(got == Some(NsLabel::Errno(*errno)), &o);
                (o, v)
            }
            FactCheck::Int { field, equal, rhs } => {
                let lhs = int_field(&self.seen[vi].view, &canon, *field);
                push_int_fact(&mut o, t, *field, &lhs);
                let rhs_v = match rhs {
                    IntRhs::Lit(n) => Portable::Num(*n),
                    IntRhs::Field(other, f) => {
                        let r = match self.observe(other)? {
                            Observed::View(v, c) => int_field(&self.seen[v].view, &c, *f),
                            Observed::Errno(e) => Portable::Unobservable(e),
                        };
                        o.push(' ');
                        push_int_fact(&mut o, other, *f, &r);
                        r
                    }
                };
                match (&lhs, &rhs_v) {
                    (Portable::Num(a), Portable::Num(b)) => {
                        let v = judge((a == b) == *equal, &o);
                        (o, v)
                    }
                    _ => {
                        let why = format!(
                            "{o}: a pid in the root task's pid namespace differs between machines; \
                             compare pids only inside namespaces the scenario created"
                        );
                        (o, Verdict::Fail(why))
                    }
                }
            }
            FactCheck::CapsHas { caps, has } => {
                let _ = write!(o, "{t}.caps={}", caps_text(canon.caps));
                let got = self.seen[vi].view.cap_eff & caps == *caps;
                let v = judge(got == *has, &o);
                (o, v)
            }
            FactCheck::CapsEq(caps) => {
                let _ = write!(o, "{t}.caps={}", canon.caps);
                let v = if self.seen[vi].view.cap_eff == *caps {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!("{o}, expected {}", caps_text(*caps)))
                };
                (o, v)
            }
            FactCheck::Hostname { equal, rhs } => {
                let _ = write!(o, "{t}.hostname={} vs ", HostnameText(&canon));
                let same = match rhs {
                    StrRhs::Lit(s) => {
                        let _ = write!(o, "\"{s}\"");
                        *self.seen[vi].view.hostname == **s
                    }
                    StrRhs::Task(other) => match self.observe(other)? {
                        Observed::View(v, c) => {
                            let _ = write!(o, "{}", HostnameText(&c));
                            self.seen[vi].view.hostname == self.seen[v].view.hostname
                        }
                        Observed::Errno(e) => {
                            let _ = write!(o, "observe: {}", e.display_name());
                            // Nothing was read: compared as the empty name.
                            self.seen[vi].view.hostname.is_empty()
                        }
                    },
                };
                let v = judge(same == *equal, &o);
                (o, v)
            }
            FactCheck::Link { ifname, want } => {
                let view = &self.seen[vi].view;
                let got = match view.interfaces.iter().find(|i| *i.name == **ifname) {
                    Some(i) if i.up => LinkState::Up,
                    Some(_) => LinkState::Down,
                    None => LinkState::Absent,
                };
                let _ = write!(o, "{t}.link.{ifname}={got:?}");
                // The whole line is shown in lower case (labels included).
                if o.is_ascii() {
                    o.make_ascii_lowercase();
                } else {
                    o = o.to_lowercase();
                }
                let v = judge(got == *want, &o);
                (o, v)
            }
            FactCheck::Interfaces(names) => {
                let view = &self.seen[vi].view;
                let _ = write!(o, "{t}.interfaces=");
                if canon.interfaces.is_none() {
                    o.push_str("<root>");
                } else {
                    for (k, i) in view.interfaces.iter().enumerate() {
                        if k > 0 {
                            o.push(',');
                        }
                        o.push_str(&i.name);
                    }
                }
                let same = view.interfaces.len() == names.len()
                    && view
                        .interfaces
                        .iter()
                        .zip(names)
                        .all(|(i, n)| *i.name == **n);
                let v = judge(same, &o);
                (o, v)
            }
            FactCheck::State(_) => unreachable!("handled above"),
        })
    }
}

/// The labels of a run and the tasks they name: a handful per scenario, so a list searched
/// in order (no hashing, and rebinding a label in a loop allocates nothing).
#[derive(Default)]
struct Env(Vec<(String, TaskId)>);

impl Env {
    fn get(&self, label: &str) -> Option<TaskId> {
        self.0.iter().find(|(l, _)| l == label).map(|(_, t)| *t)
    }

    fn insert(&mut self, label: &str, id: TaskId) {
        match self.0.iter_mut().find(|(l, _)| l == label) {
            Some((_, t)) => *t = id,
            None => self.0.push((label.to_string(), id)),
        }
    }

    fn remove(&mut self, label: &str) {
        self.0.retain(|(l, _)| l != label);
    }
}

/// How many times a `repeat` body runs on a machine standing at `origin`.
fn repeat_count(count: Count, origin: &Origin) -> u32 {
    match count {
        Count::Fixed(n) => n,
        Count::PidLevelsLeft => MAX_PID_NS_LEVEL.saturating_sub(origin.pid_ns_level),
        Count::UserLevelsLeft => MAX_USER_NS_LEVEL.saturating_sub(origin.user_ns_level),
    }
}

/// How many records the statements make when the run is not stopped by a fault.
fn record_count(stmts: &[Stmt], origin: &Origin) -> usize {
    count_runs(stmts, origin, &|_| true)
}

/// How many clones the statements make at most when the run is not stopped by a fault.
fn clone_count(stmts: &[Stmt], origin: &Origin) -> usize {
    count_runs(stmts, origin, &|s| {
        matches!(
            s,
            Stmt::Call(CallStmt {
                call: Call::Clone(_),
                ..
            })
        )
    })
}

/// How many times statements that `counts` picks run, `repeat` bodies as often as they loop.
fn count_runs(stmts: &[Stmt], origin: &Origin, counts: &dyn Fn(&Stmt) -> bool) -> usize {
    stmts.iter().fold(0usize, |n, s| {
        n.saturating_add(match s {
            Stmt::Repeat { count, body, .. } => (repeat_count(*count, origin) as usize)
                .saturating_mul(count_runs(body, origin, counts)),
            s => usize::from(counts(s)),
        })
    })
}

fn missing(label: &str) -> (Outcome, Verdict) {
    let why = format!("no task is named {label} (a clone that failed, or a typo)");
    (Outcome::NotRun(why.clone()), Verdict::Fail(why))
}

/// A canonical hostname as the observed text shows it: `<root>` or the quoted name.
struct HostnameText<'a>(&'a CanonView);

impl fmt::Display for HostnameText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.hostname {
            None => f.write_str("<root>"),
            Some(h) => write!(f, "\"{h}\""),
        }
    }
}

/// Appends an entry's label as the observed text shows it: `pid#3`, the errno name, or
/// nothing for a task that does not run (what `NsLabel::display` writes).
fn push_label(o: &mut String, label: Option<NsLabel>, ty: NsType) {
    match label {
        Some(NsLabel::Ns(n)) => {
            o.push_str(ty.proc_name());
            o.push('#');
            o.push_str(itoa::Buffer::new().format(n));
        }
        Some(NsLabel::Errno(e)) => match e.c_name() {
            Some(name) => o.push_str(name),
            None => {
                o.push('E');
                o.push_str(itoa::Buffer::new().format(e.as_raw()));
            }
        },
        None => {}
    }
}

/// Appends `A.pid=2` (or `<root>`, or why the number could not be read).
fn push_int_fact(o: &mut String, task: &str, field: IntField, value: &Portable) {
    o.push_str(task);
    o.push('.');
    o.push_str(field.name());
    o.push('=');
    match value {
        Portable::Num(n) => o.push_str(itoa::Buffer::new().format(*n)),
        other => {
            let _ = write!(o, "{other}");
        }
    }
}

/// Appends `A.ns.net=net#1`.
fn push_ns_fact(o: &mut String, task: &str, entry: NsEntry, label: Option<NsLabel>) {
    o.push_str(task);
    o.push_str(".ns.");
    o.push_str(entry.file_name());
    o.push('=');
    push_label(o, label, entry.ns_type());
}

/// What reading a task gave: its observation (by index in `Run::seen`) and canonical view,
/// or the errno.
enum Observed {
    View(usize, Rc<CanonView>),
    Errno(Errno),
}

enum EvalError {
    Missing(String),
    Fault(String),
}

/// A number that is the same on every machine, or why it is not.
enum Portable {
    Num(i64),
    /// A number in the root task's pid namespace: shown as `<root>`.
    Root,
    /// The other task could not be observed.
    Unobservable(Errno),
}

impl fmt::Display for Portable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Portable::Num(n) => write!(f, "{n}"),
            Portable::Root => f.write_str("<root>"),
            Portable::Unobservable(e) => write!(f, "observe: {e}"),
        }
    }
}

fn int_field(v: &nslab_machine::machine::TaskView, c: &CanonView, f: IntField) -> Portable {
    let in_root_pid_ns = v.nspid.len() <= 1;
    match f {
        IntField::Pid if in_root_pid_ns => Portable::Root,
        IntField::Pid => Portable::Num(v.pid() as i64),
        IntField::Level => Portable::Num(v.nspid.len().saturating_sub(1) as i64),
        IntField::Ppid if c.ppid.is_none() => Portable::Root,
        IntField::Ppid => Portable::Num(v.ppid as i64),
        IntField::Uid => Portable::Num(v.uid as i64),
        IntField::Gid => Portable::Num(v.gid as i64),
    }
}
