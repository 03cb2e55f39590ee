//! The parsed form of a scenario file: a name, an explanation and statements.
//!
//! Every statement keeps the line and column it came from, so that a report can point at the
//! line of the file a student is reading.

use nslab_machine::machine::{NsEntry, NsFd, TaskState};
use nslab_machine::Errno;
use nslab_machine::Op;
use serde::{Deserialize, Serialize};

/// Where a statement starts in its file (both 1-based, columns counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

/// One scenario file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// The name on the first line (`# unshare-newpid-moves-only-children`).
    pub name: String,
    /// The comment lines under the name: which kernel rule, with its function and file.
    pub explanation: String,
    /// The statements, in order.
    pub body: Vec<Stmt>,
}

/// One statement of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stmt {
    /// `A = init` or `A = B`: one more name for a task.
    Alias {
        span: Span,
        label: String,
        target: String,
    },
    /// `[B =] A: call args [-> outcome]`: one system call made by task `A`.
    Call(CallStmt),
    /// `expect FACT`: what a task sees of itself at this point.
    Expect { span: Span, fact: Fact },
    /// `repeat COUNT` ... `end`: the body, COUNT times.
    Repeat {
        span: Span,
        count: Count,
        body: Vec<Stmt>,
    },
}

impl Stmt {
    /// Where the statement starts.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Alias { span, .. } | Stmt::Expect { span, .. } | Stmt::Repeat { span, .. } => {
                *span
            }
            Stmt::Call(c) => c.span,
        }
    }
}

/// `[bind =] task: call [-> outcome]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStmt {
    pub span: Span,
    /// The label given to the child of a successful clone.
    pub bind: Option<String>,
    /// The label of the task that makes the call.
    pub task: String,
    pub call: Call,
    /// What the call must give back. A step without `->` must succeed.
    pub expect: ExpectOutcome,
}

/// How many times a `repeat` block runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Count {
    /// A plain number.
    Fixed(u32),
    /// `pid_levels_left`: how many more pid namespaces nest below the root task's
    /// (`MAX_PID_NS_LEVEL` 32 minus the root's level), so that a depth-limit scenario holds
    /// wherever the real root helper runs.
    PidLevelsLeft,
    /// `user_levels_left`: how many more user namespaces nest below the root task's
    /// (33 minus the root's level: `create_user_ns` refuses a parent above level 32).
    UserLevelsLeft,
}

/// The deepest pid namespace level (`MAX_PID_NS_LEVEL`, include/linux/pid_namespace.h).
pub use nslab_machine::MAX_PID_NS_LEVEL;
/// The deepest user namespace level: `create_user_ns` refuses when the parent's level is
/// above 32 (kernel/user_namespace.c), so level 33 is the last that exists.
pub const MAX_USER_NS_LEVEL: u32 = 33;

/// One system call, as the format writes it (`clone NEWPID`, `setns B.ns.net`, ...): the
/// contract's operation, with other tasks named by their labels.
pub type Call = Op<String>;

/// The file descriptor a `setns` step opens: `B.ns.net` (`/proc/<B>/ns/net`) or `pidfd B`.
pub type FdRef = NsFd<String>;

/// The expected result of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectOutcome {
    /// `-> ok`, or no arrow.
    Ok,
    /// `-> EINVAL`.
    Errno(Errno),
    /// `-> any`: not judged, only compared between backends (random sequences use it).
    Any,
}

/// `expect TASK.FIELD CHECK`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub task: String,
    pub check: FactCheck,
}

/// What an `expect` line says about a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactCheck {
    /// `A.ns.net == B.ns.net` (or `!=`): the two links name the same namespace, or not.
    SameNs {
        entry: NsEntry,
        equal: bool,
        other: String,
        other_entry: NsEntry,
    },
    /// `A.ns.pid_for_children -> ENOENT`: readlink fails with this errno.
    NsErrno { entry: NsEntry, errno: Errno },
    /// `A.pid == 1`, `A.uid != 0`, `A.level == B.level`: a number.
    Int {
        field: IntField,
        equal: bool,
        rhs: IntRhs,
    },
    /// `A.caps has CAP_SYS_ADMIN` (or `lacks`).
    CapsHas { caps: u64, has: bool },
    /// `A.caps == all` / `== none` / `== 0x...`.
    CapsEq(u64),
    /// `A.hostname == "name"` or `== B.hostname` (or `!=`).
    Hostname { equal: bool, rhs: StrRhs },
    /// `A.link.lo == up` / `down` / `absent`.
    Link { ifname: String, want: LinkState },
    /// `A.interfaces == lo` or `== lo,veth0`: the names, in ifindex order.
    Interfaces(Vec<String>),
    /// `A.state == running` / `exited 0` / `killed 9`.
    State(StateWant),
}

/// A numeric field of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntField {
    /// The pid in the task's own pid namespace (the last `NSpid` number).
    Pid,
    /// How many pid namespaces the task is below the root task's (`NSpid` length - 1).
    Level,
    /// `getppid()`, in the task's own pid namespace.
    Ppid,
    Uid,
    Gid,
}

impl IntField {
    /// The name after the dot.
    pub fn name(self) -> &'static str {
        match self {
            IntField::Pid => "pid",
            IntField::Level => "level",
            IntField::Ppid => "ppid",
            IntField::Uid => "uid",
            IntField::Gid => "gid",
        }
    }

    /// The field with this name.
    pub fn from_name(s: &str) -> Option<IntField> {
        Some(match s {
            "pid" => IntField::Pid,
            "level" => IntField::Level,
            "ppid" => IntField::Ppid,
            "uid" => IntField::Uid,
            "gid" => IntField::Gid,
            _ => return None,
        })
    }
}

/// The right side of a numeric comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntRhs {
    Lit(i64),
    Field(String, IntField),
}

/// The right side of a hostname comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrRhs {
    Lit(String),
    /// Another task's hostname.
    Task(String),
}

/// What `A.link.NAME` should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkState {
    Up,
    Down,
    Absent,
}

/// What `A.state` should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateWant {
    Running,
    Exited(i32),
    Killed(i32),
}

impl From<StateWant> for TaskState {
    fn from(s: StateWant) -> TaskState {
        match s {
            StateWant::Running => TaskState::Running,
            StateWant::Exited(c) => TaskState::Exited(c),
            StateWant::Killed(s) => TaskState::Killed(s),
        }
    }
}
