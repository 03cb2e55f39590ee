//! `nslab unshare`: the options of util-linux `unshare(1)` (2.38) that nslab supports, and
//! `--explain`. The work is `nslab_real::live::unshare`.

use super::live::{report_error, Explainer, ModelOp};
use nslab_real::live::unshare::{Propagation, UnshareSpec};
use nslab_real::live::{LiveError, Program};
use nslab_sim::sched::*;
use nslab_sim::{IdMapKind, NsType};
use std::ffi::OsString;
use std::path::PathBuf;

/// Arguments of `nslab unshare` (util-linux syntax: an optional value is attached with `=`,
/// short options combine, everything after PROGRAM is passed to it untouched).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples (the lesson's demo, then a non-interactive one):
  nslab unshare --mount --ipc --pid --net --mount-proc=/proc --fork /bin/bash
  nslab unshare -n -p -f --mount-proc -- sh -c 'echo $$; ip addr; ps aux'
  nslab unshare --explain -n true      (the model's account, then the kernel's view beside it)")]
pub struct UnshareArgs {
    /// New mount namespace (=FILE: keep it alive by a bind mount on FILE).
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub mount: Option<OsString>,
    /// New uts namespace (hostname and domain name).
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub uts: Option<OsString>,
    /// New ipc namespace.
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub ipc: Option<OsString>,
    /// New network namespace.
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub net: Option<OsString>,
    /// New pid namespace (for the children: use --fork).
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub pid: Option<OsString>,
    /// New user namespace.
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub user: Option<OsString>,
    /// New cgroup namespace.
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub cgroup: Option<OsString>,
    /// New time namespace (for the children: use --fork).
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub time: Option<OsString>,
    /// Fork the program as a child of nslab (which waits, forwarding SIGINT, SIGTERM, SIGHUP
    /// and SIGQUIT to it).
    #[arg(short = 'f', long = "fork")]
    pub fork: bool,
    /// Mount a new proc on DIR (/proc by default) in the child; implies --mount.
    #[arg(long = "mount-proc", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc")]
    pub mount_proc: Option<PathBuf>,
    /// Map the current uid and gid to root in a new user namespace (implies --user and
    /// --setgroups=deny).
    #[arg(short = 'r', long = "map-root-user")]
    pub map_root_user: bool,
    /// Map the current uid and gid to themselves in a new user namespace (implies --user).
    #[arg(short = 'c', long = "map-current-user")]
    pub map_current_user: bool,
    /// Map the current uid to this uid (or user name) in a new user namespace.
    #[arg(long = "map-user", value_name = "UID|NAME")]
    pub map_user: Option<String>,
    /// Map the current gid to this gid (or group name) in a new user namespace.
    #[arg(long = "map-group", value_name = "GID|NAME")]
    pub map_group: Option<String>,
    /// Allow or deny setgroups(2) in the new user namespace.
    #[arg(long = "setgroups", value_name = "allow|deny")]
    pub setgroups: Option<String>,
    /// Propagation of the new mount namespace's tree: private (the default), shared, slave or
    /// unchanged.
    #[arg(long = "propagation", value_name = "private|shared|slave|unchanged")]
    pub propagation: Option<String>,
    /// The child gets SIGNAL (SIGKILL by default) when nslab dies; implies --fork.
    #[arg(long = "kill-child", value_name = "SIGNAL", num_args = 0..=1, require_equals = true, default_missing_value = "KILL")]
    pub kill_child: Option<String>,
    /// Set the uid in the program's process.
    #[arg(short = 'S', long = "setuid", value_name = "UID")]
    pub setuid: Option<u32>,
    /// Set the gid in the program's process.
    #[arg(short = 'G', long = "setgid", value_name = "GID")]
    pub setgid: Option<u32>,
    /// Change the root directory to DIR.
    #[arg(short = 'R', long = "root", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Change the working directory to DIR.
    #[arg(short = 'w', long = "wd", value_name = "DIR")]
    pub wd: Option<PathBuf>,
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

/// A bad combination of options: util-linux's wording, exit 1.
fn bad(msg: impl Into<String>) -> LiveError {
    LiveError::Failed(msg.into())
}

/// A uid or a user name.
fn parse_user(s: &str) -> Result<u32, LiveError> {
    s.parse()
        .ok()
        .or_else(|| nslab_real::live::user_id(s))
        .ok_or_else(|| bad(format!("failed to parse uid '{s}'")))
}

/// A gid or a group name.
fn parse_group(s: &str) -> Result<u32, LiveError> {
    s.parse()
        .ok()
        .or_else(|| nslab_real::live::group_id(s))
        .ok_or_else(|| bad(format!("failed to parse gid '{s}'")))
}

/// The options resolved to what the real side does.
pub fn resolve(a: &UnshareArgs) -> Result<UnshareSpec, LiveError> {
    let mut flags = 0u64;
    let mut persist = Vec::new();
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
            flags |= ty.clone_flag();
            if !file.is_empty() {
                persist.push((ty, PathBuf::from(file)));
            }
        }
    }
    if a.map_root_user && a.map_current_user {
        return Err(bad(
            "options --map-root-user and --map-current-user are mutually exclusive",
        ));
    }
    let (euid, egid) = nslab_real::live::effective_ids();
    let mut map_user = a.map_user.as_deref().map(parse_user).transpose()?;
    let mut map_group = a.map_group.as_deref().map(parse_group).transpose()?;
    if a.map_root_user {
        map_user = Some(0);
        map_group = Some(0);
    }
    if a.map_current_user {
        map_user = Some(euid);
        map_group = Some(egid);
    }
    let mut setgroups_allow = match a.setgroups.as_deref() {
        None => None,
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        Some(other) => return Err(bad(format!("unsupported --setgroups argument '{other}'"))),
    };
    if map_group.is_some() {
        if setgroups_allow == Some(true) {
            return Err(bad(
                "options --setgroups=allow and --map-group are mutually exclusive",
            ));
        }
        // An unprivileged gid_map write needs setgroups denied first.
        setgroups_allow = Some(false);
    }
    if map_user.is_some() || map_group.is_some() {
        flags |= CLONE_NEWUSER;
    }
    let propagation = match a.propagation.as_deref() {
        None => Propagation::Private,
        Some(p) => Propagation::parse(p)
            .ok_or_else(|| bad(format!("unsupported propagation mode: {p}")))?,
    };
    let kill_child = match a.kill_child.as_deref() {
        None => None,
        Some(s) => Some(
            nslab_real::live::parse_signal(s).ok_or_else(|| bad(format!("unknown signal: {s}")))?,
        ),
    };
    let mount_proc = a.mount_proc.clone();
    if mount_proc.is_some() {
        flags |= CLONE_NEWNS;
    }
    Ok(UnshareSpec {
        flags,
        persist,
        fork: a.fork || kill_child.is_some(),
        mount_proc,
        map_user,
        map_group,
        setgroups_allow,
        propagation,
        kill_child,
        setuid: a.setuid,
        setgid: a.setgid,
        root: a.root.clone(),
        wd: a.wd.clone(),
        program: Program::new(&a.program)?,
    })
}

/// The model's calls for a spec: the unshare, the maps, the fork, the ids.
pub fn model_ops(s: &UnshareSpec) -> Vec<ModelOp> {
    let (euid, egid) = nslab_real::live::effective_ids();
    let mut ops = vec![ModelOp::unshare(s.flags)];
    if s.flags & CLONE_NEWUSER != 0 {
        if let Some(u) = s.map_user {
            ops.push(ModelOp::write_map(IdMapKind::Uid, u, euid));
        }
        if let Some(g) = s.map_group {
            ops.push(ModelOp::write_map(IdMapKind::Gid, g, egid));
        }
    }
    if s.flags & CLONE_NEWNS != 0 && s.propagation != Propagation::Unchanged {
        let p = match s.propagation {
            Propagation::Private => "MS_PRIVATE",
            Propagation::Shared => "MS_SHARED",
            Propagation::Slave => "MS_SLAVE",
            Propagation::Unchanged => unreachable!("excluded above"),
        };
        ops.push(ModelOp::NotModelled(format!(
            "mount(NULL, \"/\", NULL, MS_REC|{p}, NULL)"
        )));
    }
    for (ty, file) in &s.persist {
        ops.push(ModelOp::NotModelled(format!(
            "mount(\"/proc/<pid>/ns/{}\", \"{}\", NULL, MS_BIND, NULL) by a process in the original namespaces",
            nslab_real::live::unshare::persist_entry(*ty).file_name(),
            file.display()
        )));
    }
    if s.fork {
        ops.push(ModelOp::clone(super::live::fork_args()));
    }
    if let Some(dir) = &s.mount_proc {
        ops.push(ModelOp::NotModelled(format!(
            "mount(\"proc\", \"{}\", \"proc\", MS_NOSUID|MS_NOEXEC|MS_NODEV, NULL)",
            dir.display()
        )));
    }
    if let Some(g) = s.setgid {
        ops.push(ModelOp::Call(nslab_sim::Op::Setresgid(g)));
    }
    if let Some(u) = s.setuid {
        ops.push(ModelOp::Call(nslab_sim::Op::Setresuid(u)));
    }
    ops
}

/// Runs `nslab unshare`; returns only on failure, with the exit status.
pub fn run(a: UnshareArgs) -> u8 {
    let spec = match resolve(&a) {
        Ok(s) => s,
        Err(e) => return report_error("unshare", &e, None, |_| None),
    };
    let mut explainer = if a.explain {
        match Explainer::new("unshare", None, &model_ops(&spec)) {
            Ok(x) => Some(x),
            Err(e) => {
                eprintln!("nslab unshare: {e:#}");
                return 1;
            }
        }
    } else {
        None
    };
    let e = nslab_real::live::unshare::run(
        &spec,
        explainer
            .as_mut()
            .map(|x| x as &mut dyn nslab_real::live::explain::Explain),
    );
    report_error("unshare", &e, None, |e| match e {
        LiveError::Refused { flags, .. } => Some(vec![ModelOp::unshare(*flags)]),
        _ => None,
    })
}
