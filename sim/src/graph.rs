//! The model's namespace graph: every task, its nsproxy and namespaces, owners, pid-namespace
//! parents and reference counts, in the shape `nslab-graph` draws (the same shape the live
//! system gives, so that the two can be compared side by side).
//!
//! This module mirrors no kernel file; it reads the model's arenas, as `inventory.rs` does.
//! The stepper and the book call [`build`] after any step; [`Baseline`] taken before a step
//! marks what the step made.

use crate::kernel::{Kernel, NsproxyRef, TaskRef};
use crate::machine::TaskId;
use nslab_graph::{Graph, Namespace, NsKind, Nsproxy, Source, Task};
use std::collections::{BTreeMap, BTreeSet};

/// What existed before a step: namespaces by inode, tasks by global pid, nsproxies by slot
/// and contents (a slot is reused after a free, so the contents are part of the identity).
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    namespaces: BTreeSet<(NsKind, u64)>,
    tasks: BTreeSet<i32>,
    nsproxies: BTreeSet<(u32, Vec<u64>)>,
}

impl Baseline {
    /// What `k` holds now.
    pub fn of(k: &Kernel) -> Baseline {
        let g = build(k, &[], None);
        Baseline {
            namespaces: g.namespaces.iter().map(|n| (n.kind, n.inum)).collect(),
            tasks: g
                .tasks
                .iter()
                .filter_map(|t| t.nspid.first().copied())
                .collect(),
            nsproxies: g.nsproxies.iter().map(|p| nsproxy_key(&g, p)).collect(),
        }
    }
}

/// An nsproxy's slot and the inodes it points at.
fn nsproxy_key(g: &Graph, p: &Nsproxy) -> (u32, Vec<u64>) {
    let slot = p
        .name
        .strip_prefix("nsproxy#")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX);
    (
        slot,
        p.entries
            .iter()
            .map(|(_, i)| g.namespaces[*i].inum)
            .collect(),
    )
}

/// The graph of the model now. `names` names tasks by handle (scenario labels); a task
/// without a name is `init_task` (pid 1), `init` (the scenario's root, when it is another
/// task) or `task`. With a `baseline`, what is not
/// in it is marked new.
pub fn build(k: &Kernel, names: &[(TaskId, String)], baseline: Option<&Baseline>) -> Graph {
    let title = format!("model of Linux {}", k.version.tag());
    let mut g = Graph::new(Source::Model, title);
    let mut index: BTreeMap<(NsKind, u64), usize> = BTreeMap::new();
    for info in k.namespaces() {
        let kind = NsKind::from(info.ty);
        index.insert((kind, info.inum), g.namespaces.len());
        g.namespaces.push(Namespace {
            kind,
            inum: info.inum,
            dev: None,
            count: Some(info.count),
            level: info.level,
            owner: None,
            parent: None,
            held_by: Vec::new(),
            new: false,
        });
    }
    let user = |inum: u64| index.get(&(NsKind::User, inum)).copied();
    for info in k.namespaces() {
        let i = index[&(NsKind::from(info.ty), info.inum)];
        g.namespaces[i].owner = info.owner.and_then(user);
    }
    for (_, p) in k.pid_namespaces.iter() {
        if let Some(parent) = p.parent {
            let pi = k.pid_namespaces[parent].ns.inum;
            let i = index[&(NsKind::Pid, p.ns.inum)];
            g.namespaces[i].parent = index.get(&(NsKind::Pid, pi)).copied();
        }
    }

    // Nsproxies in slot order, then tasks by global pid.
    let mut proxies: Vec<(NsproxyRef, &crate::nsproxy::Nsproxy)> = k.nsproxies.iter().collect();
    proxies.sort_by_key(|(r, _)| r.0);
    let mut proxy_index: BTreeMap<u32, usize> = BTreeMap::new();
    for (r, p) in proxies {
        let at = |kind: NsKind, inum: u64| index[&(kind, inum)];
        let mut entries = vec![
            (
                "uts_ns",
                at(NsKind::Uts, k.uts_namespaces[p.uts_ns].ns.inum),
            ),
            (
                "ipc_ns",
                at(NsKind::Ipc, k.ipc_namespaces[p.ipc_ns].ns.inum),
            ),
            (
                "mnt_ns",
                at(NsKind::Mnt, k.mnt_namespaces[p.mnt_ns].ns.inum),
            ),
            (
                "pid_ns_for_children",
                at(NsKind::Pid, k.pid_namespaces[p.pid_ns_for_children].ns.inum),
            ),
            ("net_ns", at(NsKind::Net, k.nets[p.net_ns].ns.inum)),
        ];
        if let Some(t) = p.time_ns {
            entries.push(("time_ns", at(NsKind::Time, k.time_namespaces[t].ns.inum)));
        }
        if let Some(t) = p.time_ns_for_children {
            entries.push((
                "time_ns_for_children",
                at(NsKind::Time, k.time_namespaces[t].ns.inum),
            ));
        }
        entries.push((
            "cgroup_ns",
            at(NsKind::Cgroup, k.cgroup_namespaces[p.cgroup_ns].ns.inum),
        ));
        proxy_index.insert(r.0, g.nsproxies.len());
        g.nsproxies.push(Nsproxy {
            name: format!("nsproxy#{}", r.0),
            count: Some(p.count),
            entries,
            inferred: false,
            new: false,
        });
    }

    let mut tasks: Vec<(i32, TaskRef)> = k
        .tasks
        .iter()
        .map(|(i, t)| (k.pids[t.pid].nr_global(), i))
        .collect();
    tasks.sort();
    for (_, t) in tasks {
        let task = &k.tasks[t];
        let pid = &k.pids[task.pid];
        let nspid: Vec<i32> = pid.numbers.iter().map(|u| u.nr).collect();
        let cred = &k.creds[task.cred];
        let name = k
            .handle_of(t)
            .and_then(|h| names.iter().find(|(id, _)| *id == h))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| {
                if t == k.init_task {
                    "init_task".to_string()
                } else if t == k.root_task {
                    "init".to_string()
                } else {
                    "task".to_string()
                }
            });
        let active = pid.numbers.last().map(|u| u.ns);
        g.tasks.push(Task {
            name,
            nspid,
            nsproxy: task.nsproxy.and_then(|n| proxy_index.get(&n.0).copied()),
            user_ns: user(k.user_namespaces[cred.user_ns].ns.inum),
            pid_ns: active
                .and_then(|ns| index.get(&(NsKind::Pid, k.pid_namespaces[ns].ns.inum)))
                .copied(),
            new: false,
        });
    }

    if let Some(b) = baseline {
        for n in &mut g.namespaces {
            n.new = !b.namespaces.contains(&(n.kind, n.inum));
        }
        for t in &mut g.tasks {
            t.new = t.nspid.first().is_some_and(|p| !b.tasks.contains(p));
        }
        let keys: Vec<(u32, Vec<u64>)> = g.nsproxies.iter().map(|p| nsproxy_key(&g, p)).collect();
        for (p, key) in g.nsproxies.iter_mut().zip(keys) {
            p.new = !b.nsproxies.contains(&key);
        }
    }
    g.normalize();
    g
}
