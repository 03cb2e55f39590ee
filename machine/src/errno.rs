//! Error numbers, as the kernel returns them (negated) from system calls.
//!
//! Mirrors include/uapi/asm-generic/errno-base.h and errno.h (v6.18): the values are the
//! generic ones used by x86_64 and arm64.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One kernel error number. The model returns exactly these, so that a comparison with the
/// real kernel is `EINVAL == EINVAL`, never a comparison of messages.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Errno {
    /// Operation not permitted (1).
    EPERM,
    /// No such file or directory (2).
    ENOENT,
    /// No such process (3).
    ESRCH,
    /// Interrupted system call (4).
    EINTR,
    /// Bad file number (9).
    EBADF,
    /// No child processes (10).
    ECHILD,
    /// Try again (11).
    EAGAIN,
    /// Out of memory (12).
    ENOMEM,
    /// Permission denied (13).
    EACCES,
    /// Device or resource busy (16).
    EBUSY,
    /// File exists (17).
    EEXIST,
    /// No such device (19).
    ENODEV,
    /// Invalid argument (22).
    EINVAL,
    /// No space left on device (28).
    ENOSPC,
    /// Math result not representable (34).
    ERANGE,
    /// Function not implemented (38): a system call the kernel does not have.
    ENOSYS,
    /// Too many users (87).
    EUSERS,
    /// Operation not supported (95).
    EOPNOTSUPP,
    /// Any other number, kept as the kernel gave it.
    Other(i32),
}

impl Errno {
    /// Every named errno, for parsers and listings.
    pub(crate) const NAMED: [Errno; 18] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::ESRCH,
        Errno::EINTR,
        Errno::EBADF,
        Errno::ECHILD,
        Errno::EAGAIN,
        Errno::ENOMEM,
        Errno::EACCES,
        Errno::EBUSY,
        Errno::EEXIST,
        Errno::ENODEV,
        Errno::EINVAL,
        Errno::ENOSPC,
        Errno::ERANGE,
        Errno::ENOSYS,
        Errno::EUSERS,
        Errno::EOPNOTSUPP,
    ];

    /// The positive number, as in `errno` after a failed call.
    pub const fn as_raw(self) -> i32 {
        match self {
            Errno::EPERM => 1,
            Errno::ENOENT => 2,
            Errno::ESRCH => 3,
            Errno::EINTR => 4,
            Errno::EBADF => 9,
            Errno::ECHILD => 10,
            Errno::EAGAIN => 11,
            Errno::ENOMEM => 12,
            Errno::EACCES => 13,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
            Errno::ENOSPC => 28,
            Errno::ERANGE => 34,
            Errno::ENOSYS => 38,
            Errno::EUSERS => 87,
            Errno::EOPNOTSUPP => 95,
            Errno::Other(n) => n,
        }
    }

    /// The errno for a positive number.
    pub fn from_raw(n: i32) -> Errno {
        Errno::NAMED
            .iter()
            .copied()
            .find(|e| e.as_raw() == n)
            .unwrap_or(Errno::Other(n))
    }

    /// The C name (`"EINVAL"`) of a named errno.
    pub(crate) const fn c_name(self) -> Option<&'static str> {
        Some(match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::ESRCH => "ESRCH",
            Errno::EINTR => "EINTR",
            Errno::EBADF => "EBADF",
            Errno::ECHILD => "ECHILD",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::ENOSYS => "ENOSYS",
            Errno::EUSERS => "EUSERS",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::Other(_) => return None,
        })
    }

    /// The C name (`"EINVAL"`), or `E<number>` for an unnamed one.
    pub fn name(self) -> String {
        self.display_name().to_string()
    }

    /// What [`Errno::name`] returns, written into a formatter without building a string
    /// (reports write errno names at many steps): the one spelling of an errno's name, which
    /// every report, scenario file and trace uses. `Display` adds the description.
    pub fn display_name(self) -> impl fmt::Display {
        ErrnoName(self)
    }

    /// Parses a C name such as `EINVAL` (case-insensitive).
    pub fn from_name(s: &str) -> Option<Errno> {
        let up = s.to_ascii_uppercase();
        Errno::NAMED.iter().copied().find(|e| e.name() == up)
    }

    /// The text `strerror` gives, lowercase as util-linux prints it.
    pub fn description(self) -> &'static str {
        match self {
            Errno::EPERM => "operation not permitted",
            Errno::ENOENT => "no such file or directory",
            Errno::ESRCH => "no such process",
            Errno::EINTR => "interrupted system call",
            Errno::EBADF => "bad file descriptor",
            Errno::ECHILD => "no child processes",
            Errno::EAGAIN => "resource temporarily unavailable",
            Errno::ENOMEM => "cannot allocate memory",
            Errno::EACCES => "permission denied",
            Errno::EBUSY => "device or resource busy",
            Errno::EEXIST => "file exists",
            Errno::ENODEV => "no such device",
            Errno::EINVAL => "invalid argument",
            Errno::ENOSPC => "no space left on device",
            Errno::ERANGE => "numerical result out of range",
            Errno::ENOSYS => "function not implemented",
            Errno::EUSERS => "too many users",
            Errno::EOPNOTSUPP => "operation not supported",
            Errno::Other(_) => "unknown error",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.display_name(), self.description())
    }
}

impl std::error::Error for Errno {}

/// The C name of an errno, as a `Display`.
struct ErrnoName(Errno);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.c_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "E{}", self.0.as_raw()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_numbers_round_trip() {
        for e in Errno::NAMED {
            assert_eq!(Errno::from_raw(e.as_raw()), e);
            assert_eq!(Errno::from_name(&e.name()), Some(e));
        }
        assert_eq!(Errno::from_raw(22), Errno::EINVAL);
        assert_eq!(Errno::from_raw(4242), Errno::Other(4242));
    }

    #[test]
    fn c_names_are_the_variant_names() {
        for e in Errno::NAMED {
            assert_eq!(e.c_name(), Some(format!("{e:?}").as_str()));
        }
        assert_eq!(Errno::Other(4242).c_name(), None);
        assert_eq!(Errno::Other(4242).name(), "E4242");
    }
}
