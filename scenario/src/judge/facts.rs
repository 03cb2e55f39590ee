//! Fact evaluation: reading what an `expect` line says about a task and judging it.

use super::render::{push_int_fact, push_label, push_ns_fact, HostnameText};
use super::report::Verdict;
use super::report::{NamedViews, Outcome, StepRecord};
use super::run::{missing, Run};
use crate::ast::*;
use crate::canon::{state_text, CanonView, NsLabel};
use nslab_machine::capability::CapSet;
use nslab_machine::machine::{TaskId, TaskState, TaskView};
use nslab_machine::Errno;
use std::fmt::{self, Write as _};
use std::rc::Rc;

impl Run<'_> {
    /// Runs an `expect` statement: its record, with what was read and the verdict.
    pub(super) fn expect(&mut self, span: Span, fact: &Fact, text: Rc<str>) -> StepRecord {
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
            Err(e) => match e.into_errno() {
                Ok(e) => Ok(Observed::Errno(e)),
                Err(f) => Err(EvalError::Fault(f)),
            },
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
                Err(e) => {
                    let e = e.into_errno().map_err(EvalError::Fault)?;
                    let _ = write!(o, "{t}.state={}", e.display_name());
                    return Ok((o.clone(), Verdict::Fail(o)));
                }
            };
            let wanted = TaskState::from(*want);
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
                let _ = write!(o, "{t}.caps={:#}", CapSet(canon.caps));
                let got = self.seen[vi].view.cap_eff & caps == *caps;
                let v = judge(got == *has, &o);
                (o, v)
            }
            FactCheck::CapsEq(caps) => {
                let _ = write!(o, "{t}.caps={}", canon.caps);
                let v = if self.seen[vi].view.cap_eff == *caps {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!("{o}, expected {:#}", CapSet(*caps)))
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

/// What reading a task gave: its observation (by index in `Run::seen`) and canonical view,
/// or the errno.
pub(super) enum Observed {
    View(usize, Rc<CanonView>),
    Errno(Errno),
}

enum EvalError {
    Missing(String),
    Fault(String),
}

/// A number that is the same on every machine, or why it is not.
pub(super) enum Portable {
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

fn int_field(v: &TaskView, c: &CanonView, f: IntField) -> Portable {
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
