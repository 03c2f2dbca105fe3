//! Network interface flags: enough to bring `lo` up in early boot without `ip`.

use rustix::fd::AsRawFd;
use rustix::io::Errno;
use rustix::net::{socket_with, AddressFamily, SocketFlags, SocketType};
use syscalls::{syscall, Sysno};

const SIOCGIFFLAGS: usize = 0x8913;
const SIOCSIFFLAGS: usize = 0x8914;
const IFF_UP: i16 = 0x1;

/// `struct ifreq` with the `ifr_flags` member of its union (the union is 24 bytes).
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: i16,
    _pad: [u8; 22],
}

/// Set IFF_UP on interface `name`: `ioctl(sock, SIOCGIFFLAGS, &ifr)`, then
/// `ifr.ifr_flags |= IFF_UP; ioctl(sock, SIOCSIFFLAGS, &ifr)` on an AF_INET datagram socket.
pub fn set_up(name: &str) -> Result<(), Errno> {
    if name.is_empty() || name.len() >= 16 {
        return Err(Errno::INVAL);
    }
    let sock = socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let mut ifr = IfreqFlags {
        name: [0; 16],
        flags: 0,
        _pad: [0; 22],
    };
    ifr.name[..name.len()].copy_from_slice(name.as_bytes());
    let fd = sock.as_raw_fd();
    // SAFETY: ifr is a valid, initialised ifreq of the kernel's size (40 bytes) that outlives
    // both calls; the kernel reads the name and reads/writes only ifr_flags.
    unsafe {
        syscall!(
            Sysno::ioctl,
            fd,
            SIOCGIFFLAGS,
            &mut ifr as *mut IfreqFlags as usize
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    ifr.flags |= IFF_UP;
    // SAFETY: as above.
    unsafe {
        syscall!(
            Sysno::ioctl,
            fd,
            SIOCSIFFLAGS,
            &ifr as *const IfreqFlags as usize
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}
