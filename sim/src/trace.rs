//! The step recorder: what a course walks through.
//!
//! This module mirrors no kernel file. When recording is on, every modelled kernel function
//! reports entering and leaving, each checked condition with its outcome, each object
//! allocated or freed and each reference count taken or dropped, with the kernel file and
//! function it mirrors. When recording is off the model takes the same path and only skips
//! these records.

use crate::errno::Errno;
use serde::Serialize;
use std::fmt::Write as _;

/// Where a reader can browse the file a step mirrors, in the sources of `version` (a tag
/// such as `v6.18`).
pub fn source_url(version: &str, file: &str) -> String {
    format!("https://elixir.bootlin.com/linux/{version}/source/{file}")
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A kernel function was entered.
    Enter,
    /// The function returned `0` (or a pointer) or `-errno`.
    Leave {
        #[serde(skip_serializing_if = "Option::is_none")]
        /// The errno, or `None` for success.
        errno: Option<Errno>,
    },
    /// A condition the kernel checks; `refused` means it returned `errno`.
    Check {
        /// The condition, in words.
        rule: String,
        /// Whether the kernel refused.
        refused: bool,
        /// The errno it returns when it refuses.
        errno: Errno,
    },
    /// An object was allocated.
    Alloc {
        /// The object.
        object: String,
    },
    /// A reference was taken; `count` is the count after.
    Get {
        /// The object.
        object: String,
        /// The count after.
        count: u64,
    },
    /// A reference was dropped; `count` is the count after.
    Put {
        /// The object.
        object: String,
        /// The count after.
        count: u64,
    },
    /// An object was freed.
    Free {
        /// The object.
        object: String,
    },
    /// A field was assigned or a list changed.
    Set {
        /// What changed.
        what: String,
    },
}

/// One step with where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Nesting depth of the function the step belongs to (0 = the syscall entry).
    pub depth: usize,
    /// The kernel function that takes the step.
    pub function: &'static str,
    /// The kernel source file of that function.
    pub file: &'static str,
    #[serde(flatten)]
    /// The step.
    pub step: Step,
}

/// Collects records; a `Kernel` holds one only while recording is on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recorder {
    records: Vec<Record>,
    stack: Vec<(&'static str, &'static str)>,
}

impl Recorder {
    /// An empty recorder.
    pub(crate) fn new() -> Self {
        Recorder::default()
    }

    /// Enters a function.
    pub(crate) fn enter(&mut self, function: &'static str, file: &'static str) {
        self.records.push(Record {
            depth: self.stack.len(),
            function,
            file,
            step: Step::Enter,
        });
        self.stack.push((function, file));
    }

    /// Leaves the innermost function.
    pub(crate) fn leave(&mut self, errno: Option<Errno>) {
        if let Some((function, file)) = self.stack.pop() {
            self.records.push(Record {
                depth: self.stack.len(),
                function,
                file,
                step: Step::Leave { errno },
            });
        }
    }

    /// Records a step inside the innermost function.
    pub(crate) fn push(&mut self, step: Step) {
        let (function, file) = self.stack.last().copied().unwrap_or(("", ""));
        self.records.push(Record {
            depth: self.stack.len(),
            function,
            file,
            step,
        });
    }

    /// Takes the records out, leaving the recorder empty.
    pub(crate) fn take(&mut self) -> Vec<Record> {
        self.stack.clear();
        std::mem::take(&mut self.records)
    }
}

/// The names of the functions entered, in order: what a test checks the path with.
pub fn functions_entered(records: &[Record]) -> Vec<&'static str> {
    records
        .iter()
        .filter(|r| r.step == Step::Enter)
        .map(|r| r.function)
        .collect()
}

/// Renders records as an indented call tree, one line a step, each ending with the kernel
/// file and function it mirrors.
pub fn render_tree(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let indent = "  ".repeat(r.depth);
        let inner = "  ".repeat(r.depth + 1);
        let text = match &r.step {
            Step::Enter => format!("{indent}-> {}()", r.function),
            Step::Leave { errno } => {
                let ret = match errno {
                    None => "0".to_string(),
                    Some(e) => format!("-{}", e.name()),
                };
                format!("{indent}<- {}() = {ret}", r.function)
            }
            Step::Check {
                rule,
                refused,
                errno,
            } => {
                let verdict = if *refused {
                    format!("yes -> -{}", errno.name())
                } else {
                    "no".to_string()
                };
                format!("{inner}? {rule}: {verdict}")
            }
            Step::Alloc { object } => format!("{inner}+ alloc {object}"),
            Step::Get { object, count } => format!("{inner}+ get {object} (count {count})"),
            Step::Put { object, count } => format!("{inner}- put {object} (count {count})"),
            Step::Free { object } => format!("{inner}- free {object}"),
            Step::Set { what } => format!("{inner}= {what}"),
        };
        let _ = writeln!(out, "{text}  [{}:{}]", r.file, r.function);
    }
    out
}
