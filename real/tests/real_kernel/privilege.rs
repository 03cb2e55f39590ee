//! The privilege paths: without root the root helper stands in a user namespace of its own;
//! where user namespaces are unavailable, the start is refused with the cause and the fix.

use crate::harness::{helper_exe, need_root, probe_exe, start_lab, tests, Lab, Outcome};
use nslab_machine::capability::CAP_FULL_SET;
use nslab_machine::sched::*;
use nslab_machine::{CloneArgs, Interface, Machine, NsEntry};
use nslab_machine::{IdMapExtent, IdMapKind, NsType};
use nslab_real::StartOptions;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

tests![
    unprivileged_start_maps_the_caller_to_root,
    no_user_namespaces_is_refused_with_the_sysctl_to_fix,
];

fn unprivileged_start_maps_the_caller_to_root() -> Outcome {
    need_root!("starting the helper as uid 65534 needs root");
    let opts = StartOptions {
        run_as: Some((65534, 65534)),
        ..StartOptions::default()
    };
    let mut m = match Lab::start_with(opts) {
        Ok(m) => m,
        Err(o) => return o,
    };
    assert!(m.own_user_ns());
    let o = m.origin();
    assert_eq!((o.uid, o.gid, o.cap_eff), (0, 0, CAP_FULL_SET));
    let host_user = std::fs::read_link("/proc/self/ns/user").unwrap();
    if host_user.to_string_lossy() == "user:[4026531837]" {
        assert_eq!(o.user_ns_level, 1, "{}", m.level_method());
    }
    let root = m.root();
    let v = m.observe(root).unwrap();
    assert_ne!(
        NsEntry::User.readlink(v.ns(NsEntry::User).unwrap()),
        host_user.to_string_lossy()
    );
    // Root inside its own user namespace can make the other types.
    let c = m
        .clone_task(
            root,
            CloneArgs::new(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWPID),
        )
        .unwrap();
    let cv = m.observe(c).unwrap();
    assert_eq!(cv.pid(), 1);
    assert_eq!(
        cv.interfaces[..],
        [Interface {
            name: nslab_machine::fit("lo"),
            ifindex: 1,
            up: false
        }]
    );
    m.link_up(c, "lo").unwrap();
    m.sethostname(c, "nslab-unpriv").unwrap();
    assert_eq!(&*m.observe(c).unwrap().hostname, "nslab-unpriv");
    Outcome::Pass
}

/// A non-root caller in a user namespace whose `max_user_namespaces` is 0: the start must be
/// refused with ENOSPC, naming the sysctl. The limit is set inside a user namespace made for
/// the test, never on the host.
fn no_user_namespaces_is_refused_with_the_sysctl_to_fix() -> Outcome {
    need_root!("preparing a user namespace with a zero limit needs root");
    let mut m = start_lab!();
    let root = m.root();
    let u = m.clone_task(root, CloneArgs::new(CLONE_NEWUSER)).unwrap();
    let map = [
        IdMapExtent {
            first: 0,
            lower_first: 0,
            count: 1,
        },
        IdMapExtent {
            first: 65534,
            lower_first: 65534,
            count: 1,
        },
    ];
    m.write_id_map(root, u, IdMapKind::Uid, &map).unwrap();
    m.write_id_map(root, u, IdMapKind::Gid, &map).unwrap();
    m.set_max_namespaces(u, NsType::User, 0).unwrap();
    let userns = std::fs::File::open(format!("/proc/{}/ns/user", m.host_pid(u).unwrap())).unwrap();
    let fd = userns.as_raw_fd();
    let mut cmd = std::process::Command::new(probe_exe());
    cmd.arg(helper_exe()).arg("start");
    // SAFETY: the closure runs in the forked, single-threaded child before exec and makes
    // only raw system calls (setns, setresgid, setresuid) on an fd that is open there.
    unsafe {
        cmd.pre_exec(move || {
            let ok = libc::setns(fd, libc::CLONE_NEWUSER) == 0
                && libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
                && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0;
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "probe said {stdout:?}");
    assert!(
        stdout.starts_with("start error: not root and no user namespace: unshare(CLONE_NEWUSER) failed: no space left on device"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sysctl -w user.max_user_namespaces="),
        "{stdout}"
    );
    Outcome::Pass
}
