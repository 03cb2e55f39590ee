//! kernel/utsname.c and `sethostname` in kernel/sys.c (docs/kernel-rules.md section 9;
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/utsname.c>).

mod common;

use common::*;
use nslab_sim::sched::*;
use nslab_sim::*;

// copy_utsname (kernel/utsname.c), section 7: a new namespace copies the hostname, then the
// two diverge.
#[test]
fn copy_utsname_copies_the_hostname_then_diverges() {
    let (mut k, root) = boot();
    k.sethostname(root, "outer").expect("sethostname");
    let c = fork(&mut k, root, CLONE_NEWUTS);
    assert_eq!(&*view(&mut k, c).hostname, "outer");
    k.sethostname(c, "inner").expect("sethostname");
    assert_eq!(&*view(&mut k, c).hostname, "inner");
    assert_eq!(&*view(&mut k, root).hostname, "outer");
    k.sethostname(root, "outer2").expect("sethostname");
    assert_eq!(&*view(&mut k, c).hostname, "inner");
}

// copy_utsname (kernel/utsname.c), section 7: without CLONE_NEWUTS the namespace is shared,
// so a change is seen by both.
#[test]
fn copy_utsname_without_flag_shares() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWNET);
    k.sethostname(c, "shared").expect("sethostname");
    assert_eq!(&*view(&mut k, root).hostname, "shared");
}

// sethostname (kernel/sys.c), section 7: without CAP_SYS_ADMIN over the uts namespace's
// owner, EPERM; the owner of a new user namespace may set its own uts namespace's name.
#[test]
fn sethostname_without_cap_sys_admin_is_eperm() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    assert_eq!(errno(k.sethostname(a, "x")), Errno::EPERM);
    assert_eq!(&*view(&mut k, root).hostname, "(none)");
    let c = fork(&mut k, a, CLONE_NEWUSER | CLONE_NEWUTS);
    k.sethostname(c, "mine").expect("owner");
    assert_eq!(&*view(&mut k, c).hostname, "mine");
    // A new user namespace alone does not give rights over the old uts namespace.
    let d = fork(&mut k, a, CLONE_NEWUSER);
    assert_eq!(errno(k.sethostname(d, "x")), Errno::EPERM);
}

// sethostname (kernel/sys.c), section 7: more than 64 bytes (__NEW_UTS_LEN) is EINVAL; 64
// is fine.
#[test]
fn sethostname_longer_than_64_is_einval() {
    let (mut k, root) = boot();
    let long = "h".repeat(65);
    assert_eq!(errno(k.sethostname(root, &long)), Errno::EINVAL);
    assert_eq!(&*view(&mut k, root).hostname, "(none)");
    let max = "h".repeat(64);
    k.sethostname(root, &max).expect("64 bytes");
    assert_eq!(&*view(&mut k, root).hostname, max);
}

// utsns_install (kernel/utsname.c), section 7: joining needs CAP_SYS_ADMIN; joining shows
// the other namespace's hostname.
#[test]
fn utsns_install_joins_and_needs_privilege() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUTS);
    k.sethostname(c, "joined").expect("sethostname");
    let fd = NsFd::File {
        task: c,
        entry: NsEntry::Uts,
    };
    let a = fork(&mut k, root, 0);
    k.setns(a, fd, CLONE_NEWUTS).expect("root joins");
    assert_eq!(&*view(&mut k, a).hostname, "joined");
    let b = fork(&mut k, root, 0);
    become_nobody(&mut k, b);
    assert_eq!(errno(k.setns(b, fd, CLONE_NEWUTS)), Errno::EPERM);
}
