//! Prints scenarios back in the file format: the judge's step texts, and the files that
//! `nslab check` writes for a disagreement. `parse(print(s))` gives `s` back, up to spans.

use crate::ast::*;
use nslab_machine::capability::{cap_name, CAP_FULL_SET, CAP_LAST_CAP};
use nslab_machine::machine::NsType;
use nslab_machine::sched::FLAG_NAMES;
use nslab_machine::Errno;
use std::fmt::{self, Write};

/// `CLONE_NEWNS|CLONE_NEWPID`, `0` for none, unknown bits in hex: the same text as
/// `nslab_machine::sched::flags_to_string`, built in one buffer because the judge prints every
/// step it runs.
pub fn flags_to_string(flags: u64) -> String {
    let mut s = String::with_capacity(48);
    push_flags(&mut s, flags);
    s
}

/// [`flags_to_string`], appended to `s`.
fn push_flags(s: &mut String, flags: u64) {
    if flags == 0 {
        s.push('0');
        return;
    }
    let start = s.len();
    let mut rest = flags;
    for (name, v) in FLAG_NAMES {
        if flags & v == v {
            if s.len() > start {
                s.push('|');
            }
            s.push_str(name);
            rest &= !v;
        }
    }
    if rest != 0 {
        if s.len() > start {
            s.push('|');
        }
        let _ = write!(s, "{rest:#x}");
    }
}

/// `EINVAL`, as `Errno::name` spells it, appended to `s` without a string of its own.
fn push_errno(s: &mut String, e: Errno) {
    match e.c_name() {
        Some(name) => s.push_str(name),
        None => {
            let _ = write!(s, "E{}", e.as_raw());
        }
    }
}

/// One statement on one line (a `repeat` prints only its header). The judge prints every
/// statement it runs into its record, so everything goes into one buffer.
pub fn stmt_line(st: &Stmt) -> String {
    let mut s = String::with_capacity(64);
    push_stmt_line(&mut s, st);
    s
}

/// [`stmt_line`], appended to a buffer.
pub fn push_stmt_line(s: &mut String, st: &Stmt) {
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
pub fn call_line(c: &CallStmt) -> String {
    let mut s = String::with_capacity(64);
    push_call_line(&mut s, c);
    s
}

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
            s.push_str(" -> ");
            push_errno(s, e);
        }
        ExpectOutcome::Any => s.push_str(" -> any"),
    }
}

/// The call and its arguments: `setns B.ns.net CLONE_NEWNET`.
pub fn call_text(c: &Call) -> String {
    let mut s = String::with_capacity(48);
    push_call(&mut s, c);
    s
}

fn push_call(s: &mut String, c: &Call) {
    s.push_str(c.name());
    s.push(' ');
    match c {
        Call::Clone(a) => push_flags(s, a.flags),
        Call::Unshare(f) => push_flags(s, *f),
        Call::Setns { fd, nstype } => match fd {
            FdRef::File { task, entry } => {
                s.push_str(task);
                s.push_str(".ns.");
                s.push_str(entry.file_name());
                if *nstype != 0 {
                    s.push(' ');
                    push_flags(s, *nstype);
                }
            }
            FdRef::Pidfd { task } => {
                s.push_str("pidfd ");
                s.push_str(task);
                s.push(' ');
                push_flags(s, *nstype);
            }
        },
        Call::Exit(n) => {
            let _ = write!(s, "{n}");
        }
        Call::Setresuid(n) | Call::Setresgid(n) => {
            let _ = write!(s, "{n}");
        }
        Call::DropCaps(caps) => s.push_str(&caps_text(*caps)),
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
            let _ = write!(s, "{} {n}", ns_type_name(*ty));
        }
    }
}

fn ns_type_name(t: NsType) -> &'static str {
    t.proc_name()
}

fn caps_text(caps: u64) -> String {
    if caps == CAP_FULL_SET {
        return "all".into();
    }
    let names: Vec<String> = (0..=CAP_LAST_CAP)
        .filter(|c| caps & (1u64 << c) != 0)
        .map(|c| {
            let n = cap_name(c);
            // Unnamed capabilities print as numbers, which the parser reads back.
            n.strip_prefix("cap_").map(str::to_string).unwrap_or(n)
        })
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
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
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The fact of an `expect` line, without `expect`.
pub fn fact_text(f: &Fact) -> String {
    let mut s = String::with_capacity(48);
    push_fact(&mut s, f);
    s
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
            s.push_str(" -> ");
            push_errno(s, *errno);
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
            s.push_str(&caps_text(*caps));
        }
        FactCheck::CapsEq(c) => match *c {
            CAP_FULL_SET => s.push_str(".caps == all"),
            0 => s.push_str(".caps == none"),
            c => {
                let _ = write!(s, ".caps == {c:#x}");
            }
        },
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
        FactCheck::State(st) => match st {
            StateWant::Running => s.push_str(".state == running"),
            StateWant::Exited(c) => {
                let _ = write!(s, ".state == exited {c}");
            }
            StateWant::Killed(c) => {
                let _ = write!(s, ".state == killed {c}");
            }
        },
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

#[cfg(test)]
mod tests {
    use nslab_machine::sched::*;

    #[test]
    fn flags_print_as_the_model_prints_them() {
        for f in [
            0,
            CLONE_NEWPID,
            CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET,
            CLONE_NEWTIME | CLONE_VM | (1 << 40),
            1 << 50,
        ] {
            assert_eq!(super::flags_to_string(f), flags_to_string(f));
        }
    }
}
