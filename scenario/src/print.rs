//! Prints scenarios back in the file format: the judge's step texts, and the files that
//! `nslab check` writes for a disagreement. `parse(print(s))` gives `s` back, up to spans.

use crate::ast::*;
use crate::canon::state_text;
use nslab_machine::capability::CapSet;
use nslab_machine::machine::TaskState;
use nslab_machine::sched::Flags;
use std::fmt::{self, Write};

/// One statement on one line (a `repeat` prints only its header). The judge prints every
/// statement it runs into its record, so everything goes into one buffer.
pub fn stmt_line(st: &Stmt) -> String {
    let mut s = String::with_capacity(64);
    push_stmt_line(&mut s, st);
    s
}

/// [`stmt_line`], appended to a buffer.
pub(crate) fn push_stmt_line(s: &mut String, st: &Stmt) {
    match st {
        Stmt::Alias { label, target, .. } => {
            s.push_str(label);
            s.push_str(" = ");
            s.push_str(target);
        }
        Stmt::Call(c) => push_call_line(s, c),
        Stmt::Expect { fact, .. } => {
            s.push_str("expect ");
            push_fact(s, fact);
        }
        Stmt::Repeat { count, .. } => {
            s.push_str("repeat ");
            s.push_str(&count_text(*count));
        }
    }
}

fn count_text(c: Count) -> String {
    match c {
        Count::Fixed(n) => n.to_string(),
        Count::PidLevelsLeft => "pid_levels_left".into(),
        Count::UserLevelsLeft => "user_levels_left".into(),
    }
}

/// `B = A: clone CLONE_NEWPID -> ok`.
fn push_call_line(s: &mut String, c: &CallStmt) {
    if let Some(b) = &c.bind {
        s.push_str(b);
        s.push_str(" = ");
    }
    s.push_str(&c.task);
    s.push_str(": ");
    push_call(s, &c.call);
    match c.expect {
        ExpectOutcome::Ok => s.push_str(" -> ok"),
        ExpectOutcome::Errno(e) => {
            let _ = write!(s, " -> {}", e.display_name());
        }
        ExpectOutcome::Any => s.push_str(" -> any"),
    }
}

/// The call and its arguments as the format writes them: `setns B.ns.net CLONE_NEWNET`. The
/// one place an operation is printed (`LineParser::call` in parse.rs is where it is read).
fn push_call(s: &mut String, c: &Call) {
    s.push_str(c.name());
    s.push(' ');
    match c {
        Call::Clone(a) => {
            let _ = write!(s, "{}", Flags(a.flags));
        }
        Call::Unshare(f) => {
            let _ = write!(s, "{}", Flags(*f));
        }
        Call::Setns { fd, nstype } => match fd {
            FdRef::File { task, entry } => {
                s.push_str(task);
                s.push_str(".ns.");
                s.push_str(entry.file_name());
                if *nstype != 0 {
                    let _ = write!(s, " {}", Flags(*nstype));
                }
            }
            FdRef::Pidfd { task } => {
                let _ = write!(s, "pidfd {task} {}", Flags(*nstype));
            }
        },
        Call::Exit(n) => {
            let _ = write!(s, "{n}");
        }
        Call::Setresuid(n) | Call::Setresgid(n) => {
            let _ = write!(s, "{n}");
        }
        Call::DropCaps(caps) => {
            let _ = write!(s, "{}", CapSet(*caps));
        }
        Call::WriteIdMap {
            target, extents, ..
        } => {
            s.push_str(target);
            for (i, e) in extents.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(s, "{sep}{} {} {}", e.first, e.lower_first, e.count);
            }
        }
        Call::Sethostname(h) => s.push_str(&word_or_string(h)),
        Call::LinkUp(i) => s.push_str(i),
        Call::SetMaxNamespaces(ty, n) => {
            let _ = write!(s, "{} {n}", ty.proc_name());
        }
    }
}

fn word_or_string(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !s.contains("->");
    if bare {
        s.to_string()
    } else {
        format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\0', "\\0")
        )
    }
}

fn push_fact(s: &mut String, f: &Fact) {
    let eq = |b: bool| if b { " == " } else { " != " };
    s.push_str(&f.task);
    match &f.check {
        FactCheck::SameNs {
            entry,
            equal,
            other,
            other_entry,
        } => {
            s.push_str(".ns.");
            s.push_str(entry.file_name());
            s.push_str(eq(*equal));
            s.push_str(other);
            s.push_str(".ns.");
            s.push_str(other_entry.file_name());
        }
        FactCheck::NsErrno { entry, errno } => {
            s.push_str(".ns.");
            s.push_str(entry.file_name());
            let _ = write!(s, " -> {}", errno.display_name());
        }
        FactCheck::Int { field, equal, rhs } => {
            s.push('.');
            s.push_str(field.name());
            s.push_str(eq(*equal));
            match rhs {
                IntRhs::Lit(n) => {
                    let _ = write!(s, "{n}");
                }
                IntRhs::Field(o, f) => {
                    s.push_str(o);
                    s.push('.');
                    s.push_str(f.name());
                }
            }
        }
        FactCheck::CapsHas { caps, has } => {
            s.push_str(if *has { ".caps has " } else { ".caps lacks " });
            let _ = write!(s, "{}", CapSet(*caps));
        }
        FactCheck::CapsEq(c) => {
            let _ = write!(s, ".caps == {:#}", CapSet(*c));
        }
        FactCheck::Hostname { equal, rhs } => {
            s.push_str(".hostname");
            s.push_str(eq(*equal));
            match rhs {
                StrRhs::Lit(h) => {
                    let _ = write!(s, "\"{}\"", h.replace('\\', "\\\\").replace('"', "\\\""));
                }
                StrRhs::Task(o) => {
                    s.push_str(o);
                    s.push_str(".hostname");
                }
            }
        }
        FactCheck::Link { ifname, want } => {
            s.push_str(".link.");
            s.push_str(ifname);
            s.push_str(match want {
                LinkState::Up => " == up",
                LinkState::Down => " == down",
                LinkState::Absent => " == absent",
            });
        }
        FactCheck::Interfaces(n) => {
            s.push_str(".interfaces == ");
            s.push_str(&n.join(","));
        }
        FactCheck::State(st) => {
            let _ = write!(s, ".state == {}", state_text(TaskState::from(*st)));
        }
    }
}

fn write_body(f: &mut fmt::Formatter<'_>, body: &[Stmt], indent: usize) -> fmt::Result {
    for s in body {
        writeln!(f, "{:indent$}{}", "", stmt_line(s))?;
        if let Stmt::Repeat { body, .. } = s {
            write_body(f, body, indent + 2)?;
            writeln!(f, "{:indent$}end", "")?;
        }
    }
    Ok(())
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# {}", self.name)?;
        for line in self.explanation.lines() {
            if line.is_empty() {
                writeln!(f, "#")?;
            } else {
                writeln!(f, "# {line}")?;
            }
        }
        write_body(f, &self.body, 0)
    }
}
