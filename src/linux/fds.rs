//! Closing inherited descriptors in a forked child (init's signalfd and watchdog must not
//! live on in the processes it starts: an open watchdog fd keeps the device armed).

use rustix::io::Errno;
use syscalls::{syscall, Sysno};

/// Close every descriptor ≥ `first` but those in `keep`: one `close_range` per gap between
/// them (see `close_from`).
pub fn close_from_except(first: u32, keep: &[i32]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= first)
        .collect();
    keep.sort_unstable();
    let mut from = first;
    for fd in keep {
        if fd > from {
            close_between(from, fd - 1);
        }
        from = fd + 1;
    }
    close_from(from);
}

/// `close_range(first, last, 0)`; without it (Linux < 5.9), one close per number (the
/// ranges passed here are a few fds wide).
fn close_between(first: u32, last: u32) {
    // SAFETY: integers only, as in `close_from`.
    if unsafe { syscall!(Sysno::close_range, first, last, 0) }.is_ok() {
        return;
    }
    for fd in first..=last {
        // SAFETY: as above; EBADF for a number not open is ignored.
        let _ = unsafe { syscall!(Sysno::close, fd) };
    }
}

/// Close every descriptor ≥ `first`: `close_range(first, ~0U, 0)` (Linux 5.9), falling back
/// to the entries of /proc/self/fd on older kernels.
pub fn close_from(first: u32) {
    // SAFETY: integers only. The caller (a freshly forked, single-threaded child) owns no
    // Rust object wrapping these descriptors that it will use again.
    let r = unsafe { syscall!(Sysno::close_range, first, u32::MAX, 0) };
    if r.is_ok() {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd: &i32| fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: as above; closing an fd that read_dir already closed gives EBADF, ignored.
        let _ = unsafe { syscall!(Sysno::close, fd) }
            .map_err(|e| Errno::from_raw_os_error(e.into_raw()));
    }
}
