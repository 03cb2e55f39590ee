//! Times the whole scenario set on the model and on the kernel in one run and prints their
//! ratio, then times 256 random cases of up to 12 steps on both backends (the property
//! test's load). Results go into BENCHMARKS.md by hand.
//!
//! `cargo bench --bench scenarios` (as root for the real side); `cargo bench --bench scenarios
//! -- sim` times only the model.
//!
//! This shared 2-core machine's speed moves by half from one second to the next (other
//! machines' load), so the two sides are timed in pairs, back to back: a kernel round (the
//! whole set, a fresh root helper per file), a pause for the kernel to finish tearing down
//! what that round made (network namespaces are freed by a work queue, on the other core),
//! then the model on the same set for a fifth of a second (the median of its rounds). The
//! ratio printed is the median of the pairs' ratios; the medians of each side are printed
//! too.

/// The allocator the `nslab` binary uses, started as it starts it (src/alloc.rs), so that
/// both sides are timed as `nslab run` runs them.
#[path = "../src/alloc.rs"]
mod alloc;
#[global_allocator]
static GLOBAL: alloc::Chosen = alloc::Chosen;

use nslab::both::run_ops_both;
use nslab_scenario::random::ops;
use nslab_scenario::{check, parse_file, Machine, Scenario};
use nslab_sim::machine::Origin;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::time::{Duration, Instant};

/// Kernel rounds, each paired with a model measurement.
const PAIRS: usize = 5;

/// How long the kernel is left to finish tearing down a round before the model is timed.
const SETTLE: Duration = Duration::from_millis(500);

#[path = "../tests/common.rs"]
mod common;
use common::start_real;

fn scenarios() -> Vec<Scenario> {
    common::scenario_files()
        .iter()
        .map(|f| parse_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The model on the whole set, repeated for at least `span` (and 3 rounds), a fresh machine
/// per file (booted again in place, as `nslab run` does), boot included: the median and the
/// fastest round, and how many rounds ran.
fn time_model(set: &[Scenario], origin: &Origin, span: Duration) -> (Duration, Duration, usize) {
    let mut rounds = Vec::new();
    let mut sim = nslab_sim::Kernel::boot_at(origin);
    let start = Instant::now();
    while start.elapsed() < span || rounds.len() < 3 {
        let round = Instant::now();
        for s in set {
            sim.reboot_at(origin);
            std::hint::black_box(check(s, &mut sim));
        }
        rounds.push(round.elapsed());
    }
    let med = median(&mut rounds);
    (med, rounds[0], rounds.len())
}

/// The kernel on the whole set, through the same judge, a fresh root helper per file (as
/// the model boots a fresh machine per file).
fn time_kernel(set: &[Scenario]) -> Duration {
    let start = Instant::now();
    for s in set {
        let mut real = start_real().expect("the real backend started before");
        std::hint::black_box(check(s, &mut real));
    }
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The model alone, for a second.
fn model_only(set: &[Scenario]) {
    let (med, fastest, n) = time_model(set, &Origin::default(), Duration::from_secs(1));
    println!(
        "scenario set ({} files) on sim: {:>8.3} ms (median of {n} rounds, fastest {:.3} ms)",
        set.len(),
        ms(med),
        ms(fastest)
    );
}

fn main() {
    let set = scenarios();
    if std::env::args().any(|a| a == "sim") {
        model_only(&set);
        return;
    }
    let host = common::host_before();
    let origin = match start_real() {
        Ok(r) => r.origin(),
        Err(e) => {
            println!("SKIPPED: real side: {e}");
            model_only(&set);
            return;
        }
    };
    std::thread::sleep(SETTLE);

    let (mut real_times, mut sim_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 1..=PAIRS {
        let real = time_kernel(&set);
        std::thread::sleep(SETTLE);
        let (sim, fastest, n) = time_model(&set, &origin, Duration::from_millis(200));
        let ratio = real.as_secs_f64() / sim.as_secs_f64();
        println!(
            "pair {pair}: real {:>8.3} ms, sim {:>6.3} ms (median of {n} rounds, fastest {:.3} ms): {ratio:.0}x",
            ms(real),
            ms(sim),
            ms(fastest)
        );
        real_times.push(real);
        sim_times.push(sim);
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "scenario set ({} files): real {:.3} ms, sim {:.3} ms (medians of {PAIRS} pairs)",
        set.len(),
        ms(median(&mut real_times)),
        ms(median(&mut sim_times))
    );
    println!(
        "ratio real/sim: {:.0}x (median of the pairs' ratios; lowest {:.0}x, highest {:.0}x)",
        ratios[PAIRS / 2],
        ratios[0],
        ratios[PAIRS - 1]
    );

    // The property test's load: 256 cases of up to 12 steps, both backends, fresh machines.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = ops(12);
    let start = Instant::now();
    let mut disagreements = 0;
    for _ in 0..256 {
        let seq = strategy
            .new_tree(&mut runner)
            .expect("a strategy of vectors never rejects")
            .current();
        let r =
            run_ops_both("bench", &seq, common::helper()).expect("the real backend started above");
        if !r.disagreement.is_empty() {
            disagreements += 1;
        }
    }
    println!(
        "256 random cases (up to 12 steps) on sim and real: {:.2} s ({disagreements} disagreed)",
        start.elapsed().as_secs_f64()
    );
    // Everything the real side made is gone, and the host is as it was.
    common::report_host_safety(&host);
}

/// The middle of the measured rounds.
fn median(rounds: &mut [Duration]) -> Duration {
    rounds.sort();
    rounds[rounds.len() / 2]
}
