//! Times the whole scenario set on the model and on the kernel in one run and prints their
//! ratio, then times 256 random cases of up to 12 steps on both backends (the property
//! test's load). Results go into `scenario/BENCHMARKS-scenario.md` by hand.
//!
//! `cargo bench --bench scenarios` (as root for the real side).

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
    let origin = real_origin.clone().unwrap_or_default();

    // The model: the whole set, repeated until a second has passed, boot included.
    let mut rounds = 0u32;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) || rounds < 3 {
        for s in &set {
            let mut sim = nslab_sim::Kernel::boot_at(&origin);
            std::hint::black_box(check(s, &mut sim));
        }
        rounds += 1;
    }
    let sim_time = start.elapsed() / rounds;
    println!(
        "scenario set ({} files) on sim:  {:>10.3} ms (mean of {rounds} rounds)",
        set.len(),
        sim_time.as_secs_f64() * 1e3
    );

    if real_origin.is_none() {
        println!(
            "SKIPPED: real side: {}",
            start_real().err().unwrap_or_default()
        );
        return;
    }
    let start = Instant::now();
    for s in &set {
        let mut real = start_real().expect("the real backend started above");
        std::hint::black_box(check(s, &mut real));
    }
    let real_time = start.elapsed();
    println!(
        "scenario set ({} files) on real: {:>10.3} ms (one round, helper start included)",
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
