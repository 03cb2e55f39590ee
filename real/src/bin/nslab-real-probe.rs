//! Test support for nslab-real: a controller in a process of its own, so that tests can kill
//! it mid-scenario or start it with fewer privileges.
//!
//! `nslab-real-probe <helper exe> hold`: starts a machine, makes a small tree (a new pid
//! namespace with two tasks, one more task beside it), prints `pids <p1> <p2> ...` (the
//! helpers' pids in /proc) and waits to be killed.
//! `nslab-real-probe <helper exe> start`: starts a machine and prints `started` with its
//! origin, or `start error: <message>`.

use nslab_machine::sched::{CLONE_NEWNET, CLONE_NEWPID};
use nslab_machine::{CloneArgs, Machine};
use std::io::Write;
use std::path::Path;

fn main() {
    nslab_real::enter_helper_if_requested();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: nslab-real-probe <helper exe> hold|start");
        std::process::exit(2);
    }
    let mut m = match nslab_real::RealMachine::start(Path::new(&args[1])) {
        Ok(m) => m,
        Err(e) => {
            println!("start error: {e}");
            std::process::exit(3);
        }
    };
    match args[2].as_str() {
        "start" => println!("started {:?} own_user_ns={}", m.origin(), m.own_user_ns()),
        "hold" => {
            let root = m.root();
            let init = m
                .clone_task(root, CloneArgs::new(CLONE_NEWPID | CLONE_NEWNET))
                .unwrap();
            let inner = m.clone_task(init, CloneArgs::new(0)).unwrap();
            let beside = m.clone_task(root, CloneArgs::new(0)).unwrap();
            let pids: Vec<String> = [root, init, inner, beside]
                .iter()
                .map(|t| m.host_pid(*t).unwrap().to_string())
                .collect();
            println!("pids {}", pids.join(" "));
            std::io::stdout().flush().unwrap();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}
