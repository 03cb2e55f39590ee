//! `nslab`: step through the kernel's clone path, run scenarios on the model and on the real
//! kernel, and judge that they agree.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(args) => cmd::trace::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("nslab: {e:#}");
            ExitCode::from(1)
        }
    }
}
