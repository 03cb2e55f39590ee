//! `nslab nsenter`: the options of util-linux `nsenter(1)` (2.38) that nslab supports, and
//! `--explain`. The work is `nslab_real::live::nsenter`.

use super::live::{report_error, Explainer, ModelOp, TargetShape};
use nslab_real::live::explain::{parse_id_map, Proc};
use nslab_real::live::nsenter::{plan, DirFrom, Join, NsenterSpec};
use nslab_real::live::{LiveError, Program};
use nslab_sim::sched::CLONE_NEWPID;
use nslab_sim::{NsEntry, NsType, TaskView};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Arguments of `nslab nsenter` (util-linux syntax).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples (the lesson's demo, then a non-interactive one):
  nslab nsenter --target PID --mount --uts --ipc --net --pid -- env --ignore-environment -- /bin/bash
  nslab nsenter -t PID -a -- sh -c 'echo $$; ip addr'
  nslab nsenter --explain -t PID -n -p true")]
pub struct NsenterArgs {
    /// The process whose namespaces are entered.
    #[arg(short = 't', long = "target", value_name = "PID")]
    pub target: Option<i32>,
    /// Enter every namespace of the target (its user namespace only if not the caller's).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Enter the mount namespace (of the target, or the namespace file FILE).
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub mount: Option<OsString>,
    /// Enter the uts namespace.
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub uts: Option<OsString>,
    /// Enter the ipc namespace.
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub ipc: Option<OsString>,
    /// Enter the network namespace.
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub net: Option<OsString>,
    /// Enter the pid namespace (the program runs in a forked child).
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub pid: Option<OsString>,
    /// Enter the user namespace.
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub user: Option<OsString>,
    /// Enter the cgroup namespace.
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub cgroup: Option<OsString>,
    /// Enter the time namespace.
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub time: Option<OsString>,
    /// Set the uid (0 by default when a user namespace is entered).
    #[arg(short = 'S', long = "setuid", value_name = "UID")]
    pub setuid: Option<u32>,
    /// Set the gid (0 by default when a user namespace is entered).
    #[arg(short = 'G', long = "setgid", value_name = "GID")]
    pub setgid: Option<u32>,
    /// Keep the caller's uid and gid when entering a user namespace.
    #[arg(long = "preserve-credentials")]
    pub preserve_credentials: bool,
    /// Change the root directory (the target's by default).
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub root: Option<OsString>,
    /// Change the working directory (the target's by default).
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub wd: Option<OsString>,
    /// Do not fork before executing the program, even after entering a pid namespace.
    #[arg(short = 'F', long = "no-fork")]
    pub no_fork: bool,
    /// Before running: the model's account of the calls; once the program's process is ready:
    /// what the kernel shows for it beside the model's prediction (on stderr).
    #[arg(long = "explain")]
    pub explain: bool,
    /// The program and its arguments ($SHELL, else /bin/sh, when none is given).
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub program: Vec<OsString>,
}

fn dir_from(p: &Option<OsString>) -> Option<DirFrom> {
    p.as_ref().map(|d| {
        if d.is_empty() {
            DirFrom::Target
        } else {
            DirFrom::Path(PathBuf::from(d))
        }
    })
}

/// The options resolved to what the real side does.
pub fn resolve(a: &NsenterArgs) -> Result<NsenterSpec, LiveError> {
    let mut types = Vec::new();
    for (opt, ty) in [
        (&a.mount, NsType::Mnt),
        (&a.uts, NsType::Uts),
        (&a.ipc, NsType::Ipc),
        (&a.net, NsType::Net),
        (&a.pid, NsType::Pid),
        (&a.user, NsType::User),
        (&a.cgroup, NsType::Cgroup),
        (&a.time, NsType::Time),
    ] {
        if let Some(file) = opt {
            let file = (!file.is_empty()).then(|| PathBuf::from(file));
            types.push((ty, file));
        }
    }
    Ok(NsenterSpec {
        target: a.target,
        types,
        all: a.all,
        setuid: a.setuid,
        setgid: a.setgid,
        preserve_credentials: a.preserve_credentials,
        root: dir_from(&a.root),
        wd: dir_from(&a.wd),
        no_fork: a.no_fork,
        program: Program::new(&a.program)?,
    })
}

/// The path a join takes its namespace from.
fn source(spec: &NsenterSpec, (ty, file): &Join) -> PathBuf {
    match file {
        Some(f) => f.clone(),
        None => PathBuf::from(format!(
            "/proc/{}/ns/{}",
            spec.target.unwrap_or(0),
            ty.proc_name()
        )),
    }
}

/// What the model is told of the target: read from the kernel (`/proc`, and the target's
/// hostname and interfaces through its namespaces).
pub fn target_shape(spec: &NsenterSpec, joins: &[Join]) -> TargetShape {
    let own = |ty: NsType| {
        nslab_real::live::ns_inode(Path::new(&format!("/proc/self/ns/{}", ty.proc_name())))
    };
    let mut shape = TargetShape::default();
    let proc = Proc::open().ok();
    let seen = match (spec.target, &proc) {
        (Some(pid), Some(p)) => Some(p.observe(&pid.to_string(), pid, "the target", None)),
        _ => None,
    };
    // The namespaces the program will be in, as the kernel names them: the target's, with
    // the files given instead where there are.
    let mut view = seen
        .as_ref()
        .map(|s| s.view.clone())
        .unwrap_or_else(TaskView::empty);
    if seen.is_none() {
        for (e, r) in view.ns.iter_mut() {
            *r = nslab_real::live::ns_inode(Path::new(&format!("/proc/self/ns/{}", e.file_name())))
                .ok_or(nslab_sim::Errno::ENOENT);
        }
    }
    for j in joins {
        let ino = nslab_real::live::ns_inode(&source(spec, j));
        if ino.is_some() && ino != own(j.0) {
            shape.differ |= j.0.clone_flag();
        }
        if j.1.is_some() {
            if let Some(i) = ino {
                for (e, r) in view.ns.iter_mut() {
                    if e.ns_type() == j.0
                        && !matches!(e, NsEntry::PidForChildren | NsEntry::TimeForChildren)
                    {
                        *r = Ok(i);
                    }
                }
            }
        }
    }
    if shape.differ & CLONE_NEWPID != 0 {
        let own_len = std::fs::read_to_string("/proc/self/status")
            .map(|s| nslab_real::live::explain::nspid_len(&s))
            .unwrap_or(1);
        let depth = seen
            .as_ref()
            .map(|s| s.view.nspid.len().saturating_sub(own_len) as u32)
            .unwrap_or(1);
        shape.pid_depth = depth.max(1);
    }
    if let (Some(pid), true) = (spec.target, shape.differ & NsType::User.clone_flag() != 0) {
        let read =
            |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
        shape.uid_map = parse_id_map(&read("uid_map"));
        shape.gid_map = parse_id_map(&read("gid_map"));
    }
    if let Some(s) = &seen {
        if nslab_real::live::own_hostname().as_deref() != Some(&*s.view.hostname) {
            shape.hostname = Some(s.view.hostname.to_string());
        }
        shape.lo_up = s.view.interfaces.iter().any(|i| &*i.name == "lo" && i.up);
    }
    shape.view = Some(view);
    shape
}

/// The type of the namespace file given for `ty` (the option's own type if unknown).
fn file_type(spec: &NsenterSpec, ty: NsType) -> NsType {
    spec.types
        .iter()
        .find(|(t, _)| *t == ty)
        .and_then(|(_, f)| f.as_deref())
        .and_then(nslab_real::live::ns_type_of)
        .unwrap_or(ty)
}

/// The model's calls: a user namespace file, the target's namespaces with a pidfd, the
/// other files, the ids, the fork.
pub fn model_ops(spec: &NsenterSpec, joins: &[Join]) -> Vec<ModelOp> {
    let mut ops = Vec::new();
    for (ty, f) in joins {
        if *ty == NsType::User && f.is_some() {
            ops.push(ModelOp::setns_file(file_type(spec, *ty), *ty));
        }
    }
    let pidfd: u64 = joins
        .iter()
        .filter(|(_, f)| f.is_none())
        .map(|(t, _)| t.clone_flag())
        .sum();
    if pidfd != 0 {
        ops.push(ModelOp::setns_pidfd(pidfd));
    }
    for (ty, f) in joins {
        if *ty != NsType::User && f.is_some() {
            ops.push(ModelOp::setns_file(file_type(spec, *ty), *ty));
        }
    }
    let user = joins.iter().any(|(t, _)| *t == NsType::User);
    let (uid, gid) = if user && !spec.preserve_credentials {
        (
            Some(spec.setuid.unwrap_or(0)),
            Some(spec.setgid.unwrap_or(0)),
        )
    } else {
        (spec.setuid, spec.setgid)
    };
    if let Some(g) = gid {
        ops.push(ModelOp::Call(nslab_sim::Op::Setresgid(g)));
    }
    if let Some(u) = uid {
        ops.push(ModelOp::Call(nslab_sim::Op::Setresuid(u)));
    }
    if joins.iter().any(|(t, _)| *t == NsType::Pid) && !spec.no_fork {
        ops.push(ModelOp::clone(super::live::fork_args()));
    }
    ops
}

/// Runs `nslab nsenter`; returns only on failure, with the exit status.
pub fn run(a: NsenterArgs) -> u8 {
    let spec = match resolve(&a) {
        Ok(s) => s,
        Err(e) => return report_error("nsenter", &e, None, |_| None),
    };
    let joins = match plan(&spec) {
        Ok(j) => j,
        Err(e) => return report_error("nsenter", &e, None, |_| None),
    };
    // The model only knows namespace files: a refusal for a file that is not one is the
    // kernel's alone.
    let all_ns_files = joins
        .iter()
        .all(|j| nslab_real::live::is_ns_file(&source(&spec, j)));
    // A source that is not a namespace (or cannot be read, as for a target that does not
    // exist) leaves the model nothing to stand on: the kernel's answer is all there is.
    let explain = a.explain
        && match joins
            .iter()
            .map(|j| source(&spec, j))
            .find(|p| !nslab_real::live::is_ns_file(p))
        {
            Some(p) => {
                eprintln!(
                    "nslab nsenter --explain: {} is not a namespace file here (or cannot be read): nothing for the model to explain",
                    p.display()
                );
                false
            }
            None => true,
        };
    let shape = explain.then(|| target_shape(&spec, &joins));
    let mut explainer = if explain {
        match Explainer::new("nsenter", shape.as_ref(), &model_ops(&spec, &joins)) {
            Ok(x) => Some(x),
            Err(e) => {
                eprintln!("nslab nsenter: {e:#}");
                return 1;
            }
        }
    } else {
        None
    };
    let e = nslab_real::live::nsenter::run(
        &spec,
        &joins,
        explainer
            .as_mut()
            .map(|x| x as &mut dyn nslab_real::live::explain::Explain),
    );
    let shape = if matches!(e, LiveError::Refused { .. }) && all_ns_files {
        shape.or_else(|| Some(target_shape(&spec, &joins)))
    } else {
        None
    };
    report_error("nsenter", &e, shape.as_ref(), |e| match e {
        LiveError::Refused { .. } if all_ns_files => Some(model_ops(&spec, &joins)),
        _ => None,
    })
}
