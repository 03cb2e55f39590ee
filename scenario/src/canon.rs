//! Canonical views: what a task sees, with every number that differs between machines
//! replaced by a structural name.
//!
//! Namespace inodes become `net#0`, `net#1`, ... in order of first appearance within one run
//! (the root task's namespaces are always `#0`); pids are kept only at the levels of pid
//! namespaces the scenario created; the root's hostname and the root's interfaces become
//! `<root>`. Two backends that agree produce equal views.

use nslab_machine::capability::CapSet;
use nslab_machine::machine::{Interfaces, NsEntry, NsPids, NsType, TaskState, TaskView, UtsName};
use nslab_machine::Errno;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Renames one backend's inode numbers to labels, per namespace type, in order of first
/// appearance.
#[derive(Clone, Debug, Default)]
pub struct Canonicalizer {
    /// Every labelled inode with its label. A hash map: a scenario of the set labels a few
    /// dozen, but one of hundreds of clones labels thousands, and a list searched in order
    /// made such a run quadratic (`last` below keeps most lookups off the map).
    labels: HashMap<(NsType, u64), u32>,
    next: [u32; 8],
    /// The last inode looked up per type and its label: consecutive views mostly show the
    /// same namespaces, and this skips the map (it showed in profiles of the benchmark).
    last: [Option<(u64, u32)>; 8],
    /// The root task's hostname, shown as `<root>`.
    pub root_hostname: Option<UtsName>,
    /// How many times [`Canonicalizer::retain`] has dropped labels: a canonical view
    /// computed in the same epoch from the same observation is the same.
    epoch: u64,
}

fn type_index(t: NsType) -> usize {
    match t {
        NsType::Mnt => 0,
        NsType::Uts => 1,
        NsType::Ipc => 2,
        NsType::Pid => 3,
        NsType::Net => 4,
        NsType::User => 5,
        NsType::Cgroup => 6,
        NsType::Time => 7,
    }
}

impl Canonicalizer {
    /// The label number of an inode of this type: 0, 1, ... in order of first appearance.
    pub(crate) fn label(&mut self, ty: NsType, inum: u64) -> u32 {
        let t = type_index(ty);
        if let Some((i, n)) = self.last[t] {
            if i == inum {
                return n;
            }
        }
        let next = &mut self.next[t];
        let n = *self.labels.entry((ty, inum)).or_insert_with(|| {
            *next += 1;
            *next - 1
        });
        self.last[t] = Some((inum, n));
        n
    }

    /// Forgets the labels of namespaces no running task shows any more. Such a namespace can
    /// never be observed again, and the kernel may free it late (network namespaces in a work
    /// queue, pid namespaces after RCU) while the model frees it at once: a reused inode must
    /// get a fresh label on both sides. Labels are never handed out twice.
    /// `held` is sorted (a few dozen entries at most: a sorted list beats a hash set here).
    pub(crate) fn retain(&mut self, held: &[(NsType, u64)]) {
        let before = self.labels.len();
        self.labels.retain(|k, _| held.binary_search(k).is_ok());
        if self.labels.len() != before {
            self.epoch += 1;
        }
        self.last = [None; 8];
    }

    /// The current epoch (see the field): labels are only ever added within one, so every
    /// inode labelled in it keeps its label until it ends.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The canonical form of one observation.
    pub fn view(&mut self, state: TaskState, view: &TaskView) -> CanonView {
        let mut ns = [None; NS_ENTRIES];
        for (i, entry) in NsEntry::ALL.into_iter().enumerate() {
            // Backends list the entries in /proc order; look further only if one does not.
            let found = match view.ns.get(i) {
                Some((e, r)) if *e == entry => *r,
                _ => view.ns(entry),
            };
            ns[i] = Some(match found {
                Ok(inum) => NsLabel::Ns(self.label(entry.ns_type(), inum)),
                Err(e) => NsLabel::Errno(e),
            });
        }
        let in_root_net = ns[entry_index(NsEntry::Net)] == Some(NsLabel::Ns(0));
        let hostname = match &self.root_hostname {
            Some(h) if *h == view.hostname => None,
            _ => Some(view.hostname),
        };
        let interfaces = if in_root_net {
            None
        } else {
            Some(Interfaces::from_slice(&view.interfaces))
        };
        // The first NSpid number is in the root task's pid namespace, whose numbers depend on
        // the machine; getppid() of a task there is such a number too.
        let mut pids = NsPids::new();
        if let Some(below) = view.nspid.get(1..) {
            pids.try_extend_from_slice(below)
                .expect("a part of an NSpid line fits where the line did");
        }
        let ppid = (view.nspid.len() > 1 || view.ppid == 0).then_some(view.ppid);
        CanonView {
            state,
            ns,
            pids,
            ppid,
            uid: view.uid,
            gid: view.gid,
            caps: view.cap_eff,
            hostname,
            interfaces,
            observe_error: None,
        }
    }
}

/// How many entries `/proc/<pid>/ns/` has.
pub(crate) const NS_ENTRIES: usize = NsEntry::ALL.len();

/// The position of an entry in `/proc/<pid>/ns/` order ([`NsEntry::ALL`]).
pub(crate) const fn entry_index(e: NsEntry) -> usize {
    match e {
        NsEntry::Net => 0,
        NsEntry::Uts => 1,
        NsEntry::Ipc => 2,
        NsEntry::Pid => 3,
        NsEntry::PidForChildren => 4,
        NsEntry::User => 5,
        NsEntry::Mnt => 6,
        NsEntry::Cgroup => 7,
        NsEntry::Time => 8,
        NsEntry::TimeForChildren => 9,
    }
}

/// A namespace as one `/proc/<pid>/ns` entry shows it, canonical: `pid#0` or the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NsLabel {
    /// The n-th namespace of its type, in order of first appearance (`#n`).
    Ns(u32),
    /// Reading the link failed with this errno.
    Errno(Errno),
}

impl NsLabel {
    /// The label of an entry of this type as text: `pid#3`, or the errno name. The one
    /// spelling of labels (views, observed texts, disagreements).
    pub fn display(self, ty: NsType) -> impl fmt::Display {
        LabelText(self, ty)
    }
}

/// An [`NsLabel`] of an entry of this type, as a `Display`.
struct LabelText(NsLabel, NsType);

impl fmt::Display for LabelText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // Written piece by piece: the judge writes a label into most observed texts, and
            // this is cheaper than formatting through `write!`.
            NsLabel::Ns(n) => {
                f.write_str(self.1.proc_name())?;
                f.write_str("#")?;
                f.write_str(itoa::Buffer::new().format(n))
            }
            NsLabel::Errno(e) => write!(f, "{}", e.display_name()),
        }
    }
}

/// A task's view with machine-dependent numbers replaced by structure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonView {
    /// Whether it runs.
    pub state: TaskState,
    /// Each `/proc/<pid>/ns/` entry, indexed in [`NsEntry::ALL`] order (a fixed array, not a
    /// list: views are built at every step, and this saves an allocation each); all `None` for
    /// a task that does not run.
    pub ns: [Option<NsLabel>; NS_ENTRIES],
    /// The `NSpid` numbers below the root task's pid namespace.
    pub pids: NsPids,
    /// `None` for a parent pid in the root task's pid namespace.
    pub ppid: Option<i32>,
    /// `getuid()`.
    pub uid: u32,
    /// `getgid()`.
    pub gid: u32,
    /// The effective capability set.
    pub caps: u64,
    /// `None` when it is the root task's hostname.
    pub hostname: Option<UtsName>,
    /// `None` in the root task's network namespace.
    pub interfaces: Option<Interfaces>,
    /// Why the task could not be observed (`state` or `observe` gave this errno).
    pub observe_error: Option<Errno>,
}

impl CanonView {
    /// The view of a task that does not run (or could not be observed, with `note`).
    pub(crate) fn gone(state: TaskState) -> CanonView {
        CanonView {
            state,
            ns: [None; NS_ENTRIES],
            pids: NsPids::new(),
            ppid: None,
            uid: 0,
            gid: 0,
            caps: 0,
            hostname: None,
            interfaces: None,
            observe_error: None,
        }
    }

    /// The view of a task that `state` or `observe` refused with this errno.
    pub(crate) fn unobservable(e: Errno) -> CanonView {
        CanonView {
            observe_error: Some(e),
            ..CanonView::gone(TaskState::Running)
        }
    }

    /// The label of one entry.
    pub fn ns(&self, entry: NsEntry) -> Option<NsLabel> {
        self.ns[entry_index(entry)]
    }
}

impl fmt::Display for CanonView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.observe_error {
            return write!(f, "observe: {}", e.display_name());
        }
        write!(f, "{}", state_text(self.state))?;
        if self.state != TaskState::Running {
            return Ok(());
        }
        for (e, v) in NsEntry::ALL.iter().zip(&self.ns) {
            if let Some(v) = v {
                write!(f, " {}={}", e.file_name(), v.display(e.ns_type()))?;
            }
        }
        let pids: Vec<String> = self.pids.iter().map(|p| p.to_string()).collect();
        write!(
            f,
            " nspid=[<root>{}{}] ppid={} uid={} gid={} caps={:#} hostname={} if={}",
            if pids.is_empty() { "" } else { "," },
            pids.join(","),
            self.ppid.map_or("<root>".into(), |p| p.to_string()),
            self.uid,
            self.gid,
            CapSet(self.caps),
            self.hostname.as_deref().unwrap_or("<root>"),
            match &self.interfaces {
                None => "<root>".to_string(),
                Some(list) => list
                    .iter()
                    .map(|i| format!("{}:{}", i.name, if i.up { "up" } else { "down" }))
                    .collect::<Vec<_>>()
                    .join(","),
            }
        )
    }
}

/// A task's state as text: `running`, `exited 0`, `killed 9`.
pub(crate) fn state_text(s: TaskState) -> impl fmt::Display {
    StateText(s)
}

struct StateText(TaskState);

impl fmt::Display for StateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TaskState::Running => f.write_str("running"),
            TaskState::Exited(c) => write!(f, "exited {c}"),
            TaskState::Killed(s) => write!(f, "killed {s}"),
        }
    }
}
