//! Signals by number: parsing runc's names, sending, masking and waiting.
//!
//! Raw syscalls here because rustix's `Signal` refuses real-time and unnamed signals, which
//! `reno kill ID 40` must be able to send.

use rustix::io::Errno;
use syscalls::{syscall, Sysno};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGWINCH: i32 = 28;

const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parse a signal as runc does: a number, or a name with or without `SIG`, any case;
/// also `RTMIN+N` / `RTMAX-N`.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    if name == "RTMIN" {
        return Some(34);
    }
    if name == "RTMAX" {
        return Some(64);
    }
    if let Some(off) = name.strip_prefix("RTMIN+") {
        let n = 34 + off.parse::<i32>().ok()?;
        return (n <= 64).then_some(n);
    }
    if let Some(off) = name.strip_prefix("RTMAX-") {
        let n = 64 - off.parse::<i32>().ok()?;
        return (n >= 34).then_some(n);
    }
    None
}

/// `kill(pid, sig)`; pid may be negative for a process group.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: integers only.
    unsafe { syscall!(Sysno::kill, pid, sig) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

pub type SigMask = u64;

pub const fn bit(sig: i32) -> SigMask {
    1u64 << (sig - 1)
}

/// Every signal a foreground runtime forwards to its container (all but KILL, STOP, CHLD
/// handled apart, and the synchronous fault signals).
pub fn forwardable() -> SigMask {
    let mut m: SigMask = 0;
    for s in 1..=64 {
        if ![SIGKILL, SIGSTOP, 4, 5, 7, 8, 11].contains(&s) {
            m |= bit(s);
        }
    }
    m
}

/// Give `sig` its default disposition again. Rust's runtime starts us with SIGPIPE ignored,
/// and an ignored signal stays ignored across execve: the container's programs must get the
/// default, and `reno list | head -1` must end quietly rather than fail on EPIPE.
pub fn set_default(sig: i32) -> Result<(), Errno> {
    // SIG_DFL with no flags, no restorer and an empty mask: all zero on every architecture's
    // layout of the kernel's struct sigaction, so a zeroed buffer of ample size serves all.
    let act = [0u64; 4];
    // SAFETY: act is a valid, zeroed struct sigaction; no old action is asked for.
    unsafe { syscall!(Sysno::rt_sigaction, sig, act.as_ptr() as usize, 0, 8) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

const SIG_BLOCK: i32 = 0;
const SIG_SETMASK: i32 = 2;

/// Block `mask`, returning the previous mask.
pub fn block(mask: SigMask) -> Result<SigMask, Errno> {
    sigprocmask(SIG_BLOCK, mask)
}

/// Replace the mask (used by the child to restore the default before exec).
pub fn set_mask(mask: SigMask) -> Result<SigMask, Errno> {
    sigprocmask(SIG_SETMASK, mask)
}

fn sigprocmask(how: i32, mask: SigMask) -> Result<SigMask, Errno> {
    let mut old: SigMask = 0;
    // SAFETY: both pointers are to valid u64s, the kernel's sigset size on our targets.
    unsafe {
        syscall!(
            Sysno::rt_sigprocmask,
            how,
            &mask as *const SigMask as usize,
            &mut old as *mut SigMask as usize,
            8
        )
    }
    .map(|_| old)
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// Wait for one of the blocked signals in `mask`, at most `timeout_ms` (None: forever).
/// Returns the signal, or None on timeout.
pub fn wait(mask: SigMask, timeout_ms: Option<u64>) -> Result<Option<i32>, Errno> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    let mut info = [0u8; 128];
    let ts = timeout_ms.map(|ms| Timespec {
        sec: (ms / 1000) as i64,
        nsec: ((ms % 1000) * 1_000_000) as i64,
    });
    let ts_ptr = ts.as_ref().map_or(0, |t| t as *const Timespec as usize);
    // SAFETY: mask, info (siginfo_t is 128 bytes) and the timespec are valid for the call.
    // 32-bit targets use the time64 variant, whose timespec has 64-bit fields like ours.
    #[cfg(target_pointer_width = "64")]
    let r = unsafe {
        syscall!(
            Sysno::rt_sigtimedwait,
            &mask as *const SigMask as usize,
            info.as_mut_ptr() as usize,
            ts_ptr,
            8
        )
    };
    #[cfg(target_pointer_width = "32")]
    let r = unsafe {
        syscall!(
            Sysno::rt_sigtimedwait_time64,
            &mask as *const SigMask as usize,
            info.as_mut_ptr() as usize,
            ts_ptr,
            8
        )
    };
    match r {
        Ok(sig) => Ok(Some(sig as i32)),
        Err(e) if e.into_raw() == Errno::AGAIN.raw_os_error() => Ok(None),
        Err(e) if e.into_raw() == Errno::INTR.raw_os_error() => Ok(None),
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_runc() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("SIGUSR1"), Some(10));
        assert_eq!(parse_signal("RTMIN+2"), Some(36));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("NOPE"), None);
    }
}
