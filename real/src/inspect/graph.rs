//! The namespace graph of the running system, in the shape the model's graph has
//! (`nslab_graph::Graph`), built from a [`scan`](super::lsns::scan()).
//!
//! The kernel does not show nsproxies or reference counts to user space: processes whose
//! eight nsproxy entries (`/proc/<pid>/ns/*` without `user` and `pid`) are the same are drawn
//! as one `nsset#N`, marked inferred (the kernel may give them separate nsproxies with the
//! same contents), and counts are left out.

use super::lsns::{scan, Holder, NsId, Rel, Scan, ScanOptions};
use nslab_graph::{Graph, Namespace, NsKind, Nsproxy, Source, Task};
use nslab_machine::{NsEntry, NsType};
use std::collections::{BTreeMap, BTreeSet};

/// The nsproxy entries with the `/proc/<pid>/ns/` link that shows each.
const PROXY_LINKS: [(&str, NsEntry); 8] = [
    ("uts_ns", NsEntry::Uts),
    ("ipc_ns", NsEntry::Ipc),
    ("mnt_ns", NsEntry::Mnt),
    ("pid_ns_for_children", NsEntry::PidForChildren),
    ("net_ns", NsEntry::Net),
    ("time_ns", NsEntry::Time),
    ("time_ns_for_children", NsEntry::TimeForChildren),
    ("cgroup_ns", NsEntry::Cgroup),
];

/// The graph of the processes `pids` (every process when empty) and the namespaces they
/// use, with owners and parents up to the initial ones (or as far as can be read).
pub fn live(pids: &[i32]) -> Result<Graph, String> {
    let s = scan(ScanOptions::default());
    from_scan(&s, pids)
}

/// [`live`] from a scan already made.
pub(crate) fn from_scan(s: &Scan, pids: &[i32]) -> Result<Graph, String> {
    for p in pids {
        if !s.processes.contains_key(p) {
            return Err(format!("no process {p} (or it exited during the scan)"));
        }
    }
    let procs: Vec<&super::lsns::Process> = if pids.is_empty() {
        s.processes.values().collect()
    } else {
        let set: BTreeSet<i32> = pids.iter().copied().collect();
        s.processes
            .values()
            .filter(|p| set.contains(&p.pid))
            .collect()
    };

    // The namespaces to draw: all of them for the whole system, else those the processes
    // use and their owners and parents.
    let mut wanted: BTreeSet<NsId> = BTreeSet::new();
    if pids.is_empty() {
        wanted.extend(s.namespaces.keys().copied());
    } else {
        let mut todo: Vec<NsId> = procs
            .iter()
            .flat_map(|p| p.ns.iter().flatten().copied())
            .collect();
        while let Some(id) = todo.pop() {
            if !wanted.insert(id) {
                continue;
            }
            if let Some(n) = s.namespaces.get(&id) {
                todo.extend(n.owner.ns());
                todo.extend(n.parent.ns());
            }
        }
    }

    let title = if pids.is_empty() {
        "the running kernel: every process".to_string()
    } else {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        format!("the running kernel: process {}", list.join(", "))
    };
    let mut g = Graph::new(Source::Live, title);
    let mut index: BTreeMap<NsId, usize> = BTreeMap::new();
    for id in &wanted {
        let Some(n) = s.namespaces.get(id) else {
            continue;
        };
        index.insert(*id, g.namespaces.len());
        let mut held_by = Vec::new();
        for h in &n.holders {
            match h {
                Holder::Process { .. } => {}
                Holder::Thread { tid, .. } => held_by.push(format!("thread {tid}")),
                Holder::Mount { path, .. } => held_by.push(format!("mount {path}")),
                Holder::Fd { pid, fd } => held_by.push(format!("fd {pid}/{fd}")),
                Holder::Parent { .. } => held_by.push("only a child's parent link".into()),
                Holder::Owner { .. } => held_by.push("only as an owner".into()),
            }
        }
        held_by.dedup();
        g.namespaces.push(Namespace {
            kind: NsKind::from(n.ty),
            inum: id.ino,
            dev: Some(id.dev),
            count: None,
            level: None,
            owner: None,
            parent: None,
            held_by,
            new: false,
        });
    }
    for (id, &i) in &index {
        let n = &s.namespaces[id];
        g.namespaces[i].owner = n.owner.ns().and_then(|o| index.get(&o).copied());
        g.namespaces[i].parent = n.parent.ns().and_then(|p| index.get(&p).copied());
        g.namespaces[i].level = level(s, *id);
    }

    let mut sets: BTreeMap<Vec<Option<NsId>>, usize> = BTreeMap::new();
    for p in procs {
        let key: Vec<Option<NsId>> = PROXY_LINKS.iter().map(|(_, e)| p.ns_of(*e)).collect();
        let nsproxy = if key.iter().all(Option::is_none) {
            None
        } else {
            let next = sets.len();
            let at = *sets.entry(key.clone()).or_insert(next);
            if at == g.nsproxies.len() {
                g.nsproxies.push(Nsproxy {
                    name: format!("nsset#{at}"),
                    count: None,
                    entries: PROXY_LINKS
                        .iter()
                        .zip(&key)
                        .filter_map(|((name, _), id)| {
                            id.and_then(|id| index.get(&id)).map(|i| (*name, *i))
                        })
                        .collect(),
                    inferred: true,
                    new: false,
                });
            }
            Some(at)
        };
        g.tasks.push(Task {
            name: p.comm.clone(),
            nspid: if p.nspid.is_empty() {
                vec![p.pid]
            } else {
                p.nspid.clone()
            },
            nsproxy,
            user_ns: p.ns_of(NsEntry::User).and_then(|u| index.get(&u).copied()),
            pid_ns: p.ns_of(NsEntry::Pid).and_then(|u| index.get(&u).copied()),
            new: false,
        });
    }
    g.normalize();
    g.validate()?;
    Ok(g)
}

/// The level of a pid or user namespace: its number of ancestors, when the chain reaches
/// an initial namespace.
fn level(s: &Scan, id: NsId) -> Option<u32> {
    let n = s.namespaces.get(&id)?;
    if !matches!(n.ty, NsType::Pid | NsType::User) {
        return None;
    }
    let mut cur = n;
    let mut depth = 0;
    loop {
        let up = if cur.ty == NsType::User {
            cur.owner
        } else {
            cur.parent
        };
        match up {
            Rel::None => return Some(depth),
            Rel::Ns(p) => {
                cur = s.namespaces.get(&p)?;
                depth += 1;
                if depth > 40 {
                    return None;
                }
            }
            Rel::Unknown(_) => return None,
        }
    }
}
