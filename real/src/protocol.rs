//! The messages between the controller and its helpers, and how they travel.
//!
//! Each helper has its own `SOCK_SEQPACKET` unix socketpair (unix(7)): one message is one
//! JSON document (serde_json, chosen because the messages are tiny, the bytes can be read in
//! a failing test's output, and the crate is already a workspace dependency), and file
//! descriptors ride along as `SCM_RIGHTS` (a new helper's socket and pidfd from its parent to
//! the controller; a namespace file or pidfd from the controller to a helper for `setns`).
//! Sends use `MSG_NOSIGNAL`, so a peer that died gives `EPIPE` rather than a signal.

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nslab_machine::capability::CapSet;
use nslab_machine::sched::Flags;
use nslab_machine::{Op, TaskView};
use serde::{Deserialize, Serialize};
use std::io::IoSliceMut;
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
    send_bytes(sock, &bytes, fds)
}

/// [`send`] without an allocation for the encoding: on the stack when it fits, else in `buf`
/// (the receive buffer, free by then). In a helper just after a fork every page written
/// costs a copy, and an allocation writes the allocator's pages too.
pub fn send_in<T: Serialize>(
    sock: BorrowedFd<'_>,
    msg: &T,
    fds: &[BorrowedFd<'_>],
    buf: &mut [u8],
) -> nix::Result<()> {
    // Most answers are a few dozen bytes: encoded on the stack, whose top page the process
    // has written already, they cost no page copy at all.
    let mut small = [0u8; 512];
    match encode_into(&mut small, msg) {
        Some(len) => send_bytes(sock, &small[..len], fds),
        None => match encode_into(buf, msg) {
            Some(len) => send_bytes(sock, &buf[..len], fds),
            None => send(sock, msg, fds),
        },
    }
}

/// The control-message room for [`MAX_FDS`] fds, aligned for its header: on the stack of
/// every send and receive.
#[repr(C)]
union CmsgRoom {
    _header: libc::cmsghdr,
    bytes: [u8; 64],
}

impl CmsgRoom {
    fn new() -> CmsgRoom {
        CmsgRoom { bytes: [0; 64] }
    }

    fn bytes(&mut self) -> &mut [u8; 64] {
        // SAFETY: every field is plain old data and the room is always fully initialised
        // (`new` writes all 64 bytes).
        unsafe { &mut self.bytes }
    }
}

/// sendmsg(2) of `bytes` with `fds` as `SCM_RIGHTS`, the control message on the stack
/// (nix's `sendmsg` allocates it: a malloc and a free in a helper just after its fork).
fn send_bytes(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> nix::Result<()> {
    assert!(fds.len() <= MAX_FDS, "at most {MAX_FDS} fds per message");
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut room = CmsgRoom::new();
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if !fds.is_empty() {
        let data_len = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE and CMSG_LEN compute sizes; the room holds CMSG_SPACE of
        // MAX_FDS fds (24 bytes), checked below; CMSG_FIRSTHDR points into the room, and
        // CMSG_DATA after its header, where `fds.len()` fds fit.
        unsafe {
            let space = libc::CMSG_SPACE(data_len) as usize;
            assert!(space <= std::mem::size_of::<CmsgRoom>());
            hdr.msg_control = room.bytes.as_mut_ptr().cast();
            // socklen_t in musl, size_t in glibc.
            hdr.msg_controllen = space as _;
            let c = libc::CMSG_FIRSTHDR(&hdr);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(data_len) as _;
            let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
            for (i, fd) in fds.iter().enumerate() {
                data.add(i).write_unaligned(fd.as_raw_fd());
            }
        }
    }
    loop {
        // SAFETY: `hdr` points at live buffers for the duration of the call.
        let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(());
        }
        match nix::Error::last() {
            nix::Error::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Encodes `msg` at the start of `buf`; its length, or `None` if it does not fit.
fn encode_into<T: Serialize>(buf: &mut [u8], msg: &T) -> Option<usize> {
    let total = buf.len();
    let mut w = &mut buf[..];
    serde_json::to_writer(&mut w, msg).ok()?;
    Some(total - w.len())
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
    let (len, fds) = recv_raw(sock, buf)?;
    Ok((decode(&buf[..len])?, fds))
}

/// Decodes one message received by [`recv_raw`].
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, RecvError> {
    serde_json::from_slice(bytes)
        .map_err(|e| RecvError::Garbled(format!("{e}: {:?}", String::from_utf8_lossy(bytes))))
}

/// The exit code of an `exit` request (`Request::Call(Op::Exit(code))`), read from its
/// encoding without the JSON decoder, or `None` for any other message (which then goes
/// through [`decode`]). A helper made by a fork-like clone starts without page tables for
/// the binary's code (the kernel fills them at the first touch of each 64 KiB): a task whose
/// whole life is "clone, then exit" would otherwise fault in the decoder's pages to read one
/// number (BENCHMARKS.md, issue 14). The tests check it against the encoder for every
/// boundary of `i32`.
pub fn exit_request_code(bytes: &[u8]) -> Option<i32> {
    // The prefix and suffix are compared as integers, which the compiler makes immediate
    // operands: as a byte string the prefix would be read from the binary's read-only data,
    // one more page (and fault) for a new helper to touch.
    const PREFIX: &[u8; 16] = br#"{"Call":{"Exit":"#;
    const HEAD: u64 = u64::from_le_bytes(*PREFIX.first_chunk::<8>().unwrap());
    const TAIL: u64 = u64::from_le_bytes(*PREFIX.last_chunk::<8>().unwrap());
    const END: u16 = u16::from_le_bytes(*b"}}");
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    let (tail, rest) = rest.split_first_chunk::<8>()?;
    let (digits, end) = rest.split_last_chunk::<2>()?;
    if u64::from_le_bytes(*head) != HEAD
        || u64::from_le_bytes(*tail) != TAIL
        || u16::from_le_bytes(*end) != END
    {
        return None;
    }
    let (negative, digits) = match digits.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 10 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    i32::try_from(if negative { -n } else { n }).ok()
}

/// Receives one message's bytes into `buf` (blocking) and the fds that came with it, in
/// order: the length, and the fds.
pub fn recv_raw(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), RecvError> {
    recv_vectored(sock, &mut [IoSliceMut::new(buf)])
}

/// [`recv_raw`] into `head` first and on into `buf` after its first `head.len()` bytes: the
/// message is `head[..len]` when it fits there, else `buf[..len]` (the start is copied over
/// from `head`). A helper's `head` is on its stack, whose top page a new helper has copied
/// already; `buf` is a page it would touch only for a message that does not fit. Inlined, so
/// that its code is on the helper loop's pages.
#[inline(always)]
pub fn recv_split(
    sock: BorrowedFd<'_>,
    head: &mut [u8],
    buf: &mut [u8],
) -> Result<(usize, Vec<OwnedFd>), RecvError> {
    let n = head.len();
    let (len, fds) = recv_vectored(
        sock,
        &mut [IoSliceMut::new(head), IoSliceMut::new(&mut buf[n..])],
    )?;
    if len > n {
        buf[..n].copy_from_slice(head);
    }
    Ok((len, fds))
}

/// recvmsg(2) into `iov`, with the fds of an `SCM_RIGHTS` control message taken into
/// `OwnedFd`s. Made with libc and the `CMSG_*` functions, which compile to inline code:
/// nix's control-message iterator is a function of its own on another page of the binary,
/// which a new helper would fault in for its first request even when it carries no fds.
#[inline(always)]
fn recv_vectored(
    sock: BorrowedFd<'_>,
    iov: &mut [IoSliceMut<'_>],
) -> Result<(usize, Vec<OwnedFd>), RecvError> {
    let mut room = CmsgRoom::new();
    let cmsg = room.bytes();
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSliceMut` is ABI-compatible with `iovec` on Unix (its documentation says so).
    hdr.msg_iov = iov.as_mut_ptr().cast();
    hdr.msg_iovlen = iov.len() as _;
    hdr.msg_control = cmsg.as_mut_ptr().cast();
    // socklen_t in musl, size_t in glibc.
    hdr.msg_controllen = cmsg.len() as _;
    let len = loop {
        // SAFETY: `hdr` points at live, writable buffers of the lengths it gives.
        let r = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        match nix::Error::last() {
            nix::Error::EINTR => continue,
            e => return Err(RecvError::Sys(e)),
        }
    };
    let mut fds = Vec::new();
    if hdr.msg_controllen > 0 {
        // SAFETY: the kernel wrote `msg_controllen` bytes of well-formed control messages
        // into `cmsg`; CMSG_FIRSTHDR and CMSG_NXTHDR stay within them, and an SCM_RIGHTS
        // message's data holds (cmsg_len - CMSG_LEN(0)) / size_of::<c_int>() fds, which the
        // kernel installed in our table for us to own.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                        / std::mem::size_of::<libc::c_int>();
                    let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                    for i in 0..n {
                        fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                }
                c = libc::CMSG_NXTHDR(&hdr, c);
            }
        }
    }
    // A control message cut short may have lost fds (closed by the kernel); the ones that
    // arrived are closed with `fds`.
    if hdr.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(RecvError::Sys(nix::Error::ENOBUFS));
    }
    if len == 0 {
        return Err(RecvError::Eof);
    }
    Ok((len, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nslab_machine::Op;

    #[test]
    fn the_exit_code_is_read_as_the_decoder_reads_it() {
        for code in [
            0,
            1,
            7,
            42,
            255,
            256,
            -1,
            -255,
            1_000_000,
            i32::MAX,
            i32::MIN,
        ] {
            let bytes = serde_json::to_vec(&Request::Call(Op::Exit(code))).unwrap();
            assert_eq!(exit_request_code(&bytes), Some(code), "{code}");
        }
    }

    /// The fds sent with a message arrive in order, as new fds for the same files.
    #[test]
    fn fds_travel_with_the_message_in_order() {
        use std::os::fd::AsFd;
        let (a, b) = channel_pair().unwrap();
        let files = [
            std::fs::File::open("/").unwrap(),
            std::fs::File::open("/proc").unwrap(),
        ];
        let fds: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
        for n in 0..=MAX_FDS {
            send(a.as_fd(), &Reply::Cloned { pid: n as i32 }, &fds[..n]).unwrap();
            let mut buf = vec![0; MAX_MESSAGE];
            let (reply, got): (Reply, _) = recv(b.as_fd(), &mut buf).unwrap();
            assert!(matches!(reply, Reply::Cloned { pid } if pid == n as i32));
            assert_eq!(got.len(), n);
            for (f, g) in files.iter().zip(&got) {
                let ino =
                    |fd: BorrowedFd<'_>| nix::sys::stat::fstat(fd.as_raw_fd()).unwrap().st_ino;
                assert_eq!(ino(f.as_fd()), ino(g.as_fd()));
                assert_ne!(f.as_raw_fd(), g.as_raw_fd());
            }
        }
    }

    #[test]
    fn any_other_message_is_left_to_the_decoder() {
        let other = serde_json::to_vec(&Request::Call(Op::Unshare(0x2000_0000))).unwrap();
        assert_eq!(exit_request_code(&other), None);
        assert_eq!(
            exit_request_code(&serde_json::to_vec(&Request::Observe).unwrap()),
            None
        );
        for bad in [
            &br#"{"Call":{"Exit":}}"#[..],
            br#"{"Call":{"Exit":-}}"#,
            br#"{"Call":{"Exit":01}}"#,
            br#"{"Call":{"Exit":1x}}"#,
            br#"{"Call":{"Exit":2147483648}}"#,
            br#"{"Call":{"Exit":-2147483649}}"#,
            br#"{"Call":{"Exit":99999999999}}"#,
            br#"{"Call":{"Exit":1}} "#,
            br#"{"Call":{"Exif":1}}"#,
            br#"{"Cal!":{"Exit":1}}"#,
            br#"{"Call":{"Exit":1}]"#,
            br#"{"Call":{"Exit":"#,
            br#"{"Call":{"Exit":}"#,
            br#"{"Call":{"Exit"}}"#,
            b"",
        ] {
            assert_eq!(
                exit_request_code(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A message up to the head's length is in the head, a longer one whole in the buffer,
    /// and the fds come with either.
    #[test]
    fn a_split_receive_gives_the_whole_message_in_one_place() {
        use std::os::fd::AsFd;
        let (a, b) = channel_pair().unwrap();
        let file = std::fs::File::open("/").unwrap();
        let mut buf = vec![0; MAX_MESSAGE];
        for len in [1, 15, 16, 17, 100, 5000] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            send_bytes(a.as_fd(), &msg, &[file.as_fd()]).unwrap();
            let mut head = [0u8; 16];
            let (got, fds) = recv_split(b.as_fd(), &mut head, &mut buf).unwrap();
            assert_eq!(got, len);
            assert_eq!(fds.len(), 1, "{len}");
            let bytes = if got <= head.len() {
                &head[..got]
            } else {
                &buf[..got]
            };
            assert_eq!(bytes, &msg[..], "{len}");
        }
        drop(a);
        let mut head = [0u8; 16];
        assert!(matches!(
            recv_split(b.as_fd(), &mut head, &mut buf),
            Err(RecvError::Eof)
        ));
    }
}
