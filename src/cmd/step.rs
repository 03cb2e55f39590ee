//! `nslab step`: gdb-like commands over one recorded call. The state shown at event `k` is
//! the recording folded up to `k` (`nslab_sim::stepper`), so `back` is exact: nothing is
//! re-run. On a terminal it reads commands with line editing, completion and history
//! (rustyline); otherwise it reads lines and prints plain text, so a session is a
//! transcript.

use super::out::outln;
use super::trace::{record, TraceArgs};
use nslab::session::{Session, COMMANDS, PRINT_WHAT};
use std::io::{BufRead, IsTerminal};

/// Arguments of `nslab step`: those of `nslab trace`, plus commands to run first.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nslab step clone 'CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET'
  nslab step -x 'break copy_net_ns' -x continue -x 'print net' -x quit clone newnet
  nslab step scenarios/pid-levels-nest.scn --at 5
  nslab step clone newpid < session.txt            (commands from a file, plain output)

Commands: step [N], next, finish, continue, back [N], break FUNCTION, delete [FUNCTION], bt,
list, print task|cred|nsproxy|NSTYPE|pid|net|all, graph, why, help, quit")]
pub struct StepArgs {
    /// Run this command first (repeatable, like gdb's -ex); the session then reads its
    /// input unless a command was `quit`.
    #[arg(short = 'x', long = "ex", value_name = "CMD")]
    pub commands: Vec<String>,

    #[command(flatten)]
    pub trace: TraceArgs,
}

/// Runs `nslab step`.
pub fn run(args: StepArgs) -> anyhow::Result<u8> {
    if args.trace.json || args.trace.html {
        return Err(super::UsageError(
            "--json and --html go with nslab trace; nslab step is a session".into(),
        )
        .into());
    }
    let rec = record(&args.trace)?;
    let mut s = Session::new(rec);
    outln!(
        "{} (model of Linux {}): {} events; type help",
        s.rec.description,
        s.rec.kernel,
        s.n()
    );
    outln!("{}", s.here());
    for c in &args.commands {
        outln!("(nslab) {c}");
        match s.command(c) {
            None => return Ok(0),
            Some(out) if !out.is_empty() => outln!("{out}"),
            Some(_) => {}
        }
    }
    if std::io::stdin().is_terminal() {
        interactive(&mut s)
    } else {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            outln!("(nslab) {line}");
            match s.command(line) {
                None => break,
                Some(out) if !out.is_empty() => outln!("{out}"),
                Some(_) => {}
            }
        }
        Ok(0)
    }
}

/// The terminal session: rustyline with completion of commands, print targets and the
/// functions of this recording, and history.
fn interactive(s: &mut Session) -> anyhow::Result<u8> {
    use rustyline::completion::{Completer, Pair};
    use rustyline::error::ReadlineError;
    use rustyline::{Context, Helper, Highlighter, Hinter, Validator};

    #[derive(Helper, Highlighter, Hinter, Validator)]
    struct Complete {
        functions: Vec<&'static str>,
    }
    impl Completer for Complete {
        type Candidate = Pair;
        fn complete(
            &self,
            line: &str,
            pos: usize,
            _: &Context<'_>,
        ) -> rustyline::Result<(usize, Vec<Pair>)> {
            let head = &line[..pos];
            let start = head.rfind(' ').map_or(0, |i| i + 1);
            let word = &head[start..];
            let words: Vec<&str> = if start == 0 {
                COMMANDS.iter().map(|(c, _)| *c).collect()
            } else if head.starts_with("print ") || head.starts_with("p ") {
                PRINT_WHAT.to_vec()
            } else {
                self.functions.clone()
            };
            let pairs = words
                .into_iter()
                .filter(|w| w.starts_with(word))
                .map(|w| Pair {
                    display: w.to_string(),
                    // A completed word is followed by a space, ready for the next one.
                    replacement: format!("{w} "),
                })
                .collect();
            Ok((start, pairs))
        }
    }
    let mut functions: Vec<&'static str> = s.rec.records.iter().map(|r| r.function).collect();
    functions.sort_unstable();
    functions.dedup();
    let mut ed: rustyline::Editor<Complete, rustyline::history::DefaultHistory> =
        rustyline::Editor::new()?;
    ed.set_helper(Some(Complete { functions }));
    let mut last = String::new();
    loop {
        match ed.readline("(nslab) ") {
            Ok(line) => {
                // An empty line repeats the last command, as in gdb.
                let line = if line.trim().is_empty() {
                    last.clone()
                } else {
                    let _ = ed.add_history_entry(line.as_str());
                    line
                };
                last = line.clone();
                match s.command(&line) {
                    None => break,
                    Some(out) if !out.is_empty() => outln!("{out}"),
                    Some(_) => {}
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(0)
}
