//! What `nslab unshare`, `nslab nsenter` and `nslab clone` share in the binary: the model's
//! account of the calls (`--explain`), its comparison with what the kernel shows, the model's
//! rule for a call the kernel refused, and the mapping of an outcome to an exit status and a
//! message. The system calls themselves are made by `nslab_real::live`.
//!
//! The model is booted where this process stands (`caller_origin`: its uid, gid, effective
//! capabilities and namespace levels), the same calls are made on it with the recorder on,
//! and the task that will run the program is observed on both. The comparison is the
//! scenario judge's: both views go through a `Canonicalizer` after the caller's own view (so
//! the caller's namespaces are `#0` on both sides, and with `nsenter` the target's come
//! next), pids are compared only inside pid namespaces below the caller's, and every field
//! that differs is named.

use nslab_real::live::explain::{caller_origin, Explain, Proc, Seen};
use nslab_real::live::LiveError;
use nslab_scenario::canon::{CanonView, Canonicalizer, NsLabel};
use nslab_sim::capability::CapSet;
use nslab_sim::inventory::NsInfo;
use nslab_sim::sched::flags_to_string;
use nslab_sim::trace::{Record, Step};
use nslab_sim::{
    CloneArgs, Errno, IdMapExtent, IdMapKind, Kernel, Machine, NsEntry, NsFd, NsType, Op, Origin,
    SysError, TaskId, TaskState, TaskView,
};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Who an operation names besides the task that makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The task making the call (it writes its own id maps).
    Me,
    /// The target of `nsenter`, set up on the model before the calls.
    Target,
}

/// One step of a live command on the model, in the command's order: a call (the project's
/// one operation type, made by the task that will run the program: the caller, then after a
/// clone the child), or a step the model does not model (mounts), shown as such.
#[derive(Debug, Clone)]
pub enum ModelOp {
    Call(Op<Who>),
    NotModelled(String),
}

impl ModelOp {
    /// `unshare(flags)`.
    pub fn unshare(flags: u64) -> ModelOp {
        ModelOp::Call(Op::Unshare(flags))
    }

    /// `clone`/`clone3`: the child runs the program from then on.
    pub fn clone(args: CloneArgs) -> ModelOp {
        ModelOp::Call(Op::Clone(args))
    }

    /// setns(2) with a pidfd of the target.
    pub fn setns_pidfd(flags: u64) -> ModelOp {
        ModelOp::Call(Op::Setns {
            fd: NsFd::Pidfd { task: Who::Target },
            nstype: flags,
        })
    }

    /// setns(2) with the target's file of type `file_ty`, asking for `ty` (they differ when
    /// the user gave a file of another type).
    pub fn setns_file(file_ty: NsType, ty: NsType) -> ModelOp {
        let entry = NsEntry::ALL
            .into_iter()
            .find(|e| e.ns_type() == file_ty)
            .expect("every type has an entry");
        ModelOp::Call(Op::Setns {
            fd: NsFd::File {
                task: Who::Target,
                entry,
            },
            nstype: ty.clone_flag(),
        })
    }

    /// The caller writes its own `uid_map`/`gid_map`: `inner outer 1`.
    pub fn write_map(kind: IdMapKind, inner: u32, outer: u32) -> ModelOp {
        ModelOp::Call(Op::WriteIdMap {
            target: Who::Me,
            kind,
            extents: vec![IdMapExtent {
                first: inner,
                lower_first: outer,
                count: 1,
            }],
        })
    }
}

/// How the account shows an operation: the call with its arguments.
fn describe(op: &Op<Who>) -> String {
    match op {
        Op::Clone(a) => {
            let shown = if a.flags == 0 {
                "SIGCHLD".to_string()
            } else {
                format!("{}|SIGCHLD", flags_to_string(a.flags))
            };
            let fork = if *a == fork_args() { "fork(): " } else { "" };
            format!("{fork}{}({shown})", op.name())
        }
        Op::Unshare(f) => format!("unshare({})", flags_to_string(*f)),
        Op::Setns {
            fd: NsFd::Pidfd { .. },
            nstype,
        } => format!("setns(pidfd of the target, {})", flags_to_string(*nstype)),
        Op::Setns {
            fd: NsFd::File { entry, .. },
            nstype,
        } => format!(
            "setns(open(\"/proc/<target>/ns/{}\"), {})",
            entry.file_name(),
            flags_to_string(*nstype)
        ),
        Op::WriteIdMap { kind, extents, .. } => {
            let file = match kind {
                IdMapKind::Uid => "uid_map",
                IdMapKind::Gid => "setgroups (deny), then gid_map",
            };
            let lines: Vec<String> = extents
                .iter()
                .map(|e| format!("{} {} {}", e.first, e.lower_first, e.count))
                .collect();
            format!("write /proc/self/{file}: \"{}\"", lines.join("\\n"))
        }
        Op::Setresgid(g) => format!("setresgid({g}, {g}, {g})"),
        Op::Setresuid(u) => format!("setresuid({u}, {u}, {u})"),
        other => other.name().to_string(),
    }
}

/// The clone the C library's fork(3) makes (`CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID` and
/// `SIGCHLD`, as strace shows it): what `--fork` and nsenter's fork are on the model.
pub fn fork_args() -> CloneArgs {
    use nslab_sim::sched::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID};
    CloneArgs::new(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)
}

/// What the model is told about a target (for `nsenter`): which namespaces differ from the
/// caller's, how much deeper its pid namespace is, its id maps, hostname and `lo` state.
#[derive(Debug, Clone, Default)]
pub struct TargetShape {
    /// `CLONE_NEW*` flags of the types whose namespace is not the caller's.
    pub differ: u64,
    /// Pid namespace levels below the caller's.
    pub pid_depth: u32,
    pub uid_map: Vec<IdMapExtent>,
    pub gid_map: Vec<IdMapExtent>,
    pub hostname: Option<String>,
    pub lo_up: bool,
    /// The target's namespaces as the kernel shows them (for the labels).
    pub view: Option<TaskView>,
}

/// One recorded call of the model.
struct Done {
    text: String,
    result: Result<(), Errno>,
    records: Vec<Record>,
}

/// The model, run through a live command's calls.
pub struct Model {
    k: Kernel,
    origin: Origin,
    method: String,
    caller: TaskId,
    target: Option<TaskId>,
    subject: TaskId,
    caller_view: TaskView,
    target_view: Option<TaskView>,
    done: Vec<Done>,
    before: Vec<NsInfo>,
    /// The first refusal: errno, rule, function.
    refusal: Option<(Errno, Option<(String, String)>)>,
}

fn sys_errno(e: SysError) -> anyhow::Error {
    anyhow::anyhow!("the model failed: {e}")
}

impl Model {
    /// Boots the model where this process stands, sets up the target if any (not
    /// recorded), and makes `ops` with the recorder on, stopping at the first refusal.
    pub fn run(target: Option<&TargetShape>, ops: &[ModelOp]) -> anyhow::Result<Model> {
        let (origin, method) = caller_origin();
        let mut k = Kernel::boot_at(&origin);
        let caller = k.root();
        // The caller's user namespace's limits, as the kernel has them (a limit the model
        // may not set for this caller stays the model's default).
        let made: u64 = ops
            .iter()
            .map(|op| match op {
                ModelOp::Call(Op::Unshare(f)) => *f,
                ModelOp::Call(Op::Clone(a)) => a.flags,
                _ => 0,
            })
            .fold(0, |a, b| a | b);
        for (ty, max) in nslab_real::live::explain::namespace_limits(made) {
            let _ = Machine::set_max_namespaces(&mut k, caller, ty, max);
        }
        let caller_view = k.observe(caller).map_err(sys_errno)?;
        let mut target_task = None;
        if let Some(t) = target {
            target_task = Some(setup_target(&mut k, caller, t).map_err(sys_errno)?);
        }
        let target_view = match target_task {
            Some(t) => Some(k.observe(t).map_err(sys_errno)?),
            None => None,
        };
        let before = k.namespaces();
        let mut m = Model {
            k,
            origin,
            method,
            caller,
            target: target_task,
            subject: caller,
            caller_view,
            target_view,
            done: Vec::new(),
            before,
            refusal: None,
        };
        for op in ops {
            m.call(op)?;
            if m.refusal.is_some() {
                break;
            }
        }
        Ok(m)
    }

    fn call(&mut self, op: &ModelOp) -> anyhow::Result<()> {
        let op = match op {
            ModelOp::Call(op) => op,
            ModelOp::NotModelled(what) => {
                self.done.push(Done {
                    text: format!("{what}  (not modelled: the model has no mount tree)"),
                    result: Ok(()),
                    records: Vec::new(),
                });
                return Ok(());
            }
        };
        let (me, target) = (self.subject, self.target);
        let k = &mut self.k;
        k.set_recording(true);
        let resolved = op.try_map(|who| match who {
            Who::Me => Ok(me),
            Who::Target => target.ok_or_else(|| anyhow::anyhow!("no target on the model")),
        });
        let out = match resolved {
            Ok(op) => k.syscall(me, &op),
            Err(e) => {
                k.set_recording(false);
                return Err(e);
            }
        };
        if let Ok(Some(child)) = &out {
            self.subject = *child;
        }
        let out = out.map(drop);
        let text = describe(op);
        let k = &mut self.k;
        let records = k.take_records();
        k.set_recording(false);
        let result = match out {
            Ok(()) => Ok(()),
            Err(SysError::Errno(e)) => {
                let rule = records.iter().rev().find_map(|r| match &r.step {
                    Step::Check {
                        rule,
                        refused: true,
                        ..
                    } => Some((rule.clone(), r.function.to_string())),
                    _ => None,
                });
                self.refusal = Some((e, rule));
                Err(e)
            }
            Err(e @ (SysError::Fault(_) | SysError::Refused(_))) => {
                anyhow::bail!("the model failed: {e}")
            }
        };
        self.done.push(Done {
            text,
            result,
            records,
        });
        Ok(())
    }

    /// The errno and rule of the model's first refusal.
    pub fn refusal(&self) -> Option<&(Errno, Option<(String, String)>)> {
        self.refusal.as_ref()
    }

    /// The model's short account of the calls: each call with its result and the kernel
    /// functions it goes through, the new namespaces, the pid of the task that runs the
    /// program at each level.
    pub fn account(&mut self, command: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "nslab {command} --explain: the model (Linux 6.18), booted where this process stands: uid {}, gid {}, pid namespace level {}, user namespace level {} ({})",
            self.origin.uid, self.origin.gid, self.origin.pid_ns_level, self.origin.user_ns_level, self.method
        );
        for d in &self.done {
            let res = match d.result {
                Ok(()) => String::new(),
                Err(e) => format!(" = -{}", e.name()),
            };
            let _ = writeln!(out, "  {}{res}", d.text);
            let path = call_path(&d.records, 3);
            if !path.is_empty() {
                for line in wrap(&path, 96) {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        if let Some((e, rule)) = &self.refusal {
            let _ = writeln!(
                out,
                "  the model refuses it: -{} ({})",
                e.name(),
                e.description()
            );
            if let Some((rule, function)) = rule {
                let _ = writeln!(out, "  refused by {function}(): {rule}");
            }
            return out;
        }
        let before: BTreeSet<u64> = self.before.iter().map(|n| n.inum).collect();
        let new: Vec<String> = self
            .k
            .namespaces()
            .iter()
            .filter(|n| !before.contains(&n.inum))
            .map(|n| n.ty.proc_name().to_string())
            .collect();
        let _ = writeln!(
            out,
            "  new namespaces: {}",
            if new.is_empty() {
                "none".to_string()
            } else {
                new.join(", ")
            }
        );
        if let Ok(v) = self.k.observe(self.subject) {
            let levels: Vec<String> = v
                .nspid
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{p} at level {}", self.origin.pid_ns_level as usize + i))
                .collect();
            let who = if self.subject == self.caller {
                "this process"
            } else {
                "the child"
            };
            let _ = writeln!(
                out,
                "  {who} runs the program: pid {} (the model's numbers at the caller's level; the kernel's differ)",
                levels.join(", ")
            );
        }
        out
    }

    /// The model's view of the task that runs the program.
    pub fn subject_view(&mut self) -> Option<TaskView> {
        self.k.observe(self.subject).ok()
    }
}

/// The call tree of a record list down to `max_depth`, as nested calls:
/// `ksys_unshare(check_unshare_flags, unshare_nsproxy_namespaces(...))`.
pub fn call_path(records: &[Record], max_depth: usize) -> String {
    let mut out = String::new();
    // Whether the function at each open depth has printed a child yet.
    let mut open: Vec<bool> = Vec::new();
    for r in records {
        match r.step {
            Step::Enter if r.depth <= max_depth => {
                while open.len() > r.depth {
                    if open.pop() == Some(true) {
                        out.push(')');
                    }
                }
                if let Some(has) = open.last_mut() {
                    out.push_str(if *has { ", " } else { "(" });
                    *has = true;
                } else if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(r.function);
                open.push(false);
            }
            _ => {}
        }
    }
    while let Some(has) = open.pop() {
        if has {
            out.push(')');
        }
    }
    out
}

/// Wraps a call path at `, ` boundaries.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for (i, part) in s.split(", ").enumerate() {
        let cur = lines.last_mut().expect("one line at least");
        let piece = if i == 0 {
            part.to_string()
        } else {
            format!(", {part}")
        };
        if cur.len() + piece.len() > width && !cur.is_empty() {
            cur.push(',');
            lines.push(part.to_string());
        } else {
            cur.push_str(&piece);
        }
    }
    lines
}

/// Makes the model's target: a task cloned by the caller into new namespaces of the types
/// that differ, nested pid namespaces to the target's depth, its id maps, hostname and `lo`.
fn setup_target(k: &mut Kernel, caller: TaskId, t: &TargetShape) -> Result<TaskId, SysError> {
    use nslab_sim::sched::CLONE_NEWPID;
    let first = (t.differ & !CLONE_NEWPID) | if t.pid_depth > 0 { CLONE_NEWPID } else { 0 };
    let mut task = k.clone_task(caller, CloneArgs::new(first))?;
    if t.differ & NsType::User.clone_flag() != 0 {
        if !t.uid_map.is_empty() {
            k.write_id_map(caller, task, IdMapKind::Uid, &t.uid_map)?;
        }
        if !t.gid_map.is_empty() {
            k.write_id_map(caller, task, IdMapKind::Gid, &t.gid_map)?;
        }
    }
    for _ in 1..t.pid_depth {
        task = k.clone_task(task, CloneArgs::new(CLONE_NEWPID))?;
    }
    if t.differ & NsType::Uts.clone_flag() != 0 {
        if let Some(h) = &t.hostname {
            k.sethostname(task, h)?;
        }
    }
    if t.differ & NsType::Net.clone_flag() != 0 && t.lo_up {
        k.link_up(task, "lo")?;
    }
    Ok(task)
}

/// The `--explain` hook: prints the kernel's view of the task beside the model's, on stderr.
pub struct Explainer {
    pub command: &'static str,
    pub model: Model,
    /// The caller's own view before any call, as the kernel showed it.
    caller_before: TaskView,
    /// The target's namespaces as the kernel shows them (nsenter).
    target_real: Option<TaskView>,
    /// The caller's `NSpid` length minus one: where a task's `NSpid` becomes comparable.
    caller_level_in_proc: usize,
    /// Whether pid numbers are compared: not when the program's pid namespace existed
    /// before the call (nsenter), where numbers depend on its history; then only the levels.
    pub pid_numbers: bool,
    /// Whether the kernel agreed with the model, once observed.
    pub agreed: Option<bool>,
}

impl Explainer {
    /// Takes the caller's own view (before any call), runs the model and prints its account.
    pub fn new(
        command: &'static str,
        target: Option<&TargetShape>,
        ops: &[ModelOp],
    ) -> anyhow::Result<Explainer> {
        let proc = Proc::open().map_err(|e| anyhow::anyhow!("{e}"))?;
        let seen = proc.caller();
        let mut model = Model::run(target, ops)?;
        eprint!("{}", model.account(command));
        Ok(Explainer {
            command,
            model,
            caller_level_in_proc: seen.view.nspid.len().saturating_sub(1),
            caller_before: seen.view,
            target_real: target.and_then(|t| t.view.clone()),
            pid_numbers: target.is_none(),
            agreed: None,
        })
    }

    fn trim(&self, v: &TaskView) -> TaskView {
        let mut v = v.clone();
        let start = self.caller_level_in_proc.min(v.nspid.len());
        v.nspid = v.nspid[start..].iter().copied().collect();
        v
    }
}

impl Explain for Explainer {
    fn observed(&mut self, seen: &Seen) {
        let Some(predicted) = self.model.subject_view() else {
            eprintln!(
                "nslab {}: the model has no task to run the program (it refused a call the kernel accepted): they differ",
                self.command
            );
            self.agreed = Some(false);
            return;
        };
        let real = self.trim(&seen.view);
        let caller = self.trim(&self.caller_before);
        let kc = canon(&caller, self.target_real.as_ref(), &real);
        let mc = canon(
            &self.model.caller_view,
            self.model.target_view.as_ref(),
            &predicted,
        );
        let (text, agreed) = compare(self.command, seen, &real, &kc, &mc, self.pid_numbers);
        self.agreed = Some(agreed);
        eprint!("{text}");
    }
}

/// The canonical view of `subject` after the caller's (labels `#0`) and the target's.
fn canon(caller: &TaskView, target: Option<&TaskView>, subject: &TaskView) -> CanonView {
    let mut c = Canonicalizer::default();
    c.root_hostname = Some(caller.hostname);
    let _ = c.view(TaskState::Running, caller);
    if let Some(t) = target {
        let _ = c.view(TaskState::Running, t);
    }
    c.view(TaskState::Running, subject)
}

fn label_text(l: Option<NsLabel>, ty: NsType) -> String {
    match l {
        Some(l) => l.display(ty).to_string(),
        None => "-".into(),
    }
}

fn ifs_text(c: &CanonView) -> String {
    match &c.interfaces {
        None => "the caller's".into(),
        Some(list) if list.is_empty() => "none".into(),
        Some(list) => list
            .iter()
            .map(|i| format!("{} {}", i.name, if i.up { "UP" } else { "DOWN" }))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The kernel's view beside the model's, row by row, and whether they agree.
fn compare(
    command: &str,
    seen: &Seen,
    real: &TaskView,
    k: &CanonView,
    m: &CanonView,
    pid_numbers: bool,
) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nslab {command} --explain: the kernel, for {} (pid {} here), beside the model",
        if seen.role == "child" {
            "the child"
        } else {
            seen.role
        },
        seen.pid
    );
    let _ = writeln!(
        out,
        "  (#0 is the caller's namespace; #1, #2, ... the others in order of appearance)"
    );
    if !pid_numbers {
        let _ = writeln!(
            out,
            "  (pids inside the target's pid namespace depend on its history: only the levels are compared)"
        );
    }
    let _ = writeln!(
        out,
        "  {:<18} {:<22} {:<14} model",
        "", "the kernel shows", "kernel"
    );
    let mut differ: Vec<String> = Vec::new();
    let mut row = |out: &mut String, name: &str, raw: String, kl: String, ml: String| {
        let same = kl == ml;
        if !same {
            differ.push(format!("{name} (kernel {kl}, model {ml})"));
        }
        let _ = writeln!(
            out,
            "  {name:<18} {raw:<22} {kl:<14} {ml:<14} {}",
            if same { "agree" } else { "DIFFER" }
        );
    };
    for (i, e) in NsEntry::ALL.into_iter().enumerate() {
        let raw = match real.ns[i].1 {
            Ok(inum) => e.readlink(inum),
            Err(err) => err.name(),
        };
        row(
            &mut out,
            e.file_name(),
            raw,
            label_text(k.ns[i], e.ns_type()),
            label_text(m.ns[i], e.ns_type()),
        );
    }
    let pids = |c: &CanonView| {
        if !pid_numbers {
            format!("{} level(s)", c.pids.len())
        } else if c.pids.is_empty() {
            "none".to_string()
        } else {
            c.pids
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let nspid_raw = seen
        .view
        .nspid
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    // The kernel's numbers; compared are those below the caller's pid namespace.
    let (kp, mp) = (pids(k), pids(m));
    row(&mut out, "NSpid", nspid_raw, kp, mp);
    let ppid = |c: &CanonView| c.ppid.map_or("outside".to_string(), |p| p.to_string());
    row(
        &mut out,
        "getppid()",
        real.ppid.to_string(),
        ppid(k),
        ppid(m),
    );
    row(
        &mut out,
        "uid",
        real.uid.to_string(),
        k.uid.to_string(),
        m.uid.to_string(),
    );
    row(
        &mut out,
        "gid",
        real.gid.to_string(),
        k.gid.to_string(),
        m.gid.to_string(),
    );
    row(
        &mut out,
        "CapEff",
        format!("{:#x}", real.cap_eff),
        format!("{:#}", CapSet(k.caps)),
        format!("{:#}", CapSet(m.caps)),
    );
    let host = |c: &CanonView| {
        c.hostname
            .map_or("the caller's".to_string(), |h| h.to_string())
    };
    row(
        &mut out,
        "hostname",
        real.hostname.to_string(),
        host(k),
        host(m),
    );
    let _ = writeln!(out, "  interfaces");
    let _ = writeln!(out, "    kernel: {}", ifs_text(k));
    let _ = writeln!(out, "    model:  {}", ifs_text(m));
    if k.interfaces != m.interfaces {
        differ.push(format!(
            "interfaces (kernel {}, model {})",
            ifs_text(k),
            ifs_text(m)
        ));
    }
    for n in &seen.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    let agreed = differ.is_empty();
    if agreed {
        let _ = writeln!(out, "  verdict: the kernel agrees with the model");
    } else {
        let _ = writeln!(
            out,
            "  verdict: the kernel and the model differ in {}: {}",
            differ.len(),
            differ.join("; ")
        );
    }
    (out, agreed)
}

/// What the binary prints for a live command that stopped, and its exit status. A call the
/// kernel refused is run on the model as well, and the model's rule printed beside it.
pub fn report_error(
    command: &str,
    e: &LiveError,
    target: Option<&TargetShape>,
    ops_until_refusal: impl FnOnce(&LiveError) -> Option<Vec<ModelOp>>,
) -> u8 {
    eprintln!("nslab {command}: {e}");
    if let LiveError::Refused {
        errno, flags, call, ..
    } = e
    {
        let (euid, _) = nslab_real::live::effective_ids();
        if *errno == Errno::EPERM && euid != 0 && flags & NsType::User.clone_flag() == 0 {
            eprintln!(
                "nslab {command}: uid {euid} has no CAP_SYS_ADMIN here; with a new user namespace first (-r, --map-root-user, or CLONE_NEWUSER) the other types are allowed"
            );
        }
        if call != "setns"
            && flags & NsType::User.clone_flag() != 0
            && matches!(errno, Errno::EPERM | Errno::ENOSPC | Errno::EINVAL)
        {
            eprintln!(
                "nslab {command}: {}",
                nslab_real::StartError::user_namespace_hint("unshare(CLONE_NEWUSER)", *errno)
            );
        }
        let Some(ops) = ops_until_refusal(e) else {
            return e.exit_code();
        };
        match Model::run(target, &ops) {
            Ok(m) => match m.refusal() {
                Some((me, rule)) if me == errno => match rule {
                    Some((rule, function)) => eprintln!(
                        "nslab {command}: the model refuses it too: {function}(): {rule}"
                    ),
                    None => eprintln!("nslab {command}: the model refuses it too (-{})", me.name()),
                },
                Some((me, _)) => eprintln!(
                    "nslab {command}: the model refuses it with -{} instead: the kernel and the model differ",
                    me.name()
                ),
                None => eprintln!(
                    "nslab {command}: the model accepts this call: the kernel and the model differ here"
                ),
            },
            Err(err) => eprintln!("nslab {command}: {err:#}"),
        }
    }
    e.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_of_an_unshare_names_the_copy_functions_to_depth_three() {
        let mut k = Kernel::boot();
        let root = k.root();
        k.set_recording(true);
        k.unshare(root, nslab_sim::sched::CLONE_NEWNET)
            .expect("root may");
        let path = call_path(&k.take_records(), 3);
        assert!(
            path.starts_with("ksys_unshare(check_unshare_flags, "),
            "{path}"
        );
        assert!(path.contains("create_new_namespaces(copy_mnt_ns"), "{path}");
        assert!(path.contains("copy_net_ns"), "{path}");
        // Depth 4 and below (setup_net, loopback_net_init) are left out.
        assert!(!path.contains("setup_net"), "{path}");
        for line in wrap(&path, 40) {
            assert!(line.len() <= 41 || !line.contains(", "), "{line}");
        }
    }

    #[test]
    fn the_comparison_names_each_difference() {
        let mut k = Kernel::boot();
        let root = k.root();
        let caller = k.observe(root).expect("root");
        let child = k
            .clone_task(root, CloneArgs::new(nslab_sim::sched::CLONE_NEWNET))
            .expect("root may");
        let new_net = k.observe(child).expect("child");
        let shared = k
            .clone_task(root, CloneArgs::new(0))
            .and_then(|c| k.observe(c))
            .expect("plain child");
        let seen = Seen {
            pid: 7,
            role: "child",
            view: shared.clone(),
            notes: Vec::new(),
        };
        let kc = canon(&caller, None, &shared);
        let mc = canon(&caller, None, &new_net);
        let (text, agreed) = compare("unshare", &seen, &shared, &kc, &mc, true);
        assert!(!agreed);
        assert!(text.contains("net (kernel net#0, model net#1)"), "{text}");
        assert!(
            text.contains("interfaces (kernel the caller's, model lo DOWN)"),
            "{text}"
        );
        let (text, agreed) = compare("unshare", &seen, &shared, &kc, &kc, true);
        assert!(agreed, "{text}");
        assert!(
            text.contains("verdict: the kernel agrees with the model"),
            "{text}"
        );
    }
}
