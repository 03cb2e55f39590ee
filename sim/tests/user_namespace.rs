//! kernel/user_namespace.c: `create_user_ns`, id maps, `userns_install` (docs/kernel-rules.md
//! section 4; <https://elixir.bootlin.com/linux/v6.18/source/kernel/user_namespace.c>).

mod common;

use common::*;
use nslab_sim::capability::{cap_bit, CAP_FULL_SET, CAP_SYS_ADMIN};
use nslab_sim::sched::*;
use nslab_sim::*;

// create_user_ns (kernel/user_namespace.c), section 6: 33 nested levels exist below the
// initial one; creating a 34th (parent level 33 > 32) is ENOSPC.
#[test]
fn create_user_ns_33_levels_then_enospc() {
    let (mut k, root) = boot();
    let mut t = root;
    for level in 1..=33 {
        let c = fork(&mut k, t, CLONE_NEWUSER);
        map_identity(&mut k, t, c);
        assert_eq!(user_ns_level(&k, c), level);
        t = c;
    }
    let before = snapshot(&mut k, &[t]);
    assert_eq!(clone_err(&mut k, t, CLONE_NEWUSER), Errno::ENOSPC);
    assert_eq!(errno(k.unshare(t, CLONE_NEWUSER)), Errno::ENOSPC);
    assert_eq!(snapshot(&mut k, &[t]), before);
}

// map_write / from_kuid_munged (kernel/user_namespace.c), section 6: until uid_map and
// gid_map are written, ids read as the overflow id 65534.
#[test]
fn ids_read_65534_until_the_map_is_written() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER);
    let v = view(&mut k, c);
    assert_eq!((v.uid, v.gid), (NOBODY, NOBODY));
    let one = [IdMapExtent {
        first: 0,
        lower_first: 0,
        count: 1,
    }];
    k.write_id_map(root, c, IdMapKind::Uid, &one)
        .expect("uid_map");
    let v = view(&mut k, c);
    assert_eq!((v.uid, v.gid), (0, NOBODY));
    k.write_id_map(root, c, IdMapKind::Gid, &one)
        .expect("gid_map");
    let v = view(&mut k, c);
    assert_eq!((v.uid, v.gid), (0, 0));
    assert_consistent(&k);
}

// map_write (kernel/user_namespace.c), section 6: a map is written once; the second write
// is EPERM.
#[test]
fn map_is_written_once() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER);
    map_identity(&mut k, root, c);
    let one = [IdMapExtent {
        first: 0,
        lower_first: 0,
        count: 1,
    }];
    for kind in [IdMapKind::Uid, IdMapKind::Gid] {
        assert_eq!(
            errno(k.write_id_map(root, c, kind, &one)),
            Errno::EPERM,
            "{kind:?}"
        );
    }
}

// create_user_ns / set_cred_user_ns (kernel/user_namespace.c), section 6: the creator gets
// the full permitted and effective sets in the new namespace, even when it had none.
#[test]
fn creator_has_full_capabilities() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    become_nobody(&mut k, a);
    let c = fork(&mut k, a, CLONE_NEWUSER);
    assert_eq!(view(&mut k, c).cap_eff, CAP_FULL_SET);
    assert_eq!(view(&mut k, a).cap_eff, 0, "the parent keeps its own set");
    unshare(&mut k, a, CLONE_NEWUSER);
    assert_eq!(view(&mut k, a).cap_eff, CAP_FULL_SET);
    assert_eq!(user_ns_level(&k, a), 1);
}

// create_user_ns (kernel/user_namespace.c), section 6: a creator whose euid or egid has no
// mapping in its user namespace is EPERM.
#[test]
fn unmapped_creator_is_eperm() {
    let (mut k, root) = boot();
    let c = fork(&mut k, root, CLONE_NEWUSER);
    let before = snapshot(&mut k, &[root, c]);
    assert_eq!(clone_err(&mut k, c, CLONE_NEWUSER), Errno::EPERM);
    assert_eq!(errno(k.unshare(c, CLONE_NEWUSER)), Errno::EPERM);
    assert_eq!(snapshot(&mut k, &[root, c]), before);

    // A map that does not contain the creator's own uid does not help.
    let other = [IdMapExtent {
        first: 0,
        lower_first: 1000,
        count: 1,
    }];
    k.write_id_map(root, c, IdMapKind::Uid, &other)
        .expect("uid_map");
    k.write_id_map(root, c, IdMapKind::Gid, &other)
        .expect("gid_map");
    assert_eq!(clone_err(&mut k, c, CLONE_NEWUSER), Errno::EPERM);

    // Only the gid mapped is not enough either.
    let d = fork(&mut k, root, CLONE_NEWUSER);
    let zero = [IdMapExtent {
        first: 0,
        lower_first: 0,
        count: 1,
    }];
    k.write_id_map(root, d, IdMapKind::Gid, &zero)
        .expect("gid_map");
    assert_eq!(clone_err(&mut k, d, CLONE_NEWUSER), Errno::EPERM);
    k.write_id_map(root, d, IdMapKind::Uid, &zero)
        .expect("uid_map");
    fork(&mut k, d, CLONE_NEWUSER);
}

// create_user_ns (kernel/user_namespace.c), section 6: owner and group are the creator's
// euid and egid.
#[test]
fn owner_is_the_creators_euid() {
    let (mut k, root) = boot();
    let a = fork(&mut k, root, 0);
    k.setresgid(a, 2000).expect("setresgid");
    k.setresuid(a, 1000).expect("setresuid");
    let c = fork(&mut k, a, CLONE_NEWUSER);
    let ns = &k.user_namespaces[user_ns_of(&k, c)];
    assert_eq!((ns.owner, ns.group), (1000, 2000));
}

// userns_install (kernel/user_namespace.c), section 6: a multithreaded caller is EINVAL.
#[test]
fn userns_install_multithreaded_is_einval() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWUSER);
    let a = fork(&mut k, root, 0);
    thread(&mut k, a);
    let fd = NsFd::File {
        task: owner,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(a, fd, CLONE_NEWUSER)), Errno::EINVAL);
}

// userns_install (kernel/user_namespace.c), section 6: a shared fs_struct is EINVAL.
#[test]
fn userns_install_shared_fs_is_einval() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWUSER);
    let a = fork(&mut k, root, 0);
    fork(&mut k, a, CLONE_FS);
    let fd = NsFd::File {
        task: owner,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(a, fd, 0)), Errno::EINVAL);
}

// userns_install (kernel/user_namespace.c), section 6: without CAP_SYS_ADMIN in the target
// namespace, EPERM; a task in a sibling user namespace has none there.
#[test]
fn userns_install_without_cap_sys_admin_is_eperm() {
    let (mut k, root) = boot();
    let owner = fork(&mut k, root, CLONE_NEWUSER);
    let sibling = fork(&mut k, root, CLONE_NEWUSER);
    let fd = NsFd::File {
        task: owner,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(sibling, fd, 0)), Errno::EPERM);
    // Going back up to the initial namespace needs CAP_SYS_ADMIN there too.
    let init = NsFd::File {
        task: root,
        entry: NsEntry::User,
    };
    assert_eq!(errno(k.setns(owner, init, 0)), Errno::EPERM);
    // The root joins it, and gets every capability in it.
    let a = fork(&mut k, root, 0);
    k.setns(a, fd, CLONE_NEWUSER).expect("root joins");
    assert_eq!(user_ns_of(&k, a), user_ns_of(&k, owner));
    assert_ne!(view(&mut k, a).cap_eff & cap_bit(CAP_SYS_ADMIN), 0);
    assert_consistent(&k);
}
