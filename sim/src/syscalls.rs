//! The model behind the [`Machine`] interface: each method is the system call entry the
//! task would make, returning the kernel's errno.
//!
//! Mirrors the `SYSCALL_DEFINE` entry points of the files named on each method; it is the
//! model's counterpart of the system call table.

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::machine::*;
use crate::op::Op;

impl Kernel {
    /// Turns a model errno into a machine result.
    fn sys<T>(r: Result<T, Errno>) -> SysResult<T> {
        r.map_err(SysError::Errno)
    }
}

impl Machine for Kernel {
    fn backend_name(&self) -> &'static str {
        "sim"
    }

    fn root(&self) -> TaskId {
        self.handle_of(self.root_task)
            .expect("the root task has a handle")
    }

    fn origin(&self) -> Origin {
        self.origin.clone()
    }

    /// The system call table: each operation to its entry point below.
    fn syscall(&mut self, task: TaskId, op: &Op) -> SysResult<Option<TaskId>> {
        let done = |r: SysResult<()>| r.map(|()| None);
        match op {
            Op::Clone(args) => self.clone_task(task, *args).map(Some),
            Op::Unshare(flags) => done(self.unshare(task, *flags)),
            Op::Setns { fd, nstype } => done(self.setns(task, *fd, *nstype)),
            Op::Exit(code) => done(self.exit(task, *code)),
            Op::Setresuid(uid) => done(self.setresuid(task, *uid)),
            Op::Setresgid(gid) => done(self.setresgid(task, *gid)),
            Op::DropCaps(caps) => done(self.drop_caps(task, *caps)),
            Op::WriteIdMap {
                target,
                kind,
                extents,
            } => done(self.write_id_map(task, *target, *kind, extents)),
            Op::Sethostname(name) => done(self.sethostname(task, name)),
            Op::LinkUp(ifname) => done(self.link_up(task, ifname)),
            Op::SetMaxNamespaces(ty, max) => done(self.set_max_namespaces(task, *ty, *max)),
        }
    }

    /// kernel/fork.c `clone`/`clone3`.
    fn clone_task(&mut self, task: TaskId, args: CloneArgs) -> SysResult<TaskId> {
        let t = self.task_of(task)?;
        let child = Kernel::sys(self.sys_clone(t, args))?;
        Ok(self.new_handle(child))
    }

    /// kernel/fork.c `unshare`.
    fn unshare(&mut self, task: TaskId, flags: u64) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.ksys_unshare(t, flags))
    }

    /// kernel/nsproxy.c `setns`.
    fn setns(&mut self, task: TaskId, fd: NsFd, nstype: u64) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.sys_setns(t, fd, nstype))
    }

    /// kernel/exit.c `exit_group`.
    fn exit(&mut self, task: TaskId, code: i32) -> SysResult<()> {
        let t = self.task_of(task)?;
        // exit_group from any thread of init ends init too.
        if self.tasks[t].group_leader == self.init_task {
            return Err(SysError::Refused(
                "the init task exiting would panic the kernel (\"Attempted to kill init!\")"
                    .to_string(),
            ));
        }
        self.do_group_exit(t, TaskState::Exited(code));
        Ok(())
    }

    /// kernel/sys.c `setresuid`.
    fn setresuid(&mut self, task: TaskId, uid: u32) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.sys_setresuid(t, uid))
    }

    /// kernel/sys.c `setresgid`.
    fn setresgid(&mut self, task: TaskId, gid: u32) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.sys_setresgid(t, gid))
    }

    /// kernel/capability.c `capset` -> security/commoncap.c `cap_capset`.
    fn drop_caps(&mut self, task: TaskId, caps: u64) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.capset_drop(t, caps))
    }

    /// kernel/user_namespace.c `proc_uid_map_write`/`proc_gid_map_write`; the gid map is
    /// preceded by writing `deny` to `setgroups`, as `unshare -r` does.
    fn write_id_map(
        &mut self,
        writer: TaskId,
        target: TaskId,
        kind: IdMapKind,
        map: &[IdMapExtent],
    ) -> SysResult<()> {
        let w = self.task_of(writer)?;
        // The file of a task that is gone cannot be opened.
        let t = self
            .task_of(target)
            .map_err(|_| SysError::Errno(Errno::ENOENT))?;
        Kernel::sys(self.proc_open_for_write(w, t))?;
        if kind == IdMapKind::Gid {
            Kernel::sys(self.setgroups_deny(t))?;
        }
        Kernel::sys(self.map_write(w, t, kind, map))
    }

    /// kernel/sys.c `sethostname`.
    fn sethostname(&mut self, task: TaskId, name: &str) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.sys_sethostname(t, name))
    }

    /// net/core/dev_ioctl.c `SIOCSIFFLAGS`.
    fn link_up(&mut self, task: TaskId, ifname: &str) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.dev_ioctl_set_up(t, ifname))
    }

    /// kernel/ucount.c, the `user` sysctl table.
    fn set_max_namespaces(&mut self, task: TaskId, ns: NsType, max: u32) -> SysResult<()> {
        let t = self.task_of(task)?;
        Kernel::sys(self.write_max_namespaces(t, ns, max))
    }

    fn observe(&mut self, task: TaskId) -> SysResult<TaskView> {
        let t = self.task_of(task)?;
        Ok(self.observe_task(t))
    }

    fn observe_into(&mut self, task: TaskId, view: &mut TaskView) -> SysResult<()> {
        let t = self.task_of(task)?;
        self.observe_task_into(t, view);
        Ok(())
    }

    fn state(&mut self, task: TaskId) -> SysResult<TaskState> {
        match self.handles.get(task.0 as usize) {
            Some(crate::kernel::Handle::Live(_)) => Ok(TaskState::Running),
            Some(crate::kernel::Handle::Gone(s)) => Ok(*s),
            None => Err(SysError::Errno(Errno::ESRCH)),
        }
    }
}
