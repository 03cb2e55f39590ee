//! Process ids: one `struct pid` per task with a number at every pid-namespace level.
//!
//! Mirrors kernel/pid.c (v6.18): `alloc_pid`, `free_pid`, `put_pid`, `attach_pid`/
//! `detach_pid`, `task_active_pid_ns`, `pid_nr_ns`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/pid.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 6.

use crate::errno::Errno;
use crate::kernel::{Kernel, PidNsRef, PidRef, TaskRef};
use crate::pid_namespace::PIDNS_ADDING;
use crate::trace::Step;

const FILE: &str = "kernel/pid.c";

/// `RESERVED_PIDS`: after the first wrap, numbers restart here instead of at 1.
pub(crate) const RESERVED_PIDS: i32 = 300;

/// One level of a pid: `struct upid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upid {
    /// The number.
    pub nr: i32,
    /// The namespace it is a number in.
    pub ns: PidNsRef,
}

/// `struct pid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pid {
    /// `count`.
    pub count: u64,
    /// `level`: the level of the innermost namespace.
    pub level: u32,
    /// `numbers[0..=level]`, outermost first: a flexible array at the end of `struct pid`
    /// (each level has its own `kmem_cache` sized for it), inline here up to level 1.
    pub numbers: smallvec::SmallVec<[Upid; 2]>,
    /// The task using it (`tasks[PIDTYPE_PID]`), if attached.
    pub task: Option<TaskRef>,
}

impl Pid {
    /// The number in the initial (outermost) namespace.
    pub(crate) fn nr_global(&self) -> i32 {
        self.numbers[0].nr
    }

    /// The number in the innermost namespace.
    pub(crate) fn nr_own(&self) -> i32 {
        self.numbers[self.level as usize].nr
    }
}

impl Kernel {
    /// `alloc_pid(ns)`: a number at every level from `ns` up to the root, handed out
    /// cyclically; then `ENOMEM` if `ns` no longer accepts tasks (its init died).
    pub(crate) fn alloc_pid(&mut self, ns: PidNsRef) -> Result<PidRef, Errno> {
        self.call("alloc_pid", FILE, |k| {
            let level = k.pid_namespaces[ns].level;
            let mut numbers: smallvec::SmallVec<[Upid; 2]> =
                smallvec::smallvec![Upid { nr: 0, ns }; level as usize + 1];
            let mut tmp = Some(ns);
            for i in (0..=level as usize).rev() {
                let t = tmp.expect("a pid namespace above level 0 has a parent");
                match k.idr_alloc_cyclic(t) {
                    Some(nr) => numbers[i] = Upid { nr, ns: t },
                    None => {
                        for u in &numbers[i + 1..] {
                            k.pid_namespaces[u.ns].idr.remove(u.nr);
                        }
                        k.reset_cursor_if_empty(ns);
                        return Err(
                            k.refuse("idr_alloc_cyclic: pid space exhausted", Errno::EAGAIN)
                        );
                    }
                }
                tmp = k.pid_namespaces[t].parent;
            }
            let adding = k.pid_namespaces[ns].pid_allocated & PIDNS_ADDING != 0;
            if let Err(e) = k.rule(
                "!(ns->pid_allocated & PIDNS_ADDING) (its init has exited)",
                !adding,
                Errno::ENOMEM,
            ) {
                for u in &numbers {
                    k.pid_namespaces[u.ns].idr.remove(u.nr);
                }
                k.reset_cursor_if_empty(ns);
                return Err(e);
            }
            k.get_pid_ns(ns);
            let p = k.pids.insert(Pid {
                count: 1,
                level,
                numbers,
                task: None,
            });
            for i in 0..=level as usize {
                let u = k.pids[p].numbers[i];
                let n = &mut k.pid_namespaces[u.ns];
                n.idr.insert(u.nr, p);
                n.pid_allocated += 1;
            }
            k.note(|k| Step::Alloc {
                object: format!("struct pid {}", k.pid_numbers_text(p)),
            });
            Ok(p)
        })
    }

    /// "On failure to allocate the first pid, reset the state": a namespace that never got
    /// a task hands out 1 again.
    fn reset_cursor_if_empty(&mut self, ns: PidNsRef) {
        let n = &mut self.pid_namespaces[ns];
        if n.pid_allocated == PIDNS_ADDING {
            n.last_pid = 0;
        }
    }

    /// `idr_alloc_cyclic(&ns->idr, NULL, pid_min, pid_max)`: the next free number after the
    /// last one handed out, wrapping to `RESERVED_PIDS`.
    fn idr_alloc_cyclic(&mut self, ns: PidNsRef) -> Option<i32> {
        let n = &mut self.pid_namespaces[ns];
        // The kernel compares the idr cursor, one past the last number, with RESERVED_PIDS.
        let pid_min = if n.last_pid + 1 > RESERVED_PIDS {
            RESERVED_PIDS
        } else {
            1
        };
        let start = (n.last_pid + 1).max(pid_min);
        let upper = n.pid_max;
        let nr = (start..upper)
            .chain(pid_min..start.min(upper))
            .find(|nr| !n.idr.contains(*nr))?;
        n.last_pid = nr;
        Some(nr)
    }

    /// `free_pid`: gives back the number at every level. A namespace left with only its
    /// reaper wakes it; the failed first fork of a namespace resets it.
    pub(crate) fn free_pid(&mut self, p: PidRef) {
        for i in 0..self.pids[p].numbers.len() {
            let u = self.pids[p].numbers[i];
            let n = &mut self.pid_namespaces[u.ns];
            n.pid_allocated -= 1;
            if n.pid_allocated == PIDNS_ADDING {
                n.pid_allocated = 0;
            }
            n.idr.remove(u.nr);
        }
        self.note(|k| Step::Set {
            what: format!("free_pid {}", k.pid_numbers_text(p)),
        });
        self.put_pid(p);
    }

    /// `put_pid`: the last reference frees the pid and puts its innermost namespace.
    pub(crate) fn put_pid(&mut self, p: PidRef) {
        let count = {
            let pid = &mut self.pids[p];
            pid.count -= 1;
            pid.count
        };
        if count == 0 {
            self.note(|k| Step::Free {
                object: format!("struct pid {}", k.pid_numbers_text(p)),
            });
            let pid = self.pids.remove(p);
            let ns = pid.numbers[pid.level as usize].ns;
            self.put_pid_ns(ns);
        }
    }

    /// `task_active_pid_ns(tsk)`: the namespace of the task's own pid, not the nsproxy's.
    pub fn task_active_pid_ns(&self, t: TaskRef) -> PidNsRef {
        let pid = &self.pids[self.tasks[t].pid];
        pid.numbers[pid.level as usize].ns
    }

    /// `pid_nr_ns(pid, ns)`: the number of a pid in `ns`, 0 if it is not visible there.
    pub(crate) fn pid_nr_ns(&self, p: PidRef, ns: PidNsRef) -> i32 {
        let pid = &self.pids[p];
        let level = self.pid_namespaces[ns].level;
        match pid.numbers.get(level as usize) {
            Some(u) if u.ns == ns => u.nr,
            _ => 0,
        }
    }

    /// `[1 -> 2 -> 1]`-style text of a pid's numbers, outermost first.
    pub(crate) fn pid_numbers_text(&self, p: PidRef) -> String {
        let nums: Vec<String> = self.pids[p]
            .numbers
            .iter()
            .map(|u| format!("{}@L{}", u.nr, self.pid_namespaces[u.ns].level))
            .collect();
        format!("[{}]", nums.join(" "))
    }
}
