//! Loading a classic-BPF seccomp filter into the kernel, and taking its notify listener.
//!
//! The program itself is built by `crate::seccomp`; this file only holds the kernel ABI
//! (`struct sock_filter`, `struct sock_fprog`) and the two calls that load it.

use rustix::fd::{FromRawFd, OwnedFd};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

/// `struct sock_filter` from <linux/filter.h>: one classic BPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`: length and pointer of a program.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: u64 = 1;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

/// `SECCOMP_FILTER_FLAG_*` values from <linux/seccomp.h>.
pub const FLAG_TSYNC: u32 = 1 << 0;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// The kernel's BPF_MAXINSNS: longer programs are refused with EINVAL.
pub const MAX_INSNS: usize = 4096;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
///
/// Falls back to `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)` when seccomp(2) is
/// missing (ENOSYS, kernels before 3.17) and no flag was asked for, since prctl has no flags.
/// With `FLAG_NEW_LISTENER` the kernel returns the notify listener, which is returned here.
/// The caller must have set no_new_privs (or hold CAP_SYS_ADMIN).
pub fn set_mode_filter(flags: u32, prog: &[SockFilter]) -> Result<Option<OwnedFd>, Errno> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(Errno::INVAL);
    }
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    let ptr = &fprog as *const SockFprog as usize;
    // SAFETY: fprog points at `prog`, a live slice of `len` initialised sock_filter structs;
    // both outlive the call, and the kernel copies the program before returning.
    let ret = unsafe { syscall!(Sysno::seccomp, SECCOMP_SET_MODE_FILTER, flags as u64, ptr) };
    match ret {
        Ok(fd) if flags & FLAG_NEW_LISTENER != 0 => {
            // SAFETY: with NEW_LISTENER the return value is a new fd that nobody else owns.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
        }
        Ok(_) => Ok(None),
        Err(e) if e.into_raw() == Errno::NOSYS.raw_os_error() && flags == 0 => {
            // SAFETY: as above; prctl reads the same sock_fprog.
            unsafe { syscall!(Sysno::prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ptr, 0, 0) }
                .map(|_| None)
                .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
        }
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}
