//! The Linux watchdog device (/dev/watchdog): set its timeout, feed it, disarm it.

use std::path::Path;

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

/// `_IOWR('W', 6, int)` on the architectures reno targets (x86, arm, arm64, riscv).
const WDIOC_SETTIMEOUT: usize = 0xC004_5706;

/// Opening the device arms it.
pub fn open(device: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(device, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
}

/// `ioctl(fd, WDIOC_SETTIMEOUT, &seconds)`; the driver may round, the value it chose is returned.
pub fn set_timeout(fd: &OwnedFd, seconds: u32) -> Result<u32, Errno> {
    let mut t: i32 = seconds.min(i32::MAX as u32) as i32;
    // SAFETY: t is a valid int the kernel reads and writes back during the call.
    unsafe {
        syscall!(
            Sysno::ioctl,
            fd.as_raw_fd(),
            WDIOC_SETTIMEOUT,
            &mut t as *mut i32 as usize
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    Ok(t.max(0) as u32)
}

/// Any write but 'V' is a keepalive.
pub fn feed(fd: &OwnedFd) -> Result<(), Errno> {
    rustix::io::write(fd, b"k").map(|_| ())
}

/// The "magic close": 'V' then close disarms the watchdog (unless the driver has nowayout).
pub fn disarm(fd: OwnedFd) -> Result<(), Errno> {
    let r = rustix::io::write(&fd, b"V").map(|_| ());
    drop(fd);
    r
}
