//! Capability numbers and sets.
//!
//! Mirrors include/uapi/linux/capability.h and include/linux/capability.h (v6.18).

/// `CAP_DAC_OVERRIDE`: bypass file read, write and execute permission checks.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// `CAP_SETGID`: set gids, write gid_map.
pub const CAP_SETGID: u32 = 6;
/// `CAP_SETUID`: set uids, write uid_map.
pub const CAP_SETUID: u32 = 7;
/// `CAP_NET_ADMIN`: configure interfaces.
pub const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SETFCAP`: set file capabilities; needed to map the parent's root.
pub const CAP_SETFCAP: u32 = 31;
/// `CAP_SYS_CHROOT`: chroot, and joining a mount namespace.
pub const CAP_SYS_CHROOT: u32 = 18;
/// `CAP_SYS_PTRACE`: ptrace any process (and read its `/proc/<pid>/ns`).
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_SYS_ADMIN`: creating and joining namespaces, `sethostname`, and much more.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_SYS_RESOURCE`: override limits, write `/proc/sys/user/max_*`.
pub const CAP_SYS_RESOURCE: u32 = 24;
/// The highest capability number (`CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = 40;
/// Every capability: what the creator of a user namespace gets in it.
pub const CAP_FULL_SET: u64 = (1u64 << (CAP_LAST_CAP + 1)) - 1;

/// The bit of one capability in a set.
pub const fn cap_bit(cap: u32) -> u64 {
    1u64 << cap
}

/// The capability names of the ones the model checks, for traces and parsers.
pub(crate) const CAP_NAMES: [(&str, u32); 7] = [
    ("CAP_SETGID", CAP_SETGID),
    ("CAP_SETUID", CAP_SETUID),
    ("CAP_NET_ADMIN", CAP_NET_ADMIN),
    ("CAP_SYS_CHROOT", CAP_SYS_CHROOT),
    ("CAP_SYS_PTRACE", CAP_SYS_PTRACE),
    ("CAP_SYS_ADMIN", CAP_SYS_ADMIN),
    ("CAP_SYS_RESOURCE", CAP_SYS_RESOURCE),
];

/// What [`parse_cap`] accepts, for the message that refuses anything else.
pub fn valid_caps() -> String {
    let names: Vec<&str> = CAP_NAMES.iter().map(|(n, _)| *n).collect();
    format!(
        "{} (with or without CAP_, in any case), a number from 0 to {CAP_LAST_CAP}, or all",
        names.join(", ")
    )
}

/// Parses `CAP_SYS_ADMIN` or `sys_admin` (any case), `all`, or a number.
pub fn parse_cap(s: &str) -> Option<u64> {
    let up = s.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Some(CAP_FULL_SET);
    }
    if let Ok(n) = up.parse::<u32>() {
        return (n <= CAP_LAST_CAP).then(|| cap_bit(n));
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    CAP_NAMES
        .iter()
        .find(|(n, _)| *n == full)
        .map(|(_, c)| cap_bit(*c))
}

/// A capability set as text, the one spelling of capabilities. `{}` names the members as the
/// scenario format lists them: `all` for the full set, `CAP_SYS_ADMIN|CAP_SETUID` (a member
/// without a name as its number), `0` for none. `{:#}` gives the set as a value, as reports
/// show a task's `CapEff`: `all`, `none`, or the bits in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSet(pub u64);

impl std::fmt::Display for CapSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let caps = self.0;
        if f.alternate() {
            return match caps {
                CAP_FULL_SET => f.write_str("all"),
                0 => f.write_str("none"),
                c => write!(f, "{c:#x}"),
            };
        }
        if caps == CAP_FULL_SET {
            return f.write_str("all");
        }
        let mut first = true;
        for cap in (0..=CAP_LAST_CAP).filter(|c| caps & cap_bit(*c) != 0) {
            if !first {
                f.write_str("|")?;
            }
            first = false;
            match CAP_NAMES.iter().find(|(_, c)| *c == cap) {
                Some((name, _)) => f.write_str(name)?,
                None => write!(f, "{cap}")?,
            }
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_prints_as_names_or_as_a_value() {
        let set = cap_bit(5) | cap_bit(CAP_SYS_ADMIN);
        assert_eq!(CapSet(set).to_string(), "5|CAP_SYS_ADMIN");
        assert_eq!(format!("{:#}", CapSet(set)), "0x200020");
        assert_eq!(CapSet(CAP_FULL_SET).to_string(), "all");
        assert_eq!(format!("{:#}", CapSet(CAP_FULL_SET)), "all");
        assert_eq!(CapSet(0).to_string(), "0");
        assert_eq!(format!("{:#}", CapSet(0)), "none");
        // The names read back as the same set.
        let back = CapSet(set)
            .to_string()
            .split('|')
            .map(|w| parse_cap(w).unwrap())
            .fold(0, |a, b| a | b);
        assert_eq!(back, set);
    }
}
