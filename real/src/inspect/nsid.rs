//! The id a network namespace has in the caller's network namespace (`NETNSID`), asked with
//! one `RTM_GETNSID` netlink request (rtnetlink(7); net/core/net_namespace.c `rtnl_net_getid`).
//! The kernel answers `NETNSA_NSID` = -1 when no id is assigned; `ip netns set NAME ID`
//! assigns one, and a peer link across namespaces makes the kernel assign one.

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;

/// A netlink route socket, opened once per listing.
pub struct NsidSocket {
    fd: OwnedFd,
    seq: u32,
}

impl NsidSocket {
    /// Opens the socket; `None` where netlink is not available.
    pub fn open() -> Option<NsidSocket> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .ok()?;
        Some(NsidSocket { fd, seq: 0 })
    }

    /// The id of the network namespace of `ns` (an open nsfs fd): `Some(-1)` when none is
    /// assigned, `None` when the kernel did not answer.
    pub fn nsid(&mut self, ns: BorrowedFd<'_>) -> Option<i32> {
        self.seq += 1;
        // nlmsghdr (16) + rtgenmsg padded to 4 + nlattr (4) + u32 fd.
        let mut req = [0u8; 28];
        req[0..4].copy_from_slice(&28u32.to_ne_bytes());
        req[4..6].copy_from_slice(&RTM_GETNSID.to_ne_bytes());
        req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // pid 0 (the kernel), rtgen_family AF_UNSPEC (0).
        req[20..22].copy_from_slice(&8u16.to_ne_bytes());
        req[22..24].copy_from_slice(&NETNSA_FD.to_ne_bytes());
        req[24..28].copy_from_slice(&(ns.as_raw_fd() as u32).to_ne_bytes());
        send(self.fd.as_raw_fd(), &req, MsgFlags::empty()).ok()?;
        let mut buf = [0u8; 256];
        let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()).ok()?;
        let buf = &buf[..n];
        if buf.len() < 20 {
            return None;
        }
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        if ty == NLMSG_ERROR || ty != RTM_NEWNSID {
            return None;
        }
        // Attributes after the header and the 4-byte rtgenmsg.
        let mut at = 20;
        while at + 4 <= buf.len() {
            let len = u16::from_ne_bytes([buf[at], buf[at + 1]]) as usize;
            let aty = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]);
            if len < 4 || at + len > buf.len() {
                return None;
            }
            if aty == NETNSA_NSID && len >= 8 {
                return Some(i32::from_ne_bytes([
                    buf[at + 4],
                    buf[at + 5],
                    buf[at + 6],
                    buf[at + 7],
                ]));
            }
            at += (len + 3) & !3;
        }
        None
    }
}
