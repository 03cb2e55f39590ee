//! `nslab netns`: the lesson's exercise, a compatible subset of iproute2's `ip netns` that
//! shares its convention (`/run/netns/NAME` bind mounts), so that each tool sees and can
//! remove the other's namespaces. The mechanics are `nslab_real::inspect::netns`.

use super::UsageError;
use nslab_real::inspect::netns::{self, NetnsError};

/// Arguments of `nslab netns`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples (as root):
  nslab netns add container          a network namespace kept by /run/netns/container
  nslab netns exec container ip addr its interfaces: only lo, DOWN
  ip netns list                      iproute2 sees it too
  nslab netns pids container         processes in it
  nslab netns delete container")]
pub struct NetnsArgs {
    #[command(subcommand)]
    pub cmd: NetnsCmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum NetnsCmd {
    /// Create a network namespace named NAME (kept by a bind mount at /run/netns/NAME).
    Add { name: String },
    /// Name the network namespace of process PID.
    Attach { name: String, pid: i32 },
    /// Remove the name; the namespace lives on while a process or fd holds it.
    #[command(alias = "del")]
    Delete { name: String },
    /// List the names (with their ids where assigned).
    #[command(alias = "show", alias = "ls")]
    List {
        /// JSON, as `ip -j netns list`.
        #[arg(short = 'j', long)]
        json: bool,
    },
    /// Run CMD in the namespace NAME (with its own /sys and /etc/netns/NAME files).
    Exec {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        cmd: Vec<String>,
    },
    /// The names of the network namespace of PID (default: this process).
    Identify { pid: Option<i32> },
    /// The processes in the namespace NAME.
    Pids { name: String },
}

fn to_anyhow(e: NetnsError) -> anyhow::Error {
    match e {
        NetnsError::BadName(s) => UsageError(s).into(),
        NetnsError::Sys(s) => anyhow::anyhow!(s),
    }
}

/// Runs `nslab netns`. Called before the binary starts any thread (add and exec change the
/// calling process's namespaces).
pub fn run(args: NetnsArgs) -> anyhow::Result<u8> {
    match args.cmd {
        NetnsCmd::Add { name } => netns::add(&name).map_err(to_anyhow)?,
        NetnsCmd::Attach { name, pid } => netns::attach(&name, pid).map_err(to_anyhow)?,
        NetnsCmd::Delete { name } => netns::delete(&name).map_err(to_anyhow)?,
        NetnsCmd::List { json } => {
            let list = netns::list().map_err(to_anyhow)?;
            let mut out = String::new();
            if json {
                out = serde_json::to_string(&list)? + "\n";
            } else {
                for e in list {
                    match e.id {
                        Some(id) => out.push_str(&format!("{} (id: {id})\n", e.name)),
                        None => out.push_str(&format!("{}\n", e.name)),
                    }
                }
            }
            super::lsns::emit(&out)?;
        }
        NetnsCmd::Exec { name, cmd } => {
            let e = netns::exec(&name, &cmd);
            return Err(to_anyhow(e));
        }
        NetnsCmd::Identify { pid } => {
            let pid = pid.unwrap_or_else(|| std::process::id() as i32);
            let names = netns::identify(pid).map_err(to_anyhow)?;
            super::lsns::emit(&names.iter().map(|n| format!("{n}\n")).collect::<String>())?;
        }
        NetnsCmd::Pids { name } => {
            let pids = netns::pids(&name).map_err(to_anyhow)?;
            super::lsns::emit(&pids.iter().map(|p| format!("{p}\n")).collect::<String>())?;
        }
    }
    Ok(0)
}
