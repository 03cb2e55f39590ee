//! A stepping session of `nslab step`: gdb-like commands over one recorded call. The state
//! shown at event `k` is the recording folded up to `k` (`nslab_sim::stepper`), so `back`
//! is exact: nothing is re-run. Here in the library so that the benchmark times the very
//! commands the CLI runs.

use nslab_graph::Format;
use nslab_sim::stepper::{
    fold, graph_at, initial_state, model_module, refusal, stack_at, Recorded, State,
};
use nslab_sim::trace::{render_tree, source_url, Record, Step};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Every command, for `help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "step",
        "step [N]: the next N events (default 1), into calls",
    ),
    (
        "next",
        "next: to the next event of this function, over calls",
    ),
    ("finish", "finish: until the current function returns"),
    ("continue", "continue: to the next breakpoint, or the end"),
    ("back", "back [N]: N events backwards (default 1); exact"),
    ("break", "break FUNCTION: stop when FUNCTION is entered"),
    ("delete", "delete [FUNCTION]: remove one breakpoint, or all"),
    ("bt", "bt: the open functions, innermost first"),
    (
        "list",
        "list: the kernel source of the current function (v6.18) and the model's",
    ),
    (
        "print",
        "print task|cred|nsproxy|NSTYPE|pid|net|all: objects and counts now",
    ),
    (
        "graph",
        "graph: the object graph now, as `nslab graph` draws it",
    ),
    (
        "why",
        "why: for a refused call, the rule, its kernel file and function",
    ),
    ("help", "help: this list"),
    ("quit", "quit: leave"),
];

pub const PRINT_WHAT: &[&str] = &[
    "task", "cred", "nsproxy", "mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time", "all",
];

/// A stepping session: the recording, where it stands and the breakpoints.
pub struct Session {
    pub rec: Recorded,
    initial: State,
    /// Events applied so far (0 = before the call, `records.len()` = after it).
    pub pos: usize,
    breaks: BTreeSet<String>,
}

impl Session {
    pub fn new(rec: Recorded) -> Session {
        let initial = initial_state(&rec.before);
        Session {
            rec,
            initial,
            pos: 0,
            breaks: BTreeSet::new(),
        }
    }

    pub fn n(&self) -> usize {
        self.rec.records.len()
    }

    /// The state now: the recording folded up to `pos`.
    pub(crate) fn state(&self) -> State {
        fold(&self.initial, &self.rec.records, self.pos)
    }

    /// The line for the position: the event just taken, or the start/end.
    pub fn here(&self) -> String {
        if self.pos == 0 {
            return format!("[0/{}] before {}", self.n(), self.rec.description);
        }
        let r = &self.rec.records[self.pos - 1];
        let line = render_tree(std::slice::from_ref(r));
        let mut s = format!("[{}/{}] {}", self.pos, self.n(), line.trim());
        if self.pos == self.n() {
            let _ = write!(
                s,
                "\n[end] {} = {}",
                self.rec.description,
                self.rec
                    .errno
                    .map_or("0".to_string(), |e| format!("-{}", e.name()))
            );
        }
        s
    }

    /// Runs one command line; `None` means quit.
    pub fn command(&mut self, line: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else {
            return Some(String::new());
        };
        let arg = words.next();
        let count = || arg.and_then(|a| a.parse::<usize>().ok()).unwrap_or(1);
        let full = COMMANDS
            .iter()
            .map(|(c, _)| *c)
            .find(|c| *c == cmd || (!cmd.is_empty() && c.starts_with(cmd) && unique_prefix(cmd)));
        let out = match full.unwrap_or(cmd) {
            "quit" => return None,
            "step" => {
                self.pos = (self.pos + count()).min(self.n());
                self.here()
            }
            "next" => {
                // The next event of this function: a function it calls is passed over in
                // one go (from its `->` to its `<-`). Before the call, into the entry point.
                let inside = !stack_at(&self.rec.records, self.pos).is_empty();
                if self.pos < self.n() {
                    self.pos += 1;
                    let e = &self.rec.records[self.pos - 1];
                    if inside && e.step == Step::Enter {
                        let d = e.depth;
                        while self.pos < self.n() {
                            self.pos += 1;
                            let r = &self.rec.records[self.pos - 1];
                            if r.depth == d && matches!(r.step, Step::Leave { .. }) {
                                break;
                            }
                        }
                    }
                }
                self.here()
            }
            "finish" => {
                let depth = stack_at(&self.rec.records, self.pos).len();
                while self.pos < self.n() {
                    self.pos += 1;
                    let r = &self.rec.records[self.pos - 1];
                    if matches!(r.step, Step::Leave { .. }) && r.depth + 1 == depth.max(1) {
                        break;
                    }
                }
                self.here()
            }
            "continue" => {
                let mut hit = None;
                while self.pos < self.n() {
                    self.pos += 1;
                    let r = &self.rec.records[self.pos - 1];
                    if r.step == Step::Enter && self.breaks.contains(r.function) {
                        hit = Some(r.function);
                        break;
                    }
                }
                match hit {
                    Some(f) => format!("breakpoint {f}\n{}", self.here()),
                    None => self.here(),
                }
            }
            "back" => {
                self.pos = self.pos.saturating_sub(count());
                self.here()
            }
            "break" => match arg {
                None => "break needs a function: break copy_net_ns".to_string(),
                Some(f) => {
                    let known = self.rec.records.iter().any(|r| r.function == f);
                    self.breaks.insert(f.to_string());
                    if known {
                        format!("breakpoint at {f}")
                    } else {
                        format!("breakpoint at {f} (this call never enters it)")
                    }
                }
            },
            "delete" => match arg {
                None => {
                    self.breaks.clear();
                    "all breakpoints deleted".to_string()
                }
                Some(f) if self.breaks.remove(f) => format!("breakpoint at {f} deleted"),
                Some(f) => format!("no breakpoint at {f}"),
            },
            "bt" => {
                let stack = stack_at(&self.rec.records, self.pos);
                if stack.is_empty() {
                    "no function is open here".to_string()
                } else {
                    let mut s = String::new();
                    for (i, (f, file)) in stack.iter().rev().enumerate() {
                        let _ = writeln!(s, "#{i} {f}() at {file}");
                    }
                    s.trim_end().to_string()
                }
            }
            "list" => self.list(),
            "print" => self.print(arg.unwrap_or("all")),
            "graph" => {
                let st = self.state();
                let g = graph_at(&self.rec.before, &self.rec.after, &st, self.pos, self.n());
                Format::Tree.render(&g).trim_end().to_string()
            }
            "why" => match (self.rec.errno, refusal(&self.rec.records)) {
                (Some(e), Some((rule, f, file))) => format!(
                    "-{} ({}): refused by {f}() in {file}: {rule}\n  kernel: {}\n  model: {}\n  rules: docs/kernel-rules.md ({file})",
                    e.name(),
                    e.description(),
                    source_url(self.rec.kernel, file),
                    model_module(file)
                ),
                (Some(e), None) => format!("-{}: no recorded check refused it", e.name()),
                (None, _) => "the call succeeded: nothing refused it".to_string(),
            },
            "help" => COMMANDS
                .iter()
                .map(|(_, h)| format!("  {h}"))
                .collect::<Vec<_>>()
                .join("\n"),
            other => format!("unknown command '{other}'; try help"),
        };
        Some(out)
    }

    fn list(&self) -> String {
        let r: Option<&Record> = if self.pos == 0 {
            self.rec.records.first()
        } else {
            self.rec.records.get(self.pos - 1)
        };
        match r {
            None => "nothing recorded".to_string(),
            Some(r) => format!(
                "{}() in {}\n  kernel: {}\n  ident:  https://elixir.bootlin.com/linux/{}/C/ident/{}\n  model:  {} (fn {})",
                r.function,
                r.file,
                source_url(self.rec.kernel, r.file),
                self.rec.kernel,
                r.function,
                model_module(r.file),
                r.function
            ),
        }
    }

    fn print(&self, what: &str) -> String {
        if !PRINT_WHAT.contains(&what) {
            return format!("print what? valid: {}", PRINT_WHAT.join(", "));
        }
        let st = self.state();
        let prefix = |key: &str| -> bool {
            match what {
                "all" => true,
                "task" => key == "task_struct",
                "cred" => key.starts_with("cred"),
                "nsproxy" => key.starts_with("nsproxy"),
                "pid" => key.starts_with("pid:") || key.starts_with("struct pid"),
                ty => key.starts_with(&format!("{ty}:")) || (ty == "net" && key == "net_device"),
            }
        };
        let mut s = String::new();
        for (key, count) in st.counts.iter().filter(|(k, _)| prefix(k)) {
            let mark = if st.allocated.contains(key) {
                "  (new)"
            } else if st.changed.contains(key) {
                "  (changed)"
            } else {
                ""
            };
            let _ = writeln!(s, "{key} count {count}{mark}");
        }
        for key in st.freed.iter().filter(|k| prefix(k)) {
            let _ = writeln!(s, "{key} freed");
        }
        if s.is_empty() {
            format!("no {what} object is recorded at this point")
        } else {
            s.trim_end().to_string()
        }
    }
}

/// Whether a command prefix names one command only (`s` is step, `b` back, `n` next).
fn unique_prefix(p: &str) -> bool {
    matches!(
        p,
        "s" | "n" | "c" | "b" | "p" | "l" | "g" | "w" | "h" | "q" | "f" | "d"
    ) || COMMANDS.iter().filter(|(c, _)| c.starts_with(p)).count() == 1
}
