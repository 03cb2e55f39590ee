//! The pure stepper behind `nslab step` and `nslab trace --html`: the state at event `k` of a
//! recorded call is the recording folded up to `k`, so stepping backwards is exact (Python
//! Tutor's design: record once, then move over the recording).
//!
//! This module mirrors no kernel file. It never runs the model: it reads the records of
//! [`crate::trace`] and the graph of the model before and after the call.

use crate::errno::Errno;
use crate::trace::{Record, Step};
use nslab_graph::{Graph, NsKind};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
/// One recorded call: what `nslab step` and `nslab trace --html` walk over.
pub struct Recorded {
    /// The call as C writes it.
    pub description: String,
    /// The kernel tag (`v6.18`).
    pub kernel: &'static str,
    /// Every step the call recorded.
    pub records: Vec<Record>,
    /// The model's graph before and after the call.
    pub before: Graph,
    /// The graph after the call.
    pub after: Graph,
    /// The errno when the call was refused.
    pub errno: Option<Errno>,
}

/// The name of the object an `Alloc`/`Get`/`Put`/`Free` event is about: the first word of
/// its text (`net:[4026531842]`, `cred#1`, `nsproxy#1`, `task_struct`), or for a `struct pid` its
/// numbers (`struct pid [2@L0 1@L1]`).
pub fn object_key(object: &str) -> &str {
    match object.strip_prefix("struct ") {
        // `struct pid [2@L0 1@L1]`: the numbers are the name.
        Some(rest) => match rest.find(']') {
            Some(end) => &object[..7 + end + 1],
            None => object,
        },
        None => object.split_whitespace().next().unwrap_or(object),
    }
}

/// The count an `Alloc` event's text states (`... count 1 ...`), else 1.
fn alloc_count(object: &str) -> u64 {
    let mut words = object.split(|c: char| c.is_whitespace() || c == ',' || c == ')');
    while let Some(w) = words.next() {
        if w == "count" {
            if let Some(n) = words.next().and_then(|n| n.parse().ok()) {
                return n;
            }
        }
    }
    1
}

/// The objects and their counts at one point of a call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Every object known by name with its reference count (namespaces and nsproxies from
    /// the graph before the call, then whatever the events name).
    pub counts: BTreeMap<String, u64>,
    /// Objects freed so far.
    pub freed: BTreeSet<String>,
    /// Objects allocated so far.
    pub allocated: BTreeSet<String>,
    /// Objects whose count changed so far.
    pub changed: BTreeSet<String>,
}

/// The state before the call: the counts of every namespace (`net:[4026531840]`) and
/// nsproxy (`nsproxy#0`) in `before`.
pub fn initial_state(before: &Graph) -> State {
    let mut s = State::default();
    for n in &before.namespaces {
        if let Some(c) = n.count {
            s.counts.insert(ns_key(n.kind, n.inum), c);
        }
    }
    for p in &before.nsproxies {
        if let Some(c) = p.count {
            s.counts.insert(p.name.clone(), c);
        }
    }
    s
}

/// A namespace's name in the records: `net:[4026531840]`.
pub(crate) fn ns_key(kind: NsKind, inum: u64) -> String {
    format!("{}:[{inum}]", kind.name())
}

/// Applies one event: the pure step of the fold.
pub fn apply(s: &mut State, r: &Record) {
    match &r.step {
        Step::Alloc { object } => {
            let key = object_key(object).to_string();
            s.counts.insert(key.clone(), alloc_count(object));
            s.freed.remove(&key);
            s.allocated.insert(key.clone());
            s.changed.insert(key);
        }
        Step::Get { object, count } | Step::Put { object, count } => {
            let key = object_key(object).to_string();
            s.counts.insert(key.clone(), *count);
            s.changed.insert(key);
        }
        Step::Free { object } => {
            let key = object_key(object).to_string();
            s.counts.remove(&key);
            s.freed.insert(key.clone());
            s.changed.insert(key);
        }
        Step::Enter | Step::Leave { .. } | Step::Check { .. } | Step::Set { .. } => {}
    }
}

/// The state after the first `k` events: `initial` folded over `records[..k]`.
pub fn fold(initial: &State, records: &[Record], k: usize) -> State {
    let mut s = initial.clone();
    for r in &records[..k.min(records.len())] {
        apply(&mut s, r);
    }
    s
}

/// The functions open after the first `k` events, outermost first (what `bt` prints).
pub fn stack_at(records: &[Record], k: usize) -> Vec<(&'static str, &'static str)> {
    let mut stack = Vec::new();
    for r in &records[..k.min(records.len())] {
        match r.step {
            Step::Enter => stack.push((r.function, r.file)),
            Step::Leave { .. } => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack
}

/// The object graph after the first `k` of `n` events: at 0 the graph before the call, at
/// `n` the graph after it; in between the graph before the call with every namespace and
/// nsproxy count folded up to `k`, the namespaces allocated so far (their links as after
/// the call) marked new, and those freed so far shown with count 0.
pub fn graph_at(before: &Graph, after: &Graph, state: &State, k: usize, n: usize) -> Graph {
    if k >= n {
        return after.clone();
    }
    let mut g = before.clone();
    for ns in &mut g.namespaces {
        let key = ns_key(ns.kind, ns.inum);
        if state.freed.contains(&key) {
            ns.count = Some(0);
        } else if let Some(c) = state.counts.get(&key) {
            ns.count = Some(*c);
        }
    }
    for p in &mut g.nsproxies {
        if state.freed.contains(&p.name) {
            p.count = Some(0);
        } else if let Some(c) = state.counts.get(&p.name) {
            p.count = Some(*c);
        }
    }
    // Namespaces born so far, as the graph after the call has them (owners and parents
    // re-pointed into this graph when they exist here).
    let born: Vec<usize> = after
        .namespaces
        .iter()
        .enumerate()
        .filter(|(_, ns)| {
            g.find(ns.kind, ns.inum).is_none()
                && state.allocated.contains(&ns_key(ns.kind, ns.inum))
        })
        .map(|(i, _)| i)
        .collect();
    let first = g.namespaces.len();
    for &i in &born {
        let mut ns = after.namespaces[i].clone();
        ns.count = state.counts.get(&ns_key(ns.kind, ns.inum)).copied();
        ns.new = true;
        ns.owner = None;
        ns.parent = None;
        g.namespaces.push(ns);
    }
    for (j, &i) in born.iter().enumerate() {
        let relink = |x: Option<usize>, g: &Graph| {
            x.and_then(|o| {
                let t = &after.namespaces[o];
                g.find(t.kind, t.inum)
            })
        };
        let owner = relink(after.namespaces[i].owner, &g);
        let parent = relink(after.namespaces[i].parent, &g);
        g.namespaces[first + j].owner = owner;
        g.namespaces[first + j].parent = parent;
    }
    g.normalize();
    g
}

/// The last refused check in `records`: (rule, function, file) of the refusal.
pub fn refusal(records: &[Record]) -> Option<(&str, &'static str, &'static str)> {
    records.iter().rev().find_map(|r| match &r.step {
        Step::Check {
            rule,
            refused: true,
            ..
        } => Some((rule.as_str(), r.function, r.file)),
        _ => None,
    })
}

/// The model's source file for a kernel file (the code map of ARCHITECTURE.md).
pub fn model_module(kernel_file: &str) -> &'static str {
    match kernel_file {
        "kernel/fork.c" => "sim/src/fork.rs",
        "kernel/nsproxy.c" => "sim/src/nsproxy.rs",
        "kernel/cred.c" => "sim/src/cred.rs",
        "security/commoncap.c" => "sim/src/commoncap.rs",
        "kernel/user_namespace.c" => "sim/src/user_namespace.rs",
        "kernel/ucount.c" => "sim/src/ucount.rs",
        "kernel/pid.c" => "sim/src/pid.rs",
        "kernel/pid_namespace.c" => "sim/src/pid_namespace.rs",
        "kernel/exit.c" => "sim/src/exit.rs",
        "net/core/net_namespace.c" => "sim/src/net_namespace.rs",
        "net/core/dev.c" | "net/core/dev_ioctl.c" => "sim/src/dev.rs",
        "drivers/net/loopback.c" => "sim/src/loopback.rs",
        "kernel/utsname.c" => "sim/src/utsname.rs",
        "ipc/namespace.c" => "sim/src/ipc_namespace.rs",
        "kernel/cgroup/namespace.c" => "sim/src/cgroup_namespace.rs",
        "kernel/time/namespace.c" => "sim/src/time_namespace.rs",
        "fs/namespace.c" => "sim/src/mnt_namespace.rs",
        "kernel/sys.c" => "sim/src/sys.rs",
        "fs/proc/generic.c" => "sim/src/proc_generic.rs",
        "fs/proc/namespaces.c" | "fs/proc/array.c" => "sim/src/proc.rs",
        "init/main.c" | "init/init_task.c" => "sim/src/init_main.rs",
        _ => "sim/src/syscalls.rs",
    }
}
