//! Process creation and waiting.

use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};
use syscalls::{syscall, Sysno};

/// Namespace clone flags (the values of CLONE_NEW*).
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
/// The new process is our parent's child, not ours (exec's rootless double fork).
pub const CLONE_PARENT: u64 = 0x0000_8000;
const SIGCHLD: u64 = 17;

/// Result of [`clone_process`], seen from each side.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// `clone(flags | SIGCHLD, NULL, …)`: fork into new namespaces.
///
/// reno is single-threaded, so a fork-like clone leaves the child with a consistent copy of
/// the heap and every lock free; the child may allocate. CLONE_NEWTIME is not accepted by
/// clone(2) (it is unshare-only), callers unshare it in the child.
pub fn clone_process(flags: u64) -> Result<Forked, Errno> {
    // SAFETY: no CLONE_VM, no new stack: the child continues on a private copy of this
    // single-threaded process, exactly like fork(2). The pointer arguments are NULL.
    let ret = unsafe { syscall!(Sysno::clone, flags | SIGCHLD, 0, 0, 0, 0) };
    match ret {
        Ok(0) => Ok(Forked::Child),
        Ok(pid) => Ok(Forked::Parent(pid_from_raw(pid as i32)?)),
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}

/// `struct clone_args` of <linux/sched.h> up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3({.flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = fd})`
/// (Linux 5.7): [`clone_process`] with the child born in the cgroup v2 directory `cgroup`
/// (opened O_RDONLY), so nobody has to move it there through cgroup.procs afterwards.
pub fn clone_into_cgroup(flags: u64, cgroup: impl rustix::fd::AsFd) -> Result<Forked, Errno> {
    use rustix::fd::AsRawFd;
    let args = CloneArgs {
        flags: flags | CLONE_INTO_CGROUP,
        exit_signal: SIGCHLD,
        cgroup: cgroup.as_fd().as_raw_fd() as u64,
        ..Default::default()
    };
    let size = std::mem::size_of::<CloneArgs>();
    // SAFETY: as in `clone_process` (no CLONE_VM, no stack: a fork of this single-threaded
    // process); `args` is a live, initialised clone_args of `size` bytes for the call.
    let ret = unsafe { syscall!(Sysno::clone3, &args as *const CloneArgs as usize, size) };
    match ret {
        Ok(0) => Ok(Forked::Child),
        Ok(pid) => Ok(Forked::Parent(pid_from_raw(pid as i32)?)),
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}

pub fn pid_from_raw(raw: i32) -> Result<Pid, Errno> {
    Pid::from_raw(raw).ok_or(Errno::SRCH)
}

/// Plain fork, for hooks and helpers.
pub fn fork() -> Result<Forked, Errno> {
    clone_process(0)
}

/// Exit status of a child in shell convention: the code, or 128 + signal.
pub fn wait_exit_code(pid: Pid) -> Result<i32, Errno> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(status_code(status)),
            Ok(None) => continue,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reap `pid` if it has exited, without blocking; `Some(code)` when it had.
pub fn try_wait(pid: Pid) -> Result<Option<i32>, Errno> {
    match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG)? {
        Some((_, status)) => Ok(Some(status_code(status))),
        None => Ok(None),
    }
}

pub fn status_code(status: rustix::process::WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        0
    }
}

/// Immediately end this process (a forked child must never unwind into the parent's code).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: exit_group never returns and touches no memory of ours.
    unsafe {
        let _ = syscall!(Sysno::exit_group, code);
    }
    std::process::abort()
}

/// `setns(fd, nstype)`.
pub fn setns(fd: impl rustix::fd::AsFd, nstype: u64) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: setns takes an fd and an int; no memory is passed.
    unsafe { syscall!(Sysno::setns, raw, nstype) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `unshare(flags)` with raw flags (CLONE_NEWTIME has no rustix flag name of its own).
pub fn unshare(flags: u64) -> Result<(), Errno> {
    // SAFETY: unshare takes only flags.
    unsafe { syscall!(Sysno::unshare, flags) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `personality(persona)`.
pub fn personality(persona: u64) -> Result<(), Errno> {
    // SAFETY: personality takes one integer.
    unsafe { syscall!(Sysno::personality, persona) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`.
pub fn ioprio_set(class: u64, level: u64) -> Result<(), Errno> {
    let prio = (class << 13) | level;
    // SAFETY: integers only.
    unsafe { syscall!(Sysno::ioprio_set, 1, 0, prio) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// `sched_setattr(0, attr, 0)` with the fields runtime-spec's `scheduler` carries.
pub fn sched_setattr(
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
) -> Result<(), Errno> {
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority,
        runtime,
        deadline,
        period,
    };
    // SAFETY: attr is a valid, initialised sched_attr that outlives the call.
    unsafe {
        syscall!(
            Sysno::sched_setattr,
            0,
            &attr as *const SchedAttr as usize,
            0
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), used to
/// tell a container's init from an unrelated process that reused its pid.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid).map(|(_, t)| t)
}

/// State letter (field 3) and start time (field 22) from one read of /proc/PID/stat (a
/// 4 KiB buffer: std's read_to_string takes six reads for this size-0 file).
fn stat_fields(pid: i32) -> Option<(char, u64)> {
    let stat = super::fs::read_small(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let state = rest.chars().next()?;
    // rest starts at field 3 (state); start time is field 22.
    Some((state, rest.split_whitespace().nth(19)?.parse().ok()?))
}

/// Does `pid` exist, is it not a zombie, and is it the process that started at `start`?
pub fn is_alive(pid: i32, start: u64) -> bool {
    match stat_fields(pid) {
        Some((s, t)) => t == start && s != 'Z' && s != 'X',
        None => false,
    }
}

/// Mark every fd from `first` up close-on-exec (close_range with CLOSE_RANGE_CLOEXEC), so
/// no host fd reaches the container's program (CVE-2024-21626). Kernels before 5.11 lack
/// that flag: then walk /proc/self/fd.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: integers only.
    let r = unsafe { syscall!(Sysno::close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    match r {
        Ok(_) => Ok(()),
        // EPERM too: a seccomp profile loaded earlier may refuse close_range.
        Err(e)
            if [Errno::NOSYS, Errno::INVAL, Errno::PERM]
                .iter()
                .any(|x| x.raw_os_error() == e.into_raw()) =>
        {
            cloexec_from_proc(first)
        }
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}

/// The fds open now, from /proc/self/fd (the fallback where close_range is missing; the
/// listing's own directory fd is among them and closed by the time the caller sees it).
fn open_fds() -> Result<Vec<i32>, Errno> {
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
    Ok(dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

fn cloexec_from_proc(first: u32) -> Result<(), Errno> {
    for fd in open_fds()?.into_iter().filter(|&fd| fd >= first as i32) {
        // SAFETY: the fd is only borrowed for the fcntl; one that was the directory
        // iterator's and is already closed fails with EBADF, which is ignored.
        let b = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
        match rustix::io::fcntl_setfd(b, rustix::io::FdFlags::CLOEXEC) {
            Ok(()) | Err(Errno::BADF) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Close every fd from `first` up except those in `keep`: `close_range(lo, hi, 0)` over
/// each gap (Linux 5.9; before that, a walk of /proc/self/fd). For a process about to
/// execve that must hold nothing else meanwhile (the dumpable seccomp listener hand-over of
/// an unprivileged `exec`): objects still owning a closed fd must not be used afterwards.
pub fn close_from_except(first: u32, keep: &[i32]) -> Result<(), Errno> {
    // No allocation (the test calls this in a forked child of a threaded process).
    let mut lo = first;
    loop {
        let next = keep
            .iter()
            .filter_map(|&k| u32::try_from(k).ok())
            .filter(|&k| k >= lo)
            .min();
        let hi = match next {
            Some(k) => k.checked_sub(1),
            None => Some(u32::MAX),
        };
        if let Some(hi) = hi.filter(|&hi| hi >= lo) {
            // SAFETY: integers only; the caller gives up the fds in [lo, hi].
            match unsafe { syscall!(Sysno::close_range, lo, hi, 0) } {
                Ok(_) => {}
                Err(e) if e.into_raw() == Errno::NOSYS.raw_os_error() => {
                    return close_from_except_proc(first, keep)
                }
                Err(e) => return Err(Errno::from_raw_os_error(e.into_raw())),
            }
        }
        match next {
            Some(k) if k < u32::MAX => lo = k + 1,
            _ => return Ok(()),
        }
    }
}

fn close_from_except_proc(first: u32, keep: &[i32]) -> Result<(), Errno> {
    for fd in open_fds()?
        .into_iter()
        .filter(|fd| u32::try_from(*fd).is_ok_and(|f| f >= first) && !keep.contains(fd))
    {
        // SAFETY: an integer; the caller gives up the fd (EBADF: the directory iterator's,
        // already closed).
        let _ = unsafe { syscall!(Sysno::close, fd) };
    }
    Ok(())
}

/// `execve(path, argv, envp)`; returns only on failure.
pub fn execve(
    path: &std::ffi::CStr,
    argv: &[std::ffi::CString],
    envp: &[std::ffi::CString],
) -> Errno {
    let mut a: Vec<*const u8> = argv.iter().map(|s| s.as_ptr() as *const u8).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const u8> = envp.iter().map(|s| s.as_ptr() as *const u8).collect();
    e.push(std::ptr::null());
    execve_ptrs(path, &a, &e)
}

/// `execve(path, argv, envp)` with NULL-terminated pointer arrays the caller built (before a
/// fork, where nothing may allocate); returns only on failure. Every pointer must stay valid
/// until the call returns.
pub fn execve_ptrs(path: &std::ffi::CStr, argv: &[*const u8], envp: &[*const u8]) -> Errno {
    if argv.last().is_none_or(|p| !p.is_null()) || envp.last().is_none_or(|p| !p.is_null()) {
        return Errno::INVAL;
    }
    // SAFETY: path is NUL-terminated; argv and envp end with NULL (checked above) and, by this
    // function's contract, point to NUL-terminated strings alive until the call returns (it
    // only returns on failure).
    let r = unsafe {
        syscall!(
            Sysno::execve,
            path.as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize
        )
    };
    match r {
        Ok(_) => Errno::INVAL,
        Err(e) => Errno::from_raw_os_error(e.into_raw()),
    }
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`: execute the file `fd` refers to (an
/// `O_PATH` fd will do), whatever path it is or isn't reachable by; returns only on failure.
/// The new program's comm is the fd number (its name is "/dev/fd/N").
pub fn execveat_fd(
    fd: impl rustix::fd::AsFd,
    argv: &[std::ffi::CString],
    envp: &[std::ffi::CString],
) -> Errno {
    use rustix::fd::AsRawFd;
    let mut a: Vec<*const u8> = argv.iter().map(|s| s.as_ptr() as *const u8).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const u8> = envp.iter().map(|s| s.as_ptr() as *const u8).collect();
    e.push(std::ptr::null());
    let empty = b"\0";
    // SAFETY: the empty path, every argv/envp string and both NULL-terminated pointer
    // arrays live until the call returns (it only returns on failure).
    let r = unsafe {
        syscall!(
            Sysno::execveat,
            fd.as_fd().as_raw_fd(),
            empty.as_ptr() as usize,
            a.as_ptr() as usize,
            e.as_ptr() as usize,
            0x1000 /* AT_EMPTY_PATH */
        )
    };
    match r {
        Ok(_) => Errno::INVAL,
        Err(e) => Errno::from_raw_os_error(e.into_raw()),
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a fresh anonymous session keyring, so the
/// container does not share the caller's keys.
pub fn join_new_session_keyring() -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: u64 = 1;
    // SAFETY: a NULL name pointer asks for an anonymous keyring; no memory is passed.
    unsafe { syscall!(Sysno::keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsRawFd;

    /// In a child (closing fds of the multithreaded test process would hit other tests):
    /// the kept fd and those below `first` survive, the others are closed.
    #[test]
    fn close_from_except_keeps_only_what_it_is_told() {
        let (a, b) = rustix::pipe::pipe().expect("pipe");
        let (c, d) = rustix::pipe::pipe().expect("pipe");
        let fds = [a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd(), d.as_raw_fd()];
        let first = *fds.iter().min().expect("fds") as u32;
        let keep = [fds[2]];
        match fork().expect("fork") {
            Forked::Child => {
                let open = |fd: i32| {
                    // SAFETY: only borrowed for fcntl; EBADF if closed.
                    let b = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
                    rustix::io::fcntl_getfd(b).is_ok()
                };
                let ok = close_from_except(first, &keep).is_ok()
                    && open(fds[2])
                    && !open(fds[0])
                    && !open(fds[1])
                    && !open(fds[3])
                    && open(0);
                exit_now(if ok { 0 } else { 1 })
            }
            Forked::Parent(pid) => assert_eq!(wait_exit_code(pid), Ok(0)),
        }
    }
}
