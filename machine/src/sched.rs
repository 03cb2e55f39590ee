//! The clone flags, with their kernel names and values.
//!
//! Mirrors include/uapi/linux/sched.h (v6.18).

/// Signal mask to be sent at exit: the low byte of legacy `clone` flags.
pub const CSIGNAL: u64 = 0x0000_00ff;
/// Set if the child shares the parent's memory.
pub const CLONE_VM: u64 = 0x0000_0100;
/// Set if the child shares the parent's fs_struct (root, cwd, umask).
pub const CLONE_FS: u64 = 0x0000_0200;
/// Set if the child shares the parent's open files.
pub const CLONE_FILES: u64 = 0x0000_0400;
/// Set if the child shares the parent's signal handlers.
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// Set if a pidfd should be placed in the parent.
pub const CLONE_PIDFD: u64 = 0x0000_1000;
/// Set if the parent's tracer should trace the child too.
pub const CLONE_PTRACE: u64 = 0x0000_2000;
/// Set if the parent sleeps until the child releases its memory.
pub const CLONE_VFORK: u64 = 0x0000_4000;
/// Set if the child gets the caller's parent.
pub const CLONE_PARENT: u64 = 0x0000_8000;
/// Set if the child is a thread of the same thread group.
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// New mount namespace.
pub const CLONE_NEWNS: u64 = 0x0002_0000;
/// Set if the child shares System V SEM_UNDO semantics.
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
/// Set the TLS descriptor.
pub const CLONE_SETTLS: u64 = 0x0008_0000;
/// Store the child's tid in the parent.
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
/// Clear the tid in the child at exit.
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// Unused, ignored (rejected together with `CLONE_PIDFD`).
pub const CLONE_DETACHED: u64 = 0x0040_0000;
/// A tracer may not force `CLONE_PTRACE` on this clone.
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
/// Store the tid in the child.
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// New cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// New uts namespace (hostname, domainname).
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
/// New System V IPC namespace.
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
/// New user namespace.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// New pid namespace.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// New network namespace.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Clone the io context.
pub const CLONE_IO: u64 = 0x8000_0000;
/// New time namespace. It shares its bit with `CSIGNAL`, so legacy `clone` cannot pass it.
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
/// Clear any signal handler and reset to SIG_DFL (clone3 only).
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// Clone into a specific cgroup given the right permissions (clone3 only).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The signal a fork sends its parent at exit, and the legacy `clone` default here.
pub const SIGCHLD: u64 = 17;

/// Every flag `clone3` accepts besides the exit signal, as checked by `clone3_args_valid`.
pub const CLONE3_VALID: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_PIDFD
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_THREAD
    | CLONE_NEWNS
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_IO
    | CLONE_NEWTIME
    | CLONE_CLEAR_SIGHAND
    | CLONE_INTO_CGROUP;

/// The namespace flags that `copy_namespaces` acts on (all but `CLONE_NEWUSER`, which
/// `copy_creds` handles).
pub const NSPROXY_FLAGS: u64 = CLONE_NEWNS
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWCGROUP
    | CLONE_NEWTIME;

/// The eight `CLONE_NEW*` flags: what `setns` accepts with a pidfd.
pub const CLONE_NEW_ALL: u64 = NSPROXY_FLAGS | CLONE_NEWUSER;

/// Flag names in the kernel's spelling, lowest bit first (exit-signal bits excluded but
/// `CLONE_NEWTIME`, which shares them).
pub(crate) const FLAG_NAMES: [(&str, u64); 27] = [
    ("CLONE_NEWTIME", CLONE_NEWTIME),
    ("CLONE_VM", CLONE_VM),
    ("CLONE_FS", CLONE_FS),
    ("CLONE_FILES", CLONE_FILES),
    ("CLONE_SIGHAND", CLONE_SIGHAND),
    ("CLONE_PIDFD", CLONE_PIDFD),
    ("CLONE_PTRACE", CLONE_PTRACE),
    ("CLONE_VFORK", CLONE_VFORK),
    ("CLONE_PARENT", CLONE_PARENT),
    ("CLONE_THREAD", CLONE_THREAD),
    ("CLONE_NEWNS", CLONE_NEWNS),
    ("CLONE_SYSVSEM", CLONE_SYSVSEM),
    ("CLONE_SETTLS", CLONE_SETTLS),
    ("CLONE_PARENT_SETTID", CLONE_PARENT_SETTID),
    ("CLONE_CHILD_CLEARTID", CLONE_CHILD_CLEARTID),
    ("CLONE_DETACHED", CLONE_DETACHED),
    ("CLONE_UNTRACED", CLONE_UNTRACED),
    ("CLONE_CHILD_SETTID", CLONE_CHILD_SETTID),
    ("CLONE_NEWCGROUP", CLONE_NEWCGROUP),
    ("CLONE_NEWUTS", CLONE_NEWUTS),
    ("CLONE_NEWIPC", CLONE_NEWIPC),
    ("CLONE_NEWUSER", CLONE_NEWUSER),
    ("CLONE_NEWPID", CLONE_NEWPID),
    ("CLONE_NEWNET", CLONE_NEWNET),
    ("CLONE_IO", CLONE_IO),
    ("CLONE_CLEAR_SIGHAND", CLONE_CLEAR_SIGHAND),
    ("CLONE_INTO_CGROUP", CLONE_INTO_CGROUP),
];

/// Whether `clone3` refuses these flags in `clone3_args_valid` (kernel/fork.c), before any
/// task is made: a bit outside `CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND |
/// CLONE_INTO_CGROUP`, or `CLONE_DETACHED` or an exit-signal bit (which clone3 takes
/// elsewhere). The real backend hands such flags to the kernel even where it would not
/// make the clone (`CLONE_VM`), since the kernel answers EINVAL without making anything.
pub const fn clone3_flags_invalid(flags: u64) -> bool {
    flags & !CLONE3_VALID != 0 || flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0
}

/// Why a flag list could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagParseError {
    /// The word that is not a flag.
    pub word: String,
}

impl std::fmt::Display for FlagParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.word.trim().is_empty() {
            f.write_str("an empty clone flag (write 0 for no flags); valid flags: ")?;
        } else {
            write!(
                f,
                "unknown clone flag {}; valid flags: ",
                crate::text::quoted(&self.word)
            )?;
        }
        let mut first = true;
        for (name, _) in FLAG_NAMES.iter().copied() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl std::error::Error for FlagParseError {}

/// Parses `CLONE_NEWPID|CLONE_NEWNET`, `NEWPID,newnet`, `0`, or a number (`0x20000000`).
/// Words are joined by `|` or `,`; each is a kernel name with or without `CLONE_`, in any case.
/// An empty word (`''`, `'|||'`, `'newpid|'`) is an error: `0` is the way to say no flags.
pub fn parse_flags(s: &str) -> Result<u64, FlagParseError> {
    let mut flags = 0;
    for word in s.split(['|', ',']).map(str::trim) {
        if word.is_empty() {
            return Err(FlagParseError {
                word: String::new(),
            });
        }
        if let Some(n) = parse_number(word) {
            flags |= n;
            continue;
        }
        let up = word.to_ascii_uppercase();
        let full = if up.starts_with("CLONE_") {
            up
        } else {
            format!("CLONE_{up}")
        };
        match FLAG_NAMES.iter().find(|(n, _)| *n == full) {
            Some((_, v)) => flags |= v,
            None => {
                return Err(FlagParseError {
                    word: word.to_string(),
                })
            }
        }
    }
    Ok(flags)
}

fn parse_number(word: &str) -> Option<u64> {
    if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if word.bytes().all(|b| b.is_ascii_digit()) {
        word.parse().ok()
    } else {
        None
    }
}

/// A set of clone flags as text: the set bits by name, `CLONE_NEWNS|CLONE_NEWPID`, `0` for
/// none, unknown bits in hex. The one spelling of flags: traces, scenario files, reports and
/// fault messages all print flags through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u64);

impl std::fmt::Display for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags = self.0;
        if flags == 0 {
            return f.write_str("0");
        }
        let mut first = true;
        let mut rest = flags;
        for (name, v) in FLAG_NAMES.iter().copied() {
            if flags & v == v {
                if !first {
                    f.write_str("|")?;
                }
                first = false;
                f.write_str(name)?;
                rest &= !v;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// [`Flags`] as a string.
pub fn flags_to_string(flags: u64) -> String {
    Flags(flags).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_word_is_an_error_and_zero_is_no_flags() {
        for bad in ["", "   ", "|||", "newpid|", ",newnet", "newpid||newnet"] {
            let e = parse_flags(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("an empty clone flag (write 0 for no flags)"),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(parse_flags("0"), Ok(0));
        assert_eq!(
            parse_flags(" newpid | newnet "),
            Ok(CLONE_NEWPID | CLONE_NEWNET)
        );
    }

    #[test]
    fn parses_every_spelling() {
        let want = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET;
        assert_eq!(
            parse_flags("CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET"),
            Ok(want)
        );
        assert_eq!(parse_flags("NEWNS,NEWPID,NEWNET"), Ok(want));
        assert_eq!(parse_flags("newns | newpid , newnet"), Ok(want));
        assert_eq!(parse_flags("0"), Ok(0));
        assert_eq!(parse_flags("0x20000000"), Ok(CLONE_NEWPID));
    }

    #[test]
    fn bad_flag_names_the_word_and_lists_the_valid_ones() {
        let e = parse_flags("NEWPID|NEWFOO").unwrap_err();
        assert_eq!(e.word, "NEWFOO");
        let msg = e.to_string();
        assert!(msg.contains("'NEWFOO'"), "{msg}");
        assert!(
            msg.contains("CLONE_NEWPID") && msg.contains("CLONE_NEWTIME"),
            "{msg}"
        );
    }

    #[test]
    fn prints_names_back() {
        assert_eq!(
            flags_to_string(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET),
            "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET"
        );
        assert_eq!(flags_to_string(0), "0");
        assert_eq!(flags_to_string(1 << 40), "0x10000000000");
    }
}
