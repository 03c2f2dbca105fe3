//! CVE-2019-5736: a container must never get hold of the host's reno binary.
//!
//! A process in the container can execute `/proc/self/exe` of a reno process that is about
//! to become the container's program (an image whose program is `#!/proc/self/exe`, run
//! by `create` or `exec`): reno then runs *inside* the container, dumpable, with the
//! container's credentials; any other container process can open its /proc/PID/exe and,
//! once reno has exited, write the host binary through it. Non-dumpable set-up processes
//! don't help there (execve makes the new program dumpable again). So, as runc does, the
//! commands that start container processes first re-execute reno from a sealed memfd copy
//! of itself: /proc/self/exe is then that copy, which can be executed but never written
//! (F_SEAL_WRITE), and the host file is out of reach. A binary on a read-only mount needs
//! none of this (writes through any handle fail with EROFS).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

use rustix::fd::AsRawFd;
use rustix::fs::{MemfdFlags, OFlags, SealFlags};

use crate::error::{Context, Error, Result};
use crate::linux;

const SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// Is this process running from a sealed copy already (we re-executed, or were started
/// that way)?
pub fn is_sealed() -> bool {
    rustix::fs::open(
        "/proc/self/exe",
        OFlags::RDONLY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .and_then(rustix::fs::fcntl_get_seals)
    .is_ok_and(|s| s.contains(SEALS))
}

/// Re-execute as `argv` from a sealed memfd copy of our binary, unless we already run from
/// one. Returns only if that is impossible (the error says why).
pub fn reexec_sealed(argv: &[OsString]) -> Result<()> {
    if is_sealed() {
        take_name_back(argv);
        return Ok(());
    }
    let exe = std::fs::File::open("/proc/self/exe").ctx_path("open", "/proc/self/exe")?;
    // On a read-only mount (a device's squashfs or read-only root, or the read-only view
    // below after the re-exec) a handle on the binary can't be written through: no copy
    // needed.
    if rustix::fs::fstatvfs(&exe)
        .is_ok_and(|v| v.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
    {
        take_name_back(argv);
        return Ok(());
    }
    // Cheaper than a copy, same protection: re-execute through a read-only bind of the
    // binary, a detached mount no other process can reach or remount (open_tree +
    // mount_setattr, Linux >= 5.12, CAP_SYS_ADMIN). /proc/PID/exe then names a file on a
    // read-only mount: opening it for writing fails with EROFS, as above. No 1.5 MB copied
    // into shmem (charged to every create, run and exec) for each start. The memfd copy
    // below stays for kernels or callers (rootless) that can't.
    if let Ok(view) = read_only_view() {
        let e = exec_fd(&view, argv)?;
        log::debug!("re-exec through a read-only view of reno: {e}; copying it instead");
    }
    let memfd = rustix::fs::memfd_create(
        "reno",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING | MemfdFlags::EXEC,
    )
    .or_else(|e| match e {
        // Kernels before 6.3 don't know MFD_EXEC (memfds are executable there anyway).
        rustix::io::Errno::INVAL => {
            rustix::fs::memfd_create("reno", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        }
        e => Err(e),
    })
    .ctx("memfd_create for a sealed copy of reno")?;
    let mut dst = std::fs::File::from(memfd);
    // copy_file_range/sendfile underneath; ~1 ms for a static reno.
    std::io::copy(&mut &exe, &mut dst).ctx_path("copy reno into a memfd", "/proc/self/exe")?;
    rustix::fs::fcntl_add_seals(&dst, SEALS).ctx("seal the memfd copy of reno")?;
    Err(exec_fd(&dst, argv)?)
}

/// A read-only detached bind mount of our own binary, opened O_PATH.
fn read_only_view() -> std::result::Result<rustix::fd::OwnedFd, rustix::io::Errno> {
    let view = linux::idmap::clone_tree(std::path::Path::new("/proc/self/exe"), false)?;
    linux::mount::mount_setattr(&view, false, linux::mount::MOUNT_ATTR_RDONLY, 0)?;
    Ok(view)
}

/// execve(2) `/proc/self/fd/N` with our argv and environment; returns the execve error
/// (wrapped), or an error of its own when argv or the environment can't be passed.
fn exec_fd(fd: &impl AsRawFd, argv: &[OsString]) -> Result<Error> {
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|_| Error::failed("re-exec", "bad fd path"))?;
    let cstrings = |v: Vec<OsString>| -> Result<Vec<CString>> {
        v.into_iter()
            .map(|s| {
                CString::new(s.as_bytes())
                    .map_err(|_| Error::invalid("re-exec", "NUL byte in argv or environment"))
            })
            .collect()
    };
    let argv = cstrings(argv.to_vec())?;
    let envp = cstrings(
        std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect(),
    )?;
    let e = linux::process::execve(&path, &argv, &envp);
    Ok(Error::sys(
        "re-exec reno from a sealed or read-only view of itself",
        e,
    ))
}

/// execve named us after the fd ("4"): take argv[0]'s name back for ps and comm.
fn take_name_back(argv: &[OsString]) {
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.as_bytes().iter().copied().take(15).collect::<Vec<u8>>())
        .and_then(|n| CString::new(n).ok());
    if let Some(name) = name {
        let _ = rustix::thread::set_name(&name);
    }
}
