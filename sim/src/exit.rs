//! Task exit: releasing namespaces, finding a new parent for the children, the death of a
//! pid namespace's init, and reaping.
//!
//! Mirrors kernel/exit.c (v6.18): `do_exit`/`do_group_exit`, `exit_notify`,
//! `forget_original_parent`, `find_child_reaper`, `find_new_reaper`, `release_task`.
//! The model's parents reap at once (as every nslab helper does), so there are no zombies.

use crate::kernel::{Handle, Kernel, TaskRef};
use crate::machine::TaskState;
use crate::trace::Step;

const FILE: &str = "kernel/exit.c";

impl Kernel {
    /// `do_group_exit`: every task of the thread group exits.
    pub(crate) fn do_group_exit(&mut self, t: TaskRef, how: TaskState) {
        let leader = self.tasks.get(t.0).group_leader;
        let threads: Vec<TaskRef> = self
            .tasks
            .iter()
            .filter(|(i, task)| task.group_leader == leader && *i != leader.0)
            .map(|(i, _)| TaskRef(i))
            .collect();
        for th in threads {
            if self.tasks.contains(th.0) && self.tasks.get(th.0).state == TaskState::Running {
                self.do_exit(th, TaskState::Killed(9));
            }
        }
        if self.tasks.contains(leader.0) && self.tasks.get(leader.0).state == TaskState::Running {
            self.do_exit(leader, how);
        }
    }

    /// `do_exit(code)`: the fs_struct and the namespaces go first (`exit_fs`,
    /// `exit_task_namespaces`), then `exit_notify` finds the children a new parent (and, for
    /// a pid namespace's init, kills the namespace), and the parent reaps.
    pub(crate) fn do_exit(&mut self, t: TaskRef, how: TaskState) {
        let _ = self.call("do_exit", FILE, |k| {
            k.tasks.get_mut(t.0).state = how;
            k.exit_fs(t);
            k.exit_task_namespaces(t);
            k.exit_notify(t);
            k.release_task(t);
            Ok(())
        });
    }

    /// `exit_notify` -> `forget_original_parent`.
    fn exit_notify(&mut self, father: TaskRef) {
        let _ = self.call("forget_original_parent", FILE, |k| {
            let reaper = k.find_child_reaper(father);
            if k.tasks.get(father.0).children.is_empty() {
                return Ok(());
            }
            let reaper = k.find_new_reaper(father, reaper);
            let children = std::mem::take(&mut k.tasks.get_mut(father.0).children);
            for c in children {
                k.tasks.get_mut(c.0).real_parent = Some(reaper);
                k.tasks.get_mut(reaper.0).children.push(c);
                k.note(|k| Step::Set {
                    what: format!("reparent {} to {}", k.task_name(c), k.task_name(reaper)),
                });
            }
            Ok(())
        });
    }

    /// `find_child_reaper`: a pid namespace's init that exits with no other live thread zaps
    /// its namespace first.
    fn find_child_reaper(&mut self, father: TaskRef) -> TaskRef {
        let ns = self.task_active_pid_ns(father);
        let reaper = self.pid_namespaces.get(ns.0).child_reaper;
        if reaper != Some(father) {
            return reaper.unwrap_or(self.init_task);
        }
        let _ = self.call("find_child_reaper", FILE, |k| {
            k.zap_pid_ns_processes(ns);
            Ok(())
        });
        father
    }

    /// `find_new_reaper`: the nearest child subreaper among the ancestors in the same pid
    /// namespace, else the namespace's init.
    fn find_new_reaper(&self, father: TaskRef, child_reaper: TaskRef) -> TaskRef {
        let f = self.tasks.get(father.0);
        if f.has_child_subreaper {
            let level = self.pids.get(f.pid.0).level;
            let mut r = f.real_parent;
            while let Some(reaper) = r {
                let rt = self.tasks.get(reaper.0);
                if self.pids.get(rt.pid.0).level != level || reaper == self.init_task {
                    break;
                }
                if rt.is_child_subreaper && rt.state == TaskState::Running {
                    return reaper;
                }
                r = rt.real_parent;
            }
        }
        child_reaper
    }

    /// `release_task`: the parent reaped it. The pid is freed, the task leaves its parent's
    /// children and its thread group, and its credentials are put (`put_task_struct` ->
    /// `exit_creds`).
    fn release_task(&mut self, t: TaskRef) {
        let _ = self.call("release_task", FILE, |k| {
            let (pid, parent, leader, handle, state) = {
                let task = k.tasks.get(t.0);
                (
                    task.pid,
                    task.real_parent,
                    task.group_leader,
                    task.handle,
                    task.state,
                )
            };
            if let Some(p) = parent {
                k.tasks.get_mut(p.0).children.retain(|c| *c != t);
            }
            if k.tasks.contains(leader.0) {
                k.tasks.get_mut(leader.0).nr_threads -= 1;
            }
            k.note(|k| Step::Free {
                object: k.task_name(t),
            });
            k.pids.get_mut(pid.0).task = None;
            k.free_pid(pid);
            k.exit_creds(t);
            k.tasks.remove(t.0);
            if let Some(h) = handle {
                k.handles[h.0 as usize] = Handle::Gone(state);
            }
            Ok(())
        });
    }
}
