//! Pseudo-terminals and passing their master over an AF_UNIX socket (SCM_RIGHTS), the
//! `--console-socket` protocol runc defined and conmon/containerd speak: one message whose
//! payload is a name and whose one control message is the master fd; no reply.
//!
//! All of it through rustix's safe API (pty, net, termios); no `unsafe` needed here.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, OptionalActions, Termios, Winsize};

/// A new pty: the master, and the path of its slave in the devpts this process sees.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: PathBuf,
}

/// `open("/dev/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC)`, `unlockpt`, `ptsname`: in the caller's
/// root, so inside a container the pty belongs to the container's devpts instance.
pub fn open() -> Result<Pty, Errno> {
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = PathBuf::from(std::ffi::OsStr::from_bytes(name.as_bytes()));
    Ok(Pty { master, slave })
}

/// Open the slave side read-write (it becomes the process's stdio and controlling tty).
pub fn open_slave(path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        path,
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// `ioctl(fd, TIOCSCTTY, 0)`: make the tty the controlling terminal of our new session.
pub fn set_controlling(fd: impl AsFd) -> Result<(), Errno> {
    rustix::process::ioctl_tiocsctty(fd)
}

/// `socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)` + `connect(path)`.
pub fn connect(path: &Path) -> Result<OwnedFd, Errno> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let addr = SocketAddrUnix::new(path)?;
    rustix::net::connect(&fd, &addr)?;
    Ok(fd)
}

/// `socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)`: a private console socket, for a
/// foreground process whose pty we relay ourselves.
pub fn pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
}

/// `sendmsg(sock, {name}, SCM_RIGHTS [fd])`, as runc's utils.SendFd.
pub fn send_fd(sock: impl AsFd, fd: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Errno::NOBUFS);
    }
    let iov = [IoSlice::new(name.as_bytes())];
    loop {
        match rustix::net::sendmsg(&sock, &iov, &mut control, SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Receive one fd sent with [`send_fd`] (the name is read and dropped).
pub fn recv_fd(sock: impl AsFd) -> Result<OwnedFd, Errno> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    loop {
        match rustix::net::recvmsg(&sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(m) if m.bytes == 0 && control.drain().next().is_none() => return Err(Errno::PIPE),
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(Errno::BADMSG)
}

pub fn winsize(fd: impl AsFd) -> Result<Winsize, Errno> {
    termios::tcgetwinsize(fd)
}

pub fn set_winsize(fd: impl AsFd, rows: u16, cols: u16) -> Result<(), Errno> {
    termios::tcsetwinsize(
        fd,
        Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
}

/// Put a terminal in raw mode, returning the settings to restore.
pub fn make_raw(fd: impl AsFd) -> Result<Termios, Errno> {
    let fd = fd.as_fd();
    let old = termios::tcgetattr(fd)?;
    let mut raw = old.clone();
    raw.make_raw();
    termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
    Ok(old)
}

pub fn restore(fd: impl AsFd, t: &Termios) -> Result<(), Errno> {
    termios::tcsetattr(fd, OptionalActions::Now, t)
}

pub fn is_tty(fd: impl AsFd) -> bool {
    termios::isatty(fd)
}
