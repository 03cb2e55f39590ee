//! Why a real machine could not start, with the cause and the fix in the message.
//!
//! The hints follow what the kernel answers where user namespaces are unavailable (see
//! user_namespaces(7) and the pitfalls page): `ENOSPC` from unshare(2) for
//! `user.max_user_namespaces` = 0, `EPERM` from unshare for Debian's
//! `kernel.unprivileged_userns_clone` = 0, `EPERM` from the `uid_map` write for Ubuntu's
//! AppArmor restriction, `EINVAL` for a kernel without `CONFIG_USER_NS`.

use nslab_machine::Errno;
use std::fmt;
use std::path::PathBuf;

/// Why [`crate::RealMachine::start`] failed.
#[derive(Debug)]
pub enum StartError {
    /// The helper program could not be started.
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    /// The controller's channel could not be made.
    Channel(nix::Error),
    /// The helper started but did not introduce itself properly.
    Handshake(String),
    /// Not root, and the kernel refused the user namespace that would stand in for root.
    UserNamespaces { step: String, errno: Errno },
    /// Another step of the root helper's setup failed.
    Setup { step: String, errno: Errno },
}

impl StartError {
    /// The cause and the fix for a refused user namespace, by the step and errno.
    pub fn user_namespace_hint(step: &str, errno: Errno) -> &'static str {
        let at_map = step.contains("_map") || step.contains("setgroups");
        match (errno, at_map) {
            (Errno::ENOSPC, _) => {
                "the limit user.max_user_namespaces is 0 or reached (or the nesting depth of 32 is); fix: sysctl -w user.max_user_namespaces=15000, or run as root"
            }
            (Errno::EPERM, false) => {
                "unprivileged user namespaces are disabled (Debian's kernel.unprivileged_userns_clone=0, or a seccomp or LSM policy); fix: sysctl -w kernel.unprivileged_userns_clone=1, or run as root"
            }
            (Errno::EPERM, true) | (Errno::EACCES, true) => {
                "the new user namespace may not map ids, as with AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later); fix: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile that allows userns for this program, or run as root"
            }
            (Errno::EINVAL, false) => {
                "the kernel has no user namespaces (CONFIG_USER_NS is off) or the caller is multithreaded; fix: use a kernel with user namespaces, or run as root"
            }
            _ => "user namespaces are unavailable here; fix: run as root",
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn { exe, source } => {
                write!(f, "cannot start the helper {}: {source}", exe.display())
            }
            StartError::Channel(e) => write!(f, "cannot make the helper channel: {e}"),
            StartError::Handshake(s) => write!(f, "the root helper did not start: {s}"),
            StartError::UserNamespaces { step, errno } => write!(
                f,
                "not root and no user namespace: {step} failed: {}; {}",
                errno.description(),
                StartError::user_namespace_hint(step, *errno)
            ),
            StartError::Setup { step, errno } => {
                write!(
                    f,
                    "the root helper could not set up: {step} failed: {errno}"
                )
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Spawn { source, .. } => Some(source),
            StartError::Channel(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(step: &str, errno: Errno) -> String {
        StartError::UserNamespaces {
            step: step.into(),
            errno,
        }
        .to_string()
    }

    #[test]
    fn each_cause_names_its_sysctl() {
        let enospc = msg("unshare(CLONE_NEWUSER)", Errno::ENOSPC);
        assert!(enospc.contains("user.max_user_namespaces"), "{enospc}");
        assert!(enospc.contains("no space left on device"), "{enospc}");
        let eperm = msg("unshare(CLONE_NEWUSER)", Errno::EPERM);
        assert!(
            eperm.contains("kernel.unprivileged_userns_clone"),
            "{eperm}"
        );
        let apparmor = msg("write /proc/self/uid_map", Errno::EPERM);
        assert!(
            apparmor.contains("apparmor_restrict_unprivileged_userns"),
            "{apparmor}"
        );
        let einval = msg("unshare(CLONE_NEWUSER)", Errno::EINVAL);
        assert!(einval.contains("CONFIG_USER_NS"), "{einval}");
        for m in [enospc, eperm, apparmor, einval] {
            assert!(m.contains("fix:") && !m.ends_with('.'), "{m}");
            assert!(m.starts_with("not root and no user namespace"), "{m}");
        }
    }
}
