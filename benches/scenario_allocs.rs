//! Counts the heap allocations one pass over the scenario set makes on the model, split into
//! booting the machines, running the judge, and dropping the reports and machines.
//!
//! `cargo bench --bench scenario_allocs [-- --rounds N]`: with `--rounds`, it then runs the
//! set N more times, untimed, for a profiler (`perf record`, `valgrind --tool=cachegrind`)
//! to look at the model's steady state. Allocation counts do not depend on the machine's
//! load, so this tracks the model side's main cost (malloc and free were a third of its time
//! in profiles) without timing noise.

use nslab_scenario::{check, parse_file, Scenario};
use nslab_sim::machine::{Machine, Origin, SysResult, TaskId, TaskState, TaskView};
use nslab_sim::{Kernel, Op};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The allocator the `nslab` binary uses, started as it starts it (mimalloc here).
#[path = "../src/alloc.rs"]
mod alloc;
use alloc::Chosen;

/// The allocator of the `nslab` binary (mimalloc), counting calls and bytes.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(l.size() as u64, Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { Chosen.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { Chosen.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new as u64, Relaxed);
        // SAFETY: as above.
        unsafe { Chosen.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (a, b) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let t = f();
    (t, ALLOCS.load(Relaxed) - a, BYTES.load(Relaxed) - b)
}

/// The model, with the allocations made inside its calls counted apart from the judge's.
struct Counted {
    k: Kernel,
    calls: u64,
    observe: u64,
    /// How many calls (of any kind) and observations were made.
    ncalls: u64,
    nobserve: u64,
}

impl Counted {
    fn calls<T>(&mut self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        self.ncalls += 1;
        let (t, a, _) = count(|| f(&mut self.k));
        self.calls += a;
        t
    }
}

impl Machine for Counted {
    fn backend_name(&self) -> &'static str {
        "sim"
    }
    fn root(&self) -> TaskId {
        self.k.root()
    }
    fn origin(&self) -> Origin {
        self.k.origin()
    }
    fn syscall(&mut self, task: TaskId, op: &Op) -> SysResult<Option<TaskId>> {
        self.calls(|k| k.syscall(task, op))
    }
    fn observe(&mut self, task: TaskId) -> SysResult<TaskView> {
        self.nobserve += 1;
        let (v, a, _) = count(|| Machine::observe(&mut self.k, task));
        self.observe += a;
        v
    }
    fn observe_into(&mut self, task: TaskId, view: &mut TaskView) -> SysResult<()> {
        self.nobserve += 1;
        let (r, a, _) = count(|| Machine::observe_into(&mut self.k, task, view));
        self.observe += a;
        r
    }
    fn state(&mut self, task: TaskId) -> SysResult<TaskState> {
        self.calls(|k| Machine::state(k, task))
    }
}

#[path = "../tests/common.rs"]
mod common;

fn main() {
    let set: Vec<Scenario> = common::scenario_files()
        .iter()
        .map(|f| parse_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let origin = Origin::default();
    let (mut boot, mut judge, mut records, mut drop) = ((0, 0), (0, 0), 0, (0, 0));
    // One machine, booted again in place before each file, as `nslab run` and the timing
    // bench do.
    let mut k = Counted {
        k: Kernel::boot_at(&origin),
        calls: 0,
        observe: 0,
        ncalls: 0,
        nobserve: 0,
    };
    for s in &set {
        let ((), a, b) = count(|| k.k.reboot_at(&origin));
        boot = (boot.0 + a, boot.1 + b);
        let (report, a, b) = count(|| check(s, &mut k));
        assert!(report.passed(), "{} fails on the model", s.name);
        judge = (judge.0 + a, judge.1 + b);
        records += report.records.len() as u64;
        let ((), a, b) = count(move || std::mem::drop(report));
        drop = (drop.0 + a, drop.1 + b);
    }
    let (calls, observe) = (k.calls, k.observe);
    let total = boot.0 + judge.0 + drop.0;
    println!(
        "scenario set ({} files, {records} records) on sim: {total} allocations",
        set.len()
    );
    println!(
        "  boot (again, in place):  {:>6} allocations, {:>8} bytes",
        boot.0, boot.1
    );
    println!("  check: {:>6} allocations, {:>8} bytes", judge.0, judge.1);
    println!(
        "    of which model calls: {calls} (in {} calls, `state` included), observe: {observe} \
         (in {} observations)",
        k.ncalls, k.nobserve
    );
    println!(
        "  drop reports:  {:>6} allocations, {:>8} bytes",
        drop.0, drop.1
    );
    println!(
        "  per record (check only): {:.1} allocations",
        judge.0 as f64 / records as f64
    );

    let args: Vec<String> = std::env::args().collect();
    let rounds: u32 = match args.iter().position(|a| a == "--rounds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .expect("--rounds takes a number"),
        None => 0,
    };
    let mut k = k.k;
    for _ in 0..rounds {
        for s in &set {
            k.reboot_at(&origin);
            std::hint::black_box(check(s, &mut k));
        }
    }
}
