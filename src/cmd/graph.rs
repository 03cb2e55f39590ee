//! `nslab graph`: the lesson's picture (tasks, their nsproxy, the namespaces, owners,
//! pid-namespace parents, counts) of the live system or of the model, in one shape and four
//! formats.

use super::UsageError;
use anyhow::anyhow;
use nslab_graph::{Format, Graph};
use nslab_sim::capability::parse_cap;
use nslab_sim::graph::{build, Baseline};
use nslab_sim::kernel::KernelVersion;
use nslab_sim::machine::Origin;
use nslab_sim::sched::{flags_to_string, parse_flags};
use nslab_sim::{CloneArgs, CloneVia, Kernel, Machine};
use std::path::Path;

/// Arguments of `nslab graph`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nslab graph clone 'CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET'   (the model after one clone)
  nslab graph unshare NEWUSER --format mermaid
  nslab graph scenarios/nsproxy-shared-until-unshare.scn --step 3
  nslab graph --live -p $$                                       (this shell, on the kernel)
  nslab graph clone newpid,newnet --format svg > clone.svg

What the step made is marked (new), in red in dot, mermaid and svg.")]
pub struct GraphArgs {
    /// Draw the running kernel (as root: every process; otherwise what can be read).
    #[arg(long)]
    pub live: bool,

    /// With --live: only these processes (repeatable).
    #[arg(short = 'p', long = "pid", value_name = "PID", requires = "live")]
    pub pids: Vec<i32>,

    /// tree (the default), dot (Graphviz), mermaid (for the book), svg (laid out
    /// in-process, no Graphviz needed), or json (the graph's data, for tools).
    #[arg(long, value_name = "FORMAT", default_value = "tree", value_parser = parse_format)]
    pub format: OutFormat,

    /// With a scenario file: draw the machine after the first N statements (default: all);
    /// what statement N made is marked new.
    #[arg(long, value_name = "N")]
    pub step: Option<usize>,

    /// For a call: the kernel to model, 6.18 (the default) or 4.19 (as `nslab trace
    /// --kernel`: no time namespaces).
    #[arg(long, value_name = "VERSION", default_value = "6.18", value_parser = parse_version)]
    pub kernel: KernelVersion,

    /// Before the call, the init task changes to this uid (as `nslab trace --uid`).
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,

    /// Before the call, the init task drops this capability (repeatable).
    #[arg(long = "drop-cap", value_name = "CAP")]
    pub drop_caps: Vec<String>,

    /// A scenario file (`FILE.scn`), or a call from the init task of a fresh model: `clone
    /// FLAGS`, `clone3 FLAGS`, `unshare FLAGS`.
    #[arg(value_name = "FILE|CALL")]
    pub target: Option<String>,

    /// The flags of the call.
    #[arg(value_name = "FLAGS")]
    pub flags: Option<String>,
}

fn parse_version(s: &str) -> Result<KernelVersion, String> {
    KernelVersion::parse(s)
        .ok_or_else(|| format!("unknown kernel version '{s}'; valid: 6.18, 4.19"))
}

/// A rendered format, or the graph itself as JSON.
#[derive(Clone, Copy, Debug)]
pub enum OutFormat {
    Drawn(Format),
    Json,
}

fn parse_format(s: &str) -> Result<OutFormat, String> {
    match s {
        "json" => Ok(OutFormat::Json),
        _ => Format::parse(s)
            .map(OutFormat::Drawn)
            .ok_or_else(|| format!("unknown format '{s}'; valid: tree, dot, mermaid, svg, json")),
    }
}

/// Runs `nslab graph`.
pub fn run(args: GraphArgs) -> anyhow::Result<u8> {
    let graph = if args.live {
        if args.target.is_some() {
            return Err(UsageError(
                "--live draws the running kernel: give no scenario or call with it".into(),
            )
            .into());
        }
        nslab_real::inspect::graph::live(&args.pids).map_err(|e| anyhow!("{e}"))?
    } else {
        let Some(target) = args.target.as_deref() else {
            return Err(UsageError(
                "nothing to draw: give --live, a scenario file, or a call (clone FLAGS)".into(),
            )
            .into());
        };
        match target {
            "clone" | "clone3" | "unshare" => model_call(&args, target)?,
            file if file.ends_with(".scn") => {
                if args.flags.is_some() {
                    return Err(UsageError(format!("unexpected argument after {file}")).into());
                }
                if args.kernel != KernelVersion::V6_18 || args.uid.is_some() || !args.drop_caps.is_empty() {
                    return Err(UsageError(
                        "--kernel, --uid and --drop-cap go with a call; a scenario sets its task up itself".into(),
                    )
                    .into());
                }
                model_scenario(Path::new(file), args.step)?
            }
            other => {
                return Err(UsageError(format!(
                    "unknown target '{other}'; valid: a scenario file (.scn), clone, clone3, unshare, or --live"
                ))
                .into())
            }
        }
    };
    graph.validate().map_err(|e| anyhow!("bug: {e}"))?;
    let text = match args.format {
        OutFormat::Drawn(f) => f.render(&graph),
        OutFormat::Json => serde_json::to_string_pretty(&graph)? + "\n",
    };
    super::lsns::emit(&text)?;
    Ok(0)
}

/// The model after one call from its init task.
fn model_call(args: &GraphArgs, call: &str) -> anyhow::Result<Graph> {
    if args.step.is_some() {
        return Err(UsageError("--step goes with a scenario file".into()).into());
    }
    let Some(flags) = args.flags.as_deref() else {
        return Err(UsageError(format!(
            "{call} needs FLAGS (for example {call} newpid,newnet)"
        ))
        .into());
    };
    let flags = parse_flags(flags).map_err(|e| UsageError(e.to_string()))?;
    let mut k = Kernel::boot_version(args.kernel);
    let init = k.root();
    if let Some(uid) = args.uid {
        k.setresuid(init, uid)
            .map_err(|e| anyhow!("setting up uid {uid}: {e}"))?;
    }
    for cap in &args.drop_caps {
        let bits =
            parse_cap(cap).ok_or_else(|| UsageError(format!("unknown capability '{cap}'")))?;
        k.drop_caps(init, bits)
            .map_err(|e| anyhow!("dropping {cap}: {e}"))?;
    }
    let before = Baseline::of(&k);
    let mut names = vec![(init, "init".to_string())];
    let what = match call {
        "unshare" => {
            k.unshare(init, flags)
                .map_err(|e| anyhow!("unshare({}) failed: {e}", flags_to_string(flags)))?;
            format!("unshare({})", flags_to_string(flags))
        }
        _ => {
            let via = if call == "clone3" {
                CloneVia::Clone3
            } else {
                CloneArgs::new(flags).via
            };
            let child = Machine::clone_task(&mut k, init, CloneArgs { flags, via })
                .map_err(|e| anyhow!("{call}({}) failed: {e}", flags_to_string(flags)))?;
            names.push((child, "child".to_string()));
            format!("{call}({})", flags_to_string(flags))
        }
    };
    let mut g = build(&k, &names, Some(&before));
    g.title = format!("{} after {what} by init", g.title);
    Ok(g)
}

/// The model after the first `step` statements of a scenario file.
fn model_scenario(path: &Path, step: Option<usize>) -> anyhow::Result<Graph> {
    // Scenarios run on the 6.18 model, as `nslab run` runs them.
    let scenario = nslab_scenario::parse_file(path).map_err(|e| UsageError(e.to_string()))?;
    let total = scenario.body.len();
    let n = step.unwrap_or(total);
    if n > total {
        return Err(UsageError(format!(
            "--step {n}: {} has {total} statements",
            path.display()
        ))
        .into());
    }
    // The model is deterministic: the state before statement N is read from one run of the
    // first N - 1 statements, the state after it from a second run of the first N.
    let run_first = |count: usize| -> anyhow::Result<(Kernel, Vec<(nslab_sim::TaskId, String)>)> {
        let mut k = Kernel::boot_at(&Origin::default());
        let names = {
            let mut run = nslab_scenario::Run::new(&mut k);
            run.exec(&scenario.body[..count]);
            if let Some(reason) = run.aborted() {
                return Err(anyhow!("the scenario stopped: {reason}"));
            }
            run.task_names()
        };
        Ok((k, names))
    };
    let before = Baseline::of(&run_first(n.saturating_sub(1))?.0);
    let (k, names) = run_first(n)?;
    let last = match n {
        0 => String::new(),
        _ => nslab_scenario::print::stmt_line(&scenario.body[n - 1]),
    };
    let mut g = build(&k, &names, Some(&before));
    g.title = format!(
        "{} after {n} of {total} statements of {} ({}){}",
        g.title,
        path.display(),
        scenario.name,
        if last.is_empty() {
            String::new()
        } else {
            format!(", last: {last}")
        }
    );
    Ok(g)
}
