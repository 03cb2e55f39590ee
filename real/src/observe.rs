//! What a task sees of itself, read from `/proc/thread-self` and the usual calls.
//!
//! Uses proc(5) (`/proc/<pid>/status` lines `NSpid:` and `CapEff:`, readlink of
//! `/proc/<pid>/ns/*`), gethostname(2), getifaddrs(3) and if_nametoindex(3). Reading /proc
//! directly is a few lines and keeps the kernel's errno for each namespace entry (the
//! `procfs` crate hides EACCES, see the pitfalls page).

use crate::sys::last_errno;
use nslab_machine::{fit, Errno, Interface, Interfaces, NsEntry, NsPids, TaskView, UtsName};
use std::os::unix::fs::MetadataExt;

/// The `/proc` directory of the calling thread.
const THREAD_SELF: &str = "/proc/thread-self";

/// The numbers after `NSpid:` in a status file (at most one per pid namespace level, which
/// the kernel bounds: any beyond are ignored).
pub fn parse_nspid(status: &str) -> NsPids {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .take(nslab_machine::NSPID_MAX)
                .collect()
        })
        .unwrap_or_default()
}

/// The hexadecimal set after `CapEff:` in a status file.
pub fn parse_cap_eff(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|rest| u64::from_str_radix(rest.trim(), 16).ok())
        .unwrap_or(0)
}

/// The inode number in a namespace link such as `net:[4026531833]`.
pub fn parse_ns_link(link: &str) -> Option<u64> {
    let start = link.find('[')? + 1;
    let end = link.rfind(']')?;
    link.get(start..end)?.parse().ok()
}

/// The `NSpid:` line of a pidfd's fdinfo: its pids from the /proc mount's pid namespace
/// down (proc(5)), or `None` once its process has been reaped.
pub fn pidfd_nspid(pidfd: std::os::fd::BorrowedFd<'_>) -> Option<NsPids> {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).ok()?;
    let nspid = parse_nspid(&info);
    (nspid.first().is_some_and(|&p| p > 0)).then_some(nspid)
}

/// `/proc/thread-self/status` of the caller.
pub fn own_status() -> std::io::Result<String> {
    std::fs::read_to_string(format!("{THREAD_SELF}/status"))
}

/// readlink of one `/proc/thread-self/ns/<entry>`, as an inode number or the errno.
pub fn own_ns(entry: NsEntry) -> Result<u64, Errno> {
    let path = format!("{THREAD_SELF}/ns/{}", entry.file_name());
    match std::fs::read_link(&path) {
        Ok(target) => parse_ns_link(&target.to_string_lossy()).ok_or(Errno::EINVAL),
        Err(e) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(0))),
    }
}

/// The device and inode of one of the caller's namespaces: its identity.
pub fn own_ns_identity(entry: NsEntry) -> Option<(u64, u64)> {
    let path = format!("{THREAD_SELF}/ns/{}", entry.file_name());
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The interfaces of the caller's network namespace, one per name, sorted by ifindex.
pub fn interfaces() -> Result<Interfaces, Errno> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| Errno::from_raw(e as i32))?;
    let mut out = Interfaces::new();
    for a in addrs {
        if out.iter().any(|i| *i.name == *a.interface_name) {
            continue;
        }
        let ifindex = nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0);
        out.push(Interface {
            up: a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP),
            name: fit(&a.interface_name),
            ifindex,
        });
    }
    out.sort_by_key(|i| (i.ifindex, i.name));
    Ok(out)
}

/// `gethostname(2)`.
pub fn hostname() -> Result<UtsName, Errno> {
    nix::unistd::gethostname()
        .map(|h| fit(&h.to_string_lossy()))
        .map_err(|e| Errno::from_raw(e as i32))
}

/// Everything the caller sees of itself; `nspid` starts at the /proc mount's pid namespace.
pub fn view() -> Result<TaskView, Errno> {
    let status = own_status().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    let ns = NsEntry::ALL.map(|e| (e, own_ns(e)));
    // SAFETY: these calls take no arguments and cannot fail.
    let (ppid, uid, gid) = unsafe { (libc::getppid(), libc::getuid(), libc::getgid()) };
    Ok(TaskView {
        ns,
        nspid: parse_nspid(&status),
        ppid,
        uid,
        gid,
        cap_eff: parse_cap_eff(&status),
        hostname: hostname()?,
        interfaces: interfaces()?,
    })
}

/// Whether `/proc` is a procfs mount (statfs(2) `PROC_SUPER_MAGIC`), checked before any
/// write under it.
pub fn proc_is_procfs() -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    // SAFETY: statfs is plain data; all-zero is valid before the call fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and out pointer.
    let r = unsafe { libc::statfs(c"/proc".as_ptr(), &mut st) };
    if r < 0 {
        let _ = last_errno();
        return false;
    }
    st.f_type as i64 == PROC_SUPER_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\tx\nNSpid:\t667\t2\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_nspid(status)[..], [667, 2]);
        assert_eq!(parse_cap_eff(status), 0x1ff_ffff_ffff);
        assert!(parse_nspid("Name:\tx\n").is_empty());
    }

    #[test]
    fn parses_namespace_links() {
        assert_eq!(parse_ns_link("net:[4026531833]"), Some(4026531833));
        assert_eq!(parse_ns_link("pid:[4026532100]"), Some(4026532100));
        assert_eq!(parse_ns_link("garbage"), None);
    }
}
