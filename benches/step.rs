//! Times every `nslab step` command (the very `Session::command` the CLI runs) on the
//! longest trace the scenario set produces (one statement stepped in its context, as
//! `nslab step FILE.scn --at LINE` does) and on a synthetic 10,000-event trace; and `nslab
//! quiz` generation and answering. Each figure is the median of its repetitions (the slowest printed beside it); the peer
//! printed beside them is re-recording the lesson's clone (what a stepper without the fold
//! would do for `back`). Results go into BENCHMARKS.md by hand.
//!
//! `cargo bench --bench step`

/// The allocator the `nslab` binary uses, started as it starts it (src/alloc.rs).
#[path = "../src/alloc.rs"]
mod alloc;
#[global_allocator]
static GLOBAL: alloc::Chosen = alloc::Chosen;

#[path = "../tests/common.rs"]
mod common;

use nslab::session::Session;
use nslab_scenario::{parse_file, Run};
use nslab_sim::graph::{build, Baseline};
use nslab_sim::machine::Origin;
use nslab_sim::sched::{CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID};
use nslab_sim::stepper::Recorded;
use nslab_sim::{CloneArgs, Kernel, Machine};
use std::time::{Duration, Instant};

/// The records of statement `i` of `body` and the graphs around it.
fn record_statement(body: &[nslab_scenario::Stmt], i: usize) -> Recorded {
    let run = |n: usize| {
        let mut k = Kernel::boot_at(&Origin::default());
        k.set_recording(true);
        {
            let mut r = Run::new(&mut k);
            r.exec(&body[..n]);
        }
        let rec = k.take_records();
        k.set_recording(false);
        (k, rec)
    };
    let (k0, r0) = run(i);
    let (k1, mut r1) = run(i + 1);
    let records = r1.split_off(r0.len());
    Recorded {
        description: format!("statement {i}"),
        kernel: "v6.18",
        records,
        before: build(&k0, &[], None),
        after: build(&k1, &[], Some(&Baseline::of(&k0))),
        errno: None,
    }
}

fn lesson_clone() -> Recorded {
    let mut k = Kernel::boot();
    let init = k.root();
    let before = build(&k, &[], None);
    let base = Baseline::of(&k);
    k.set_recording(true);
    let _ = k.clone_task(
        init,
        CloneArgs::new(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET),
    );
    let records = k.take_records();
    Recorded {
        description: "clone(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET)".into(),
        kernel: "v6.18",
        records,
        before,
        after: build(&k, &[], Some(&base)),
        errno: None,
    }
}

/// The median of `reps` runs of `f` (this shared machine's spikes make the slowest run a
/// measure of its neighbours; the slowest is printed too, by `worst`).
fn median(reps: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut v: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

fn bench_commands(name: &str, rec: Recorded, peer: Duration) {
    let n = rec.records.len();
    let mut s = Session::new(rec);
    println!("{name}: {n} events");
    let mut worst = Duration::ZERO;
    let positions = [0, n / 2, n.saturating_sub(1)];
    for cmd in [
        "step",
        "next",
        "finish",
        "continue",
        "back",
        "break copy_net_ns",
        "bt",
        "list",
        "print all",
        "print nsproxy",
        "graph",
        "why",
        "help",
    ] {
        let (t, max) = median(21, || {
            for &p in &positions {
                s.pos = p;
                let _ = std::hint::black_box(s.command(cmd));
            }
        });
        let (t, max) = (t / positions.len() as u32, max / positions.len() as u32);
        worst = worst.max(t);
        println!(
            "  {cmd:<18} {:>9.3} ms (slowest run {:>7.3} ms)   {:.2}x re-recording the lesson's clone",
            t.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            t.as_secs_f64() / peer.as_secs_f64()
        );
    }
    println!(
        "  slowest command (median): {:.3} ms (limit 50 ms, target 5 ms)",
        worst.as_secs_f64() * 1e3
    );
}

fn main() {
    // The peer: recording the lesson's clone on a fresh model.
    let (peer, _) = median(51, || {
        std::hint::black_box(lesson_clone());
    });
    println!(
        "re-recording the lesson's clone: {:.3} ms",
        peer.as_secs_f64() * 1e3
    );

    // The longest trace of the scenario set.
    let mut longest: Option<(String, Recorded)> = None;
    for f in common::scenario_files() {
        let sc = parse_file(&f).expect("the scenario set parses");
        for i in 0..sc.body.len() {
            let rec = record_statement(&sc.body, i);
            if longest
                .as_ref()
                .is_none_or(|(_, l)| rec.records.len() > l.records.len())
            {
                let line = sc.body[i].span().line;
                longest = Some((format!("{}:{line}", f.display()), rec));
            }
        }
    }
    let (at, rec) = longest.expect("scenarios");
    bench_commands(&format!("longest scenario statement ({at})"), rec, peer);

    // Synthetic: the lesson's clone repeated to 10,000 events (each copy is balanced).
    let one = lesson_clone();
    let mut big = one.clone();
    while big.records.len() < 10_000 {
        big.records.extend(one.records.iter().cloned());
    }
    big.records.truncate(10_000);
    bench_commands("synthetic", big, peer);

    // Quiz: generation and answering (-c computes the answers in the same pass).
    for level in 1..=3u8 {
        let (t, _) = median(11, || {
            for seed in 0..10 {
                let _ = std::hint::black_box(nslab::quiz::generate(seed, level, &[]));
            }
        });
        let t = t / 10;
        println!(
            "quiz level {level}: generate and answer {:.3} ms per problem (limit 10 ms)",
            t.as_secs_f64() * 1e3
        );
    }
}
