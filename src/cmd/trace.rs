//! `nslab trace`: run one system call from the init task of a fresh model with the step
//! recorder on, and print the kernel path as an indented call tree with a summary of what
//! changed.

use super::out::outln;
use super::UsageError;
use anyhow::bail;
use nslab_scenario::quoted;
use nslab_sim::capability::{parse_cap, valid_caps};
use nslab_sim::inventory::NsInfo;
use nslab_sim::kernel::KernelVersion;
use nslab_sim::net_namespace::{PernetFn, PernetKind, PernetOperations};
use nslab_sim::sched::{flags_to_string, parse_flags, CLONE_NEW_ALL};
use nslab_sim::trace::{render_tree, source_url, Record, Step};
use nslab_sim::{CloneArgs, CloneVia, Errno, Kernel, Machine, NsEntry, NsFd, NsType, Op, SysError};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Arguments of `nslab trace`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nslab trace clone 'CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET'
  nslab trace clone3 newtime
  nslab trace unshare NEWPID
  nslab trace --uid 65534 unshare NEWNET        (EPERM: no CAP_SYS_ADMIN)
  nslab trace setns net                          (join a child's network namespace by its file)
  nslab trace setns --pidfd NEWNET,NEWUTS        (join several of a child's namespaces at once)
  nslab trace exit NEWPID,NEWNET                 (a namespace init exits: zap, then the frees)
  nslab trace --pernet-subsys my_subsys --fail-pernet-init loopback_net_ops clone newnet
                                                 (setup_net undoes my_subsys when lo fails)

Flags are kernel names with or without CLONE_, in any case, joined by | or ,")]
pub struct TraceArgs {
    /// Print the trace and summary as JSON.
    #[arg(long)]
    pub json: bool,

    /// The kernel to model: 6.18 (the default) or 4.19, the kernel of the teaching text
    /// (`_do_fork`; no time namespaces, clone3 or pidfds).
    #[arg(long, value_name = "VERSION", default_value = "6.18", value_parser = parse_version)]
    pub kernel: KernelVersion,

    /// Before the traced call, the init task changes to this uid (setresuid, not traced).
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,

    /// Before the traced call, the init task drops this capability (not traced; repeatable).
    #[arg(long = "drop-cap", value_name = "CAP")]
    pub drop_caps: Vec<String>,

    /// Register one more pernet operation before the call, as a module would: a subsystem
    /// (initialised before every device) or a device (after `loopback_net_ops`). Its init and
    /// exit only appear in the trace. Repeatable.
    #[arg(long = "pernet-subsys", value_name = "NAME")]
    pub pernet_subsys: Vec<String>,

    /// Like `--pernet-subsys`, registered with `register_pernet_device`.
    #[arg(long = "pernet-device", value_name = "NAME")]
    pub pernet_device: Vec<String>,

    /// Make the init of this pernet operation fail (`NAME` or `NAME=ERRNO`, ENOMEM by
    /// default), to show `setup_net` undoing what it did, in reverse.
    #[arg(long = "fail-pernet-init", value_name = "NAME[=ERRNO]")]
    pub fail_pernet_init: Vec<String>,

    /// For `setns`: join with a pidfd of the child (several types at once).
    #[arg(long)]
    pub pidfd: bool,

    /// The call: `clone FLAGS`, `clone3 FLAGS`, `unshare FLAGS`, `setns TYPE`,
    /// `setns --pidfd FLAGS`, or `exit FLAGS` (the child of `clone(FLAGS)` exits); or a
    /// scenario file with `--at LINE`.
    #[arg(value_name = "CALL")]
    pub call: String,

    /// The flags (or, for `setns` without `--pidfd`, the namespace type).
    #[arg(value_name = "FLAGS")]
    pub flags: Option<String>,

    /// With a scenario file as CALL (`FILE.scn --at LINE`): the statements before LINE run
    /// first, untraced, then the statement on LINE is traced.
    #[arg(long, value_name = "LINE")]
    pub at: Option<u32>,

    /// Write the trace as one self-contained HTML page (call tree, slider, objects).
    #[arg(long)]
    pub html: bool,
}

/// Parses `--kernel`.
fn parse_version(s: &str) -> Result<KernelVersion, String> {
    KernelVersion::parse(s)
        .ok_or_else(|| format!("unknown kernel version '{s}'; valid: 6.18, 4.19"))
}

/// The call being traced: an operation of the contract, made by the init task (by the child,
/// for `exit`), where `()` names the child it refers to. A child is cloned first, untraced,
/// with `child_flags`: the one whose namespaces `setns` joins, or the one that exits.
#[derive(Clone, Debug, Serialize)]
struct Traced {
    op: Op<()>,
    child_flags: Option<u64>,
}

impl Traced {
    fn parse(args: &TraceArgs) -> Result<Traced, UsageError> {
        let Some(flag_text) = args.flags.as_deref() else {
            return Err(UsageError(format!(
                "{} needs FLAGS (for example {} newpid,newnet)",
                args.call, args.call
            )));
        };
        let flags = || parse_flags(flag_text).map_err(|e| UsageError(e.to_string()));
        let (op, child_flags) = match args.call.as_str() {
            "clone" => (Op::Clone(CloneArgs::new(flags()?)), None),
            "clone3" => {
                let args = CloneArgs {
                    flags: flags()?,
                    via: CloneVia::Clone3,
                };
                (Op::Clone(args), None)
            }
            "unshare" => (Op::Unshare(flags()?), None),
            "setns" if args.pidfd => {
                let f = flags()?;
                let fd = NsFd::Pidfd { task: () };
                (Op::Setns { fd, nstype: f }, Some(f & CLONE_NEW_ALL))
            }
            "exit" => (Op::Exit(0), Some(flags()?)),
            "setns" => {
                let ty = NsType::from_name(flag_text).ok_or_else(|| {
                    UsageError(format!(
                        "unknown namespace type '{flag_text}'; valid types: mnt, uts, ipc, pid, net, user, cgroup, time"
                    ))
                })?;
                let entry = match ty {
                    NsType::Mnt => NsEntry::Mnt,
                    NsType::Uts => NsEntry::Uts,
                    NsType::Ipc => NsEntry::Ipc,
                    NsType::Pid => NsEntry::PidForChildren,
                    NsType::Net => NsEntry::Net,
                    NsType::User => NsEntry::User,
                    NsType::Cgroup => NsEntry::Cgroup,
                    NsType::Time => NsEntry::TimeForChildren,
                };
                let fd = NsFd::File { task: (), entry };
                (Op::Setns { fd, nstype: 0 }, Some(ty.clone_flag()))
            }
            other => {
                return Err(UsageError(format!(
                    "unknown call '{other}'; valid calls: clone, clone3, unshare, setns, exit"
                )))
            }
        };
        Ok(Traced { op, child_flags })
    }

    /// The call as C would write it, for the first line of the trace.
    fn describe(&self) -> String {
        match (&self.op, self.child_flags) {
            (Op::Clone(args), _) => format!("{}({})", self.op.name(), flags_to_string(args.flags)),
            (Op::Unshare(flags), _) => format!("unshare({})", flags_to_string(*flags)),
            (Op::Setns { fd, nstype }, _) => match fd {
                NsFd::File { entry, .. } => {
                    format!("setns(open(\"/proc/<child>/ns/{}\"), 0)", entry.file_name())
                }
                NsFd::Pidfd { .. } => {
                    format!("setns(pidfd_open(<child>), {})", flags_to_string(*nstype))
                }
            },
            (Op::Exit(_), Some(child_flags)) => format!(
                "exit(0) by the child of clone({})",
                flags_to_string(child_flags)
            ),
            (op, _) => op.name().to_string(),
        }
    }
}

/// What `--json` prints.
#[derive(Serialize)]
struct TraceReport<'a> {
    kernel: &'static str,
    call: &'a Traced,
    description: String,
    /// The caller's pid at every level, outermost first (`NSpid`).
    caller_nspid: Vec<i32>,
    result: CallResult,
    records: &'a [Record],
    summary: Summary,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum CallResult {
    Ok,
    Err {
        errno: Errno,
        rule: Option<String>,
        function: Option<String>,
    },
}

/// What changed, for the summary under the tree.
#[derive(Serialize)]
struct Summary {
    new_namespaces: Vec<NsInfo>,
    freed_namespaces: Vec<NsInfo>,
    /// The task the call produced or changed: the child of a clone, else the caller.
    task: Option<TaskSummary>,
}

#[derive(Serialize)]
struct TaskSummary {
    role: &'static str,
    nspid: Vec<i32>,
    nsproxy: Option<String>,
    nsproxy_count: Option<u64>,
    ns: Vec<NsLine>,
}

#[derive(Serialize)]
struct NsLine {
    entry: NsEntry,
    readlink: Result<String, Errno>,
    new: bool,
}

pub use nslab_sim::stepper::Recorded;

/// What `--json` prints when the trace could not be made (bad input, a set-up step the
/// model refused): tools reading standard output get a JSON document either way.
#[derive(Serialize)]
struct ErrorReport {
    error: String,
    /// `usage` (bad input, exit 2) or `setup` (exit 1).
    kind: &'static str,
}

/// Runs `nslab trace`; returns the exit code: 0 when the traced call succeeded, 1 when the
/// kernel refused it. With `--json`, an error is also printed on standard output as a JSON
/// object (`{"error": ..., "kind": ...}`); the message goes to standard error as always.
pub fn run(args: TraceArgs) -> anyhow::Result<u8> {
    let json = args.json;
    let result = trace(args);
    if let Err(e) = &result {
        if json && !super::out::is_broken_pipe(e) {
            let kind = if e.downcast_ref::<UsageError>().is_some() {
                "usage"
            } else {
                "setup"
            };
            let report = ErrorReport {
                error: format!("{e:#}"),
                kind,
            };
            outln!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    result
}

fn trace(args: TraceArgs) -> anyhow::Result<u8> {
    if args.call.ends_with(".scn") || args.at.is_some() {
        let rec = record_scenario(&args)?;
        if args.html {
            super::out::text(&super::html::page(&rec))?;
        } else if args.json {
            let report = serde_json::json!({
                "kernel": rec.kernel,
                "description": rec.description,
                "result": rec.errno.map_or("0".to_string(), |e| format!("-{}", e.name())),
                "records": rec.records,
            });
            outln!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            outln!("{} (model of Linux {})\n", rec.description, rec.kernel);
            super::out::text(&render_tree(&rec.records))?;
            match rec.errno {
                None => outln!("\nresult: 0 (success)"),
                Some(e) => outln!("\nresult: -{} ({})", e.name(), e.description()),
            }
        }
        return Ok(u8::from(rec.errno.is_some()));
    }
    if args.html {
        let rec = record(&args)?;
        super::out::text(&super::html::page(&rec))?;
        return Ok(u8::from(rec.errno.is_some()));
    }
    trace_text(args)
}

/// Records the call of `args` (a call, or a scenario statement with `--at`).
pub fn record(args: &TraceArgs) -> anyhow::Result<Recorded> {
    if args.call.ends_with(".scn") || args.at.is_some() {
        return record_scenario(args);
    }
    let (mut k, call, init, target, caller) = prepare(args)?;
    let before = nslab_sim::graph::build(&k, &[], None);
    let baseline = nslab_sim::graph::Baseline::of(&k);
    k.set_recording(true);
    let op = call.op.map(|()| target.expect("set up above"));
    let outcome = op.apply(&mut k, caller);
    let records = k.take_records();
    k.set_recording(false);
    let _ = init;
    let after = nslab_sim::graph::build(&k, &[], Some(&baseline));
    let errno = match outcome {
        Ok(_) => None,
        Err(SysError::Errno(e)) => Some(e),
        Err(SysError::Refused(f)) => bail!("the model refused the call: {f}"),
        Err(SysError::Fault(f)) => bail!("the model failed: {f}"),
    };
    Ok(Recorded {
        description: call.describe(),
        kernel: args.kernel.tag(),
        records,
        before,
        after,
        errno,
    })
}

/// `FILE.scn --at LINE`: the statements before LINE run untraced, the one on LINE is
/// recorded. The model is deterministic and recording changes nothing, so the records of
/// the statement are those of a run of the first N statements after those of the first N-1.
fn record_scenario(args: &TraceArgs) -> anyhow::Result<Recorded> {
    use nslab_sim::machine::Origin;
    let (Some(line), true) = (args.at, args.call.ends_with(".scn")) else {
        return Err(
            UsageError("a scenario file goes with --at LINE (FILE.scn --at LINE)".into()).into(),
        );
    };
    if args.flags.is_some() {
        return Err(UsageError(format!("unexpected argument after {}", args.call)).into());
    }
    let path = std::path::Path::new(&args.call);
    let scenario = nslab_scenario::parse_file(path).map_err(|e| UsageError(e.to_string()))?;
    let Some(index) = scenario.body.iter().position(|s| s.span().line == line) else {
        let lines: Vec<String> = scenario
            .body
            .iter()
            .map(|s| s.span().line.to_string())
            .collect();
        return Err(UsageError(format!(
            "no statement on line {line} of {}; statements are on lines {}",
            path.display(),
            lines.join(", ")
        ))
        .into());
    };
    let run_first = |count: usize| -> anyhow::Result<(Kernel, Vec<Record>)> {
        let mut k = Kernel::boot_at(&Origin::default());
        k.set_recording(true);
        {
            let mut run = nslab_scenario::Run::new(&mut k);
            run.exec(&scenario.body[..count]);
            if let Some(reason) = run.aborted() {
                return Err(anyhow::anyhow!("the scenario stopped: {reason}"));
            }
        }
        let records = k.take_records();
        k.set_recording(false);
        Ok((k, records))
    };
    let (k0, r0) = run_first(index)?;
    let (k1, mut r1) = run_first(index + 1)?;
    let records = r1.split_off(r0.len());
    let baseline = nslab_sim::graph::Baseline::of(&k0);
    let errno = records.iter().rev().find_map(|r| match (&r.step, r.depth) {
        (Step::Leave { errno }, 0) => Some(*errno),
        _ => None,
    });
    Ok(Recorded {
        description: format!(
            "{}:{line}: {}",
            path.display(),
            nslab_scenario::print::stmt_line(&scenario.body[index])
        ),
        kernel: k1.version.tag(),
        records,
        before: nslab_sim::graph::build(&k0, &[], None),
        after: nslab_sim::graph::build(&k1, &[], Some(&baseline)),
        errno: errno.flatten(),
    })
}

/// The set-up of a traced call that is not traced: the kernel, the call, init, the child it
/// names and the task making it.
type Prepared = (
    Kernel,
    Traced,
    nslab_sim::TaskId,
    Option<nslab_sim::TaskId>,
    nslab_sim::TaskId,
);

fn prepare(args: &TraceArgs) -> anyhow::Result<Prepared> {
    let call = Traced::parse(args)?;
    let mut k = Kernel::boot_version(args.kernel);
    let init = k.root();

    // Set-up that is not traced: the caller's ids and capabilities, and for setns the child
    // whose namespaces are joined.
    if let Some(uid) = args.uid {
        k.setresuid(init, uid)
            .map_err(|e| anyhow::anyhow!("setting up uid {uid}: {e}"))?;
    }
    for cap in &args.drop_caps {
        let bits = parse_cap(cap).ok_or_else(|| {
            UsageError(format!(
                "unknown capability {}; valid capabilities: {}",
                quoted(cap),
                valid_caps()
            ))
        })?;
        k.drop_caps(init, bits)
            .map_err(|e| anyhow::anyhow!("dropping {cap}: {e}"))?;
    }
    for (names, kind) in [
        (&args.pernet_subsys, PernetKind::Subsys),
        (&args.pernet_device, PernetKind::Device),
    ] {
        for name in names {
            register_course_op(&mut k, name, kind)?;
        }
    }
    for spec in &args.fail_pernet_init {
        let (name, errno) = match spec.split_once('=') {
            Some((n, e)) => (
                n,
                Errno::from_name(e).ok_or_else(|| {
                    UsageError(format!("unknown errno '{e}' in --fail-pernet-init"))
                })?,
            ),
            None => (spec.as_str(), Errno::ENOMEM),
        };
        if !k.pernet_fail_init(name, Some(errno)) {
            let known: Vec<&str> = k.pernet_list.iter().map(|o| o.name).collect();
            return Err(UsageError(format!(
                "no pernet operation '{name}'; registered: {}",
                known.join(", ")
            ))
            .into());
        }
    }
    let target = match call.child_flags {
        Some(child_flags) => {
            let child = k
                .clone_task(init, CloneArgs::new(child_flags))
                .map_err(|e| {
                    let what = match call.op {
                        Op::Exit(_) => "the child that exits",
                        _ => "the child to join",
                    };
                    anyhow::anyhow!(
                        "setting up {what}, clone({}): {e}",
                        flags_to_string(child_flags)
                    )
                })?;
            if matches!(call.op, Op::Exit(_)) && child_flags & nslab_sim::sched::CLONE_NEWPID != 0 {
                // A task in the child's pid namespace, for zap_pid_ns_processes to kill.
                k.clone_task(child, CloneArgs::new(0))
                    .map_err(|e| anyhow::anyhow!("setting up the grandchild: {e}"))?;
            }
            Some(child)
        }
        None => None,
    };

    // The task making the call: init, or the child that exits.
    let caller = match (&call.op, target) {
        (Op::Exit(_), Some(child)) => child,
        _ => init,
    };
    Ok((k, call, init, target, caller))
}

fn trace_text(args: TraceArgs) -> anyhow::Result<u8> {
    let (mut k, call, init, target, caller) = prepare(&args)?;
    let before = k.namespaces();
    let caller_view = k.observe(caller).map_err(|e| anyhow::anyhow!("{e}"))?;
    k.set_recording(true);
    let op = call.op.map(|()| target.expect("set up above"));
    let outcome = op.apply(&mut k, caller);
    let records = k.take_records();
    k.set_recording(false);
    let after = k.namespaces();

    let result = match &outcome {
        Ok(_) => CallResult::Ok,
        Err(SysError::Errno(e)) => {
            let refusal = records.iter().rev().find_map(|r| match &r.step {
                Step::Check {
                    rule,
                    refused: true,
                    ..
                } => Some((rule.clone(), r.function.to_string())),
                _ => None,
            });
            CallResult::Err {
                errno: *e,
                rule: refusal.as_ref().map(|(r, _)| r.clone()),
                function: refusal.map(|(_, f)| f),
            }
        }
        Err(SysError::Refused(f)) => bail!("the model refused the call: {f}"),
        Err(SysError::Fault(f)) => bail!("the model failed: {f}"),
    };

    let before_inums: BTreeSet<u64> = before.iter().map(|n| n.inum).collect();
    let after_inums: BTreeSet<u64> = after.iter().map(|n| n.inum).collect();
    let new_namespaces: Vec<NsInfo> = after
        .iter()
        .filter(|n| !before_inums.contains(&n.inum))
        .cloned()
        .collect();
    let freed_namespaces: Vec<NsInfo> = before
        .iter()
        .filter(|n| !after_inums.contains(&n.inum))
        .cloned()
        .collect();
    let subject = match (&outcome, &call.op) {
        (Ok(Some(child)), _) => Some((*child, "child")),
        // After an exit there is nothing left to read of the caller: the summary is what
        // was freed.
        (Ok(None), Op::Exit(_)) => None,
        (Ok(None), _) => Some((init, "caller")),
        (Err(_), _) => None,
    };
    let task = subject.map(|(id, role)| {
        let view = k.observe(id).expect("the subject is alive");
        let t = k.task_of(id).expect("the subject is alive");
        let nsp = k.tasks[t].nsproxy;
        TaskSummary {
            role,
            nspid: view.nspid.to_vec(),
            nsproxy: nsp.map(|n| format!("nsproxy#{}", n.index())),
            nsproxy_count: nsp.map(|n| k.nsproxies[n].count),
            ns: view
                .ns
                .iter()
                .map(|(e, r)| NsLine {
                    entry: *e,
                    readlink: r.map(|inum| e.readlink(inum)),
                    new: r.map(|i| !before_inums.contains(&i)).unwrap_or(false),
                })
                .collect(),
        }
    });
    let summary = Summary {
        new_namespaces,
        freed_namespaces,
        task,
    };

    let report = TraceReport {
        kernel: args.kernel.tag(),
        call: &call,
        description: call.describe(),
        caller_nspid: caller_view.nspid.to_vec(),
        result,
        records: &records,
        summary,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        super::out::text(&render_text(&report))?;
    }
    Ok(match report.result {
        CallResult::Ok => 0,
        CallResult::Err { .. } => 1,
    })
}

/// The init and exit of a course's own pernet operation: they do nothing but appear in the
/// trace (the recorder shows them entered and left).
fn course_op_init(_k: &mut Kernel, _net: nslab_sim::kernel::NetRef) -> Result<(), Errno> {
    Ok(())
}

/// Registers a course's pernet operation named `name` (`NAME_init`/`NAME_exit`), with 8
/// bytes of per-namespace data so `ops_init`'s `net_generic` allocation shows.
fn register_course_op(k: &mut Kernel, name: &str, kind: PernetKind) -> anyhow::Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(UsageError(format!(
            "a pernet operation name is a C identifier, not '{name}'"
        ))
        .into());
    }
    // The model names kernel functions with static strings; this process ends right after
    // the trace, so leaking three short names is the simple, honest way to make them static.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let ops = PernetOperations {
        init: Some((leak(format!("{name}_init")), course_op_init as PernetFn)),
        exit: Some((leak(format!("{name}_exit")), course_op_init as PernetFn)),
        size: 8,
        ..PernetOperations::new(leak(name.to_string()), "(course)", kind)
    };
    match kind {
        PernetKind::Subsys => k.register_pernet_subsys(ops),
        PernetKind::Device => k.register_pernet_device(ops),
    }
    .map_err(|e| anyhow::anyhow!("registering {name}: {e}"))
}

fn render_text(r: &TraceReport<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} from {}, model of Linux {}",
        r.description,
        match r.caller_nspid.as_slice() {
            [1] => "pid 1 (init)".to_string(),
            levels => {
                let pids: Vec<String> = levels.iter().map(i32::to_string).collect();
                format!("the task with NSpid {}", pids.join(" "))
            }
        },
        r.kernel
    );
    let mut files: Vec<&str> = r
        .records
        .iter()
        .map(|rec| rec.file)
        .filter(|f| !f.is_empty())
        .collect();
    files.sort_unstable();
    files.dedup();
    let _ = writeln!(out, "sources: {}", source_url(r.kernel, "<file>"));
    let _ = writeln!(out, "files: {}", files.join(", "));
    out.push('\n');
    out.push_str(&render_tree(r.records));
    out.push('\n');
    match &r.result {
        CallResult::Ok => {
            let _ = writeln!(out, "result: 0 (success)");
        }
        CallResult::Err {
            errno,
            rule,
            function,
        } => {
            let _ = writeln!(out, "result: -{} ({})", errno.name(), errno.description());
            if let (Some(rule), Some(function)) = (rule, function) {
                let _ = writeln!(out, "refused by {function}(): {rule}");
            }
        }
    }
    if !r.summary.new_namespaces.is_empty() {
        let _ = writeln!(out, "new namespaces:");
        for n in &r.summary.new_namespaces {
            let _ = writeln!(out, "  {}", ns_info_line(n, "count"));
        }
    }
    if !r.summary.freed_namespaces.is_empty() {
        let _ = writeln!(out, "freed namespaces:");
        for n in &r.summary.freed_namespaces {
            let _ = writeln!(out, "  {}", ns_info_line(n, "count before the call"));
        }
    }
    if let Some(t) = &r.summary.task {
        let pids: Vec<String> = t.nspid.iter().map(i32::to_string).collect();
        let _ = writeln!(out, "{}: NSpid {}", t.role, pids.join(" "));
        if let (Some(n), Some(c)) = (&t.nsproxy, t.nsproxy_count) {
            let _ = writeln!(out, "{}: {n} (count {c})", t.role);
        }
        let _ = writeln!(out, "readlink /proc/<{}>/ns/*:", t.role);
        for l in &t.ns {
            let target = match &l.readlink {
                Ok(s) => s.clone(),
                Err(e) => format!("readlink failed: {}", e.name()),
            };
            let mark = if l.new { "  (new)" } else { "" };
            let _ = writeln!(out, "  {:<18} -> {target}{mark}", l.entry.file_name());
        }
    }
    out
}

/// One namespace of the summary; `count_label` says when its count was read.
fn ns_info_line(n: &NsInfo, count_label: &str) -> String {
    let mut s = format!(
        "{}:[{}] {count_label} {}",
        n.ty.proc_name(),
        n.inum,
        n.count
    );
    if let Some(l) = n.level {
        let _ = write!(s, ", level {l}");
    }
    if let Some(o) = n.owner {
        let _ = write!(s, ", owner user:[{o}]");
    }
    s
}
