//! Creating tasks and unsharing: the clone path from the system call to a running child.
//!
//! Mirrors kernel/fork.c (v6.18): `sys_clone`/`sys_clone3` with `clone3_args_valid`,
//! `kernel_clone`, `copy_process` (flag checks, `dup_task_struct`, `copy_creds`, `copy_fs`,
//! `copy_namespaces`, `alloc_pid`, attaching under `tasklist_lock`), `ksys_unshare` with
//! `check_unshare_flags`, `unshare_fs`; and `unshare_userns` from kernel/user_namespace.c.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/fork.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 1.

use crate::errno::Errno;
use crate::kernel::{CredRef, FsRef, Kernel, PidRef, TaskRef};
use crate::machine::{CloneArgs, CloneVia, TaskState};
use crate::pid_namespace::PIDNS_ADDING;
use crate::sched::*;
use crate::task::{FsStruct, TaskStruct};
use crate::trace::Step;

const FILE: &str = "kernel/fork.c";

/// `struct kernel_clone_args`, reduced to what the model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KernelCloneArgs {
    /// The `CLONE_*` flags.
    pub flags: u64,
    /// The signal sent to the parent at exit.
    pub exit_signal: u64,
    /// Legacy `clone` passes one pointer as both `pidfd` and `parent_tid`.
    pub pidfd_is_parent_tid: bool,
}

/// What `copy_process` has set up for the new task so far, for [`Kernel::bad_fork_cleanup`]
/// (as `create_new_namespaces` keeps its `Partial`).
#[derive(Debug, Default)]
struct ForkProgress {
    /// `copy_creds` succeeded: the task holds two references on its credentials.
    creds: bool,
    /// `copy_fs` ran: the task uses an fs_struct.
    fs: bool,
    /// `copy_namespaces` succeeded: the task holds an nsproxy.
    namespaces: bool,
    /// `alloc_pid` succeeded: the pid, not yet attached to the task.
    pid: Option<PidRef>,
}

/// Every flag `unshare` accepts (`check_unshare_flags`).
pub(crate) const UNSHARE_VALID: u64 = CLONE_THREAD
    | CLONE_FS
    | CLONE_NEWNS
    | CLONE_SIGHAND
    | CLONE_VM
    | CLONE_FILES
    | CLONE_SYSVSEM
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWNET
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWCGROUP
    | CLONE_NEWTIME;

impl Kernel {
    /// The `clone` or `clone3` system call made by `current`: decodes the arguments as the
    /// entry points do, then `kernel_clone`.
    pub(crate) fn sys_clone(
        &mut self,
        current: TaskRef,
        args: CloneArgs,
    ) -> Result<TaskRef, Errno> {
        match args.via {
            CloneVia::Clone => {
                // `SYSCALL_DEFINE5(clone)`: 32-bit flags; the low byte is the exit signal.
                let low = args.flags & 0xffff_ffff;
                let exit_signal = if low & CSIGNAL == 0 {
                    SIGCHLD
                } else {
                    low & CSIGNAL
                };
                self.call("sys_clone", FILE, |k| {
                    k.kernel_clone(
                        current,
                        KernelCloneArgs {
                            flags: low & !CSIGNAL,
                            exit_signal,
                            pidfd_is_parent_tid: true,
                        },
                    )
                })
            }
            CloneVia::Clone3 if !self.version.has_clone3() => {
                // A system call number the kernel does not have goes to `sys_ni_syscall`.
                self.call("sys_ni_syscall", "kernel/sys_ni.c", |k| {
                    Err(k.refuse("no clone3 system call before Linux 5.3", Errno::ENOSYS))
                })
            }
            CloneVia::Clone3 => self.call("sys_clone3", FILE, |k| {
                let kargs = KernelCloneArgs {
                    flags: args.flags,
                    exit_signal: SIGCHLD,
                    pidfd_is_parent_tid: false,
                };
                k.call("clone3_args_valid", FILE, |k| {
                    let f = kargs.flags;
                    k.rule(
                        "flags & ~(CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP)",
                        f & !CLONE3_VALID != 0,
                        Errno::EINVAL,
                    )?;
                    k.rule(
                        "flags & (CLONE_DETACHED | (CSIGNAL & ~CLONE_NEWTIME))",
                        f & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0,
                        Errno::EINVAL,
                    )?;
                    k.rule(
                        "CLONE_SIGHAND together with CLONE_CLEAR_SIGHAND",
                        f & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND)
                            == (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND),
                        Errno::EINVAL,
                    )?;
                    k.rule(
                        "(CLONE_THREAD | CLONE_PARENT) with an exit signal",
                        f & (CLONE_THREAD | CLONE_PARENT) != 0 && kargs.exit_signal != 0,
                        Errno::EINVAL,
                    )
                })?;
                k.kernel_clone(current, kargs)
            }),
        }
    }

    /// `kernel_clone(args)`.
    pub(crate) fn kernel_clone(
        &mut self,
        current: TaskRef,
        args: KernelCloneArgs,
    ) -> Result<TaskRef, Errno> {
        // `_do_fork` in 4.19, which has no CLONE_PIDFD.
        self.call(self.version.fork_entry(), FILE, |k| {
            if k.version.has_pidfd() {
                k.rule(
                    "CLONE_PIDFD and CLONE_PARENT_SETTID share one pointer",
                    args.flags & CLONE_PIDFD != 0
                        && args.flags & CLONE_PARENT_SETTID != 0
                        && args.pidfd_is_parent_tid,
                    Errno::EINVAL,
                )?;
            }
            let p = k.copy_process(current, args)?;
            k.note(|k| Step::Set {
                what: format!("wake_up_new_task({})", k.task_name(p)),
            });
            Ok(p)
        })
    }

    /// `copy_process(NULL, trace, node, args)`.
    fn copy_process(&mut self, current: TaskRef, args: KernelCloneArgs) -> Result<TaskRef, Errno> {
        self.call("copy_process", FILE, |k| {
            let f = args.flags;
            let both = |a: u64, b: u64| f & (a | b) == (a | b);
            k.rule(
                "CLONE_NEWNS together with CLONE_FS",
                both(CLONE_NEWNS, CLONE_FS),
                Errno::EINVAL,
            )?;
            k.rule(
                "CLONE_NEWUSER together with CLONE_FS",
                both(CLONE_NEWUSER, CLONE_FS),
                Errno::EINVAL,
            )?;
            k.rule(
                "CLONE_THREAD without CLONE_SIGHAND",
                f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0,
                Errno::EINVAL,
            )?;
            k.rule(
                "CLONE_SIGHAND without CLONE_VM",
                f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0,
                Errno::EINVAL,
            )?;
            // `current->signal->flags`: the signal_struct is shared by the thread group, so a
            // thread of an init is unkillable too; the model keeps the flag on the leader.
            let leader = k.tasks[current].group_leader;
            let unkillable = k.tasks[leader].signal_unkillable;
            k.rule(
                "CLONE_PARENT from an init (SIGNAL_UNKILLABLE)",
                f & CLONE_PARENT != 0 && unkillable,
                Errno::EINVAL,
            )?;
            if f & CLONE_THREAD != 0 {
                let nsp = k.task_nsproxy(current);
                let for_children = k.nsproxies[nsp].pid_ns_for_children;
                let active = k.task_active_pid_ns(current);
                k.rule(
                    "CLONE_THREAD with CLONE_NEWUSER|CLONE_NEWPID, or after unshare(CLONE_NEWPID)",
                    f & (CLONE_NEWUSER | CLONE_NEWPID) != 0 || active != for_children,
                    Errno::EINVAL,
                )?;
            }
            if k.version.has_pidfd() {
                k.rule(
                    "CLONE_PIDFD together with CLONE_DETACHED",
                    both(CLONE_PIDFD, CLONE_DETACHED),
                    Errno::EINVAL,
                )?;
            }

            let p = k.dup_task_struct(current);
            // What is set up so far; a failure undoes it, newest first, as the kernel's
            // `bad_fork_*` labels do.
            let mut made = ForkProgress::default();
            macro_rules! or_unwind {
                ($step:expr) => {
                    match $step {
                        Ok(v) => v,
                        Err(e) => {
                            k.bad_fork_cleanup(p, &made);
                            return Err(e);
                        }
                    }
                };
            }
            or_unwind!(k.copy_creds(current, p, f));
            made.creds = true;
            k.copy_fs(current, p, f);
            made.fs = true;
            or_unwind!(k.copy_namespaces(current, f, p));
            made.namespaces = true;
            let nsp = k.task_nsproxy(p);
            let pid_ns = k.nsproxies[nsp].pid_ns_for_children;
            let pid = or_unwind!(k.alloc_pid(pid_ns));
            made.pid = Some(pid);
            or_unwind!(k.rule(
                "CLONE_INTO_CGROUP: the cgroup fd (0) is not a cgroup directory",
                f & CLONE_INTO_CGROUP != 0,
                Errno::EBADF,
            ));
            // Under tasklist_lock.
            let adding = k.pid_namespaces[pid_ns].pid_allocated & PIDNS_ADDING != 0;
            or_unwind!(k.rule(
                "!(ns_of_pid(pid)->pid_allocated & PIDNS_ADDING) (re-checked under tasklist_lock)",
                !adding,
                Errno::ENOMEM,
            ));
            k.attach_new_task(current, p, pid, args);
            Ok(p)
        })
    }

    /// `dup_task_struct(current)`: a copy of the caller whose links are filled in later.
    fn dup_task_struct(&mut self, current: TaskRef) -> TaskRef {
        let c = &self.tasks[current];
        let t = TaskStruct {
            // Copied with the rest of the parent's task_struct; `attach_new_task` sets both.
            pid: c.pid,
            group_leader: c.group_leader,
            nr_threads: 0,
            real_parent: None,
            children: Vec::new(),
            real_cred: c.real_cred,
            cred: c.cred,
            nsproxy: None,
            fs: None,
            exit_signal: 0,
            signal_unkillable: false,
            is_child_subreaper: false,
            has_child_subreaper: c.has_child_subreaper || c.is_child_subreaper,
            dumpable: c.dumpable,
            mm_user_ns: c.mm_user_ns,
            state: TaskState::Running,
            handle: None,
        };
        let p = self.tasks.insert(t);
        self.tasks[p].group_leader = p;
        self.note(|_| Step::Alloc {
            object: "task_struct (dup_task_struct)".to_string(),
        });
        p
    }

    /// The `bad_fork_*` labels of `copy_process`: undoes what `made` says was set up, in
    /// reverse (`bad_fork_free_pid`, `bad_fork_cleanup_namespaces`, `bad_fork_cleanup_fs`,
    /// `bad_fork_cleanup_count` for the credentials, `bad_fork_free`).
    fn bad_fork_cleanup(&mut self, p: TaskRef, made: &ForkProgress) {
        if let Some(pid) = made.pid {
            self.free_pid(pid);
        }
        if made.namespaces {
            self.exit_task_namespaces(p);
        }
        if made.fs {
            self.exit_fs(p);
        }
        if made.creds {
            self.exit_creds(p);
        }
        self.free_task_struct(p);
    }

    /// Frees a task struct that never ran (`free_task`).
    fn free_task_struct(&mut self, p: TaskRef) {
        self.tasks.remove(p);
        self.note(|_| Step::Free {
            object: "task_struct (free_task)".to_string(),
        });
    }

    /// `copy_fs`: `CLONE_FS` shares the fs_struct; otherwise the child gets a copy.
    fn copy_fs(&mut self, current: TaskRef, p: TaskRef, flags: u64) {
        let fs = self.tasks[current].fs;
        let new = match fs {
            Some(fs) if flags & CLONE_FS != 0 => {
                self.fs_structs[fs].users += 1;
                fs
            }
            _ => self.fs_structs.insert(FsStruct { users: 1 }),
        };
        self.tasks[p].fs = Some(new);
    }

    /// `exit_fs`: drop the task's use of its fs_struct.
    pub(crate) fn exit_fs(&mut self, p: TaskRef) {
        if let Some(fs) = self.tasks[p].fs.take() {
            let users = {
                let f = &mut self.fs_structs[fs];
                f.users -= 1;
                f.users
            };
            if users == 0 {
                self.fs_structs.remove(fs);
            }
        }
    }

    /// `exit_creds`: drop both credential pointers.
    pub(crate) fn exit_creds(&mut self, p: TaskRef) {
        let (real, cred) = {
            let t = &self.tasks[p];
            (t.real_cred, t.cred)
        };
        self.put_cred(real);
        self.put_cred(cred);
    }

    /// The end of `copy_process`, under `tasklist_lock`: parent, thread group, pid links; the
    /// first task of a pid namespace becomes its `child_reaper` and unkillable from inside.
    fn attach_new_task(
        &mut self,
        current: TaskRef,
        p: TaskRef,
        pid: PidRef,
        args: KernelCloneArgs,
    ) {
        let f = args.flags;
        let parent = if f & (CLONE_PARENT | CLONE_THREAD) != 0 {
            self.tasks[current].real_parent.unwrap_or(current)
        } else {
            current
        };
        let leader = if f & CLONE_THREAD != 0 {
            self.tasks[current].group_leader
        } else {
            p
        };
        {
            let t = &mut self.tasks[p];
            t.pid = pid;
            t.real_parent = Some(parent);
            t.group_leader = leader;
            t.exit_signal = if f & CLONE_THREAD != 0 {
                0
            } else {
                args.exit_signal
            };
        }
        self.tasks[leader].nr_threads += 1;
        self.tasks[parent].children.push(p);
        self.pids[pid].task = Some(p);
        let ns = self.task_active_pid_ns(p);
        if self.pids[pid].nr_own() == 1 && leader == p {
            self.pid_namespaces[ns].child_reaper = Some(p);
            self.tasks[p].signal_unkillable = true;
            self.note(|k| Step::Set {
                what: format!(
                    "is_child_reaper: {}->child_reaper = the new task; SIGNAL_UNKILLABLE",
                    k.pid_ns_name(ns)
                ),
            });
        }
        self.note(|k| Step::Set {
            what: format!(
                "attach_pid: {} is {}",
                k.task_name(p),
                k.pid_numbers_text(pid)
            ),
        });
    }

    /// `ksys_unshare(unshare_flags)` made by `current`.
    pub(crate) fn ksys_unshare(
        &mut self,
        current: TaskRef,
        unshare_flags: u64,
    ) -> Result<(), Errno> {
        self.call("ksys_unshare", FILE, |k| {
            let mut f = unshare_flags;
            if f & CLONE_NEWUSER != 0 {
                f |= CLONE_THREAD | CLONE_FS;
            }
            if f & CLONE_VM != 0 {
                f |= CLONE_SIGHAND;
            }
            if f & CLONE_SIGHAND != 0 {
                f |= CLONE_THREAD;
            }
            if f & CLONE_NEWNS != 0 {
                f |= CLONE_FS;
            }
            if f != unshare_flags {
                k.note(|_| Step::Set {
                    what: format!("implied flags: {}", flags_to_string(f)),
                });
            }
            k.check_unshare_flags(current, f)?;
            let new_fs = k.unshare_fs(current, f);
            let new_cred = match k.unshare_userns(current, f) {
                Ok(c) => c,
                Err(e) => {
                    k.bad_unshare_cleanup(None, new_fs);
                    return Err(e);
                }
            };
            let new_nsproxy = match k.unshare_nsproxy_namespaces(current, f, new_cred) {
                Ok(n) => n,
                Err(e) => {
                    k.bad_unshare_cleanup(new_cred, new_fs);
                    return Err(e);
                }
            };
            if let Some(n) = new_nsproxy {
                k.switch_task_namespaces(current, Some(n));
            }
            if let Some(fs) = new_fs {
                k.exit_fs(current);
                k.tasks[current].fs = Some(fs);
            }
            if let Some(c) = new_cred {
                k.commit_creds(current, c);
            }
            Ok(())
        })
    }

    /// The `bad_unshare_cleanup_*` labels of `ksys_unshare`: drops what was prepared and not
    /// installed, credentials first, then the private fs_struct (`free_fs_struct`).
    fn bad_unshare_cleanup(&mut self, new_cred: Option<CredRef>, new_fs: Option<FsRef>) {
        if let Some(c) = new_cred {
            self.put_cred(c);
        }
        if let Some(fs) = new_fs {
            self.fs_structs.remove(fs);
        }
    }

    /// `check_unshare_flags`: only the known flags; the thread-group ones only in a
    /// single-threaded process.
    fn check_unshare_flags(&mut self, current: TaskRef, f: u64) -> Result<(), Errno> {
        self.call("check_unshare_flags", FILE, |k| {
            // 4.19 has no CLONE_NEWTIME: its bit is unknown to unshare there.
            let valid = if k.version.has_time_ns() {
                UNSHARE_VALID
            } else {
                UNSHARE_VALID & !CLONE_NEWTIME
            };
            k.rule(
                "a flag unshare does not know",
                f & !valid != 0,
                Errno::EINVAL,
            )?;
            let threads = k.tasks[k.tasks[current].group_leader].nr_threads;
            k.rule(
                "CLONE_THREAD|CLONE_SIGHAND|CLONE_VM in a multithreaded process",
                f & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0 && threads > 1,
                Errno::EINVAL,
            )
        })
    }

    /// `unshare_fs`: a private copy of the fs_struct when `CLONE_FS` is asked and it is shared.
    fn unshare_fs(&mut self, current: TaskRef, f: u64) -> Option<FsRef> {
        if f & CLONE_FS == 0 {
            return None;
        }
        let fs = self.tasks[current].fs?;
        if self.fs_structs[fs].users == 1 {
            return None;
        }
        Some(self.fs_structs.insert(FsStruct { users: 1 }))
    }

    /// `unshare_userns` (kernel/user_namespace.c): new credentials in a new user namespace.
    fn unshare_userns(&mut self, current: TaskRef, f: u64) -> Result<Option<CredRef>, Errno> {
        if f & CLONE_NEWUSER == 0 {
            return Ok(None);
        }
        self.call("unshare_userns", "kernel/user_namespace.c", |k| {
            let cred = k.prepare_creds(current);
            match k.create_user_ns(current, cred) {
                Ok(()) => Ok(Some(cred)),
                Err(e) => {
                    k.put_cred(cred);
                    Err(e)
                }
            }
        })
    }
}
