//! `nslab lsns` against util-linux `lsns` in one run, on this machine as it is and again with
//! extra load made by the bench: network namespaces held by bind mounts and extra processes,
//! at half and at full size (500/250 and 1,000/500), to show how the time grows. Then
//! `nslab graph` of a model with 1,000 namespaces.
//!
//! `cargo bench --bench lsns` (as root). Each measurement is the median of alternated pairs
//! (nslab, util-linux, nslab, ...); the ratio printed is the median of the pairs' ratios.
//!
//! The bind mounts are made inside a private mount namespace of a helper process (util-linux
//! `unshare -m --propagation private`), on files in a temporary directory the bench creates
//! and removes: nothing is mounted in the host's mount namespace, and `/run/netns` is not
//! used. util-linux 2.38 reads only its own mountinfo and so does not count them; nslab
//! reads every mount namespace's and does. Both see the extra processes.

#[path = "../tests/common.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NSLAB: &str = env!("CARGO_BIN_EXE_nslab");
const PAIRS: usize = 31;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

/// One run of a command with its output discarded; its wall time in ms.
fn time_once(argv: &[&str]) -> f64 {
    let t = Instant::now();
    let st = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(st.success(), "{argv:?} failed");
    ms
}

/// Alternated pairs: (median nslab ms, median util-linux ms, median of the ratios).
fn pairs(label: &str) -> (f64, f64, f64) {
    // Warm both (page cache, user database).
    time_once(&[NSLAB, "lsns"]);
    time_once(&["lsns"]);
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..PAIRS {
        // Alternate which goes first, so that neither always runs on a warmer machine.
        let (x, y) = if i % 2 == 0 {
            let x = time_once(&[NSLAB, "lsns"]);
            (x, time_once(&["lsns"]))
        } else {
            let y = time_once(&["lsns"]);
            (time_once(&[NSLAB, "lsns"]), y)
        };
        a.push(x);
        b.push(y);
        r.push(x / y);
    }
    let (ma, mb, mr) = (median(&mut a), median(&mut b), median(&mut r));
    let rows = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .count()
                    .saturating_sub(1)
            })
            .unwrap_or(0)
    };
    println!(
        "{label:<34} nslab lsns {ma:7.2} ms ({:>5} rows)  util-linux lsns {mb:7.2} ms ({:>5} rows)  ratio {mr:.2}x",
        rows(&[NSLAB, "lsns", "-l"]),
        rows(&["lsns", "-l"]),
    );
    (ma, mb, mr)
}

/// The extra load, removed on drop.
struct Load {
    dir: PathBuf,
    holder: Option<Child>,
    sleepers: Vec<Child>,
}

impl Load {
    fn new(netns: usize, procs: usize) -> Load {
        let dir = std::env::temp_dir().join(format!("nslab-bench-lsns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut load = Load {
            dir,
            holder: None,
            sleepers: Vec::new(),
        };
        for _ in 0..procs {
            load.sleepers.push(
                Command::new("sleep")
                    .arg("600")
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("sleep starts"),
            );
        }
        if netns > 0 {
            let script = format!(
                "cd {dir}; i=0; while [ $i -lt {netns} ]; do : > $i; \
                 unshare --net=$i true || exit 1; i=$((i+1)); done; echo ready; exec sleep 600",
                dir = load.dir.display()
            );
            let mut child = Command::new("unshare")
                .args(["-m", "--propagation", "private", "sh", "-c", &script])
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .spawn()
                .expect("unshare starts");
            let mut out = child.stdout.take().expect("piped");
            let mut buf = [0u8; 6];
            std::io::Read::read_exact(&mut out, &mut buf).expect("the holder says ready");
            assert_eq!(&buf, b"ready\n");
            load.holder = Some(child);
        }
        load
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // Killing the holder ends its mount namespace, which drops the bind mounts and so
        // the network namespaces.
        if let Some(h) = &mut self.holder {
            let _ = h.kill();
            let _ = h.wait();
        }
        for s in &mut self.sleepers {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `nslab graph` of a model with about 1,000 namespaces: a scenario whose root clones 1,000
/// children with `CLONE_NEWNET`, drawn in each format (the binary: parse, run, build, render).
fn graph_bench() {
    let dir = std::env::temp_dir().join(format!("nslab-bench-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("thousand.scn");
    std::fs::write(
        &file,
        "# thousand-net-namespaces\n# 1,000 children, each in a new network namespace.\nrepeat 1000\n  A = init: clone CLONE_NEWNET\nend\n",
    )
    .expect("write");
    // In-process: build and render only.
    let mut k = nslab_sim::Kernel::boot();
    let init = nslab_sim::Machine::root(&k);
    for _ in 0..1000 {
        nslab_sim::Machine::clone_task(
            &mut k,
            init,
            nslab_sim::CloneArgs::new(nslab_sim::sched::CLONE_NEWNET),
        )
        .expect("clone");
    }
    let t = Instant::now();
    let g = nslab_sim::graph::build(&k, &[], None);
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "graph of the model: {} namespaces, {} tasks, {} nsproxies; build {build_ms:.2} ms",
        g.namespaces.len(),
        g.tasks.len(),
        g.nsproxies.len()
    );
    for format in ["tree", "dot", "mermaid", "svg"] {
        let f = nslab_graph::Format::parse(format).expect("format");
        let t = Instant::now();
        let out = f.render(&g);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let mut cli: Vec<f64> = (0..5)
            .map(|_| {
                time_once(&[
                    NSLAB,
                    "graph",
                    file.to_str().expect("utf-8 path"),
                    "--format",
                    format,
                ])
            })
            .collect();
        println!(
            "  {format:<8} render {ms:8.2} ms ({:>8} bytes); nslab graph FILE --format {format}: {:8.2} ms (median of 5, whole process)",
            out.len(),
            median(&mut cli)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let only_graph = std::env::args().any(|a| a == "graph");
    if !only_graph {
        if !nix::unistd::geteuid().is_root() {
            println!("SKIPPED: lsns bench: needs root (to read every process and mount namespace)");
        } else if Command::new("lsns").arg("--version").output().is_err() {
            println!("SKIPPED: lsns bench: util-linux lsns is not installed");
        } else {
            let host = common::host_before();
            let base = pairs("this machine");
            let half = {
                let _load = Load::new(500, 250);
                std::thread::sleep(Duration::from_millis(200));
                pairs("+500 netns (bind mounts), +250 procs")
            };
            let full = {
                let _load = Load::new(1000, 500);
                std::thread::sleep(Duration::from_millis(200));
                pairs("+1000 netns (bind mounts), +500 procs")
            };
            println!(
                "growth of nslab lsns: base -> half +{:.2} ms, half -> full +{:.2} ms (linear: about equal)",
                half.0 - base.0,
                full.0 - half.0
            );
            println!(
                "growth of util-linux lsns: base -> half +{:.2} ms, half -> full +{:.2} ms",
                half.1 - base.1,
                full.1 - half.1
            );
            // Let the kernel free the namespaces (a work queue) before the model is timed.
            std::thread::sleep(Duration::from_millis(500));
            // The extra namespaces, their bind mounts and processes are gone.
            if !common::report_host_safety(&host) {
                std::process::exit(1);
            }
        }
    }
    graph_bench();
}
