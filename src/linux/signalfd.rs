//! signalfd(2): PID 1 receives signals as readable events in its poll loop (no handlers, no
//! races between a handler and the loop, as catatonit does).

use rustix::fd::{FromRawFd, OwnedFd};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

use super::signal::SigMask;

const SFD_NONBLOCK: usize = 0o4000;
const SFD_CLOEXEC: usize = 0o2000000;

/// `signalfd4(-1, &mask, 8, SFD_NONBLOCK | SFD_CLOEXEC)`. The signals must also be blocked
/// (signal::block) or they are delivered the ordinary way.
pub fn create(mask: SigMask) -> Result<OwnedFd, Errno> {
    // SAFETY: mask is a valid u64 (the kernel's sigset size on our targets) for the call.
    let fd = unsafe {
        syscall!(
            Sysno::signalfd4,
            -1isize as usize,
            &mask as *const SigMask as usize,
            8,
            SFD_NONBLOCK | SFD_CLOEXEC
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// One pending signal: `(ssi_signo, ssi_pid)`, or None when nothing is pending.
pub fn read(fd: &OwnedFd) -> Result<Option<(i32, i32)>, Errno> {
    // struct signalfd_siginfo is 128 bytes: ssi_signo at 0, ssi_pid at 12.
    let mut buf = [0u8; 128];
    match rustix::io::read(fd, &mut buf) {
        Ok(128) => {
            let signo = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as i32;
            let pid = u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]) as i32;
            Ok(Some((signo, pid)))
        }
        Ok(_) => Err(Errno::IO),
        Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(None),
        Err(e) => Err(e),
    }
}
