//! The simulated machine: every kernel object lives in one arena per type, and the global
//! lists and initial objects of the kernel live here.
//!
//! Booting mirrors init/main.c (`start_kernel`) and init/init_task.c (`init_task`) (v6.18),
//! reduced to the objects namespaces need: the initial credentials and user namespace, the
//! eight initial namespaces with their fixed inode numbers, `init_nsproxy`, the pernet
//! operations that net/core/dev.c registers, `init_net` with its loopback device, and pid 1.

use crate::cgroup_namespace::CgroupNamespace;
use crate::cred::Cred;
use crate::errno::Errno;
use crate::ipc_namespace::IpcNamespace;
use crate::machine::{Origin, TaskId, TaskState};
use crate::mnt_namespace::MntNamespace;
use crate::net_namespace::{Net, PernetOperations};
use crate::nsproxy::Nsproxy;
use crate::pid::Pid;
use crate::pid_namespace::PidNamespace;
use crate::proc_generic::ProcInumIda;
use crate::task::{FsStruct, TaskStruct};
use crate::time_namespace::TimeNamespace;
use crate::trace::{Recorder, Step};
use crate::ucount::Ucounts;
use crate::user_namespace::UserNamespace;
use crate::utsname::UtsNamespace;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hasher for the model's small integer keys (pid numbers, arena indices):
/// the default SipHash guards against hash flooding, which a model fed by its own code does
/// not need, at several times the cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A `HashMap` keyed by small integers, with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A typed pointer into one [`Slab`]: what `struct task_struct *` and its kin are to the
/// kernel. Only the slab makes one (by `Slab::insert`, inside the model), so a reference names a live object
/// of its own type until that object is freed.
pub trait ObjectRef: Copy {
    /// The slot's index, as used in the objects' names (`nsproxy#3`, `cred#5`).
    fn index(self) -> u32;
    #[doc(hidden)]
    fn from_index(i: u32) -> Self;
}

/// An object type with its own slab, and the reference type that points into it.
pub trait SlabObject {
    /// The pointer type: `TaskRef` for `TaskStruct`.
    type Ref: ObjectRef;
}

/// An arena of kernel objects of one type: what `kmem_cache_alloc`/`kmem_cache_free` are to
/// the kernel. It is indexed by its own reference type, so `k.tasks[t]` reads as the kernel's
/// `t->...`. A freed slot is reused by the next allocation (the most recently freed first),
/// like memory: indices, and so the names built from them, are the same on every run.
#[derive(Clone, Debug)]
pub struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T: SlabObject> Slab<T> {
    /// Stores an object and returns its reference.
    pub(crate) fn insert(&mut self, t: T) -> T::Ref {
        self.live += 1;
        let i = if let Some(i) = self.free.pop() {
            self.items[i as usize] = Some(t);
            i
        } else {
            self.items.push(Some(t));
            (self.items.len() - 1) as u32
        };
        T::Ref::from_index(i)
    }

    /// The arena with every object freed, keeping its memory; indices start again at 0.
    pub(crate) fn emptied(mut self) -> Self {
        self.items.clear();
        self.free.clear();
        self.live = 0;
        self
    }

    /// Frees an object.
    ///
    /// # Panics
    /// If the reference points at no object: a double free in the model, which is a bug.
    pub(crate) fn remove(&mut self, r: T::Ref) -> T {
        let i = r.index();
        let t = self.items[i as usize]
            .take()
            .expect("model bug: double free in the arena");
        self.free.push(i);
        self.live -= 1;
        t
    }

    /// The object a reference points at, or `None` once it has been freed.
    pub(crate) fn get(&self, r: T::Ref) -> Option<&T> {
        self.items.get(r.index() as usize).and_then(Option::as_ref)
    }

    /// The object a reference points at, mutably, or `None` once it has been freed.
    pub(crate) fn get_mut(&mut self, r: T::Ref) -> Option<&mut T> {
        self.items
            .get_mut(r.index() as usize)
            .and_then(Option::as_mut)
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no object is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Live objects with their references.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (T::Ref, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (T::Ref::from_index(i as u32), t)))
    }
}

impl<T: SlabObject> std::ops::Index<T::Ref> for Slab<T> {
    type Output = T;

    /// # Panics
    /// If the reference points at no object: a use after free in the model, which is a bug.
    #[inline]
    fn index(&self, r: T::Ref) -> &T {
        self.items[r.index() as usize]
            .as_ref()
            .expect("model bug: use after free in the arena")
    }
}

impl<T: SlabObject> std::ops::IndexMut<T::Ref> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, r: T::Ref) -> &mut T {
        self.items[r.index() as usize]
            .as_mut()
            .expect("model bug: use after free in the arena")
    }
}

macro_rules! object_ref {
    ($(#[$doc:meta])* $name:ident => $object:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The slot's index, as used in the objects' names (`nsproxy#3`, `cred#5`).
            #[inline]
            pub const fn index(self) -> u32 {
                self.0
            }
        }

        impl ObjectRef for $name {
            #[inline]
            fn index(self) -> u32 {
                self.0
            }
            #[inline]
            fn from_index(i: u32) -> Self {
                $name(i)
            }
        }

        impl SlabObject for $object {
            type Ref = $name;
        }
    };
}

object_ref!(
    /// A `struct task_struct *`.
    TaskRef => TaskStruct
);
object_ref!(
    /// A `struct cred *`.
    CredRef => Cred
);
object_ref!(
    /// A `struct nsproxy *`.
    NsproxyRef => Nsproxy
);
object_ref!(
    /// A `struct user_namespace *`.
    UserNsRef => UserNamespace
);
object_ref!(
    /// A `struct pid_namespace *`.
    PidNsRef => PidNamespace
);
object_ref!(
    /// A `struct pid *`.
    PidRef => Pid
);
object_ref!(
    /// A `struct uts_namespace *`.
    UtsNsRef => UtsNamespace
);
object_ref!(
    /// A `struct ipc_namespace *`.
    IpcNsRef => IpcNamespace
);
object_ref!(
    /// A `struct mnt_namespace *`.
    MntNsRef => MntNamespace
);
object_ref!(
    /// A `struct cgroup_namespace *`.
    CgroupNsRef => CgroupNamespace
);
object_ref!(
    /// A `struct net *`.
    NetRef => Net
);
object_ref!(
    /// A `struct time_namespace *`.
    TimeNsRef => TimeNamespace
);
object_ref!(
    /// A `struct fs_struct *`.
    FsRef => FsStruct
);

/// The common header of every namespace (`struct ns_common`, include/linux/ns_common.h).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsCommon {
    /// The inode number that `/proc/<pid>/ns/<type>` shows.
    pub inum: u64,
    /// The reference count (`__ns_ref` in 6.18).
    pub count: u64,
}

/// The whole simulated kernel.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Tasks.
    pub tasks: Slab<TaskStruct>,
    /// Credentials.
    pub creds: Slab<Cred>,
    /// `fs_struct`s.
    pub fs_structs: Slab<FsStruct>,
    /// Nsproxies.
    pub nsproxies: Slab<Nsproxy>,
    /// `struct pid`s.
    pub pids: Slab<Pid>,
    /// User namespaces.
    pub user_namespaces: Slab<UserNamespace>,
    /// Pid namespaces.
    pub pid_namespaces: Slab<PidNamespace>,
    /// UTS namespaces.
    pub uts_namespaces: Slab<UtsNamespace>,
    /// IPC namespaces.
    pub ipc_namespaces: Slab<IpcNamespace>,
    /// Mount namespaces.
    pub mnt_namespaces: Slab<MntNamespace>,
    /// Cgroup namespaces.
    pub cgroup_namespaces: Slab<CgroupNamespace>,
    /// Network namespaces.
    pub nets: Slab<Net>,
    /// Time namespaces.
    pub time_namespaces: Slab<TimeNamespace>,
    /// Per (user namespace, uid) namespace counters (kernel/ucount.c).
    pub ucounts: IdMap<(UserNsRef, u32), Ucounts>,
    /// `proc_inum_ida` (fs/proc/generic.c).
    pub proc_inum: ProcInumIda,
    /// `pernet_list` (net/core/net_namespace.c), subsystems before `first_device`.
    pub pernet_list: Vec<PernetOperations>,
    /// Index in `pernet_list` of the first device op (`first_device`).
    pub first_device: Option<usize>,
    /// `net_namespace_list`.
    pub net_namespace_list: Vec<NetRef>,
    /// `init_task` (pid 1 here, as the model has no idle task).
    pub init_task: TaskRef,
    /// `init_nsproxy`.
    pub init_nsproxy: NsproxyRef,
    /// `init_user_ns`.
    pub init_user_ns: UserNsRef,
    /// `init_pid_ns`.
    pub init_pid_ns: PidNsRef,
    /// `init_net`.
    pub init_net: NetRef,
    /// The task a scenario starts from (`init_task`, or a task placed as [`Origin`] says).
    pub root_task: TaskRef,
    /// `max_threads / 2`: the initial user namespace's `max_*_namespaces`.
    pub init_ucount_max: u32,
    /// The kernel version being modelled.
    pub version: KernelVersion,
    /// The inode numbers of the initial namespaces (fixed in 6.18; mnt and net are dynamic
    /// in 4.19), which carry the idle task's reference.
    pub initial_inums: arrayvec::ArrayVec<u64, 8>,
    /// Task handles given out through [`crate::Machine`], indexed by `TaskId`.
    pub(crate) handles: Vec<Handle>,
    pub(crate) origin: Origin,
    pub(crate) rec: Option<Recorder>,
}

/// What a task handle refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handle {
    Live(TaskRef),
    Gone(TaskState),
}

/// Which kernel the model follows (docs/kernel-rules.md section 12). 6.18 is the default; 4.19 is
/// the kernel of the teaching text (`_do_fork`), without time namespaces, `clone3` or
/// pidfds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub enum KernelVersion {
    /// Linux 4.19.
    #[serde(rename = "v4.19")]
    V4_19,
    /// Linux 6.18.
    #[default]
    #[serde(rename = "v6.18")]
    V6_18,
}

impl KernelVersion {
    /// `v4.19` or `v6.18`, as in the kernel's tags.
    pub const fn tag(self) -> &'static str {
        match self {
            KernelVersion::V4_19 => "v4.19",
            KernelVersion::V6_18 => "v6.18",
        }
    }

    /// Parses `4.19`, `v4.19`, `6.18` or `v6.18`.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        match s.trim_start_matches('v') {
            "4.19" => Some(KernelVersion::V4_19),
            "6.18" => Some(KernelVersion::V6_18),
            _ => None,
        }
    }

    /// Time namespaces exist (5.6+).
    pub(crate) const fn has_time_ns(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// `clone3` exists (5.3+).
    pub(crate) const fn has_clone3(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// `CLONE_PIDFD` (5.2+) and `setns` with a pidfd (5.8+) exist.
    pub(crate) const fn has_pidfd(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// The function every fork goes through: `_do_fork` (4.19) or `kernel_clone` (5.10+).
    pub(crate) const fn fork_entry(self) -> &'static str {
        match self {
            KernelVersion::V4_19 => "_do_fork",
            KernelVersion::V6_18 => "kernel_clone",
        }
    }
}

/// The default of every `max_*_namespaces` limit in the initial user namespace.
///
/// The kernel sets it at boot in `fork_init`
/// (<https://elixir.bootlin.com/linux/v6.18/source/kernel/fork.c>): `set_max_threads` derives
/// `max_threads` from the machine's memory, and every `init_user_ns.ucount_max[]` becomes
/// `max_threads / 2`. So the value depends on the machine; this one is that of the machine
/// the model was checked on (`kernel.threads-max` = 192730, and `/proc/sys/user/max_*_namespaces`
/// and `ulimit -u` as root both read 96365). See docs/kernel-rules.md section 5.
pub const DEFAULT_UCOUNT_MAX: u32 = 96365;

impl Kernel {
    /// Boots a machine whose scenario root is the init task, in the initial namespaces.
    pub fn boot() -> Kernel {
        crate::init_main::start_kernel(None, KernelVersion::V6_18)
    }

    /// Boots a machine of the given kernel version, its root the init task.
    pub fn boot_version(version: KernelVersion) -> Kernel {
        crate::init_main::start_kernel(None, version)
    }

    /// Boots a machine whose scenario root stands where `origin` says: below `pid_ns_level`
    /// pid namespaces and `user_ns_level` user namespaces, with that uid and capabilities.
    /// The root is then an ordinary task (not a namespace init), as the real backend's root
    /// helper is, and a child subreaper like it.
    pub fn boot_at(origin: &Origin) -> Kernel {
        crate::init_main::start_kernel(Some(origin), KernelVersion::V6_18)
    }

    /// Boots this machine again in place, as [`Kernel::boot_at`] would boot a new one (the
    /// same objects at the same indices, recording off), keeping the arenas' memory: for a
    /// runner that starts a fresh machine per scenario.
    pub fn reboot_at(&mut self, origin: &Origin) {
        crate::init_main::restart_kernel(self, Some(origin), KernelVersion::V6_18)
    }

    // ---- the step recorder ----

    /// Turns recording on (dropping anything recorded before) or off.
    pub fn set_recording(&mut self, on: bool) {
        self.rec = on.then(Recorder::new);
    }

    /// Whether steps are being recorded.
    #[inline]
    pub fn recording(&self) -> bool {
        self.rec.is_some()
    }

    /// Takes what was recorded since the last call.
    pub fn take_records(&mut self) -> Vec<crate::trace::Record> {
        self.rec.as_mut().map(Recorder::take).unwrap_or_default()
    }

    /// Runs `f` as the kernel function `function` of `file`, recording entry and return.
    #[inline]
    pub(crate) fn call<T>(
        &mut self,
        function: &'static str,
        file: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        if let Some(r) = self.rec.as_mut() {
            r.enter(function, file);
        }
        let out = f(self);
        if let Some(r) = self.rec.as_mut() {
            r.leave(out.as_ref().err().copied());
        }
        out
    }

    /// A condition the kernel checks: when `refused`, the call fails with `errno`.
    #[inline]
    pub(crate) fn rule(
        &mut self,
        rule: &'static str,
        refused: bool,
        errno: Errno,
    ) -> Result<(), Errno> {
        if let Some(r) = self.rec.as_mut() {
            r.push(Step::Check {
                rule: rule.to_string(),
                refused,
                errno,
            });
        }
        if refused {
            Err(errno)
        } else {
            Ok(())
        }
    }

    /// Like [`Kernel::call`] when the function exists in the modelled version (`Some`), else
    /// runs `f` inline, as the older kernel did in its caller.
    #[inline]
    pub(crate) fn call_if<T>(
        &mut self,
        function: Option<&'static str>,
        file: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        match function {
            Some(name) => self.call(name, file, f),
            None => f(self),
        }
    }

    /// A condition that failed: records it and gives the errno to return.
    #[inline]
    pub(crate) fn refuse(&mut self, rule: &'static str, errno: Errno) -> Errno {
        let _ = self.rule(rule, true, errno);
        errno
    }

    /// Records a step built only when recording is on.
    #[inline]
    pub(crate) fn note(&mut self, f: impl FnOnce(&Self) -> Step) {
        if self.rec.is_some() {
            let step = f(self);
            if let Some(r) = self.rec.as_mut() {
                r.push(step);
            }
        }
    }

    // ---- handles ----

    pub(crate) fn new_handle(&mut self, t: TaskRef) -> TaskId {
        self.handles.push(Handle::Live(t));
        let id = TaskId((self.handles.len() - 1) as u32);
        self.tasks[t].handle = Some(id);
        id
    }

    /// The live task behind a handle: `ESRCH` once it has exited or for an unknown handle.
    pub fn task_of(&self, id: TaskId) -> Result<TaskRef, Errno> {
        match self.handles.get(id.0 as usize) {
            Some(Handle::Live(t)) => Ok(*t),
            _ => Err(Errno::ESRCH),
        }
    }

    /// The handle of a live task, if it was given one.
    pub(crate) fn handle_of(&self, t: TaskRef) -> Option<TaskId> {
        self.tasks[t].handle
    }

    // ---- object names for the recorder ----

    pub(crate) fn task_name(&self, t: TaskRef) -> String {
        let task = &self.tasks[t];
        format!("task_struct pid {}", self.pids[task.pid].nr_global())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The slab reuses the most recently freed slot first, as the model's indices (and the
    // names and inode-free orders built on them) have always been: a change here would
    // change traces and snapshots.
    #[test]
    fn slab_reuses_the_last_freed_slot_first_and_forgets_freed_objects() {
        let mut slab: Slab<FsStruct> = Slab::default();
        let refs: Vec<FsRef> = (1..=4)
            .map(|users| slab.insert(FsStruct { users }))
            .collect();
        assert_eq!(
            refs.iter().map(|r| r.index()).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(slab.remove(refs[1]).users, 2);
        assert_eq!(slab.remove(refs[2]).users, 3);
        assert_eq!(slab.len(), 2);
        assert!(slab.get(refs[1]).is_none());
        assert_eq!(slab[refs[3]].users, 4);
        slab[refs[3]].users = 40;
        assert_eq!(slab.get(refs[3]).map(|f| f.users), Some(40));
        assert_eq!(slab.insert(FsStruct { users: 5 }).index(), 2);
        assert_eq!(slab.insert(FsStruct { users: 6 }).index(), 1);
        assert_eq!(slab.insert(FsStruct { users: 7 }).index(), 4);
        let live: Vec<(u32, u32)> = slab.iter().map(|(r, f)| (r.index(), f.users)).collect();
        assert_eq!(live, [(0, 1), (1, 6), (2, 5), (3, 40), (4, 7)]);
        let slab = slab.emptied();
        assert!(slab.is_empty());
    }

    #[test]
    #[should_panic(expected = "use after free")]
    fn indexing_a_freed_object_is_a_model_bug() {
        let mut slab: Slab<FsStruct> = Slab::default();
        let r = slab.insert(FsStruct { users: 1 });
        slab.remove(r);
        let _ = slab[r].users;
    }
}
