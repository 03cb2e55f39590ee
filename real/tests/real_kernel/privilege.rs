//! The privilege paths: without root the root helper stands in a user namespace of its own;
//! where user namespaces are unavailable, the start is refused with the cause and the fix.

use crate::harness::{need_root, tests, Lab, Outcome};
use nslab_real::StartOptions;
use nslab_sim::capability::CAP_FULL_SET;
use nslab_sim::sched::*;
use nslab_sim::{CloneArgs, Interface, Machine, NsEntry};

tests![unprivileged_start_maps_the_caller_to_root,];

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
    let root = m.root();
    let v = m.observe(root).unwrap();
    assert_ne!(
        NsEntry::User.readlink(v.ns(NsEntry::User).unwrap()),
        host_user.to_string_lossy()
    );
    // Root inside its own user namespace can make the other types.
    let c = m
        .clone(
            root,
            CloneArgs::new(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWPID),
        )
        .unwrap();
    let cv = m.observe(c).unwrap();
    assert_eq!(cv.pid(), 1);
    assert_eq!(
        cv.interfaces,
        vec![Interface {
            name: "lo".into(),
            ifindex: 1,
            up: false
        }]
    );
    m.link_up(c, "lo").unwrap();
    m.sethostname(c, "nslab-unpriv").unwrap();
    assert_eq!(m.observe(c).unwrap().hostname, "nslab-unpriv");
    Outcome::Pass
}
