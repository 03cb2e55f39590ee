//! `nslab clone FLAGS [PROGRAM [ARGS...]]`: the lesson's C program as a command, and
//! `--explain`. The work is `nslab_real::live::clone`.

use super::live::{report_error, Explainer, ModelOp};
use nslab_real::live::clone::CloneSpec;
use nslab_real::live::{LiveError, Program};
use nslab_sim::sched::parse_flags;
use nslab_sim::CloneArgs;
use std::ffi::OsString;

/// Arguments of `nslab clone`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nslab clone 'CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET'       (the lesson's program: a bash inside)
  nslab clone newns,newpid,newnet -- sh -c 'echo $$; ip addr'
  nslab clone --explain 'NEWPID|NEWNET' true

Flags are kernel names with or without CLONE_, in any case, joined by | or , (as for
nslab trace); SIGCHLD is added as the exit signal. A flag that only clone3 can pass
(NEWTIME, CLEAR_SIGHAND, INTO_CGROUP) makes it a clone3 call.")]
pub struct CloneCmdArgs {
    /// Before running: the model's account of the call; once the child is ready: what the
    /// kernel shows for it beside the model's prediction (on stderr).
    #[arg(long = "explain")]
    pub explain: bool,
    /// The clone flags.
    #[arg(value_name = "FLAGS")]
    pub flags: String,
    /// The program the child executes, with its arguments (bash when none is given).
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub program: Vec<OsString>,
}

/// Runs `nslab clone`; returns only on failure, with the exit status.
pub fn run(a: CloneCmdArgs) -> u8 {
    let flags = match parse_flags(&a.flags) {
        Ok(f) => f,
        Err(e) => return report_error("clone", &LiveError::Failed(e.to_string()), None, |_| None),
    };
    let args = CloneArgs::new(flags);
    let program = if a.program.is_empty() {
        Program::exactly(&[OsString::from("/bin/bash")])
    } else {
        Program::exactly(&a.program)
    };
    let program = match program {
        Ok(p) => p,
        Err(e) => return report_error("clone", &e, None, |_| None),
    };
    let spec = CloneSpec {
        flags,
        via: args.via,
        program,
    };
    let ops = vec![ModelOp::clone(args)];
    let mut explainer = if a.explain {
        match Explainer::new("clone", None, &ops) {
            Ok(x) => Some(x),
            Err(e) => {
                eprintln!("nslab clone: {e:#}");
                return 1;
            }
        }
    } else {
        None
    };
    let e = nslab_real::live::clone::run(
        &spec,
        explainer
            .as_mut()
            .map(|x| x as &mut dyn nslab_real::live::explain::Explain),
    );
    report_error("clone", &e, None, |e| match e {
        LiveError::Refused { .. } => Some(ops.clone()),
        _ => None,
    })
}
