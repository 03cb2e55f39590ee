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
pub const CAP_NAMES: [(&str, u32); 7] = [
    ("CAP_SETGID", CAP_SETGID),
    ("CAP_SETUID", CAP_SETUID),
    ("CAP_NET_ADMIN", CAP_NET_ADMIN),
    ("CAP_SYS_CHROOT", CAP_SYS_CHROOT),
    ("CAP_SYS_PTRACE", CAP_SYS_PTRACE),
    ("CAP_SYS_ADMIN", CAP_SYS_ADMIN),
    ("CAP_SYS_RESOURCE", CAP_SYS_RESOURCE),
];

/// The name of a capability number (`CAP_SYS_ADMIN`), or `cap_<n>`.
pub fn cap_name(cap: u32) -> String {
    CAP_NAMES
        .iter()
        .find(|(_, c)| *c == cap)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("cap_{cap}"))
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
