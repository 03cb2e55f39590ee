//! The messages between the controller and its helpers, and how they travel.
//!
//! Each helper has its own `SOCK_SEQPACKET` unix socketpair (unix(7)): one message is one
//! JSON document (serde_json, chosen because the messages are tiny, the bytes can be read in
//! a failing test's output, and the crate is already a workspace dependency), and file
//! descriptors ride along as `SCM_RIGHTS` (a new helper's socket and pidfd from its parent to
//! the controller; a namespace file or pidfd from the controller to a helper for `setns`).
//! Sends use `MSG_NOSIGNAL`, so a peer that died gives `EPIPE` rather than a signal.

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};
use nslab_machine::capability::CapSet;
use nslab_machine::sched::Flags;
use nslab_machine::{Op, TaskView};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The largest message either side sends (a view of a host namespace with many interfaces
/// is the largest).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// The argv[1] that turns a binary into a helper.
pub const HELPER_ARG: &str = "__nslab-helper";

/// The fd number at which every helper keeps its channel to the controller.
pub const CHANNEL_FD: i32 = 3;

/// What the controller asks one helper to do.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Make this call. The task an operation names is given by its pid in the /proc
    /// mount's pid namespace: the id map write opens `/proc/<pid>/{uid,gid}_map`
    /// (`setgroups` = `deny` first for gid); `setns` uses the fd that comes with the message.
    Call(Op<i32>),
    Observe,
}

impl Request {
    /// A short description for fault messages: what the helper was doing.
    pub fn describe(&self) -> String {
        let Request::Call(op) = self else {
            return "observe".to_string();
        };
        match op {
            Op::Clone(args) => format!("{}({})", op.name(), Flags(args.flags)),
            Op::Unshare(flags) | Op::Setns { nstype: flags, .. } => {
                format!("{}({})", op.name(), Flags(*flags))
            }
            Op::Exit(n) => format!("exit({n})"),
            Op::DropCaps(caps) => format!("capset(drop {:#})", CapSet(*caps)),
            Op::WriteIdMap { target, kind, .. } => {
                format!("write {kind:?} map of pid {target}")
            }
            Op::Sethostname(name) => format!("sethostname({name:?})"),
            Op::LinkUp(ifname) => format!("link up {ifname}"),
            Op::SetMaxNamespaces(ty, max) => format!("write {} = {max}", ty.max_sysctl()),
            // Any other operation as it is written in Rust: `Setresuid(1000)`.
            other => format!("{other:?}"),
        }
    }
}

/// What a helper answers.
///
/// `View` is much larger than the other variants since `TaskView` holds its ten namespace
/// entries inline; a reply is serialised as soon as it is built and the controller unpacks it
/// at once, so the size of the enum costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The call succeeded.
    Ok,
    /// The kernel refused the call with this errno.
    Errno(i32),
    /// nslab refused the call on purpose, without making it or without keeping its result
    /// (it would change the host, or the child would share the helper's memory): a
    /// `SysError::Refused`.
    Refused(String),
    /// The helper could not serve the request (a request without its fd, a /proc that is not
    /// procfs): a `SysError::Fault`.
    Failed(String),
    /// The clone succeeded; the child's pid in the caller's pid namespace. The controller's
    /// end of the child's channel comes with the message, then a pidfd of the child (the
    /// parent's own, shared: `SCM_RIGHTS` passes the open file, not a copy).
    Cloned { pid: i32 },
    /// The observation (`nspid` from the /proc mount's pid namespace down).
    View(TaskView),
    /// The first message of the root helper. (A cloned helper sends none: its parent's
    /// `Cloned` brings everything the controller needs.)
    Hello(Hello),
}

/// The root helper introduces itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// `NSpid:` of `/proc/self/status`: from the /proc mount's pid namespace down.
    pub proc_nspid: nslab_machine::NsPids,
    /// Where it stands, or why it could not start.
    pub root: Option<Result<RootInfo, StartFailure>>,
}

/// Where the root helper stands once it is set up.
#[derive(Debug, Serialize, Deserialize)]
pub struct RootInfo {
    pub origin: nslab_machine::Origin,
    /// It made a user namespace of its own (the caller was not root).
    pub own_user_ns: bool,
    /// How `origin.pid_ns_level` was found, for the notes and the CLI.
    pub pid_level_method: String,
}

/// A step of the root helper's setup that the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartFailure {
    pub step: String,
    pub errno: i32,
}

/// A new `SOCK_SEQPACKET` socketpair, close-on-exec.
pub fn channel_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
}

/// The most fds one message carries.
pub const MAX_FDS: usize = 2;

/// Sends one message with up to [`MAX_FDS`] fds.
pub fn send<T: Serialize>(
    sock: BorrowedFd<'_>,
    msg: &T,
    fds: &[BorrowedFd<'_>],
) -> nix::Result<()> {
    let bytes = serde_json::to_vec(msg).expect("protocol messages always serialise");
    let iov = [IoSlice::new(&bytes)];
    let mut raw = [0; MAX_FDS];
    assert!(fds.len() <= MAX_FDS, "at most {MAX_FDS} fds per message");
    for (r, fd) in raw.iter_mut().zip(fds) {
        *r = fd.as_raw_fd();
    }
    let rights = [ControlMessage::ScmRights(&raw[..fds.len()])];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// Why a receive gave no message.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed its end (it exited).
    Eof,
    /// A socket error.
    Sys(nix::Error),
    /// Bytes that are not a message of this protocol.
    Garbled(String),
}

/// Receives one message (blocking) and the fds that came with it, in order.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(T, Vec<OwnedFd>), RecvError> {
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
    let (len, fds) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = loop {
            match recvmsg::<UnixAddr>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::Error::EINTR) => continue,
                r => break r.map_err(RecvError::Sys)?,
            }
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(RecvError::Sys)? {
            if let ControlMessageOwned::ScmRights(raws) = c {
                for raw in raws {
                    // SAFETY: SCM_RIGHTS installed these fds in our table; we own them now.
                    fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        (msg.bytes, fds)
    };
    if len == 0 {
        return Err(RecvError::Eof);
    }
    let msg = serde_json::from_slice(&buf[..len]).map_err(|e| {
        RecvError::Garbled(format!("{e}: {:?}", String::from_utf8_lossy(&buf[..len])))
    })?;
    Ok((msg, fds))
}
