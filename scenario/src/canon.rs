//! Canonical views: what a task sees, with every number that differs between machines
//! replaced by a structural name.
//!
//! Namespace inodes become `net#0`, `net#1`, ... in order of first appearance within one run
//! (the root task's namespaces are always `#0`); pids are kept only at the levels of pid
//! namespaces the scenario created; the root's hostname and the root's interfaces become
//! `<root>`. Two backends that agree produce equal views.

use nslab_sim::capability::CAP_FULL_SET;
use nslab_sim::machine::{NsEntry, NsType, TaskState, TaskView};
use nslab_sim::Errno;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Renames one backend's inode numbers to labels, per namespace type, in order of first
/// appearance.
#[derive(Clone, Debug, Default)]
pub struct Canonicalizer {
    labels: HashMap<(NsType, u64), u32>,
    next: HashMap<NsType, u32>,
    /// The root task's hostname, shown as `<root>`.
    pub root_hostname: Option<String>,
}

impl Canonicalizer {
    /// The label of an inode of this type: `pid#0`, `pid#1`, ...
    pub fn label(&mut self, ty: NsType, inum: u64) -> String {
        let n = match self.labels.get(&(ty, inum)) {
            Some(n) => *n,
            None => {
                let next = self.next.entry(ty).or_insert(0);
                let n = *next;
                *next += 1;
                self.labels.insert((ty, inum), n);
                n
            }
        };
        format!("{}#{n}", ty.proc_name())
    }

    /// Forgets the labels of namespaces no running task shows any more. Such a namespace can
    /// never be observed again, and the kernel may free it late (network namespaces in a work
    /// queue, pid namespaces after RCU) while the model frees it at once: a reused inode must
    /// get a fresh label on both sides. Labels are never handed out twice.
    pub fn retain(&mut self, held: &std::collections::HashSet<(NsType, u64)>) {
        self.labels.retain(|k, _| held.contains(k));
    }

    /// The canonical form of one observation.
    pub fn view(&mut self, state: TaskState, view: &TaskView) -> CanonView {
        let mut ns = Vec::new();
        for entry in NsEntry::ALL {
            let v = match view.ns(entry) {
                Ok(inum) => self.label(entry.ns_type(), inum),
                Err(e) => e.name(),
            };
            ns.push((entry, v));
        }
        let in_root_net = ns
            .iter()
            .any(|(e, v)| *e == NsEntry::Net && v.as_str() == "net#0");
        let hostname = match &self.root_hostname {
            Some(h) if *h == view.hostname => "<root>".to_string(),
            _ => view.hostname.clone(),
        };
        let interfaces = if in_root_net {
            "<root>".to_string()
        } else {
            view.interfaces
                .iter()
                .map(|i| format!("{}:{}", i.name, if i.up { "up" } else { "down" }))
                .collect::<Vec<_>>()
                .join(",")
        };
        // The first NSpid number is in the root task's pid namespace, whose numbers depend on
        // the machine; getppid() of a task there is such a number too.
        let pids: Vec<i32> = view.nspid.iter().skip(1).copied().collect();
        let ppid = if view.nspid.len() > 1 || view.ppid == 0 {
            view.ppid.to_string()
        } else {
            "<root>".to_string()
        };
        CanonView {
            state: state_name(state),
            ns,
            pids,
            ppid,
            uid: view.uid,
            gid: view.gid,
            caps: caps_name(view.cap_eff),
            hostname,
            interfaces,
        }
    }
}

/// A task's view with machine-dependent numbers replaced by structure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonView {
    pub state: String,
    pub ns: Vec<(NsEntry, String)>,
    /// The `NSpid` numbers below the root task's pid namespace.
    pub pids: Vec<i32>,
    pub ppid: String,
    pub uid: u32,
    pub gid: u32,
    pub caps: String,
    pub hostname: String,
    pub interfaces: String,
}

impl fmt::Display for CanonView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        for (e, v) in &self.ns {
            write!(f, " {}={v}", e.file_name())?;
        }
        let pids: Vec<String> = self.pids.iter().map(|p| p.to_string()).collect();
        write!(
            f,
            " nspid=[<root>{}{}] ppid={} uid={} gid={} caps={} hostname={} if={}",
            if pids.is_empty() { "" } else { "," },
            pids.join(","),
            self.ppid,
            self.uid,
            self.gid,
            self.caps,
            self.hostname,
            self.interfaces
        )
    }
}

/// `running`, `exited 0`, `killed 9`.
pub fn state_name(s: TaskState) -> String {
    match s {
        TaskState::Running => "running".into(),
        TaskState::Exited(c) => format!("exited {c}"),
        TaskState::Killed(s) => format!("killed {s}"),
    }
}

/// `all`, `none` or the hex set.
pub fn caps_name(c: u64) -> String {
    match c {
        CAP_FULL_SET => "all".into(),
        0 => "none".into(),
        c => format!("{c:#x}"),
    }
}

/// The errno or `ok` of a readlink, for reports.
pub fn errno_or(r: Result<String, Errno>) -> String {
    match r {
        Ok(s) => s,
        Err(e) => e.name(),
    }
}
