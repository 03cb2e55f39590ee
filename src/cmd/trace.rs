//! `nslab trace`: run one call on a fresh model with the step recorder on.

/// Arguments of `nslab trace`.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The call: `clone FLAGS`, `unshare FLAGS` or `setns ...`.
    #[arg(trailing_var_arg = true)]
    pub call: Vec<String>,
}

/// Runs `nslab trace`; returns the exit code.
pub fn run(_args: TraceArgs) -> anyhow::Result<u8> {
    anyhow::bail!("trace is being written")
}
