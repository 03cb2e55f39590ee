//! `nslab unshare`: run a program in new namespaces, as util-linux `unshare(1)` does.
//!
//! The order of the steps (unshare(2); the id maps; the mount tree made private before
//! anything is mounted; the fork; in the child: root, working directory, a new proc, ids;
//! exec) follows util-linux 2.38, with two deliberate differences: the maps and the
//! propagation change are made before the fork (the parent shares those namespaces with the
//! child, so the result is the same, and a failure shows before any child exists), and the
//! waiting parent forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child.
//!
//! `=FILE` keeps a namespace alive with a bind mount of `/proc/<pid>/ns/<type>` on FILE, made
//! from the caller's original mount namespace: a binder process is forked before the
//! unshare (so it stays in the original namespaces), waits until the namespaces exist (after
//! the fork with `--fork`, so that a new pid namespace has its init), makes the bind mounts
//! and exits. FILE must exist, as with util-linux.

use super::explain::{Explain, Proc};
use super::{errno, exit_like, kill_with_parent, Forwarder, LiveError, Program};
use nix::mount::{mount, MsFlags};
use nix::unistd::{fork, ForkResult, Pid};

use nslab_machine::sched::{CLONE_NEWNS, CLONE_NEWUSER};
use nslab_machine::{Errno, NsEntry, NsType};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// `--propagation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    /// `private`: the new namespace's mounts neither send nor receive propagation.
    Private,
    /// `shared`.
    Shared,
    /// `slave`.
    Slave,
    /// `unchanged`: left as inherited.
    Unchanged,
}

impl Propagation {
    /// `private`, `shared`, `slave` or `unchanged`.
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "shared" => Propagation::Shared,
            "slave" => Propagation::Slave,
            "unchanged" => Propagation::Unchanged,
            _ => return None,
        })
    }

    fn flags(self) -> Option<MsFlags> {
        match self {
            Propagation::Private => Some(MsFlags::MS_PRIVATE),
            Propagation::Shared => Some(MsFlags::MS_SHARED),
            Propagation::Slave => Some(MsFlags::MS_SLAVE),
            Propagation::Unchanged => None,
        }
    }
}

/// What `nslab unshare` does, resolved from its options by the binary.
#[derive(Debug)]
pub struct UnshareSpec {
    /// The `CLONE_NEW*` flags for unshare(2).
    pub flags: u64,
    /// `=FILE` options: the namespace of this type is bind-mounted on the file.
    pub persist: Vec<(NsType, PathBuf)>,
    /// `--fork`: run the program as a child.
    pub fork: bool,
    /// `--mount-proc[=DIR]`.
    pub mount_proc: Option<PathBuf>,
    /// The id inside the new user namespace that the caller's euid maps to (`-r`: 0,
    /// `-c`: the euid itself, `--map-user`).
    pub map_user: Option<u32>,
    /// The same for the egid.
    pub map_group: Option<u32>,
    /// What to write to `/proc/self/setgroups` (`Some(false)` = `deny`).
    pub setgroups_allow: Option<bool>,
    /// `--propagation`.
    pub propagation: Propagation,
    /// `--kill-child[=SIGNAL]`: the child's death signal.
    pub kill_child: Option<i32>,
    /// `--setuid`.
    pub setuid: Option<u32>,
    /// `--setgid`.
    pub setgid: Option<u32>,
    /// `--root`.
    pub root: Option<PathBuf>,
    /// `--wd`.
    pub wd: Option<PathBuf>,
    /// The program run inside.
    pub program: Program,
}

/// The `/proc/<pid>/ns/` entry a type is kept alive through: the one for children for pid
/// and time (the caller's own do not change by unshare(2)).
pub fn persist_entry(ty: NsType) -> NsEntry {
    match ty {
        NsType::Pid => NsEntry::PidForChildren,
        NsType::Time => NsEntry::TimeForChildren,
        NsType::Mnt => NsEntry::Mnt,
        NsType::Uts => NsEntry::Uts,
        NsType::Ipc => NsEntry::Ipc,
        NsType::Net => NsEntry::Net,
        NsType::User => NsEntry::User,
        NsType::Cgroup => NsEntry::Cgroup,
    }
}

/// Runs the command. Returns only on failure: on success this process executes the program,
/// or waits for the child that does and ends as it ended.
pub fn run(spec: &UnshareSpec, mut explain: Option<&mut dyn Explain>) -> LiveError {
    match run_inner(spec, &mut explain) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn run_inner(
    spec: &UnshareSpec,
    explain: &mut Option<&mut dyn Explain>,
) -> Result<std::convert::Infallible, LiveError> {
    let proc = match explain {
        Some(_) => Some(Proc::open()?),
        None => None,
    };
    // The caller's ids before a new user namespace hides them.
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let fwd = if spec.fork {
        Some(Forwarder::block()?)
    } else {
        None
    };
    let mut binder = if spec.persist.is_empty() {
        None
    } else {
        Some(Binder::start(&spec.persist)?)
    };

    if let Err(e) = crate::sys::unshare(spec.flags) {
        if let Some(b) = binder.take() {
            b.cancel();
        }
        return Err(LiveError::Refused {
            call: "unshare".into(),
            flags: spec.flags,
            errno: e,
            what: "unshare failed".into(),
        });
    }
    if spec.flags & CLONE_NEWUSER != 0 {
        write_maps(spec, euid, egid)?;
    }
    if spec.flags & CLONE_NEWNS != 0 {
        if let Some(p) = spec.propagation.flags() {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                p | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| LiveError::sys("cannot change root filesystem propagation", errno(e)))?;
        }
    }

    let Some(fwd) = fwd else {
        if let Some(b) = binder.take() {
            b.finish()?;
        }
        child_setup(spec)?;
        if let (Some(x), Some(proc)) = (explain.as_deref_mut(), &proc) {
            x.observed(&proc.observe_self("this process"));
        }
        return Err(spec.program.exec());
    };

    let parent = match spec.kill_child {
        Some(_) => Some(
            crate::sys::pidfd_open(nix::unistd::getpid().as_raw())
                .map_err(|e| LiveError::sys("pidfd_open failed", e))?,
        ),
        None => None,
    };
    // SAFETY: this process is single-threaded (see the module's documentation of `live`), so
    // the child may run any code.
    match unsafe { fork() }.map_err(|e| LiveError::sys("fork failed", errno(e)))? {
        ForkResult::Child => {
            fwd.child();
            drop(binder);
            if let (Some(sig), Some(parent)) = (spec.kill_child, &parent) {
                kill_with_parent(sig, parent)?;
            }
            child_setup(spec)?;
            // The child reports what the kernel shows for it, once it is final and before
            // it executes the program.
            if let (Some(x), Some(proc)) = (explain.as_deref_mut(), &proc) {
                x.observed(&proc.observe_self("child"));
            }
            Err(spec.program.exec())
        }
        ForkResult::Parent { child } => {
            drop(parent);
            if let Some(b) = binder.take() {
                if let Err(e) = b.finish() {
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    let _ = super::reap(child, false);
                    return Err(e);
                }
            }
            exit_like(fwd.wait(child)?)
        }
    }
}

/// setgroups, then the uid and gid maps, each one write to `/proc/self/...`.
fn write_maps(spec: &UnshareSpec, euid: u32, egid: u32) -> Result<(), LiveError> {
    let needs =
        spec.setgroups_allow.is_some() || spec.map_user.is_some() || spec.map_group.is_some();
    if needs && !crate::observe::proc_is_procfs() {
        return Err(LiveError::Failed(
            "/proc is not a proc filesystem: refusing to write id maps under it".into(),
        ));
    }
    // A refused write names the cause and the fix where one is known (AppArmor's
    // restriction refuses the map write, not the unshare).
    let fail = |what: &str, e: Errno| {
        let hint = if euid != 0 && matches!(e, Errno::EPERM | Errno::EACCES) {
            format!(
                "; {}",
                crate::start::StartError::user_namespace_hint(what, e)
            )
        } else {
            String::new()
        };
        LiveError::Failed(format!("write failed {what}: {}{hint}", super::strerror(e)))
    };
    if let Some(allow) = spec.setgroups_allow {
        let text = if allow { "allow" } else { "deny" };
        super::write_once("/proc/self/setgroups", text)
            .map_err(|e| fail("/proc/self/setgroups", e))?;
    }
    if let Some(inner) = spec.map_user {
        super::write_once("/proc/self/uid_map", &format!("{inner} {euid} 1"))
            .map_err(|e| fail("/proc/self/uid_map", e))?;
    }
    if let Some(inner) = spec.map_group {
        super::write_once("/proc/self/gid_map", &format!("{inner} {egid} 1"))
            .map_err(|e| fail("/proc/self/gid_map", e))?;
    }
    Ok(())
}

/// What the process that executes the program does last: root, working directory, a new
/// proc, ids (util-linux's order).
fn child_setup(spec: &UnshareSpec) -> Result<(), LiveError> {
    super::change_root(spec.root.as_deref(), spec.wd.as_deref())?;
    if let Some(dir) = &spec.mount_proc {
        // The mount tree is private already unless --propagation said otherwise; then make
        // this mount point private, so the new proc cannot propagate to the caller's tree
        // (EINVAL: nothing is mounted there, which is fine).
        if spec.propagation != Propagation::Private {
            match mount(
                None::<&str>,
                dir,
                None::<&str>,
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                None::<&str>,
            ) {
                Ok(()) | Err(nix::Error::EINVAL) => {}
                Err(e) => {
                    return Err(LiveError::sys(
                        format!("cannot change {} propagation", dir.display()),
                        errno(e),
                    ))
                }
            }
        }
        mount(
            Some("proc"),
            dir,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
            None::<&str>,
        )
        .map_err(|e| LiveError::sys(format!("mount {} failed", dir.display()), errno(e)))?;
    }
    super::set_ids(spec.setuid, spec.setgid)
}

/// The process that makes the `=FILE` bind mounts from the original mount namespace.
struct Binder {
    pid: Pid,
    go: OwnedFd,
    report: OwnedFd,
}

impl Binder {
    /// Forks the binder; it waits for [`Binder::finish`].
    fn start(persist: &[(NsType, PathBuf)]) -> Result<Binder, LiveError> {
        let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| LiveError::sys("pipe failed", errno(e)))?;
        let (rep_r, rep_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| LiveError::sys("pipe failed", errno(e)))?;
        let target = nix::unistd::getpid();
        // SAFETY: single-threaded caller, as above.
        match unsafe { fork() }.map_err(|e| LiveError::sys("fork failed", errno(e)))? {
            ForkResult::Child => {
                drop(go_w);
                drop(rep_r);
                let mut b = [0u8; 1];
                let go = loop {
                    match nix::unistd::read(go_r.as_raw_fd(), &mut b) {
                        Err(nix::Error::EINTR) => continue,
                        Ok(1) => break true,
                        _ => break false,
                    }
                };
                if !go {
                    std::process::exit(0);
                }
                for (ty, file) in persist {
                    let src = format!("/proc/{target}/ns/{}", persist_entry(*ty).file_name());
                    if let Err(e) = mount(
                        Some(src.as_str()),
                        file,
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    ) {
                        let msg = format!(
                            "mount {src} on {} failed: {}",
                            file.display(),
                            super::strerror(errno(e))
                        );
                        let _ = nix::unistd::write(&rep_w, msg.as_bytes());
                        std::process::exit(1);
                    }
                }
                std::process::exit(0)
            }
            ForkResult::Parent { child } => Ok(Binder {
                pid: child,
                go: go_w,
                report: rep_r,
            }),
        }
    }

    /// The namespaces exist: bind them, wait for the binder, and report its failure.
    fn finish(self) -> Result<(), LiveError> {
        let _ = nix::unistd::write(&self.go, &[1]);
        drop(self.go);
        let status = super::reap(self.pid, false)?;
        let mut msg = String::new();
        let _ = std::io::Read::read_to_string(&mut std::fs::File::from(self.report), &mut msg);
        match status {
            Some(super::ChildStatus::Exited(0)) => Ok(()),
            _ if !msg.is_empty() => Err(LiveError::Failed(msg)),
            other => Err(LiveError::Failed(format!(
                "the process binding the namespace files ended: {other:?}"
            ))),
        }
    }

    /// No namespace to bind: the binder exits without mounting anything.
    fn cancel(self) {
        drop(self.go);
        let _ = super::reap(self.pid, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_words_are_util_linux_s() {
        assert_eq!(Propagation::parse("private"), Some(Propagation::Private));
        assert_eq!(
            Propagation::parse("unchanged"),
            Some(Propagation::Unchanged)
        );
        assert_eq!(Propagation::parse("Private"), None);
        assert_eq!(Propagation::Unchanged.flags(), None);
        assert_eq!(Propagation::default(), Propagation::Private);
    }

    #[test]
    fn pid_and_time_persist_through_their_for_children_entries() {
        assert_eq!(persist_entry(NsType::Pid), NsEntry::PidForChildren);
        assert_eq!(persist_entry(NsType::Time), NsEntry::TimeForChildren);
        assert_eq!(persist_entry(NsType::Net), NsEntry::Net);
    }
}
