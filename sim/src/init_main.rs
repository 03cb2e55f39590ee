//! Booting the simulated machine.
//!
//! Mirrors init/main.c (`start_kernel` -> `rest_init` -> `kernel_init`) and init/init_task.c
//! (`init_task`, `init_cred`, `init_nsproxy`) (v6.18), with `net_ns_init` and
//! `net_dev_init` (net/core/net_namespace.c, net/core/dev.c) in their order: `init_net` is
//! set up first with an empty `pernet_list`, then net/core/dev.c registers
//! `netdev_net_ops`, `loopback_net_ops` and `default_device_ops`, and each registration runs
//! its init for `init_net`, which is how `init_net` gets its `lo`.
//!
//! The idle task (pid 0) is not modelled, but its references are: every initial object
//! carries one reference more than its visible holders (as the static objects of the kernel
//! are never freed).
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/init/main.c>,
//! <https://elixir.bootlin.com/linux/v6.18/source/init/init_task.c>.
//! The rules with their errnos: docs/kernel-rules.md, sections 2, 8 and 11.

use crate::capability::CAP_FULL_SET;
use crate::cgroup_namespace::CgroupNamespace;
use crate::cred::Cred;
use crate::dev::{default_device_ops, netdev_net_ops};
use crate::ipc_namespace::IpcNamespace;
use crate::kernel::*;
use crate::loopback::loopback_net_ops;
use crate::machine::{CloneArgs, IdMapExtent, IdMapKind, Origin, TaskState, UtsName};
use crate::mnt_namespace::{initial_mounts, MntNamespace};
use crate::net_namespace::{net_ns_ops, Net};
use crate::nsproxy::Nsproxy;
use crate::pid_namespace::{Idr, PidNamespace, PIDNS_ADDING, PID_MAX_DEFAULT};
use crate::proc_generic::*;
use crate::sched::*;
use crate::task::{FsStruct, TaskStruct};
use crate::time_namespace::{TimeNamespace, TimensOffsets};
use crate::user_namespace::{identity_map, UserNamespace};
use crate::utsname::UtsNamespace;
use arrayvec::ArrayVec;

/// `UTS_NODENAME`: the hostname the kernel boots with.
pub(crate) const UTS_NODENAME: &str = "(none)";

/// Boots the machine; with an origin, places the scenario root where it says.
pub(crate) fn start_kernel(origin: Option<&Origin>, version: KernelVersion) -> Kernel {
    let mut k = empty_kernel(origin, version);
    boot_into(&mut k, origin);
    k
}

/// Boots `k` again in place: every object is freed and the machine is what
/// [`start_kernel`] gives, but the arenas keep their memory, so that a runner booting a fresh
/// machine per scenario does not allocate them again.
pub(crate) fn restart_kernel(k: &mut Kernel, origin: Option<&Origin>, version: KernelVersion) {
    // Everything not kept is replaced by what `empty_kernel` starts from, so that a field
    // added there cannot be forgotten here.
    let fresh = empty_kernel(origin, version);
    let old = std::mem::replace(k, fresh);
    // The arenas and lists move over from the old machine, emptied.
    macro_rules! keep {
        ($($field:ident),* $(,)?) => {
            $(k.$field = old.$field.emptied();)*
        };
    }
    keep!(
        tasks,
        creds,
        fs_structs,
        nsproxies,
        pids,
        user_namespaces,
        pid_namespaces,
        uts_namespaces,
        ipc_namespaces,
        mnt_namespaces,
        cgroup_namespaces,
        nets,
        time_namespaces,
    );
    k.pernet_list = emptied(old.pernet_list);
    k.net_namespace_list = emptied(old.net_namespace_list);
    k.handles = emptied(old.handles);
    boot_into(k, origin);
}

/// The list, cleared, with its memory.
fn emptied<T>(mut v: Vec<T>) -> Vec<T> {
    v.clear();
    v
}

/// A machine with no object yet.
fn empty_kernel(origin: Option<&Origin>, version: KernelVersion) -> Kernel {
    Kernel {
        tasks: Slab::default(),
        creds: Slab::default(),
        fs_structs: Slab::default(),
        nsproxies: Slab::default(),
        pids: Slab::default(),
        user_namespaces: Slab::default(),
        pid_namespaces: Slab::default(),
        uts_namespaces: Slab::default(),
        ipc_namespaces: Slab::default(),
        mnt_namespaces: Slab::default(),
        cgroup_namespaces: Slab::default(),
        nets: Slab::default(),
        time_namespaces: Slab::default(),
        ucounts: IdMap::default(),
        proc_inum: ProcInumIda::default(),
        pernet_list: Vec::new(),
        first_device: None,
        net_namespace_list: Vec::new(),
        // The initial objects are the first of their arenas: `boot_into` allocates them at
        // slot 0 and sets these again from what it allocated.
        init_task: TaskRef(0),
        init_nsproxy: NsproxyRef(0),
        init_user_ns: UserNsRef(0),
        init_pid_ns: PidNsRef(0),
        init_net: NetRef(0),
        root_task: TaskRef(0),
        init_ucount_max: DEFAULT_UCOUNT_MAX,
        version,
        initial_inums: ArrayVec::new(),
        handles: Vec::new(),
        origin: origin.cloned().unwrap_or_default(),
        rec: None,
    }
}

/// `start_kernel` proper, into an empty machine.
fn boot_into(k: &mut Kernel, origin: Option<&Origin>) {
    let version = k.version;
    // The static initial namespaces; counts start at 1 for the idle task's references.
    let user = k.user_namespaces.insert(UserNamespace {
        ns: NsCommon {
            inum: PROC_USER_INIT_INO,
            count: 1,
        },
        parent: None,
        level: 0,
        owner: 0,
        group: 0,
        uid_map: identity_map(),
        gid_map: identity_map(),
        setgroups_allowed: true,
        parent_could_setfcap: true,
        ucount_max: [DEFAULT_UCOUNT_MAX; 8],
        ucounts_key: None,
    });
    let owned = |inum| NsCommon { inum, count: 1 };
    let pid_ns = k.pid_namespaces.insert(PidNamespace {
        ns: owned(PROC_PID_INIT_INO),
        idr: Idr::default(),
        last_pid: 0,
        pid_max: PID_MAX_DEFAULT,
        pid_allocated: PIDNS_ADDING,
        child_reaper: None,
        level: 0,
        parent: None,
        user_ns: user,
        ucounts_key: None,
    });
    let uts = k.uts_namespaces.insert(UtsNamespace {
        ns: owned(PROC_UTS_INIT_INO),
        user_ns: user,
        nodename: UtsName::from(UTS_NODENAME).expect("UTS_NODENAME fits"),
        domainname: UtsName::from("(none)").expect("\"(none)\" fits"),
        ucounts_key: None,
    });
    let ipc = k.ipc_namespaces.insert(IpcNamespace {
        ns: owned(PROC_IPC_INIT_INO),
        user_ns: user,
        sysv_keys: Vec::new(),
        mqueues: Vec::new(),
        ucounts_key: None,
    });
    let cgroup = k.cgroup_namespaces.insert(CgroupNamespace {
        ns: owned(PROC_CGROUP_INIT_INO),
        user_ns: user,
        root_cgroup: "/",
        ucounts_key: None,
    });
    // 4.19 has no time namespaces.
    let time = version.has_time_ns().then(|| {
        k.time_namespaces.insert(TimeNamespace {
            ns: owned(PROC_TIME_INIT_INO),
            user_ns: user,
            offsets: TimensOffsets::default(),
            frozen_offsets: true,
            ucounts_key: None,
        })
    });
    // `init_mount_tree` runs before the first task: `init_nsproxy.mnt_ns` is NULL only
    // until then, so the model creates it here. In 4.19 its inode is the first dynamic one.
    let mnt_inum = match version {
        KernelVersion::V6_18 => PROC_MNT_INIT_INO,
        KernelVersion::V4_19 => k.proc_alloc_inum(),
    };
    let mnt = k.mnt_namespaces.insert(MntNamespace {
        ns: owned(mnt_inum),
        user_ns: user,
        mounts: initial_mounts(),
        ucounts_key: None,
    });
    // `net_ns_init`: `init_net` is set up while `pernet_list` is still empty. In 4.19 its
    // inode comes from `net_ns_ops`, registered just after.
    let net_inum = match version {
        KernelVersion::V6_18 => PROC_NET_INIT_INO,
        KernelVersion::V4_19 => 0,
    };
    let net = k.nets.insert(Net {
        ns: owned(net_inum),
        passive: 1,
        user_ns: user,
        ucounts_key: None,
        dev_base: Vec::new(),
        ifindex: 0,
        loopback_dev: None,
        generic: Vec::new(),
        listed: false,
    });
    // Every namespace holds its owner.
    k.user_namespaces[user].ns.count += if time.is_some() { 7 } else { 6 };
    k.setup_net(net)
        .expect("setup_net(&init_net) with no ops cannot fail");
    if version == KernelVersion::V4_19 {
        k.register_pernet_subsys(net_ns_ops())
            .expect("net_ns_net_init in init_net");
    }
    // `net_dev_init`.
    k.register_pernet_subsys(netdev_net_ops())
        .expect("netdev_init cannot fail");
    k.register_pernet_device(loopback_net_ops())
        .expect("loopback_net_init in init_net");
    k.register_pernet_device(default_device_ops())
        .expect("default_device_ops has no init");

    // `init_nsproxy`: the idle task's reference, and init's below.
    let nsproxy = k.nsproxies.insert(Nsproxy {
        count: 1,
        uts_ns: uts,
        ipc_ns: ipc,
        mnt_ns: mnt,
        pid_ns_for_children: pid_ns,
        net_ns: net,
        time_ns: time,
        time_ns_for_children: time,
        cgroup_ns: cgroup,
    });
    for c in [
        &mut k.uts_namespaces[uts].ns,
        &mut k.ipc_namespaces[ipc].ns,
        &mut k.mnt_namespaces[mnt].ns,
        &mut k.pid_namespaces[pid_ns].ns,
        &mut k.nets[net].ns,
        &mut k.cgroup_namespaces[cgroup].ns,
    ] {
        c.count += 1;
    }
    if let Some(time) = time {
        k.time_namespaces[time].ns.count += 2;
    }

    // pid 1: `kernel_init`, forked from the idle task without flags. Its credentials are a
    // copy of `init_cred`: root with every capability.
    let cred = k.creds.insert(Cred {
        usage: 2,
        uid: 0,
        euid: 0,
        suid: 0,
        fsuid: 0,
        gid: 0,
        egid: 0,
        sgid: 0,
        fsgid: 0,
        cap_inheritable: 0,
        cap_permitted: CAP_FULL_SET,
        cap_effective: CAP_FULL_SET,
        cap_bset: CAP_FULL_SET,
        user_ns: user,
    });
    k.user_namespaces[user].ns.count += 1;
    k.nsproxies[nsproxy].count += 1;
    let fs = k.fs_structs.insert(FsStruct { users: 1 });
    let pid = k.alloc_pid(pid_ns).expect("pid 1 in the initial namespace");
    let init = k.tasks.insert(TaskStruct {
        pid,
        // Itself, set below once the slab has given it its reference.
        group_leader: TaskRef(0),
        nr_threads: 1,
        real_parent: None,
        children: Vec::new(),
        real_cred: cred,
        cred,
        nsproxy: Some(nsproxy),
        fs: Some(fs),
        exit_signal: SIGCHLD,
        signal_unkillable: true,
        is_child_subreaper: false,
        has_child_subreaper: false,
        dumpable: true,
        mm_user_ns: user,
        state: TaskState::Running,
        handle: None,
    });
    k.tasks[init].group_leader = init;
    k.pids[pid].task = Some(init);
    k.pid_namespaces[pid_ns].child_reaper = Some(init);

    k.init_task = init;
    k.init_nsproxy = nsproxy;
    k.init_user_ns = user;
    k.init_pid_ns = pid_ns;
    k.init_net = net;
    k.root_task = init;
    k.initial_inums.extend([
        k.user_namespaces[user].ns.inum,
        k.pid_namespaces[pid_ns].ns.inum,
        k.uts_namespaces[uts].ns.inum,
        k.ipc_namespaces[ipc].ns.inum,
        k.mnt_namespaces[mnt].ns.inum,
        k.cgroup_namespaces[cgroup].ns.inum,
        k.nets[net].ns.inum,
    ]);
    if let Some(time) = time {
        k.initial_inums.push(k.time_namespaces[time].ns.inum);
    }

    match origin {
        None => {
            k.new_handle(init);
        }
        Some(o) => place_root(k, o),
    }
}

/// Replays what a container runtime did to put a process where `origin` says: nested user
/// and pid namespaces (with full identity id maps written by each parent), and, when the
/// root is in a user namespace of its own, new namespaces of every other type owned by it.
/// With `single_id_map` the last user namespace is the one an unprivileged start makes:
/// only id 0 mapped, setgroups denied, and no namespace of another type of its own.
/// The root is then a plain child of the last of these tasks, a child subreaper, with the
/// origin's ids and capabilities.
fn place_root(k: &mut Kernel, o: &Origin) {
    let depth = o.pid_ns_level.max(o.user_ns_level);
    let mut prev = k.init_task;
    for i in 0..depth {
        let mut flags = 0;
        if i < o.user_ns_level {
            flags |= CLONE_NEWUSER;
        }
        if i < o.pid_ns_level {
            flags |= CLONE_NEWPID;
        }
        // The container's level has namespaces of every other type, owned by it. An
        // unprivileged start (`single_id_map`) adds a user namespace of its own and nothing
        // else below that level: the other namespaces stay those of the level above.
        let own_level = if o.single_id_map {
            o.user_ns_level.checked_sub(2)
        } else {
            o.user_ns_level.checked_sub(1)
        };
        if own_level == Some(i) {
            flags |= CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
        }
        let child = k
            .sys_clone(prev, CloneArgs::new(flags))
            .expect("placing the root: a container level");
        if flags & CLONE_NEWUSER != 0 {
            // The root's own level maps only id 0 after an unprivileged start (as the real
            // root helper writes its maps: setgroups "deny", then "0 <uid> 1" and
            // "0 <gid> 1"); id 0 of the level above stands for the caller's ids there.
            let single = o.single_id_map && i + 1 == o.user_ns_level;
            let map = [IdMapExtent {
                first: 0,
                lower_first: 0,
                count: if single { 1 } else { u32::MAX },
            }];
            if single {
                k.setgroups_deny(child)
                    .expect("placing the root: setgroups deny");
            }
            k.map_write(prev, child, IdMapKind::Uid, &map)
                .expect("placing the root: uid_map");
            k.map_write(prev, child, IdMapKind::Gid, &map)
                .expect("placing the root: gid_map");
        }
        prev = child;
    }
    let root = k
        .sys_clone(prev, CloneArgs::new(0))
        .expect("placing the root: the root task");
    // The real root helper is a program executed where the origin says: its mm belongs to
    // that user namespace, which the tasks above it keep alive.
    let root_ns = k.task_cred(root).user_ns;
    k.tasks[root].is_child_subreaper = true;
    k.tasks[root].mm_user_ns = root_ns;
    k.root_task = root;
    if o.gid != 0 {
        k.sys_setresgid(root, o.gid).expect("placing the root: gid");
    }
    if o.uid != 0 {
        k.sys_setresuid(root, o.uid).expect("placing the root: uid");
    }
    let drop = k.task_cred(root).cap_effective & !o.cap_eff;
    if drop != 0 {
        k.capset_drop(root, drop)
            .expect("placing the root: capabilities");
    }
    // The root is a program executed with these credentials (the real root helper, or the
    // nslab process of a live command started by setpriv or a login): exec makes a task
    // dumpable again (`setup_new_exec` -> `would_dump`, fs/exec.c), whatever the id changes
    // before it did.
    k.tasks[root].dumpable = true;
    k.new_handle(root);
}
