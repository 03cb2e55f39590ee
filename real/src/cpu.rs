//! One CPU per machine: a machine's helpers and the thread that drives it run on the same CPU.
//!
//! The controller and its helpers never run at the same time: every request is a message,
//! then a wait for the answer (or for a reap). Each of those hand-overs wakes the other
//! process, and a wakeup that crosses to another CPU is slow where that CPU sleeps in the
//! hypervisor: a one-byte round trip over a socket pair took a median of 78 to 89 µs on the
//! project's 2-core virtual machine, against 3.9 to 4.0 µs with both ends on one CPU
//! (`real_ops -- --pingpong`, BENCHMARKS.md, issue 14). So [`pin_current_thread`] pins the calling thread to one CPU
//! before the root helper is spawned; the helper inherits the mask (fork(2) and execve(2)
//! keep it), and so does every helper it clones. Nothing about namespaces depends on it.
//!
//! The CPU is the least used one, by this process's machines, of those the thread may run
//! on, the one it runs on winning a tie (no migration). A thread that already drives a
//! machine keeps its CPU for the next one, so its machines do not split across CPUs; the
//! thread's own mask comes back when the last machine it started is dropped
//! ([`CpuPin`]'s `Drop`), from whichever thread drops it. A thread created by a pinned
//! thread inherits its one CPU; when it starts a machine of its own it may choose among the
//! CPUs its creator had. `nslab check --jobs N` so spreads its jobs over the CPUs.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use std::sync::Mutex;

/// A thread pinned for machines: its CPU, how many live machines hold it there, and the mask
/// it had before.
struct Pinned {
    tid: Pid,
    cpu: usize,
    machines: usize,
    before: CpuSet,
}

/// Every thread of this process that drives a machine.
static PINNED: Mutex<Vec<Pinned>> = Mutex::new(Vec::new());

/// Held by a machine: its thread stays on its CPU until the last such hold is dropped.
#[derive(Debug)]
pub(crate) struct CpuPin {
    tid: Pid,
    /// The CPU.
    pub(crate) cpu: usize,
}

/// The CPUs a mask allows, in order.
fn cpus(set: &CpuSet) -> Vec<usize> {
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect()
}

/// The CPU this thread runs on now, if the C library says.
fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu takes no arguments.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

/// The least used of `allowed` given `used` (CPU, machines' threads on it), `current`
/// winning a tie, then the lowest number.
fn choose(allowed: &[usize], used: &[usize], current: Option<usize>) -> Option<usize> {
    allowed.iter().copied().min_by_key(|&c| {
        let n = used.iter().filter(|&&u| u == c).count();
        (n, Some(c) != current, c)
    })
}

/// Pins the calling thread to one CPU for a machine it is about to start, or keeps the CPU
/// it already has for one. `None` when there is nothing to choose (one CPU allowed) or the
/// kernel refused (the thread then runs as before).
pub(crate) fn pin_current_thread() -> Option<CpuPin> {
    let tid = nix::unistd::gettid();
    let mut pinned = PINNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pinned.iter_mut().find(|p| p.tid == tid) {
        p.machines += 1;
        return Some(CpuPin { tid, cpu: p.cpu });
    }
    let before = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let mut allowed = cpus(&before);
    // A thread created by a pinned thread inherits its one CPU: it may use what that thread
    // could before.
    if let [one] = allowed[..] {
        if let Some(p) = pinned.iter().find(|p| p.cpu == one) {
            allowed = cpus(&p.before);
        }
    }
    if allowed.len() < 2 {
        return None;
    }
    let used: Vec<usize> = pinned.iter().map(|p| p.cpu).collect();
    let cpu = choose(&allowed, &used, current_cpu())?;
    let mut one = CpuSet::new();
    one.set(cpu).ok()?;
    sched_setaffinity(Pid::from_raw(0), &one).ok()?;
    pinned.push(Pinned {
        tid,
        cpu,
        machines: 1,
        before,
    });
    Some(CpuPin { tid, cpu })
}

impl Drop for CpuPin {
    fn drop(&mut self) {
        let mut pinned = PINNED.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = pinned.iter().position(|p| p.tid == self.tid) else {
            return;
        };
        pinned[i].machines -= 1;
        if pinned[i].machines == 0 {
            let p = pinned.swap_remove(i);
            // By tid, so it also works when the machine is dropped on another thread. From
            // another thread, only if the tid is still a thread of this process: one that has
            // ended leaves nothing to restore, and its number may already be another
            // process's.
            let ours = p.tid == nix::unistd::gettid()
                || std::path::Path::new(&format!("/proc/self/task/{}", p.tid)).exists();
            if ours {
                let _ = sched_setaffinity(p.tid, &p.before);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of pinned threads is the process's: the tests that pin take turns.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn the_least_used_cpu_wins_then_the_current_one_then_the_lowest() {
        assert_eq!(choose(&[0, 1], &[], Some(1)), Some(1));
        assert_eq!(choose(&[0, 1], &[], None), Some(0));
        assert_eq!(choose(&[0, 1], &[1], Some(1)), Some(0));
        assert_eq!(choose(&[0, 1, 2], &[0, 1, 1], Some(1)), Some(2));
        assert_eq!(choose(&[2, 3], &[0, 0], Some(0)), Some(2));
        assert_eq!(choose(&[], &[], Some(0)), None);
    }

    /// Two holds on one thread share a CPU; the mask comes back after the last one only;
    /// another thread meanwhile gets another CPU.
    #[test]
    fn a_thread_keeps_its_cpu_and_gets_its_mask_back() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let before = sched_getaffinity(Pid::from_raw(0)).expect("own mask");
        if cpus(&before).len() < 2 {
            // Nothing to choose: the thread is left as it is.
            assert!(pin_current_thread().is_none());
            assert_eq!(
                cpus(&sched_getaffinity(Pid::from_raw(0)).unwrap()),
                cpus(&before)
            );
            return;
        }
        let a = pin_current_thread().expect("pinned");
        let b = pin_current_thread().expect("pinned again");
        assert_eq!(a.cpu, b.cpu);
        let now = sched_getaffinity(Pid::from_raw(0)).expect("own mask");
        assert_eq!(cpus(&now), vec![a.cpu]);
        let other = std::thread::spawn(|| {
            let p = pin_current_thread().expect("pinned");
            let mask = cpus(&sched_getaffinity(Pid::from_raw(0)).expect("mask"));
            (p.cpu, mask)
        })
        .join()
        .expect("thread");
        assert_ne!(other.0, a.cpu, "a second thread takes the less used CPU");
        assert_eq!(other.1, vec![other.0]);
        drop(a);
        let now = sched_getaffinity(Pid::from_raw(0)).expect("own mask");
        assert_eq!(cpus(&now), vec![b.cpu], "still held by the second machine");
        drop(b);
        let now = sched_getaffinity(Pid::from_raw(0)).expect("own mask");
        assert_eq!(cpus(&now), cpus(&before));
    }

    /// A hold dropped on another thread gives the thread that took it its mask back.
    #[test]
    fn a_hold_dropped_elsewhere_restores_its_thread() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let (to_main, from_thread) = std::sync::mpsc::channel();
        let (to_thread, from_main) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let before = cpus(&sched_getaffinity(Pid::from_raw(0)).expect("mask"));
            let pin = pin_current_thread();
            let pinned = cpus(&sched_getaffinity(Pid::from_raw(0)).expect("mask"));
            to_main.send(pin).expect("main waits");
            from_main.recv().expect("main answers");
            let after = cpus(&sched_getaffinity(Pid::from_raw(0)).expect("mask"));
            (before, pinned, after)
        });
        let pin = from_thread.recv().expect("a hold, or none");
        let had_pin = pin.is_some();
        drop(pin);
        to_thread.send(()).expect("thread waits");
        let (before, pinned, after) = t.join().expect("thread");
        if had_pin {
            assert_eq!(pinned.len(), 1);
        } else {
            assert_eq!(before.len(), 1, "no hold only where one CPU is allowed");
        }
        assert_eq!(after, before);
    }
}
