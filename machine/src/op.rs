//! The operations of a [`Machine`] as values: one enum, [`Op`], with the arguments of each
//! call, and [`Op::apply`], which makes the call on any machine.
//!
//! Everything that holds or sends an operation uses this type: the scenario format (where
//! other tasks are named by labels), the random sequences (by index), the real backend's
//! helper protocol (by pid) and the property tests. The text of an operation is read and
//! written in one place, the scenario grammar (`nslab-scenario`'s `parse` and `print`).

use crate::machine::{
    CloneArgs, CloneVia, IdMapExtent, IdMapKind, Machine, NsFd, NsType, SysResult, TaskId,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// One system call made by one task, with its arguments. `T` names the other task an
/// operation refers to (the target of `setns` or of an id map write): a [`TaskId`] on a
/// machine, a label in a scenario file, an index in a random sequence, a pid in the real
/// backend's protocol.
///
/// A backend makes each of them in [`Machine::syscall`]; each also has a method of its own on
/// [`Machine`], named after the system call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op<T = TaskId> {
    /// `clone FLAGS` or `clone3 FLAGS`: [`Machine::clone_task`].
    Clone(CloneArgs),
    /// `unshare FLAGS`: [`Machine::unshare`].
    Unshare(u64),
    /// `setns B.ns.ENTRY [NSTYPE]` or `setns pidfd B FLAGS`: [`Machine::setns`].
    Setns { fd: NsFd<T>, nstype: u64 },
    /// `exit CODE`: [`Machine::exit`].
    Exit(i32),
    /// `setresuid UID`: [`Machine::setresuid`].
    Setresuid(u32),
    /// `setresgid GID`: [`Machine::setresgid`].
    Setresgid(u32),
    /// `drop_caps CAP[|CAP...]`: [`Machine::drop_caps`].
    DropCaps(u64),
    /// `uid_map B FIRST LOWER COUNT` or `gid_map B ...`: the caller writes B's map
    /// ([`Machine::write_id_map`]).
    WriteIdMap {
        target: T,
        kind: IdMapKind,
        extents: Vec<IdMapExtent>,
    },
    /// `sethostname NAME`: [`Machine::sethostname`].
    Sethostname(String),
    /// `link_up IFNAME`: [`Machine::link_up`].
    LinkUp(String),
    /// `set_max_namespaces TYPE N`: [`Machine::set_max_namespaces`].
    SetMaxNamespaces(NsType, u32),
}

impl<T> Op<T> {
    /// The word that names the call in the scenario format (`clone3`, `uid_map`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Clone(a) if a.via == CloneVia::Clone3 => "clone3",
            Op::Clone(_) => "clone",
            Op::Unshare(_) => "unshare",
            Op::Setns { .. } => "setns",
            Op::Exit(_) => "exit",
            Op::Setresuid(_) => "setresuid",
            Op::Setresgid(_) => "setresgid",
            Op::DropCaps(_) => "drop_caps",
            Op::WriteIdMap {
                kind: IdMapKind::Uid,
                ..
            } => "uid_map",
            Op::WriteIdMap { .. } => "gid_map",
            Op::Sethostname(_) => "sethostname",
            Op::LinkUp(_) => "link_up",
            Op::SetMaxNamespaces(..) => "set_max_namespaces",
        }
    }

    /// The other task the operation names, if any.
    pub fn target(&self) -> Option<&T> {
        match self {
            Op::Setns { fd, .. } => Some(fd.task()),
            Op::WriteIdMap { target, .. } => Some(target),
            _ => None,
        }
    }

    /// The same operation, the task it names mapped by `f`.
    pub fn try_map<U, E>(&self, f: impl FnOnce(&T) -> Result<U, E>) -> Result<Op<U>, E> {
        Ok(match self {
            Op::Clone(a) => Op::Clone(*a),
            Op::Unshare(f) => Op::Unshare(*f),
            Op::Setns { fd, nstype } => Op::Setns {
                fd: fd.try_map(f)?,
                nstype: *nstype,
            },
            Op::Exit(c) => Op::Exit(*c),
            Op::Setresuid(u) => Op::Setresuid(*u),
            Op::Setresgid(g) => Op::Setresgid(*g),
            Op::DropCaps(c) => Op::DropCaps(*c),
            Op::WriteIdMap {
                target,
                kind,
                extents,
            } => Op::WriteIdMap {
                target: f(target)?,
                kind: *kind,
                extents: extents.clone(),
            },
            Op::Sethostname(n) => Op::Sethostname(n.clone()),
            Op::LinkUp(i) => Op::LinkUp(i.clone()),
            Op::SetMaxNamespaces(t, m) => Op::SetMaxNamespaces(*t, *m),
        })
    }

    /// The same operation, the task it names mapped by `f`.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Op<U> {
        match self.try_map(|t| Ok::<U, Infallible>(f(t))) {
            Ok(op) => op,
            Err(e) => match e {},
        }
    }
}

impl Op<TaskId> {
    /// Makes the call on `m` as `task` ([`Machine::syscall`]): the child of a clone, `None` for
    /// every other call.
    pub fn apply(&self, m: &mut dyn Machine, task: TaskId) -> SysResult<Option<TaskId>> {
        m.syscall(task, self)
    }
}
