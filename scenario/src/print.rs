//! Prints scenarios back in the file format: the judge's step texts, and the files that
//! `nslab check` writes for a disagreement. `parse(print(s))` gives `s` back, up to spans.

use crate::ast::*;
use crate::parse::call_name;
use nslab_sim::capability::{cap_name, CAP_FULL_SET, CAP_LAST_CAP};
use nslab_sim::machine::NsType;
use nslab_sim::sched::FLAG_NAMES;
use std::fmt::{self, Write};

/// `CLONE_NEWNS|CLONE_NEWPID`, `0` for none, unknown bits in hex: the same text as
/// `nslab_sim::sched::flags_to_string`, built in one buffer because the judge prints every
/// step it runs.
pub fn flags_to_string(flags: u64) -> String {
    let mut s = String::with_capacity(48);
    if flags == 0 {
        s.push('0');
        return s;
    }
    let mut rest = flags;
    for (name, v) in FLAG_NAMES {
        if flags & v == v {
            if !s.is_empty() {
                s.push('|');
            }
            s.push_str(name);
            rest &= !v;
        }
    }
    if rest != 0 {
        if !s.is_empty() {
            s.push('|');
        }
        let _ = write!(s, "{rest:#x}");
    }
    s
}

/// One statement on one line (a `repeat` prints only its header).
pub fn stmt_line(s: &Stmt) -> String {
    match s {
        Stmt::Alias { label, target, .. } => format!("{label} = {target}"),
        Stmt::Call(c) => call_line(c),
        Stmt::Expect { fact, .. } => format!("expect {}", fact_text(fact)),
        Stmt::Repeat { count, .. } => format!("repeat {}", count_text(*count)),
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
    let mut s = String::new();
    if let Some(b) = &c.bind {
        let _ = write!(s, "{b} = ");
    }
    let _ = write!(s, "{}: {}", c.task, call_text(&c.call));
    match c.expect {
        ExpectOutcome::Ok => s.push_str(" -> ok"),
        ExpectOutcome::Errno(e) => {
            let _ = write!(s, " -> {}", e.name());
        }
        ExpectOutcome::Any => s.push_str(" -> any"),
    }
    s
}

/// The call and its arguments: `setns B.ns.net CLONE_NEWNET`.
pub fn call_text(c: &Call) -> String {
    let name = call_name(c);
    match c {
        Call::Clone(a) => format!("{name} {}", flags_to_string(a.flags)),
        Call::Unshare(f) => format!("{name} {}", flags_to_string(*f)),
        Call::Setns { fd, nstype } => {
            let t = match fd {
                FdRef::File { task, entry } => {
                    if *nstype == 0 {
                        format!("{task}.ns.{}", entry.file_name())
                    } else {
                        format!(
                            "{task}.ns.{} {}",
                            entry.file_name(),
                            flags_to_string(*nstype)
                        )
                    }
                }
                FdRef::Pidfd { task } => format!("pidfd {task} {}", flags_to_string(*nstype)),
            };
            format!("{name} {t}")
        }
        Call::Exit(n) => format!("{name} {n}"),
        Call::Setresuid(n) | Call::Setresgid(n) => format!("{name} {n}"),
        Call::DropCaps(caps) => format!("{name} {}", caps_text(*caps)),
        Call::WriteIdMap {
            target, extents, ..
        } => {
            let ext: Vec<String> = extents
                .iter()
                .map(|e| format!("{} {} {}", e.first, e.lower_first, e.count))
                .collect();
            format!("{name} {target} {}", ext.join(", "))
        }
        Call::Sethostname(h) => format!("{name} {}", word_or_string(h)),
        Call::LinkUp(i) => format!("{name} {i}"),
        Call::SetMaxNamespaces(ty, n) => format!("{name} {} {n}", ns_type_name(*ty)),
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
    let t = &f.task;
    let eq = |b: bool| if b { "==" } else { "!=" };
    match &f.check {
        FactCheck::SameNs {
            entry,
            equal,
            other,
            other_entry,
        } => format!(
            "{t}.ns.{} {} {other}.ns.{}",
            entry.file_name(),
            eq(*equal),
            other_entry.file_name()
        ),
        FactCheck::NsErrno { entry, errno } => {
            format!("{t}.ns.{} -> {}", entry.file_name(), errno.name())
        }
        FactCheck::Int { field, equal, rhs } => {
            let r = match rhs {
                IntRhs::Lit(n) => n.to_string(),
                IntRhs::Field(o, f) => format!("{o}.{}", f.name()),
            };
            format!("{t}.{} {} {r}", field.name(), eq(*equal))
        }
        FactCheck::CapsHas { caps, has } => format!(
            "{t}.caps {} {}",
            if *has { "has" } else { "lacks" },
            caps_text(*caps)
        ),
        FactCheck::CapsEq(c) => match *c {
            CAP_FULL_SET => format!("{t}.caps == all"),
            0 => format!("{t}.caps == none"),
            c => format!("{t}.caps == {c:#x}"),
        },
        FactCheck::Hostname { equal, rhs } => {
            let r = match rhs {
                StrRhs::Lit(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                StrRhs::Task(o) => format!("{o}.hostname"),
            };
            format!("{t}.hostname {} {r}", eq(*equal))
        }
        FactCheck::Link { ifname, want } => format!(
            "{t}.link.{ifname} == {}",
            match want {
                LinkState::Up => "up",
                LinkState::Down => "down",
                LinkState::Absent => "absent",
            }
        ),
        FactCheck::Interfaces(n) => format!("{t}.interfaces == {}", n.join(",")),
        FactCheck::State(s) => match s {
            StateWant::Running => format!("{t}.state == running"),
            StateWant::Exited(c) => format!("{t}.state == exited {c}"),
            StateWant::Killed(c) => format!("{t}.state == killed {c}"),
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
    use nslab_sim::sched::*;

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
