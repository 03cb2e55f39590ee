//! Checks that the model's bookkeeping is whole: every reference count equals the number of
//! its holders, and every counter matches what exists.
//!
//! This module mirrors no kernel file: it is what the kernel's `refcount_t` warnings and
//! leak detectors would catch, written out so tests can ask for it after every step.

use crate::kernel::{CredRef, FsRef, Kernel, NsproxyRef};
use crate::machine::NsType;
use std::collections::HashMap;

impl Kernel {
    /// Every broken invariant, as sentences; empty when the model is consistent.
    pub fn check_invariants(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let mut expect = |what: String, have: u64, want: u64| {
            if have != want {
                bad.push(format!("{what}: count {have}, but {want} holders"));
            }
        };

        // nsproxy: the tasks using it (+1 for the idle task on init_nsproxy).
        let mut nsproxy_holders: HashMap<NsproxyRef, u64> = HashMap::new();
        let mut cred_holders: HashMap<CredRef, u64> = HashMap::new();
        let mut fs_holders: HashMap<FsRef, u64> = HashMap::new();
        for (_, t) in self.tasks.iter() {
            if let Some(n) = t.nsproxy {
                *nsproxy_holders.entry(n).or_default() += 1;
            }
            *cred_holders.entry(t.cred).or_default() += 1;
            *cred_holders.entry(t.real_cred).or_default() += 1;
            if let Some(f) = t.fs {
                *fs_holders.entry(f).or_default() += 1;
            }
        }
        for (i, n) in self.nsproxies.iter() {
            let stat = u64::from(i == self.init_nsproxy);
            expect(
                format!("nsproxy#{}", i.index()),
                n.count,
                nsproxy_holders.get(&i).copied().unwrap_or(0) + stat,
            );
        }
        for (i, c) in self.creds.iter() {
            expect(
                format!("cred#{}", i.index()),
                c.usage,
                cred_holders.get(&i).copied().unwrap_or(0),
            );
        }
        for (i, f) in self.fs_structs.iter() {
            expect(
                format!("fs_struct#{}", i.index()),
                u64::from(f.users),
                fs_holders.get(&i).copied().unwrap_or(0),
            );
        }

        // Namespaces: nsproxy members, owners, parents, pids, creds.
        let mut holders: HashMap<(NsType, u32), u64> = HashMap::new();
        let mut hold = |t: NsType, i: u32| *holders.entry((t, i)).or_default() += 1;
        for (_, n) in self.nsproxies.iter() {
            hold(NsType::Uts, n.uts_ns.index());
            hold(NsType::Ipc, n.ipc_ns.index());
            hold(NsType::Mnt, n.mnt_ns.index());
            hold(NsType::Pid, n.pid_ns_for_children.index());
            hold(NsType::Net, n.net_ns.index());
            for t in [n.time_ns, n.time_ns_for_children].into_iter().flatten() {
                hold(NsType::Time, t.index());
            }
            hold(NsType::Cgroup, n.cgroup_ns.index());
        }
        for (_, c) in self.creds.iter() {
            hold(NsType::User, c.user_ns.index());
        }
        for (_, p) in self.pids.iter() {
            hold(NsType::Pid, p.numbers[p.level as usize].ns.index());
        }
        for (_, u) in self.user_namespaces.iter() {
            if let Some(p) = u.parent {
                hold(NsType::User, p.index());
            }
        }
        for (_, p) in self.pid_namespaces.iter() {
            if let Some(pp) = p.parent {
                hold(NsType::Pid, pp.index());
            }
            hold(NsType::User, p.user_ns.index());
        }
        for (_, n) in self.uts_namespaces.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        for (_, n) in self.ipc_namespaces.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        for (_, n) in self.mnt_namespaces.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        for (_, n) in self.cgroup_namespaces.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        for (_, n) in self.time_namespaces.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        for (_, n) in self.nets.iter() {
            hold(NsType::User, n.user_ns.index());
        }
        let initial = |inum: u64| self.initial_inums.contains(&inum);
        let dynamic_inum = |inum: u64| inum >= crate::proc_generic::PROC_DYNAMIC_FIRST;
        let mut check = |t: NsType, i: u32, inum: u64, count: u64| {
            let want = holders.get(&(t, i)).copied().unwrap_or(0) + u64::from(initial(inum));
            expect(format!("{}:[{inum}]", t.proc_name()), count, want);
        };
        for (i, n) in self.user_namespaces.iter() {
            check(NsType::User, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.pid_namespaces.iter() {
            check(NsType::Pid, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.uts_namespaces.iter() {
            check(NsType::Uts, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.ipc_namespaces.iter() {
            check(NsType::Ipc, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.mnt_namespaces.iter() {
            check(NsType::Mnt, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.cgroup_namespaces.iter() {
            check(NsType::Cgroup, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.time_namespaces.iter() {
            check(NsType::Time, i.index(), n.ns.inum, n.ns.count);
        }
        for (i, n) in self.nets.iter() {
            check(NsType::Net, i.index(), n.ns.inum, n.ns.count);
        }

        // pid_allocated matches the pids with a number in each namespace.
        for (i, ns) in self.pid_namespaces.iter() {
            let live = self
                .pids
                .iter()
                .filter(|(_, p)| p.numbers.iter().any(|u| u.ns == i))
                .count() as u32;
            let have = ns.pid_allocated & !crate::pid_namespace::PIDNS_ADDING;
            if have != live {
                bad.push(format!(
                    "pid:[{}] pid_allocated {have}, but {live} pids",
                    ns.ns.inum
                ));
            }
        }

        // Every network namespace holds lo with ifindex 1 and is on the list.
        for (i, n) in self.nets.iter() {
            if n.dev_base.first().map(|d| (d.name.as_str(), d.ifindex)) != Some(("lo", 1)) {
                bad.push(format!("net:[{}] has no lo at ifindex 1", n.ns.inum));
            }
            if !self.net_namespace_list.contains(&i) {
                bad.push(format!("net:[{}] is not on net_namespace_list", n.ns.inum));
            }
        }

        // Dynamic inode numbers in use match the dynamic namespaces alive.
        let dynamic = self
            .user_namespaces
            .iter()
            .filter(|(_, n)| dynamic_inum(n.ns.inum))
            .count()
            + self
                .pid_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .uts_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .ipc_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .mnt_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .cgroup_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .time_namespaces
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count()
            + self
                .nets
                .iter()
                .filter(|(_, n)| dynamic_inum(n.ns.inum))
                .count();
        if dynamic as u64 != self.proc_inum.in_use() {
            bad.push(format!(
                "{} dynamic inode numbers in use, but {dynamic} dynamic namespaces",
                self.proc_inum.in_use()
            ));
        }
        bad
    }

    /// Counts of live objects of every kind, for "only the initial objects remain" checks.
    pub fn object_counts(&self) -> ObjectCounts {
        ObjectCounts {
            tasks: self.tasks.len(),
            creds: self.creds.len(),
            nsproxies: self.nsproxies.len(),
            pids: self.pids.len(),
            user: self.user_namespaces.len(),
            pid: self.pid_namespaces.len(),
            uts: self.uts_namespaces.len(),
            ipc: self.ipc_namespaces.len(),
            mnt: self.mnt_namespaces.len(),
            cgroup: self.cgroup_namespaces.len(),
            net: self.nets.len(),
            time: self.time_namespaces.len(),
            ucount_entries: self.ucounts.len(),
            dynamic_inums: self.proc_inum.in_use(),
        }
    }
}

/// How many objects of each kind are alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCounts {
    pub tasks: usize,
    pub creds: usize,
    pub nsproxies: usize,
    pub pids: usize,
    pub user: usize,
    pub pid: usize,
    pub uts: usize,
    pub ipc: usize,
    pub mnt: usize,
    pub cgroup: usize,
    pub net: usize,
    pub time: usize,
    pub ucount_entries: usize,
    pub dynamic_inums: u64,
}
