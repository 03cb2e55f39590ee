//! `nslab check` on one core and on two: cases per second with `--jobs 1` and `--jobs 2`
//! over the same 3000 cases (seed 0, up to 12 steps, model against kernel), and their ratio,
//! in one run. Results go into BENCHMARKS.md by hand.
//!
//! `cargo bench --bench check_jobs` (as root); `-- --cases N` for another case count.
//!
//! The machine is shared, so its speed moves while the bench runs: the case space is cut into
//! twenty blocks (shards of the run) and each block is run with one job and with two, back to
//! back, in alternating order; each side's rate is its cases over the sum of its blocks'
//! times. The ratio printed is that of the sums; the median of the blocks' ratios is printed
//! too, with the load average before and after.

/// The allocator the `nslab` binary uses, started as it starts it (src/alloc.rs).
#[path = "../src/alloc.rs"]
mod alloc;
#[global_allocator]
static GLOBAL: alloc::Chosen = alloc::Chosen;

use nslab::both::run_ops_both;
use nslab::check::{Plan, Shard};
use nslab_scenario::random::RandOp;
use std::time::{Duration, Instant};

#[path = "../tests/common.rs"]
mod common;

const BLOCKS: u32 = 20;

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn time(plan: &Plan, jobs: usize) -> (usize, Duration) {
    let case = |ops: &[RandOp]| run_ops_both("bench", ops, common::helper());
    let start = Instant::now();
    let outcome = nslab::check::run(plan, jobs, &case, &|| {})
        .unwrap_or_else(|e| panic!("case {}: {}", e.index, e.error));
    let elapsed = start.elapsed();
    if let Some(f) = outcome.failure {
        eprintln!("note: case {} disagrees: {}", f.index, f.reason);
    }
    (outcome.completed, elapsed)
}

fn main() {
    let mut cases = 3000u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--cases" {
            cases = args.next().and_then(|c| c.parse().ok()).expect("--cases N");
        }
    }
    if let Err(why) = common::real_available() {
        println!("SKIPPED: check_jobs: {why}");
        return;
    }
    let host = common::host_before();
    let before = loadavg();
    let (mut n1, mut n2) = (0usize, 0usize);
    let (mut t1, mut t2) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    for b in 0..BLOCKS {
        let plan = Plan {
            shard: Shard {
                k: b + 1,
                n: BLOCKS,
            },
            ..Plan::new(cases, 0, 12)
        };
        let (one, two) = if b % 2 == 0 {
            let one = time(&plan, 1);
            (one, time(&plan, 2))
        } else {
            let two = time(&plan, 2);
            (time(&plan, 1), two)
        };
        n1 += one.0;
        t1 += one.1;
        n2 += two.0;
        t2 += two.1;
        let r1 = one.0 as f64 / one.1.as_secs_f64();
        let r2 = two.0 as f64 / two.1.as_secs_f64();
        println!(
            "block {}/{BLOCKS}: jobs 1 {r1:7.1} cases/s, jobs 2 {r2:7.1} cases/s, ratio {:.2}",
            b + 1,
            r2 / r1
        );
        ratios.push(r2 / r1);
    }
    ratios.sort_by(f64::total_cmp);
    let median = (ratios[ratios.len() / 2] + ratios[(ratios.len() - 1) / 2]) / 2.0;
    let r1 = n1 as f64 / t1.as_secs_f64();
    let r2 = n2 as f64 / t2.as_secs_f64();
    println!(
        "nslab check --cases {cases}: jobs 1 {r1:.1} cases/s ({n1} in {:.1} s), jobs 2 {r2:.1} cases/s ({n2} in {:.1} s)",
        t1.as_secs_f64(),
        t2.as_secs_f64()
    );
    println!(
        "ratio jobs 2 / jobs 1: {:.2} (median of blocks {median:.2}); load average before {before}, after {}",
        r2 / r1,
        loadavg()
    );
    // Every helper tree of both runs is gone, and the host is as it was.
    if !common::report_host_safety(&host) {
        std::process::exit(1);
    }
}
