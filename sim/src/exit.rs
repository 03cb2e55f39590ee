//! Task exit: releasing namespaces, finding a new parent for the children, the death of a
//! pid namespace's init, and reaping.
//!
//! Mirrors kernel/exit.c (v6.18): `do_exit`/`do_group_exit`, `exit_notify`,
//! `forget_original_parent`, `find_child_reaper`, `find_new_reaper`, `release_task`.
//! The model's parents reap at once (as every nslab helper does), so there are no zombies.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/exit.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 7.

use crate::kernel::{Handle, Kernel, TaskRef};
use crate::machine::TaskState;
use crate::trace::Step;

const FILE: &str = "kernel/exit.c";

impl Kernel {
    /// The task still exists and has not begun to exit: an earlier exit in the same call
    /// (a thread of the group, or a victim of a dying init) may have reaped it already.
    pub(crate) fn task_running(&self, t: TaskRef) -> bool {
        self.tasks
            .get(t)
            .is_some_and(|task| task.state == TaskState::Running)
    }

    /// `do_group_exit`: every task of the thread group exits.
    pub(crate) fn do_group_exit(&mut self, t: TaskRef, how: TaskState) {
        let leader = self.tasks[t].group_leader;
        let threads: Vec<TaskRef> = self
            .tasks
            .iter()
            .filter(|(i, task)| task.group_leader == leader && *i != leader)
            .map(|(i, _)| i)
            .collect();
        for th in threads {
            if self.task_running(th) {
                self.do_exit(th, TaskState::Killed(9));
            }
        }
        if self.task_running(leader) {
            self.do_exit(leader, how);
        }
    }

    /// `do_exit(code)`: the fs_struct and the namespaces go first (`exit_fs`,
    /// `exit_task_namespaces`), then `exit_notify` finds the children a new parent (and, for
    /// a pid namespace's init, kills the namespace), and the parent reaps.
    pub(crate) fn do_exit(&mut self, t: TaskRef, how: TaskState) {
        let _ = self.call("do_exit", FILE, |k| {
            k.tasks[t].state = how;
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
            if k.tasks[father].children.is_empty() {
                return Ok(());
            }
            let reaper = k.find_new_reaper(father, reaper);
            let children = std::mem::take(&mut k.tasks[father].children);
            for c in children {
                k.tasks[c].real_parent = Some(reaper);
                k.tasks[reaper].children.push(c);
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
        let reaper = self.pid_namespaces[ns].child_reaper;
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
        let f = &self.tasks[father];
        if f.has_child_subreaper {
            let level = self.pids[f.pid].level;
            let mut r = f.real_parent;
            while let Some(reaper) = r {
                let rt = &self.tasks[reaper];
                if self.pids[rt.pid].level != level || reaper == self.init_task {
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
    /// `__put_task_struct` -> `exit_creds`).
    fn release_task(&mut self, t: TaskRef) {
        let _ = self.call("release_task", FILE, |k| {
            let (pid, parent, leader, handle, state) = {
                let task = &k.tasks[t];
                (
                    task.pid,
                    task.real_parent,
                    task.group_leader,
                    task.handle,
                    task.state,
                )
            };
            if let Some(p) = parent {
                k.tasks[p].children.retain(|c| *c != t);
            }
            if let Some(l) = k.tasks.get_mut(leader) {
                l.nr_threads -= 1;
            }
            k.note(|k| Step::Free {
                object: k.task_name(t),
            });
            k.pids[pid].task = None;
            k.free_pid(pid);
            k.exit_creds(t);
            k.tasks.remove(t);
            if let Some(h) = handle {
                k.handles[h.0 as usize] = Handle::Gone(state);
            }
            Ok(())
        });
    }
}
