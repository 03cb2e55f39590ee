//! What the host looks like from the calling process, to check that a run of the real
//! backend left it as it was: mount points and sources (not mount ids), hostname, interfaces
//! and their UP flags, `/run/netns`, the fd count, the calling thread's ten namespace links,
//! and the children of this process (running or zombie).
//!
//! Tests take one before and one after a batch of real-backend work and compare them.

use nslab_machine::{fit, Interface, NsEntry};
use std::collections::BTreeSet;

/// What the host looks like from the test process.
#[derive(Debug, PartialEq, Eq)]
pub struct HostSnapshot {
    mounts: BTreeSet<String>,
    hostname: String,
    interfaces: Vec<Interface>,
    run_netns: BTreeSet<String>,
    fds: usize,
    namespaces: Vec<(NsEntry, Option<String>)>,
    children: Vec<String>,
}

impl HostSnapshot {
    /// Reads the snapshot; anything that cannot be read counts as empty, so that a change in
    /// readability shows up as a difference too.
    pub fn take() -> HostSnapshot {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // Mount point, then filesystem type and source: not the mount ids, which change.
        let mounts = mountinfo
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let after = l.split(" - ").nth(1).unwrap_or("");
                format!("{} {}", f.get(4).unwrap_or(&""), after)
            })
            .collect();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut interfaces: Vec<Interface> = Vec::new();
        for a in nix::ifaddrs::getifaddrs().into_iter().flatten() {
            if interfaces.iter().any(|i| *i.name == *a.interface_name) {
                continue;
            }
            interfaces.push(Interface {
                ifindex: nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0),
                up: a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP),
                name: fit(&a.interface_name),
            });
        }
        interfaces.sort();
        let run_netns = std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count())
            .unwrap_or(0);
        let namespaces = NsEntry::ALL
            .iter()
            .map(|e| {
                let link = std::fs::read_link(format!("/proc/thread-self/ns/{}", e.file_name()));
                (*e, link.ok().map(|l| l.to_string_lossy().into_owned()))
            })
            .collect();
        HostSnapshot {
            mounts,
            hostname,
            interfaces,
            run_netns,
            fds,
            namespaces,
            children: own_children(),
        }
    }
}

/// Processes (running or zombie) whose parent is this process, as `pid state comm`.
pub(crate) fn own_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.get(1) == Some(&me.as_str()) {
            out.push(format!(
                "{name} {} {}",
                f[0],
                head.split_once('(').map(|x| x.1).unwrap_or("")
            ));
        }
    }
    out
}
