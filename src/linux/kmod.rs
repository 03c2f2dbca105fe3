//! Loading kernel modules (devices' kernels build drivers such as watchdogs, virtio and
//! overlayfs as modules, and there is no modprobe in a reno-only initramfs).

use std::ffi::CString;
use std::path::Path;

use rustix::fd::AsRawFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

/// `finit_module(open(path), params, 0)`. EEXIST (already loaded or built in) is success.
pub fn load(path: &Path, params: &str) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let params = CString::new(params).map_err(|_| Errno::INVAL)?;
    // SAFETY: fd is open for the call and params a NUL-terminated string that outlives it.
    let r = unsafe {
        syscall!(
            Sysno::finit_module,
            fd.as_raw_fd(),
            params.as_ptr() as usize,
            0
        )
    };
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.into_raw() == Errno::EXIST.raw_os_error() => Ok(()),
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}
