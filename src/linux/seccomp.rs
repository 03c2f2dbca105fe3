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

/// `struct seccomp_notif`: one intercepted syscall, as a seccomp agent receives it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    /// `struct seccomp_data`.
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif_resp`.
#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// `SECCOMP_IOCTL_NOTIF_RECV` = _IOWR('!', 0, struct seccomp_notif).
const IOCTL_NOTIF_RECV: u64 = 0xC050_2100;
/// `SECCOMP_IOCTL_NOTIF_SEND` = _IOWR('!', 1, struct seccomp_notif_resp).
const IOCTL_NOTIF_SEND: u64 = 0xC018_2101;
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: let the syscall run as if unfiltered.
pub const NOTIF_FLAG_CONTINUE: u32 = 1;

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notif)`: wait for the next notification.
/// For seccomp agents (reno's tests are one); reno itself only passes the listener on.
pub fn notif_recv(listener: impl rustix::fd::AsFd) -> Result<Notif, Errno> {
    use rustix::fd::AsRawFd;
    // The kernel wants the buffer zeroed.
    let mut n = Notif::default();
    // SAFETY: `n` is a live, writable struct seccomp_notif of the size the ioctl encodes.
    unsafe {
        syscall!(
            Sysno::ioctl,
            listener.as_fd().as_raw_fd(),
            IOCTL_NOTIF_RECV,
            &mut n as *mut Notif as usize
        )
    }
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))?;
    Ok(n)
}

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, {id, val, error, flags})`: answer a
/// notification. `error` is a negative errno (or 0 with `val` as the return value);
/// `flags` = `NOTIF_FLAG_CONTINUE` runs the call for real.
pub fn notif_send(
    listener: impl rustix::fd::AsFd,
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let resp = NotifResp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: `resp` is a live struct seccomp_notif_resp the kernel only reads.
    unsafe {
        syscall!(
            Sysno::ioctl,
            listener.as_fd().as_raw_fd(),
            IOCTL_NOTIF_SEND,
            &resp as *const NotifResp as usize
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

const _: () = assert!(std::mem::size_of::<Notif>() == 80);
const _: () = assert!(std::mem::size_of::<NotifResp>() == 24);
