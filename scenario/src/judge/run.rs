//! Execution: a [`Run`] makes a scenario's statements on one machine, one at a time, and
//! records what each did. It keeps the caches that make a run cheap: one observation per task
//! between two calls, the statements' printed texts, the canonical labels.

use super::report::{NamedViews, Outcome, Report, StepRecord, Verdict};
use crate::ast::*;
use crate::canon::{CanonView, Canonicalizer};
use crate::print::{push_stmt_line, stmt_line};
use arrayvec::ArrayVec;
use nslab_machine::machine::TaskView;
use nslab_machine::machine::{Machine, NsType, Origin, SysError, TaskId, TaskState};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// Runs the scenario on the machine and judges every step: the one judge of this project.
/// The report also holds what every touched task saw after each step, and every task at the
/// end, for [`agree`](super::agree).
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

/// A scenario being run on one machine, one statement at a time. [`check`] drives it over a
/// whole file; the random sequences of [`crate::random`] drive it step by step.
///
/// Public for the `nslab` binary (`trace FILE --at LINE`, `graph FILE --step N`, `quiz`) and
/// the benchmarks, which run a scenario up to a statement and look at the machine there: a
/// user judges a whole file with [`check`].
pub struct Run<'m> {
    pub(super) machine: &'m mut dyn Machine,
    pub(super) origin: Origin,
    pub(super) env: Env,
    /// Every task the run created, in creation order, with its display name.
    pub(super) tasks: Vec<(TaskId, Rc<str>)>,
    /// The display name of every task in `tasks`.
    pub(super) names: HashMap<TaskId, Rc<str>>,
    /// How many children each clone label has named so far (`A`, `A~2`, ...).
    pub(super) name_uses: HashMap<String, u32>,
    pub(super) canon: Canonicalizer,
    /// The printed texts of statements, by address: those of a scenario [`check`] runs, and
    /// those of the `repeat` bodies being run (a body runs up to 33 times, and its statements
    /// print the same each time). Only statements borrowed for as long as they are here are
    /// pinned, so an address cannot be reused while it is here. Hash maps and lists searched
    /// in order are kept apart by size: every map here grows with the file (a run of 80,000
    /// statements searched a list of their texts at every step, a quadratic run).
    pub(super) texts: HashMap<usize, Rc<str>>,
    /// The addresses `Run::step` pinned for the `repeat` bodies being run, to unpin after.
    pub(super) pinned: Vec<usize>,
    pub(super) records: Vec<StepRecord>,
    pub(super) aborted: Option<String>,
    /// The last observation of each task, with its canonical form once computed. Those made
    /// since the last call are `fresh`: a machine changes only through calls, so a second look
    /// at a task before the next call would read the same, and consecutive `expect` lines,
    /// the labels' garbage collection and the touched tasks' views after a step, and the
    /// final snapshot share one observation. Each task keeps its entry for the whole run, and
    /// the next observation is written into it.
    pub(super) seen: Vec<Seen>,
    /// The index in `seen` of each task's entry.
    pub(super) seen_index: HashMap<TaskId, usize>,
    /// The namespaces running tasks hold, gathered by [`Run::collect_garbage`]; kept between
    /// calls so that its storage is reused.
    pub(super) held: Vec<(NsType, u64)>,
    /// A buffer for building task names, reused.
    pub(super) scratch: String,
}

/// A task's last observation (see `Run::seen`).
pub(super) struct Seen {
    /// Inline (no allocation): a view is a few hundred bytes of fixed arrays.
    pub(super) view: TaskView,
    /// Made since the last call (and of a running task).
    pub(super) fresh: bool,
    /// The canonical form of a fresh `view`, with the canonicalizer's epoch it was computed
    /// in: it holds while no label has been dropped since (see [`Canonicalizer::retain`]).
    pub(super) canon: Option<(u64, Rc<CanonView>)>,
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
        let init: Rc<str> = Rc::from("init");
        tasks.push((root, init.clone()));
        let mut names = HashMap::with_capacity(TASKS);
        names.insert(root, init);
        let mut run = Run {
            machine,
            origin,
            env: Env(HashMap::with_capacity(TASKS)),
            tasks,
            names,
            name_uses: HashMap::with_capacity(TASKS),
            canon: Canonicalizer::default(),
            texts: HashMap::with_capacity(2 * TASKS),
            pinned: Vec::new(),
            records: Vec::new(),
            aborted: None,
            seen: Vec::with_capacity(TASKS),
            seen_index: HashMap::with_capacity(TASKS),
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

    /// Every task the run created (and the root), with its display name, in creation
    /// order: for a caller that draws the machine after some steps (`nslab graph`).
    pub fn task_names(&self) -> Vec<(TaskId, String)> {
        self.tasks
            .iter()
            .map(|(id, n)| (*id, n.to_string()))
            .collect()
    }

    /// Whether a fault stopped the run.
    pub fn aborted(&self) -> Option<&str> {
        self.aborted.as_deref()
    }

    /// The records so far.
    pub(crate) fn records(&self) -> &[StepRecord] {
        &self.records
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
    pub(crate) fn step(&mut self, stmt: &Stmt) -> usize {
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
                // A body [`check`] pinned with the whole file is pinned already; one run
                // step by step is pinned here, once, and unpinned after.
                let pinned = self.pinned.len();
                let first = body.first().map(|s| s as *const Stmt as usize);
                if first.is_some_and(|a| !self.texts.contains_key(&a)) {
                    self.pin_texts(body);
                }
                for _ in 0..n {
                    self.exec(body);
                }
                for a in self.pinned.drain(pinned..) {
                    self.texts.remove(&a);
                }
            }
        }
        self.records.len() - before
    }

    /// The statement printed back, for its record.
    fn text(&self, stmt: &Stmt) -> Rc<str> {
        let addr = stmt as *const Stmt as usize;
        match self.texts.get(&addr) {
            Some(t) => t.clone(),
            None => Rc::from(stmt_line(stmt)),
        }
    }

    /// Prints these statements (and those of their `repeat` bodies) once, for [`Run::text`].
    /// The caller keeps them borrowed until it unpins what this added to `pinned`. The
    /// walk is a loop over an explicit stack: no recursion whose depth the file sets.
    fn pin_texts(&mut self, stmts: &[Stmt]) {
        let mut todo: Vec<std::slice::Iter<'_, Stmt>> = vec![stmts.iter()];
        while let Some(top) = todo.last_mut() {
            let Some(st) = top.next() else {
                todo.pop();
                continue;
            };
            let addr = st as *const Stmt as usize;
            if let std::collections::hash_map::Entry::Vacant(v) = self.texts.entry(addr) {
                // Printed into the kept buffer, then copied once into the shared string.
                self.scratch.clear();
                push_stmt_line(&mut self.scratch, st);
                v.insert(Rc::from(self.scratch.as_str()));
                self.pinned.push(addr);
            }
            if let Stmt::Repeat { body, .. } = st {
                todo.push(body.iter());
            }
        }
    }

    /// Ends the run with a snapshot of every task it created.
    pub(crate) fn finish(mut self, scenario: &str) -> Report {
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
            Err(e) => return Ok(Rc::new(CanonView::unobservable(e.into_errno()?))),
        };
        if state != TaskState::Running {
            return Ok(Rc::new(CanonView::gone(state)));
        }
        match self.look(id, Some(state)) {
            Ok((_, c)) => Ok(c),
            Err(e) => Ok(Rc::new(CanonView::unobservable(e.into_errno()?))),
        }
    }

    /// The raw observation of a task since the last call, made now if there is none: its
    /// index in `seen`. Entries are never removed during a run, so an index stays valid: the
    /// observation is written in place into the task's entry (the model copies nothing).
    fn look_raw(&mut self, id: TaskId) -> Result<usize, SysError> {
        let i = match self.seen_index.get(&id).copied() {
            Some(i) if self.seen[i].fresh => return Ok(i),
            Some(i) => i,
            None => {
                self.seen_index.insert(id, self.seen.len());
                self.seen.push(Seen {
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
    pub(super) fn look(
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
                Err(e) => {
                    e.into_errno()?;
                }
            }
        }
        held.sort_unstable();
        held.dedup();
        self.canon.retain(&held);
        self.held = held;
        Ok(())
    }

    fn task_name(&self, id: TaskId) -> Rc<str> {
        self.names
            .get(&id)
            .cloned()
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
        let Ok(op) = c.call.try_map(|label| env.get(label).ok_or(())) else {
            let label = c.call.target().map_or("?", String::as_str);
            (record.outcome, record.verdict) = missing(label);
            return record;
        };
        let result = op.apply(&mut *self.machine, actor);
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
                    let uses = match self.name_uses.get_mut(label) {
                        Some(n) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            self.name_uses.insert(label.to_string(), 1);
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
                    self.names.insert(child, name.clone());
                    self.tasks.push((child, name));
                    touched.push(child);
                    if let Some(b) = &c.bind {
                        self.env.insert(b, child);
                    }
                }
                Outcome::Ok
            }
            Err(e) => match e.into_errno() {
                Ok(e) => {
                    // A failed clone leaves its label unbound, so later steps that use it say
                    // so instead of silently acting on an older task.
                    if let Some(b) = &c.bind {
                        self.env.remove(b);
                    }
                    Outcome::Errno(e)
                }
                // A refusal of the backend ends the run as a fault does: neither is a result
                // of the kernel to judge or compare.
                Err(f) => {
                    self.aborted = Some(format!("line {}: {f}", c.span.line));
                    record.verdict = Verdict::Fail(format!("backend fault: {f}"));
                    record.outcome = Outcome::Fault(f);
                    return record;
                }
            },
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
}

/// The labels of a run and the tasks they name: a handful in a scenario of the set, but as
/// many as a file has lines in a hostile one, so a map (rebinding a label in a loop
/// allocates nothing).
#[derive(Default)]
pub(super) struct Env(HashMap<String, TaskId>);

impl Env {
    pub(super) fn get(&self, label: &str) -> Option<TaskId> {
        self.0.get(label).copied()
    }

    fn insert(&mut self, label: &str, id: TaskId) {
        match self.0.get_mut(label) {
            Some(t) => *t = id,
            None => {
                self.0.insert(label.to_string(), id);
            }
        }
    }

    fn remove(&mut self, label: &str) {
        self.0.remove(label);
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

pub(super) fn missing(label: &str) -> (Outcome, Verdict) {
    let why = format!("no task is named {label} (a clone that failed, or a typo)");
    (Outcome::NotRun(why.clone()), Verdict::Fail(why))
}
