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

/// An arena of kernel objects of one type: what `kmalloc`/`kfree` are to the kernel.
/// Indices are reused after a free, like memory.
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

impl<T> Slab<T> {
    /// Stores an object and returns its index.
    pub fn insert(&mut self, t: T) -> u32 {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = Some(t);
            i
        } else {
            self.items.push(Some(t));
            (self.items.len() - 1) as u32
        }
    }

    /// The arena with every object freed, keeping its memory; indices start again at 0.
    pub fn emptied(mut self) -> Self {
        self.items.clear();
        self.free.clear();
        self.live = 0;
        self
    }

    /// Frees an object.
    ///
    /// # Panics
    /// If the index holds no object: a use-after-free in the model, which is a bug.
    pub fn remove(&mut self, i: u32) -> T {
        let t = self.items[i as usize]
            .take()
            .expect("model bug: double free in the arena");
        self.free.push(i);
        self.live -= 1;
        t
    }

    /// The object at an index.
    pub fn get(&self, i: u32) -> &T {
        self.items[i as usize]
            .as_ref()
            .expect("model bug: use after free in the arena")
    }

    /// The object at an index, mutably.
    pub fn get_mut(&mut self, i: u32) -> &mut T {
        self.items[i as usize]
            .as_mut()
            .expect("model bug: use after free in the arena")
    }

    /// Whether an index holds a live object.
    pub fn contains(&self, i: u32) -> bool {
        self.items.get(i as usize).is_some_and(Option::is_some)
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no object is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Live objects with their indices.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i as u32, t)))
    }
}

macro_rules! object_ref {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
    };
}

object_ref!(
    /// A `struct task_struct *`.
    TaskRef
);
object_ref!(
    /// A `struct cred *`.
    CredRef
);
object_ref!(
    /// A `struct nsproxy *`.
    NsproxyRef
);
object_ref!(
    /// A `struct user_namespace *`.
    UserNsRef
);
object_ref!(
    /// A `struct pid_namespace *`.
    PidNsRef
);
object_ref!(
    /// A `struct pid *`.
    PidRef
);
object_ref!(
    /// A `struct uts_namespace *`.
    UtsNsRef
);
object_ref!(
    /// A `struct ipc_namespace *`.
    IpcNsRef
);
object_ref!(
    /// A `struct mnt_namespace *`.
    MntNsRef
);
object_ref!(
    /// A `struct cgroup_namespace *`.
    CgroupNsRef
);
object_ref!(
    /// A `struct net *`.
    NetRef
);
object_ref!(
    /// A `struct time_namespace *`.
    TimeNsRef
);
object_ref!(
    /// A `struct fs_struct *`.
    FsRef
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
    pub tasks: Slab<TaskStruct>,
    pub creds: Slab<Cred>,
    pub fs_structs: Slab<FsStruct>,
    pub nsproxies: Slab<Nsproxy>,
    pub pids: Slab<Pid>,
    pub user_namespaces: Slab<UserNamespace>,
    pub pid_namespaces: Slab<PidNamespace>,
    pub uts_namespaces: Slab<UtsNamespace>,
    pub ipc_namespaces: Slab<IpcNamespace>,
    pub mnt_namespaces: Slab<MntNamespace>,
    pub cgroup_namespaces: Slab<CgroupNamespace>,
    pub nets: Slab<Net>,
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
    pub init_nsproxy: NsproxyRef,
    pub init_user_ns: UserNsRef,
    pub init_pid_ns: PidNsRef,
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

/// Which kernel the model follows (kernel-facts.md section 10). 6.18 is the default; 4.19 is
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
    pub const fn has_time_ns(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// `clone3` exists (5.3+).
    pub const fn has_clone3(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// `CLONE_PIDFD` (5.2+) and `setns` with a pidfd (5.8+) exist.
    pub const fn has_pidfd(self) -> bool {
        matches!(self, KernelVersion::V6_18)
    }

    /// The function every fork goes through: `_do_fork` (4.19) or `kernel_clone` (5.10+).
    pub const fn fork_entry(self) -> &'static str {
        match self {
            KernelVersion::V4_19 => "_do_fork",
            KernelVersion::V6_18 => "kernel_clone",
        }
    }
}

/// `max_threads / 2` on the machine kernel-facts.md was read on.
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
        self.tasks.get_mut(t.0).handle = Some(id);
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
    pub fn handle_of(&self, t: TaskRef) -> Option<TaskId> {
        self.tasks.get(t.0).handle
    }

    // ---- object names for the recorder ----

    pub(crate) fn task_name(&self, t: TaskRef) -> String {
        let task = self.tasks.get(t.0);
        format!("task_struct pid {}", self.pids.get(task.pid.0).nr_global())
    }
}
