//! `nslab`: step through the kernel's clone path, run scenarios on the model and on the real
//! kernel, and judge that they agree.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

/// mimalloc rather than the C library's malloc: the model and the judge allocate small
/// objects at every step, and this allocator makes the scenario set run about a fifth faster
/// (BENCHMARKS.md). It starts no thread, so the helpers stay single-threaded.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A lab for Linux namespaces: a kernel model, the real kernel, and tests that they agree.
#[derive(Parser, Debug)]
#[command(name = "nslab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one system call from the init task of a fresh model and print the kernel path.
    Trace(cmd::trace::TraceArgs),
    /// Step through one call's kernel path with gdb-like commands, forward and back.
    Step(cmd::step::StepArgs),
    /// An OSTEP-style problem from a seed: predict the results; -c answers, --check grades.
    Quiz(cmd::quiz::QuizArgs),
    /// Run scenario files on the model, the kernel or both, and judge them.
    Run(cmd::run::RunArgs),
    /// Run random operation sequences on the model and the kernel and compare every step.
    Check(cmd::check::CheckArgs),
    /// List every namespace of the running system and what keeps each alive (util-linux
    /// lsns compatible, and more).
    Lsns(cmd::lsns::LsnsArgs),
    /// Persistent network namespaces, compatible with iproute2's `ip netns`.
    Netns(cmd::netns::NetnsArgs),
    /// Draw tasks, nsproxies and namespaces of the live system or of the model.
    Graph(cmd::graph::GraphArgs),
}

fn main() -> ExitCode {
    // The real backend starts this binary again as its helper; that must happen before clap
    // sees the arguments and before any thread exists.
    nslab_real::enter_helper_if_requested();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(args) => cmd::trace::run(args),
        Command::Step(args) => cmd::step::run(args),
        Command::Quiz(args) => cmd::quiz::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Lsns(args) => cmd::lsns::run(args),
        Command::Netns(args) => cmd::netns::run(args),
        Command::Graph(args) => cmd::graph::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader of standard output has gone (`nslab run ... | head`): stop quietly, as
        // other Unix tools do; the machines have been dropped (helpers torn down) on the way.
        Err(e) if cmd::out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nslab: {}", nslab_scenario::printable(&format!("{e:#}")));
            // Bad input exits 2, like clap's own usage errors; a failure while running, 1.
            if e.downcast_ref::<cmd::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
