//! Moving file descriptors between processes: taking one out of a child's fd table with
//! pidfd_getfd(2) (the pipes between `create` and the init can't carry fds), and handing
//! one to another program over a unix socket with SCM_RIGHTS.

use std::io::IoSlice;
use std::mem::MaybeUninit;

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags};

/// A duplicate of fd number `fd` of process `pid`:
/// `pidfd_getfd(pidfd_open(pid, 0), fd, 0)`, close-on-exec.
///
/// Needs ptrace access to `pid` (PTRACE_MODE_ATTACH_REALCREDS): our own child, with the
/// same credentials or CAP_SYS_PTRACE over it. ENOSYS before Linux 5.6.
pub fn take_fd(pid: Pid, fd: i32) -> Result<OwnedFd, Errno> {
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
    rustix::process::pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty())
}

/// `sendmsg(sock, {data}, SCM_RIGHTS [fd])`: `data` and one fd in a single message, as
/// runc's utils.SendFds (what seccomp agents expect). Short writes are an error (EMSGSIZE):
/// the receiver reads the message with one recvmsg.
pub fn send_with_fd(sock: impl AsFd, data: &[u8], fd: impl AsFd) -> Result<(), Errno> {
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Errno::NOBUFS);
    }
    let iov = [IoSlice::new(data)];
    loop {
        match rustix::net::sendmsg(&sock, &iov, &mut control, SendFlags::NOSIGNAL) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(_) => return Err(Errno::MSGSIZE),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn fd_and_data_arrive_together() {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let (a, b) = UnixStream::pair().unwrap();
        let (pr, pw) = rustix::pipe::pipe().unwrap();
        send_with_fd(&a, b"hello", &pw).unwrap();
        drop(pw);
        let mut buf = [0u8; 16];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let r = rustix::net::recvmsg(&b, &mut iov, &mut control, RecvFlags::empty()).unwrap();
        assert_eq!(&buf[..r.bytes], b"hello");
        let mut got = None;
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = m {
                got = fds.next();
            }
        }
        let w = got.expect("an fd");
        rustix::io::write(&w, b"x").unwrap();
        let mut one = [0u8; 1];
        assert_eq!(rustix::io::read(&pr, &mut one).unwrap(), 1);
    }

    #[test]
    fn takes_own_fd() {
        let (pr, _pw) = rustix::pipe::pipe().unwrap();
        use rustix::fd::AsRawFd;
        match take_fd(rustix::process::getpid(), pr.as_raw_fd()) {
            Ok(fd) => assert_ne!(fd.as_raw_fd(), pr.as_raw_fd()),
            Err(Errno::NOSYS) => eprintln!("SKIP: pidfd_getfd: kernel before 5.6"),
            Err(e) => panic!("pidfd_getfd: {e}"),
        }
    }
}
