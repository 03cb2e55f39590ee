//! The loopback device, created in every network namespace.
//!
//! Mirrors drivers/net/loopback.c (v6.18): `loopback_net_ops` and `loopback_net_init`,
//! with the device set up by `loopback_setup`.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/drivers/net/loopback.c>.
//! The rules with their errnos: docs/kernel-rules.md, section 8.

use crate::dev::{NetDevice, IFF_LOOPBACK};
use crate::errno::Errno;
use crate::kernel::{Kernel, NetRef};
use crate::machine::IfName;
use crate::net_namespace::{PernetKind, PernetOperations};
use crate::trace::Step;

const FILE: &str = "drivers/net/loopback.c";

/// `LOOPBACK_IFINDEX`: `lo` must get ifindex 1.
pub(crate) const LOOPBACK_IFINDEX: u32 = 1;

/// `loopback_net_ops`: registered by net/core/dev.c as the first device op.
pub(crate) fn loopback_net_ops() -> PernetOperations {
    PernetOperations {
        init: Some(("loopback_net_init", loopback_net_init)),
        ..PernetOperations::new("loopback_net_ops", FILE, PernetKind::Device)
    }
}

/// `loopback_net_init(net)`: `alloc_netdev(0, "lo", ..., loopback_setup)` (flags
/// `IFF_LOOPBACK` only, so DOWN; mtu 65536; no address), `register_netdev`, which must give
/// ifindex 1, and `net->loopback_dev = dev`.
fn loopback_net_init(k: &mut Kernel, net: NetRef) -> Result<(), Errno> {
    k.note(|_| Step::Alloc {
        object: "net_device lo (alloc_netdev + loopback_setup: IFF_LOOPBACK, mtu 65536, DOWN)"
            .to_string(),
    });
    let dev = NetDevice {
        name: IfName::from("lo").expect("\"lo\" fits in IFNAMSIZ"),
        ifindex: 0,
        flags: IFF_LOOPBACK,
        mtu: 65536,
        addrs: Vec::new(),
    };
    let ifindex = k.register_netdevice(net, dev)?;
    k.rule(
        "BUG_ON(dev->ifindex != LOOPBACK_IFINDEX)",
        ifindex != LOOPBACK_IFINDEX,
        Errno::EINVAL,
    )?;
    k.nets[net].loopback_dev = Some(IfName::from("lo").expect("\"lo\" fits in IFNAMSIZ"));
    k.note(|_| Step::Set {
        what: "net->loopback_dev = lo".to_string(),
    });
    Ok(())
}
