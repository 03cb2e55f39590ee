//! Network namespaces: creation through the registered pernet operations, and teardown.
//!
//! Mirrors net/core/net_namespace.c (v6.18): `copy_net_ns`, `preinit_net`, `setup_net`,
//! `ops_init`, the undo path of `setup_net`, `register_pernet_subsys`/`_device`,
//! `cleanup_net` (run synchronously here; the kernel runs it from a work queue), and
//! `netns_install`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/net/core/net_namespace.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 8.

use crate::dev::NetDevice;
use crate::errno::Errno;
use crate::kernel::{Kernel, NetRef, NsCommon, TaskRef, UserNsRef};
use crate::machine::NsType;
use crate::nsproxy::Nsset;
use crate::sched::CLONE_NEWNET;
use crate::trace::Step;

const FILE: &str = "net/core/net_namespace.c";

/// A pernet hook: `int (*init)(struct net *)` or `void (*exit)(struct net *)`.
pub type PernetFn = fn(&mut Kernel, NetRef) -> Result<(), Errno>;

/// Whether an op was registered as a subsystem or a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PernetKind {
    /// `register_pernet_subsys`: inserted before the first device.
    Subsys,
    /// `register_pernet_device`: appended at the tail.
    Device,
}

/// `struct pernet_operations`.
#[derive(Clone, Debug)]
pub struct PernetOperations {
    /// The variable's name in the kernel (`loopback_net_ops`).
    pub name: &'static str,
    /// The file that registers it.
    pub file: &'static str,
    /// Subsystem or device.
    pub kind: PernetKind,
    /// `init` and its kernel name.
    pub init: Option<(&'static str, PernetFn)>,
    /// `exit` (or `exit_batch`) and its kernel name.
    pub exit: Option<(&'static str, PernetFn)>,
    /// `id`/`size`: the op keeps `size` bytes per namespace in `net_generic`.
    pub id: Option<usize>,
    /// Bytes of per-namespace data.
    pub size: usize,
    /// For a course: make `init` fail with this errno, to show `setup_net`'s rollback.
    pub fail_init: Option<Errno>,
}

impl PernetOperations {
    /// An op with only an init and an exit, for a course to register.
    pub fn new(name: &'static str, file: &'static str, kind: PernetKind) -> Self {
        PernetOperations {
            name,
            file,
            kind,
            init: None,
            exit: None,
            id: None,
            size: 0,
            fail_init: None,
        }
    }
}

/// `struct net`.
#[derive(Clone, Debug)]
pub struct Net {
    /// Inode and reference count.
    pub ns: NsCommon,
    /// `passive`: references that keep the memory, not the namespace, alive.
    pub passive: u64,
    /// `user_ns`: the owner, one reference held.
    pub user_ns: UserNsRef,
    /// The ucount charged for it (user namespace, uid).
    pub ucounts_key: Option<(UserNsRef, u32)>,
    /// `dev_base_head`: the devices, in registration order.
    pub dev_base: Vec<NetDevice>,
    /// `ifindex`: the last index handed out (the counter is per namespace).
    pub ifindex: u32,
    /// `loopback_dev`: set by `loopback_net_init`.
    pub loopback_dev: Option<crate::machine::IfName>,
    /// `gen->ptr[id]`: the sizes of the per-op data allocated by `ops_init`.
    pub generic: Vec<(usize, usize)>,
    /// On `net_namespace_list` (after a successful `setup_net`).
    pub listed: bool,
}

/// `net_ns_ops` (4.19 only): its init gives a new namespace its inode number, which 5.x and
/// later assign before `setup_net` (`preinit_net`).
pub(crate) fn net_ns_ops() -> PernetOperations {
    PernetOperations {
        init: Some(("net_ns_net_init", net_ns_net_init)),
        exit: Some(("net_ns_net_exit", net_ns_net_exit)),
        ..PernetOperations::new("net_ns_ops", FILE, PernetKind::Subsys)
    }
}

/// `net_ns_net_init`: `ns_alloc_inum`.
fn net_ns_net_init(k: &mut Kernel, net: NetRef) -> Result<(), Errno> {
    let inum = k.proc_alloc_inum();
    k.nets[net].ns.inum = inum;
    k.note(|_| Step::Set {
        what: format!("net->ns.inum = {inum} (ns_alloc_inum)"),
    });
    Ok(())
}

/// `net_ns_net_exit`: `ns_free_inum`.
fn net_ns_net_exit(k: &mut Kernel, net: NetRef) -> Result<(), Errno> {
    let inum = std::mem::replace(&mut k.nets[net].ns.inum, 0);
    k.proc_free_inum(inum);
    Ok(())
}

impl Kernel {
    pub(crate) fn net_name(&self, net: NetRef) -> String {
        format!("net:[{}]", self.nets[net].ns.inum)
    }

    /// `get_net`.
    pub(crate) fn get_net(&mut self, net: NetRef) {
        let count = {
            let n = &mut self.nets[net];
            n.ns.count += 1;
            n.ns.count
        };
        self.note(|k| Step::Get {
            object: k.net_name(net),
            count,
        });
    }

    /// `put_net`: the last reference tears the namespace down (`__put_net` queues
    /// `cleanup_net`; the model runs it at once).
    pub(crate) fn put_net(&mut self, net: NetRef) {
        let count = {
            let n = &mut self.nets[net];
            n.ns.count -= 1;
            n.ns.count
        };
        self.note(|k| Step::Put {
            object: k.net_name(net),
            count,
        });
        if count == 0 {
            self.cleanup_net(net);
        }
    }

    /// `copy_net_ns(flags, user_ns, old_net)`.
    pub(crate) fn copy_net_ns(
        &mut self,
        flags: u64,
        user_ns: UserNsRef,
        old: NetRef,
        current: TaskRef,
    ) -> Result<NetRef, Errno> {
        self.call("copy_net_ns", FILE, |k| {
            if flags & CLONE_NEWNET == 0 {
                k.get_net(old);
                return Ok(old);
            }
            let euid = k.current_cred(current).euid;
            k.call("inc_net_namespaces", FILE, |k| {
                k.inc_ucount(user_ns, euid, NsType::Net)
            })?;
            // `net_alloc` and `preinit_net`: inode number, count 1, passive 1, owner. In 4.19
            // `setup_net` sets the count and `net_ns_ops` gives the inode number.
            let inum = if k.version.has_time_ns() {
                k.proc_alloc_inum()
            } else {
                0
            };
            let net = k.nets.insert(Net {
                ns: NsCommon { inum, count: 1 },
                passive: 1,
                user_ns,
                ucounts_key: Some((user_ns, euid)),
                dev_base: Vec::new(),
                ifindex: 0,
                loopback_dev: None,
                generic: Vec::new(),
                listed: false,
            });
            k.note(|k| Step::Alloc {
                object: if k.version.has_time_ns() {
                    format!("net:[{inum}] (net_alloc + preinit_net: count 1, passive 1)")
                } else {
                    "net (net_alloc; setup_net sets count 1)".to_string()
                },
            });
            k.get_user_ns(user_ns);
            if let Err(e) = k.setup_net(net) {
                // Undo in reverse: the owner reference, the memory, the ucount.
                k.put_user_ns(user_ns);
                let n = k.nets.remove(net);
                k.proc_free_inum(n.ns.inum);
                k.note(|_| Step::Free {
                    object: format!("net:[{inum}] (net_passive_dec)"),
                });
                k.dec_ucount(user_ns, euid, NsType::Net);
                return Err(e);
            }
            Ok(net)
        })
    }

    /// `setup_net(net)`: runs every op's init in `pernet_list` order; on failure the ops
    /// already initialised are undone in reverse (`pre_exit`, `exit`, free their data). On
    /// success the namespace joins `net_namespace_list`.
    pub(crate) fn setup_net(&mut self, net: NetRef) -> Result<(), Errno> {
        self.call("setup_net", FILE, |k| {
            for i in 0..k.pernet_list.len() {
                if let Err(e) = k.ops_init(i, net) {
                    for j in (0..i).rev() {
                        k.ops_exit(j, net);
                    }
                    for j in (0..i).rev() {
                        k.ops_free(j, net);
                    }
                    return Err(e);
                }
            }
            k.nets[net].listed = true;
            k.net_namespace_list.push(net);
            k.note(|k| Step::Set {
                what: format!(
                    "list_add_tail_rcu({}, &net_namespace_list)",
                    k.net_name(net)
                ),
            });
            Ok(())
        })
    }

    /// `ops_init(ops, net)`: the op's generic data, then its init.
    fn ops_init(&mut self, i: usize, net: NetRef) -> Result<(), Errno> {
        let ops = self.pernet_list[i].clone();
        self.call("ops_init", FILE, |k| {
            k.note(|_| Step::Set {
                what: format!("ops = &{}", ops.name),
            });
            if let Some(id) = ops.id {
                k.nets[net].generic.push((id, ops.size));
                k.note(|_| Step::Alloc {
                    object: format!(
                        "net_generic[{id}]: {} zeroed bytes for {}",
                        ops.size, ops.name
                    ),
                });
            }
            let result = match ops.init {
                Some((name, f)) => k.call(name, ops.file, |k| {
                    if let Some(e) = ops.fail_init {
                        return k.rule("init fails (set by the course)", true, e);
                    }
                    f(k, net)
                }),
                None => Ok(()),
            };
            if result.is_err() {
                if let Some(id) = ops.id {
                    k.nets[net].generic.retain(|(g, _)| *g != id);
                    k.note(|_| Step::Free {
                        object: format!("net_generic[{id}] of {} (the failed op's data)", ops.name),
                    });
                }
            }
            result
        })
    }

    /// `ops_exit_list` for one namespace.
    fn ops_exit(&mut self, i: usize, net: NetRef) {
        let ops = self.pernet_list[i].clone();
        if let Some((name, f)) = ops.exit {
            let _ = self.call(name, ops.file, |k| f(k, net));
        }
    }

    /// `ops_free_list` for one namespace.
    fn ops_free(&mut self, i: usize, net: NetRef) {
        if let Some(id) = self.pernet_list[i].id {
            self.nets[net].generic.retain(|(g, _)| *g != id);
            let name = self.pernet_list[i].name;
            self.note(|_| Step::Free {
                object: format!("net_generic[{id}] of {name} (ops_free_list)"),
            });
        }
    }

    /// `cleanup_net`: every op's exit in reverse, the namespace leaves the list, the owner
    /// and the ucount are released, the memory freed.
    pub(crate) fn cleanup_net(&mut self, net: NetRef) {
        let _ = self.call("cleanup_net", FILE, |k| {
            if let Some(pos) = k.net_namespace_list.iter().position(|n| *n == net) {
                k.net_namespace_list.remove(pos);
            }
            for j in (0..k.pernet_list.len()).rev() {
                k.ops_exit(j, net);
            }
            for j in (0..k.pernet_list.len()).rev() {
                k.ops_free(j, net);
            }
            let n = k.nets.remove(net);
            k.note(|_| Step::Free {
                object: format!("net:[{}]", n.ns.inum),
            });
            k.proc_free_inum(n.ns.inum);
            if let Some((uns, uid)) = n.ucounts_key {
                k.dec_ucount(uns, uid, NsType::Net);
            }
            k.put_user_ns(n.user_ns);
            Ok(())
        });
    }

    /// `register_pernet_subsys`: inserted before the first device, then initialised for every
    /// existing namespace (undone everywhere if one fails).
    pub fn register_pernet_subsys(&mut self, ops: PernetOperations) -> Result<(), Errno> {
        let at = self.first_device.unwrap_or(self.pernet_list.len());
        self.register_pernet_operations(
            at,
            PernetOperations {
                kind: PernetKind::Subsys,
                ..ops
            },
        )?;
        if let Some(f) = self.first_device.as_mut() {
            *f += 1;
        }
        Ok(())
    }

    /// `register_pernet_device`: appended; becomes `first_device` if there was none.
    pub fn register_pernet_device(&mut self, ops: PernetOperations) -> Result<(), Errno> {
        let at = self.pernet_list.len();
        self.register_pernet_operations(
            at,
            PernetOperations {
                kind: PernetKind::Device,
                ..ops
            },
        )?;
        if self.first_device.is_none() {
            self.first_device = Some(at);
        }
        Ok(())
    }

    /// `register_pernet_operations`/`__register_pernet_operations`.
    fn register_pernet_operations(
        &mut self,
        at: usize,
        mut ops: PernetOperations,
    ) -> Result<(), Errno> {
        if ops.size > 0 && ops.id.is_none() {
            ops.id = Some(1 + self.pernet_list.iter().filter(|o| o.id.is_some()).count());
        }
        self.pernet_list.insert(at, ops);
        // `for_each_net`: an init adds no namespace to the list, so positions are stable; on
        // a failure the namespaces already done are undone in reverse, as the kernel's
        // `list_for_each_entry_continue_reverse` does.
        for i in 0..self.net_namespace_list.len() {
            let net = self.net_namespace_list[i];
            if let Err(e) = self.ops_init(at, net) {
                for j in (0..i).rev() {
                    let n = self.net_namespace_list[j];
                    self.ops_exit(at, n);
                    self.ops_free(at, n);
                }
                self.pernet_list.remove(at);
                return Err(e);
            }
        }
        Ok(())
    }

    /// For a course: make the init of the named op fail with `errno` (or succeed again with
    /// `None`). Returns whether the op exists.
    pub fn pernet_fail_init(&mut self, name: &str, errno: Option<Errno>) -> bool {
        match self.pernet_list.iter_mut().find(|o| o.name == name) {
            Some(o) => {
                o.fail_init = errno;
                true
            }
            None => false,
        }
    }

    /// `netns_install`: `CAP_SYS_ADMIN` over the namespace's owner and in the caller's user
    /// namespace.
    pub(crate) fn netns_install(
        &mut self,
        current: TaskRef,
        nsset: &mut Nsset,
        net: NetRef,
    ) -> Result<(), Errno> {
        self.call("netns_install", FILE, |k| {
            let owner = k.nets[net].user_ns;
            k.install_capable(current, nsset, owner)?;
            let old = k.nsproxies[nsset.nsproxy()].net_ns;
            k.put_net(old);
            k.get_net(net);
            k.nsproxies[nsset.nsproxy()].net_ns = net;
            Ok(())
        })
    }
}
