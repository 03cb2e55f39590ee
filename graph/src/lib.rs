//! nslab-graph: the picture of the lesson as data, and its renderers.
//!
//! A [`Graph`] holds tasks, the nsproxies they point at, the namespaces those point at, the
//! user namespace that owns each namespace and the parent of each pid and user namespace,
//! with reference counts where they are known and a mark on what a step made new. The model
//! (`nslab_sim::graph`) and the live system (`nslab_real::inspect::graph`) build the same
//! shape, so that the two can be drawn side by side.
//!
//! This crate is pure (no I/O, no `unsafe`) and depends on neither backend. It renders a
//! graph ([`Format::render`]) as a terminal tree ([`Format::Tree`]), Graphviz DOT
//! ([`Format::Dot`]), Mermaid ([`Format::Mermaid`]) and SVG laid out in-process by the
//! `layout-rs` crate ([`Format::Svg`]). Every renderer is deterministic: the same graph gives
//! the same bytes.
//!
//! It is plumbing between the workspace's crates rather than a user's API: the model's
//! builder (`nslab_sim::graph`), the live one (`nslab_real::inspect::graph`) and the
//! binary's `nslab graph`, `nslab step` and `nslab trace --html` share these types. A user
//! meets a [`Graph`] as what `nslab_sim::graph::build` returns, and draws it with
//! [`Format::render`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use serde::Serialize;
use std::fmt::Write as _;

mod render;

use render::{render_dot, render_mermaid, render_svg, render_tree};

/// The eight namespace types, named as `/proc/<pid>/ns/` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NsKind {
    /// `mnt`
    Mnt,
    /// `uts`
    Uts,
    /// `ipc`
    Ipc,
    /// `pid`
    Pid,
    /// `net`
    Net,
    /// `user`
    User,
    /// `cgroup`
    Cgroup,
    /// `time`
    Time,
}

impl From<nslab_machine::NsType> for NsKind {
    /// The graph's name for a namespace type of the contract (the model's and the kernel's).
    fn from(ty: nslab_machine::NsType) -> Self {
        use nslab_machine::NsType;
        match ty {
            NsType::Mnt => NsKind::Mnt,
            NsType::Uts => NsKind::Uts,
            NsType::Ipc => NsKind::Ipc,
            NsType::Pid => NsKind::Pid,
            NsType::Net => NsKind::Net,
            NsType::User => NsKind::User,
            NsType::Cgroup => NsKind::Cgroup,
            NsType::Time => NsKind::Time,
        }
    }
}

impl NsKind {
    /// All eight.
    pub const ALL: [NsKind; 8] = [
        NsKind::Mnt,
        NsKind::Uts,
        NsKind::Ipc,
        NsKind::Pid,
        NsKind::Net,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
    ];

    /// `mnt`, `uts`, ...: the name readlink shows (`net:[4026531833]`).
    pub const fn name(self) -> &'static str {
        match self {
            NsKind::Mnt => "mnt",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// The fill colour of this type in DOT, Mermaid and SVG (a qualitative palette, one
    /// colour per type, readable with black text).
    pub(crate) const fn colour(self) -> &'static str {
        match self {
            NsKind::Mnt => "#8dd3c7",
            NsKind::Uts => "#ffffb3",
            NsKind::Ipc => "#bebada",
            NsKind::Pid => "#fb8072",
            NsKind::Net => "#80b1d3",
            NsKind::User => "#fdb462",
            NsKind::Cgroup => "#b3de69",
            NsKind::Time => "#fccde5",
        }
    }
}

/// One namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// Its type (`type` in JSON).
    #[serde(rename = "type")]
    pub kind: NsKind,
    /// The inode number readlink shows.
    pub inum: u64,
    /// The nsfs device (`st_dev`) where known: identity is `(dev, inum)` on a live system.
    pub dev: Option<u64>,
    /// The reference count, where known (the model knows it; the kernel does not show it).
    pub count: Option<u64>,
    /// The nesting level of a pid or user namespace, where known.
    pub level: Option<u32>,
    /// Index in [`Graph::namespaces`] of the owning user namespace (for a user namespace:
    /// its parent). `None` for the initial user namespace, or where it cannot be read.
    pub owner: Option<usize>,
    /// Index of the parent pid namespace (pid namespaces only).
    pub parent: Option<usize>,
    /// What keeps it alive besides tasks (a bind mount path, an fd, a child's parent link),
    /// in words; empty when only tasks hold it.
    pub held_by: Vec<String>,
    /// Made by the step being shown.
    pub new: bool,
}

impl Namespace {
    /// `net:[4026531833]`.
    pub fn label(&self) -> String {
        format!("{}:[{}]", self.kind.name(), self.inum)
    }
}

/// One nsproxy: the set of namespaces that its tasks use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Nsproxy {
    /// A name for it: `nsproxy#0` in the model (its arena slot); on a live system, where
    /// nsproxies are not visible, `nsset#N` for a set of tasks with the same namespaces.
    pub name: String,
    /// Its reference count, where known.
    pub count: Option<u64>,
    /// `(entry, index in Graph::namespaces)`, entries named as `struct nsproxy`'s fields
    /// (include/linux/nsproxy.h), in its order: `uts_ns`, `ipc_ns`, `mnt_ns`,
    /// `pid_ns_for_children`, `net_ns`, `time_ns`, `time_ns_for_children`, `cgroup_ns`;
    /// an entry that is absent (no time namespaces in 4.19, or not readable) is left out.
    pub entries: Vec<(&'static str, usize)>,
    /// Inferred from the tasks' `/proc/<pid>/ns/*` links (live), not read from the kernel.
    pub inferred: bool,
    /// Made by the step being shown.
    pub new: bool,
}

/// One task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    /// How the task is named: a scenario label, `init`, or a command name.
    pub name: String,
    /// Its pid at every pid-namespace level, outermost first (`NSpid`).
    pub nspid: Vec<i32>,
    /// Index in [`Graph::nsproxies`].
    pub nsproxy: Option<usize>,
    /// Index of its credentials' user namespace in [`Graph::namespaces`].
    pub user_ns: Option<usize>,
    /// Index of its active pid namespace (the one its `struct pid` was allocated in).
    pub pid_ns: Option<usize>,
    /// Made by the step being shown.
    pub new: bool,
}

impl Task {
    /// `5709/72`: the pid at every level, outermost first.
    pub fn pids(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.nspid.iter().enumerate() {
            if i > 0 {
                s.push('/');
            }
            let _ = write!(s, "{p}");
        }
        s
    }
}

/// Where a graph comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The model.
    Model,
    /// The running kernel.
    Live,
}

/// Tasks, nsproxies and namespaces, with indices between them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// The model or the running kernel.
    pub source: Source,
    /// One line saying what is drawn (`model of Linux v6.18 after clone(...)`).
    pub title: String,
    /// The tasks; [`Task::nsproxy`] indexes [`Graph::nsproxies`].
    pub tasks: Vec<Task>,
    /// The nsproxies; their entries index [`Graph::namespaces`].
    pub nsproxies: Vec<Nsproxy>,
    /// The namespaces; owners and parents index this list.
    pub namespaces: Vec<Namespace>,
}

impl Graph {
    /// An empty graph.
    pub fn new(source: Source, title: impl Into<String>) -> Graph {
        Graph {
            source,
            title: title.into(),
            tasks: Vec::new(),
            nsproxies: Vec::new(),
            namespaces: Vec::new(),
        }
    }

    /// The index of the namespace `(kind, inum)`, if present.
    pub fn find(&self, kind: NsKind, inum: u64) -> Option<usize> {
        self.namespaces
            .iter()
            .position(|n| n.kind == kind && n.inum == inum)
    }

    /// Sorts namespaces by (type order, inode) and renumbers every index, so that two
    /// builders that found the same objects in a different order give the same graph.
    pub fn normalize(&mut self) {
        let mut order: Vec<usize> = (0..self.namespaces.len()).collect();
        order.sort_by_key(|&i| {
            let n = &self.namespaces[i];
            (n.kind, n.inum, n.dev)
        });
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let map = |i: &mut Option<usize>| {
            if let Some(x) = i {
                *x = new_index[*x];
            }
        };
        let mut namespaces: Vec<Namespace> =
            order.iter().map(|&i| self.namespaces[i].clone()).collect();
        for n in &mut namespaces {
            map(&mut n.owner);
            map(&mut n.parent);
        }
        self.namespaces = namespaces;
        for p in &mut self.nsproxies {
            for (_, i) in &mut p.entries {
                *i = new_index[*i];
            }
        }
        for t in &mut self.tasks {
            map(&mut t.user_ns);
            map(&mut t.pid_ns);
        }
    }

    /// Checks that every index points inside the graph (a builder's bug otherwise).
    pub fn validate(&self) -> Result<(), String> {
        let ns = self.namespaces.len();
        let ok = |i: Option<usize>, n: usize| !matches!(i, Some(x) if x >= n);
        for (i, n) in self.namespaces.iter().enumerate() {
            if !ok(n.owner, ns) || !ok(n.parent, ns) {
                return Err(format!("namespace {i} points outside the graph"));
            }
        }
        for (i, p) in self.nsproxies.iter().enumerate() {
            if p.entries.iter().any(|(_, x)| *x >= ns) {
                return Err(format!("nsproxy {i} points outside the graph"));
            }
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if !ok(t.nsproxy, self.nsproxies.len()) || !ok(t.user_ns, ns) || !ok(t.pid_ns, ns) {
                return Err(format!("task {i} points outside the graph"));
            }
        }
        Ok(())
    }
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A terminal tree: tasks, their nsproxies, the namespaces, owners and parents.
    Tree,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// SVG, laid out in-process by `layout-rs` (no Graphviz binary needed).
    Svg,
}

impl Format {
    /// Parses `tree`, `dot`, `mermaid` or `svg`.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "tree" => Format::Tree,
            "dot" => Format::Dot,
            "mermaid" => Format::Mermaid,
            "svg" => Format::Svg,
            _ => return None,
        })
    }

    /// Renders `g` in this format.
    pub fn render(self, g: &Graph) -> String {
        match self {
            Format::Tree => render_tree(g),
            Format::Dot => render_dot(g),
            Format::Mermaid => render_mermaid(g),
            Format::Svg => render_svg(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(kind: NsKind, inum: u64, owner: Option<usize>) -> Namespace {
        Namespace {
            kind,
            inum,
            dev: None,
            count: None,
            level: None,
            owner,
            parent: None,
            held_by: Vec::new(),
            new: false,
        }
    }

    /// Two builders that found the same objects in another order give the same graph.
    #[test]
    fn normalize_sorts_and_renumbers() {
        let mut a = Graph::new(Source::Live, "t");
        a.namespaces = vec![
            ns(NsKind::Net, 20, Some(1)),
            ns(NsKind::User, 10, None),
            ns(NsKind::Mnt, 30, Some(1)),
        ];
        a.nsproxies.push(Nsproxy {
            name: "p".into(),
            count: None,
            entries: vec![("net_ns", 0), ("mnt_ns", 2)],
            inferred: true,
            new: false,
        });
        a.tasks.push(Task {
            name: "t".into(),
            nspid: vec![5, 1],
            nsproxy: Some(0),
            user_ns: Some(1),
            pid_ns: None,
            new: false,
        });
        let mut b = a.clone();
        b.namespaces = vec![
            ns(NsKind::User, 10, None),
            ns(NsKind::Mnt, 30, Some(0)),
            ns(NsKind::Net, 20, Some(0)),
        ];
        b.nsproxies[0].entries = vec![("net_ns", 2), ("mnt_ns", 1)];
        b.tasks[0].user_ns = Some(0);
        a.normalize();
        b.normalize();
        assert_eq!(a, b);
        assert_eq!(a.namespaces[0].kind, NsKind::Mnt);
        assert_eq!(a.find(NsKind::User, 10), Some(2));
        assert!(a.validate().is_ok());
        assert_eq!(a.tasks[0].pids(), "5/1");
        for f in ["tree", "dot", "mermaid", "svg"] {
            let f = Format::parse(f).unwrap();
            assert_eq!(f.render(&a), f.render(&b));
        }
    }

    #[test]
    fn validate_catches_a_bad_index() {
        let mut g = Graph::new(Source::Model, "t");
        g.namespaces.push(ns(NsKind::Net, 1, Some(7)));
        assert!(g.validate().is_err());
    }
}
