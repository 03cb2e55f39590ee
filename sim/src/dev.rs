//! Network devices: registration, the interface flags ioctl, and the pernet operations of
//! the device core.
//!
//! Mirrors net/core/dev.c (v6.18): `netdev_net_ops` (`netdev_init`/`netdev_exit`),
//! `default_device_ops` (`default_device_exit_batch`), `register_netdevice`,
//! `dev_index_reserve`, `__dev_get_by_name`, `dev_change_flags`; and net/core/dev_ioctl.c
//! (`dev_ioctl` for `SIOCSIFFLAGS`).
//!
//! Sources:
//! <https://elixir.bootlin.com/linux/v6.18/source/net/core/dev.c>,
//! <https://elixir.bootlin.com/linux/v6.18/source/net/core/dev_ioctl.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 8.

use crate::capability::CAP_NET_ADMIN;
use crate::errno::Errno;
use crate::kernel::{Kernel, NetRef, TaskRef};
use crate::machine::Interface;
use crate::net_namespace::{PernetKind, PernetOperations};
use crate::trace::Step;

const FILE: &str = "net/core/dev.c";

/// `IFF_UP`.
pub(crate) const IFF_UP: u32 = 0x1;
/// `IFF_LOOPBACK`.
pub(crate) const IFF_LOOPBACK: u32 = 0x8;
use crate::machine::{IfName, Interfaces};

/// `struct net_device`, reduced to what `ip link` and `ip addr` show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDevice {
    /// `char name[IFNAMSIZ]`, inline as in the kernel.
    pub name: IfName,
    /// Its index in the namespace.
    pub ifindex: u32,
    /// `flags`: `IFF_*`.
    pub flags: u32,
    /// The MTU.
    pub mtu: u32,
    /// Addresses added by the inet and addrconf notifiers when it comes up.
    pub addrs: Vec<&'static str>,
}

/// `netdev_net_ops`: registered first, as a subsystem.
pub(crate) fn netdev_net_ops() -> PernetOperations {
    PernetOperations {
        init: Some(("netdev_init", netdev_init)),
        exit: Some(("netdev_exit", netdev_exit)),
        ..PernetOperations::new("netdev_net_ops", FILE, PernetKind::Subsys)
    }
}

/// `default_device_ops`: registered after `loopback_net_ops`; its exit unregisters what
/// devices remain.
pub(crate) fn default_device_ops() -> PernetOperations {
    PernetOperations {
        exit: Some(("default_device_exit_batch", default_device_exit_batch)),
        ..PernetOperations::new("default_device_ops", FILE, PernetKind::Device)
    }
}

/// `netdev_init`: empty device lists and a fresh ifindex counter for the namespace.
fn netdev_init(k: &mut Kernel, net: NetRef) -> Result<(), Errno> {
    let n = &mut k.nets[net];
    n.dev_base.clear();
    n.ifindex = 0;
    k.note(|_| Step::Set {
        what: "INIT_LIST_HEAD(&net->dev_base_head); dev_by_index starts at 1".to_string(),
    });
    Ok(())
}

/// `netdev_exit`: the lists are empty by now.
fn netdev_exit(_k: &mut Kernel, _net: NetRef) -> Result<(), Errno> {
    Ok(())
}

/// `default_device_exit_batch`: unregister every device still in the namespace.
fn default_device_exit_batch(k: &mut Kernel, net: NetRef) -> Result<(), Errno> {
    let devs = std::mem::take(&mut k.nets[net].dev_base);
    k.nets[net].loopback_dev = None;
    for d in devs.iter().rev() {
        let name = d.name;
        k.note(|_| Step::Free {
            object: format!("net_device {name} (unregister_netdevice_queue)"),
        });
    }
    Ok(())
}

impl Kernel {
    /// `register_netdevice(dev)` in `net`: a unique name and the next free ifindex.
    pub(crate) fn register_netdevice(
        &mut self,
        net: NetRef,
        mut dev: NetDevice,
    ) -> Result<u32, Errno> {
        self.call("register_netdevice", FILE, |k| {
            let exists = k.nets[net].dev_base.iter().any(|d| d.name == dev.name);
            k.rule("a device with this name exists", exists, Errno::EEXIST)?;
            let ifindex = k.call("dev_index_reserve", FILE, |k| {
                let n = &mut k.nets[net];
                n.ifindex += 1;
                Ok(n.ifindex)
            })?;
            dev.ifindex = ifindex;
            let name = dev.name;
            k.nets[net].dev_base.push(dev);
            k.note(|k| Step::Alloc {
                object: format!(
                    "net_device {name} (ifindex {ifindex}) in {}",
                    k.net_name(net)
                ),
            });
            Ok(ifindex)
        })
    }

    /// `dev_ioctl(net, SIOCSIFFLAGS, {name, flags | IFF_UP})` from a socket in the task's
    /// network namespace: `CAP_NET_ADMIN` over its owner, then the device by name, then
    /// `dev_change_flags`. A loopback device coming up gets 127.0.0.1/8 and ::1.
    pub(crate) fn dev_ioctl_set_up(&mut self, task: TaskRef, ifname: &str) -> Result<(), Errno> {
        self.call("dev_ioctl", "net/core/dev_ioctl.c", |k| {
            let nsp = k.task_nsproxy(task);
            let net = k.nsproxies[nsp].net_ns;
            let owner = k.nets[net].user_ns;
            let capable = k.ns_capable(task, owner, CAP_NET_ADMIN);
            k.rule(
                "!ns_capable(net->user_ns, CAP_NET_ADMIN)",
                !capable,
                Errno::EPERM,
            )?;
            let pos = k.nets[net].dev_base.iter().position(|d| *d.name == *ifname);
            k.rule(
                "!__dev_get_by_name(net, ifr_name)",
                pos.is_none(),
                Errno::ENODEV,
            )?;
            let pos = pos.expect("checked above");
            k.call("dev_change_flags", FILE, |k| {
                let d = &mut k.nets[net].dev_base[pos];
                if d.flags & IFF_UP == 0 {
                    d.flags |= IFF_UP;
                    if d.flags & IFF_LOOPBACK != 0 {
                        d.addrs = vec!["127.0.0.1/8", "::1/128"];
                    }
                    let name = d.name;
                    k.note(|_| Step::Set {
                        what: format!(
                            "{name}: IFF_UP set (NETDEV_UP: inetdev and addrconf add addresses)"
                        ),
                    });
                }
                Ok(())
            })
        })
    }

    /// The interfaces of a network namespace as `getifaddrs` shows them, into a list the
    /// caller keeps (an observation is written in place).
    pub(crate) fn interfaces_into(&self, net: NetRef, v: &mut Interfaces) {
        v.clear();
        for d in &self.nets[net].dev_base {
            v.push(Interface {
                name: d.name,
                ifindex: d.ifindex,
                up: d.flags & IFF_UP != 0,
            });
        }
        // Devices are listed in registration order, which is ifindex order here.
        if !v.is_sorted_by_key(|i| i.ifindex) {
            v.sort_by_key(|i| i.ifindex);
        }
    }
}
