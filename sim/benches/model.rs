//! How fast the model runs and how much memory it takes, printed in one run.
//!
//! `cargo bench -p nslab-sim --bench model` prints clone+exit cycles per second with the
//! recorder off and on, for a plain fork and for all seven nsproxy namespace flags, the
//! memory per task and per namespace, and the time to build 100,000 live tasks in 10,000
//! network namespaces. Targets (issue 2): at least 1,000,000 plain fork+exit cycles per
//! second with recording off, and the 100,000-task machine in under 2 seconds. Nothing here
//! fails on a slow day: it prints the figures and whether the targets were met.

use nslab_sim::sched::*;
use nslab_sim::{CloneArgs, Kernel, Machine, TaskId};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes currently allocated, to measure memory per object.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to the system allocator with the same layout; the counter is
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as for `dealloc`; the system allocator handles the move.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SEVEN: u64 = CLONE_NEWNS
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWCGROUP
    | CLONE_NEWTIME;

/// Clone+exit cycles per second over at least `min` of wall time.
fn cycles_per_second(flags: u64, recording: bool, min: Duration) -> f64 {
    let mut k = Kernel::boot_at(&Default::default());
    k.set_recording(recording);
    let root = k.root();
    let args = CloneArgs::new(flags);
    let mut n = 0u64;
    let start = Instant::now();
    loop {
        for _ in 0..1000 {
            let c = Machine::clone_task(&mut k, root, args).expect("clone");
            k.exit(c, 0).expect("exit");
            if recording {
                black_box(k.take_records());
            }
        }
        n += 1000;
        if start.elapsed() >= min {
            break;
        }
    }
    assert!(
        k.check_invariants().is_empty(),
        "the benchmark left the model inconsistent"
    );
    n as f64 / start.elapsed().as_secs_f64()
}

/// Heap bytes per live child made with `flags`, over `n` children on a fresh model: this
/// includes the arenas' growth (vectors double, so up to 2x the slot size, amortized).
fn bytes_per_child(flags: u64, n: usize) -> f64 {
    let mut k = Kernel::boot_at(&Default::default());
    let root = k.root();
    let t = k.task_of(root).expect("root");
    k.set_pid_max(t, 4 * 1024 * 1024).expect("pid_max");
    let mut kids: Vec<TaskId> = Vec::with_capacity(n);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    for _ in 0..n {
        kids.push(Machine::clone_task(&mut k, root, CloneArgs::new(flags)).expect("clone"));
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    black_box(&kids);
    (after - before) as f64 / n as f64
}

/// 10,000 network namespaces with 10 live tasks each.
fn build_big_machine() -> (Duration, usize) {
    let start = Instant::now();
    let mut k = Kernel::boot_at(&Default::default());
    let root = k.root();
    let t = k.task_of(root).expect("root");
    // As `sysctl kernel.pid_max=4194304` does on the host: 100,000 tasks need more than the
    // default 32768 pids.
    k.set_pid_max(t, 4 * 1024 * 1024).expect("pid_max");
    let mut tasks = 0;
    for _ in 0..10_000 {
        let leader =
            Machine::clone_task(&mut k, root, CloneArgs::new(CLONE_NEWNET)).expect("clone NEWNET");
        tasks += 1;
        for _ in 0..9 {
            Machine::clone_task(&mut k, leader, CloneArgs::new(0)).expect("clone");
            tasks += 1;
        }
    }
    let took = start.elapsed();
    assert_eq!(
        k.nets.len(),
        10_001,
        "10,000 new network namespaces and init_net"
    );
    black_box(&k);
    (took, tasks)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported and is ignored.
    let min = Duration::from_millis(1500);
    println!("nslab-sim model benchmark (one run, release build)");
    let plain_off = cycles_per_second(0, false, min);
    let plain_on = cycles_per_second(0, true, min);
    let seven_off = cycles_per_second(SEVEN, false, min);
    let seven_on = cycles_per_second(SEVEN, true, min);
    println!("clone+exit cycles per second:");
    println!("  plain fork,  recording off: {:>12.0}", plain_off);
    println!(
        "  plain fork,  recording on:  {:>12.0}  ({:.1}x slower)",
        plain_on,
        plain_off / plain_on
    );
    println!("  seven flags, recording off: {:>12.0}", seven_off);
    println!(
        "  seven flags, recording on:  {:>12.0}  ({:.1}x slower)",
        seven_on,
        seven_off / seven_on
    );
    println!(
        "  target >= 1,000,000 plain fork+exit/s with recording off: {}",
        if plain_off >= 1_000_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    let per_task = bytes_per_child(0, 10_000);
    let per_net = bytes_per_child(CLONE_NEWNET, 10_000) - per_task;
    let per_seven = bytes_per_child(SEVEN, 10_000) - per_task;
    println!("memory (heap bytes on a fresh model, counting allocator, arena growth included):");
    println!("  per task (plain fork, shared nsproxy): {:>8.0}", per_task);
    println!("  per network namespace (with its lo):   {:>8.0}", per_net);
    println!(
        "  per set of seven new namespaces:       {:>8.0}  ({:.0} per namespace)",
        per_seven,
        per_seven / 7.0
    );
    use std::mem::size_of;
    println!(
        "  arena slot sizes: task_struct {}, cred {}, nsproxy {}, struct pid {} (+{} per level), net {}, pid_namespace {}",
        size_of::<Option<nslab_sim::task::TaskStruct>>(),
        size_of::<Option<nslab_sim::cred::Cred>>(),
        size_of::<Option<nslab_sim::nsproxy::Nsproxy>>(),
        size_of::<Option<nslab_sim::pid::Pid>>(),
        size_of::<nslab_sim::pid::Upid>(),
        size_of::<Option<nslab_sim::net_namespace::Net>>(),
        size_of::<Option<nslab_sim::pid_namespace::PidNamespace>>(),
    );
    let (took, tasks) = build_big_machine();
    println!(
        "built {tasks} live tasks in 10,000 network namespaces in {:.3} s; target < 2 s: {}",
        took.as_secs_f64(),
        if took < Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}
