//! `nslab`: step through the kernel's clone path, run scenarios on the model and on the real
//! kernel, and judge that they agree.

// The C `main`, without Rust's runtime start-up (see `main` below); the unit tests keep
// libtest's.
#![cfg_attr(not(test), no_main)]

use clap::{Parser, Subcommand};

mod alloc;
mod cmd;

/// mimalloc rather than the C library's malloc for the model and the judge, which allocate
/// small objects at every step (the scenario set runs about a fifth faster, BENCHMARKS.md);
/// the C library's for the live commands, which start faster with it (see `alloc.rs`).
/// Neither starts a thread, so the helpers and the live commands stay single-threaded.
#[global_allocator]
static GLOBAL: alloc::Chosen = alloc::Chosen;

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
    /// Run a program in new namespaces (util-linux unshare(1) options); --explain shows the
    /// model's account and checks the kernel's answer against it.
    #[command(disable_version_flag = true)]
    Unshare(cmd::unshare::UnshareArgs),
    /// Run a program in the namespaces of another process (util-linux nsenter(1) options);
    /// --explain as for unshare.
    #[command(disable_version_flag = true)]
    Nsenter(cmd::nsenter::NsenterArgs),
    /// The lesson's C program: clone(FLAGS) a child that executes PROGRAM (bash by default),
    /// wait for it; --explain as for unshare.
    #[command(disable_version_flag = true)]
    Clone(cmd::clone::CloneCmdArgs),
    /// List every namespace of the running system and what keeps each alive (util-linux
    /// lsns compatible, and more).
    Lsns(cmd::lsns::LsnsArgs),
    /// Persistent network namespaces, compatible with iproute2's `ip netns`.
    Netns(cmd::netns::NetnsArgs),
    /// Draw tasks, nsproxies and namespaces of the live system or of the model.
    Graph(cmd::graph::GraphArgs),
}

/// The live commands follow util-linux: a usage error exits 1, not clap's 2, and says
/// `nslab <command>: ...` with a pointer to the help.
const LIVE: [&str; 3] = ["unshare", "nsenter", "clone"];

/// clap takes an unknown option of a live command for the start of PROGRAM (which may begin
/// with a hyphen after `--`): refuse it as util-linux does, unless `--` came before it.
fn unknown_option_before_program(command: &Command) -> Option<u8> {
    let (sub, program) = match command {
        Command::Unshare(a) => ("unshare", &a.program),
        Command::Nsenter(a) => ("nsenter", &a.program),
        Command::Clone(a) => ("clone", &a.program),
        _ => return None,
    };
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = argv.len().checked_sub(program.len())?;
    let arg = argv.get(first)?.to_string_lossy().into_owned();
    if program.is_empty() || !arg.starts_with('-') || arg == "-" || argv[first - 1] == "--" {
        return None;
    }
    eprintln!("nslab {sub}: unrecognized option '{arg}'");
    eprintln!("Try 'nslab {sub} --help' for more information.");
    Some(1)
}

/// A live command parsed with only its own arguments: building the whole command tree
/// (every subcommand's arguments) cost a tenth of a millisecond of a 2.5 ms run.
fn parse_live() -> Option<Result<Command, clap::Error>> {
    use clap::{Args, FromArgMatches};
    let mut argv = std::env::args_os();
    let exe = argv.next()?;
    let sub = argv.next()?;
    let name = sub.to_str()?;
    fn one<A: Args + FromArgMatches>(
        name: &'static str,
        about: &'static str,
        argv: impl Iterator<Item = std::ffi::OsString>,
    ) -> Result<A, clap::Error> {
        let cmd = A::augment_args(
            clap::Command::new(name)
                .bin_name(format!("nslab {name}"))
                .about(about)
                .disable_version_flag(true),
        );
        let m = cmd.try_get_matches_from(argv)?;
        A::from_arg_matches(&m)
    }
    let rest: Vec<std::ffi::OsString> = std::iter::once(exe).chain(argv).collect();
    let rest = if name == "nsenter" {
        nsenter_short_values(rest)
    } else {
        rest
    };
    let rest = rest.into_iter();
    Some(match name {
        "unshare" => one(
            "unshare",
            "Run a program in new namespaces (util-linux unshare(1) options)",
            rest,
        )
        .map(Command::Unshare),
        "nsenter" => one(
            "nsenter",
            "Run a program in the namespaces of another process (util-linux nsenter(1) options)",
            rest,
        )
        .map(Command::Nsenter),
        "clone" => one(
            "clone",
            "The lesson's C program: clone(FLAGS) a child that executes PROGRAM",
            rest,
        )
        .map(Command::Clone),
        _ => return None,
    })
}

/// util-linux nsenter's short options with an optional value take it attached (`-n/path`,
/// `-w/tmp`, `-r` alone): getopt's `n::`. So `-mnp` is `-m` with the file `np`, as there.
/// These become `--net=/path` for clap; a short option with a required value (`-t 12`,
/// `-t12`) keeps it; everything from PROGRAM (or `--`) on is left as it is.
fn nsenter_short_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const OPTIONAL: [(char, &str); 10] = [
        ('m', "mount"),
        ('u', "uts"),
        ('i', "ipc"),
        ('n', "net"),
        ('p', "pid"),
        ('U', "user"),
        ('C', "cgroup"),
        ('T', "time"),
        ('r', "root"),
        ('w', "wd"),
    ];
    const REQUIRED: [char; 3] = ['t', 'S', 'G'];
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    // The executable's own name.
    out.extend(it.next());
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" || text == "-" || !text.starts_with('-') {
            out.push(arg);
            out.extend(it);
            break;
        }
        if text.starts_with("--") {
            let takes = matches!(text.as_str(), "--target" | "--setuid" | "--setgid");
            out.push(arg);
            if takes {
                out.extend(it.next());
            }
            continue;
        }
        let chars: Vec<char> = text[1..].chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let rest: String = chars[i + 1..].iter().collect();
            if let Some((_, long)) = OPTIONAL.iter().find(|(k, _)| k == c) {
                out.push(if rest.is_empty() {
                    format!("-{c}").into()
                } else {
                    format!("--{long}={rest}").into()
                });
                break;
            }
            out.push(format!("-{c}").into());
            if REQUIRED.contains(c) {
                if rest.is_empty() {
                    out.extend(it.next());
                } else {
                    out.push(rest.into());
                }
                break;
            }
        }
    }
    out
}

#[cfg_attr(test, allow(dead_code))]
fn run() -> u8 {
    // The real backend starts this binary again as its helper; that must happen before clap
    // sees the arguments and before any thread exists.
    nslab_real::enter_helper_if_requested();
    let parsed = match parse_live() {
        Some(r) => r.map(|command| Cli { command }),
        None => Cli::try_parse(),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let sub = std::env::args().nth(1).unwrap_or_default();
            if !LIVE.contains(&sub.as_str()) || !e.use_stderr() {
                e.exit();
            }
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("nslab {sub}: {first}");
            eprintln!("Try 'nslab {sub} --help' for more information.");
            return 1;
        }
    };
    if let Some(code) = unknown_option_before_program(&cli.command) {
        return code;
    }
    let result = match cli.command {
        Command::Unshare(args) => return cmd::unshare::run(args),
        Command::Nsenter(args) => return cmd::nsenter::run(args),
        Command::Clone(args) => return cmd::clone::run(args),
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
        Ok(code) => code,
        // The reader of standard output has gone (`nslab run ... | head`): stop quietly, as
        // other Unix tools do; the machines have been dropped (helpers torn down) on the way.
        Err(e) if cmd::out::is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("nslab: {}", nslab_scenario::printable(&format!("{e:#}")));
            // Bad input exits 2, like clap's own usage errors; a failure while running, 1.
            if e.downcast_ref::<cmd::UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

/// The process's entry, called by the C library: Rust's own start-up (`lang_start`) is
/// skipped. It finds the main thread's stack guard by parsing `/proc/self/maps`, installs a
/// stack-overflow handler and ignores `SIGPIPE`; for the live commands, which start a
/// program in a few milliseconds, that was a quarter of a millisecond of the difference to
/// util-linux (BENCHMARKS.md). `SIGPIPE` is ignored here as `lang_start` did (a write to a
/// reader that has gone is `EPIPE`, which the commands end on quietly; the live commands
/// give the programs they execute the default action back); a stack overflow is a plain
/// `SIGSEGV`. Arguments come from the C library as before (`std::env::args` reads them from
/// `.init_array`); stdout is flushed before returning, which `lang_start` would have done.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    nslab_real::live::ignore_sigpipe();
    let code = run();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code as std::ffi::c_int
}

#[cfg(test)]
mod tests {
    use super::nsenter_short_values;

    fn words(args: &[&str]) -> Vec<String> {
        let v = nsenter_short_values(args.iter().map(std::ffi::OsString::from).collect());
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn nsenter_optional_values_attach_like_getopt() {
        assert_eq!(
            words(&["x", "-t", "12", "-n/p", "-w/tmp", "-r", "sh", "-n/q"]),
            ["x", "-t", "12", "--net=/p", "--wd=/tmp", "-r", "sh", "-n/q"]
        );
        // A flag cluster ends at the first option with an optional value, whose value is the
        // rest (nsenter -mnp is -m with the file np, as in util-linux).
        assert_eq!(
            words(&["x", "-aFm", "true"]),
            ["x", "-a", "-F", "-m", "true"]
        );
        assert_eq!(words(&["x", "-mnp"]), ["x", "--mount=np"]);
        assert_eq!(
            words(&["x", "-t12", "-S", "0", "--target", "5", "--", "-n"]),
            ["x", "-t", "12", "-S", "0", "--target", "5", "--", "-n"]
        );
    }
}
