//! Times the whole scenario set on the model and on the kernel in one run and prints their
//! ratio, then times 256 random cases of up to 12 steps on both backends (the property
//! test's load). Results go into BENCHMARKS.md by hand.
//!
//! `cargo bench --bench scenarios` (as root for the real side); `cargo bench --bench scenarios
//! -- sim` times only the model.
//!
//! Both sides report the median of their rounds, so that another process briefly taking a
//! core (this runs on a shared 2-core machine) moves the figure less than a mean would.

/// The allocator the `nslab` binary uses (src/main.rs), so that both sides are timed as
/// `nslab run` runs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use nslab_scenario::random::{ops, run_ops};
use nslab_scenario::{check, parse_file, Machine, Scenario};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;
use std::time::{Duration, Instant};

fn scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| parse_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn start_real() -> Result<nslab_real::RealMachine, String> {
    nslab_real::RealMachine::start(Path::new(env!("CARGO_BIN_EXE_nslab")))
        .map_err(|e| e.to_string())
}

fn main() {
    let set = scenarios();
    let real_origin = start_real().ok().map(|r| r.origin());
    std::thread::sleep(Duration::from_secs(1));
    let origin = real_origin.clone().unwrap_or_default();

    let sim_only = std::env::args().any(|a| a == "sim");

    // The model: the whole set, repeated until a second has passed, a fresh machine per file
    // (booted again in place, as `nslab run` does), boot included.
    let mut rounds = Vec::new();
    let mut sim = nslab_sim::Kernel::boot_at(&origin);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) || rounds.len() < 3 {
        let round = Instant::now();
        for s in &set {
            sim.reboot_at(&origin);
            std::hint::black_box(check(s, &mut sim));
        }
        rounds.push(round.elapsed());
    }
    let sim_time = median(&mut rounds);
    println!(
        "scenario set ({} files) on sim:  {:>10.3} ms (median of {} rounds, fastest {:.3} ms)",
        set.len(),
        sim_time.as_secs_f64() * 1e3,
        rounds.len(),
        rounds[0].as_secs_f64() * 1e3
    );
    if sim_only {
        return;
    }

    if real_origin.is_none() {
        println!(
            "SKIPPED: real side: {}",
            start_real().err().unwrap_or_default()
        );
        return;
    }
    // The kernel: the same set through the same judge, a fresh root helper per file (as the
    // model boots a fresh machine per file), three rounds.
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let round = Instant::now();
        for s in &set {
            let mut real = start_real().expect("the real backend started above");
            std::hint::black_box(check(s, &mut real));
        }
        rounds.push(round.elapsed());
    }
    let real_time = median(&mut rounds);
    println!(
        "scenario set ({} files) on real: {:>10.3} ms (median of 3 rounds, helper start included)",
        set.len(),
        real_time.as_secs_f64() * 1e3
    );
    println!(
        "ratio real/sim: {:.0}x",
        real_time.as_secs_f64() / sim_time.as_secs_f64()
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
        let mut real = start_real().expect("the real backend started above");
        let mut sim = nslab_sim::Kernel::boot_at(&real.origin());
        let mut ms: [&mut dyn Machine; 2] = [&mut sim, &mut real];
        if !run_ops("bench", &seq, &mut ms).disagreement.is_empty() {
            disagreements += 1;
        }
    }
    println!(
        "256 random cases (up to 12 steps) on sim and real: {:.2} s ({disagreements} disagreed)",
        start.elapsed().as_secs_f64()
    );
}

/// The middle of the measured rounds.
fn median(rounds: &mut [Duration]) -> Duration {
    rounds.sort();
    rounds[rounds.len() / 2]
}
