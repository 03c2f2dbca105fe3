//! CVE-2019-5736: a container must never get hold of a writable handle on reno's binary.
//!
//! A process in the container can execute `/proc/self/exe` of a reno process that is about
//! to become the container's program (an image whose program is `#!/proc/self/exe`, run
//! by `create` or `exec`): reno then runs *inside* the container, dumpable, with the
//! container's credentials; any other container process can open its /proc/PID/exe and,
//! once reno has exited, write the host binary through it. Non-dumpable set-up processes
//! don't help there (execve makes the new program dumpable again). So the commands that
//! start container processes first make sure /proc/self/exe is a file nobody can write:
//!
//! 1. Already so: a sealed memfd, or a file on a read-only mount (a device's read-only
//!    root; or the bind or overlayfs of steps 2 to 4). Nothing to do.
//! 2. No exec at all: a read-only bind of the binary (as in step 4), this process's image
//!    mapped from it again in place and made its /proc/self/exe (`linux::exe_remap`). The
//!    container process, cloned afterwards, starts from it. Saves the ~0.2 ms of a second
//!    exec and start-up. Needs CAP_SYS_ADMIN (open_tree) and, for the swap, CAP_SYS_RESOURCE
//!    or a kernel with CONFIG_CHECKPOINT_RESTORE; Linux ≥ 5.12. Not through the overlayfs of
//!    step 3: overlayfs maps the file under it, the very path the kernel refuses to let go
//!    of while it is mapped. `RENO_REEXEC=1` in reno's environment skips this step.
//! 3. As runc ≥ 1.2 does first: a private overlayfs made with fsopen/fsmount, attached
//!    nowhere, read-only and without an upper layer, whose top layer is the binary's own
//!    directory. Open the binary through it, check it is the same file, and re-execute
//!    from it: /proc/PID/exe then points into a filesystem that can never be written
//!    (EROFS, even if someone made the mount read-write: it has no upper layer), and no
//!    byte is copied (the page cache is the real file's). Needs privilege over the mount
//!    namespace (fsopen of overlay: EPERM rootless) and kernel ≥ 5.2 with overlayfs.
//! 4. Else a read-only bind of the binary (open_tree(OPEN_TREE_CLONE) of /proc/self/exe +
//!    mount_setattr(MOUNT_ATTR_RDONLY), Linux ≥ 5.12, CAP_SYS_ADMIN): also no copy and also
//!    EROFS, but only the mount is read-only, not the filesystem under it (overlayfs can be
//!    refused where this works: a binary on an overlayfs already stacked two deep).
//! 5. Otherwise (rootless, old kernels), as runc did first: a sealed memfd copy of the
//!    binary (F_SEAL_WRITE), which costs a copy of the binary in shmem for the life of the
//!    process.
//!
//! No re-exec loop: before executing a protected file, reno checks it with the very test
//! of step 1 that the new image will run on its /proc/self/exe (the same file on the same
//! mount). As a last guard against a kernel answering differently, the re-exec carries
//! `_RENO_REEXECUTED=1` in its environment: the new image removes it at once (no child,
//! hook or container inherits it) and never re-executes a second time.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::io::Errno;

use crate::error::{Context, Error, Result};
use crate::linux;

const SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// Set in the environment of the re-executed image only (see the module doc).
const MARKER: &str = "_RENO_REEXECUTED";
/// Set (to anything) by a user who wants step 2 skipped: re-execute as runc does.
const REEXEC: &str = "RENO_REEXEC";

/// This process's image is known to be protected (checked or made so). A fact of the memory
/// image, not of a path: forks inherit it (init's runtimes skip the check, ~5 syscalls), an
/// execve starts over without it.
static KNOWN_PROTECTED: AtomicBool = AtomicBool::new(false);

/// Why a binary can't be written through any handle on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// A sealed memfd copy: writes fail with EPERM.
    SealedCopy,
    /// A file on a read-only mount (the private overlayfs or bind, a read-only root): EROFS.
    ReadOnlyMount,
}

/// How this process's own binary (/proc/self/exe) is protected, if it is.
pub fn self_protection() -> Option<Protection> {
    std::fs::File::open("/proc/self/exe")
        .ok()
        .and_then(|f| protection(&f))
}

/// How the file `fd` is protected, if it is.
fn protection(fd: impl AsFd) -> Option<Protection> {
    let fd = fd.as_fd();
    if rustix::fs::fcntl_get_seals(fd).is_ok_and(|s| s.contains(SEALS)) {
        Some(Protection::SealedCopy)
    } else if rustix::fs::fstatvfs(fd)
        .is_ok_and(|v| v.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
    {
        Some(Protection::ReadOnlyMount)
    } else {
        None
    }
}

/// How `reexec_protected` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// /proc/self/exe was protected already (or this is the re-executed image).
    Already,
    /// The image was remapped in place from a read-only bind of itself.
    Remapped,
}

/// Make sure /proc/self/exe can't be written by anyone: return at once if it can't already,
/// else remap the image in place from a read-only bind, else re-execute as `argv` from a
/// protected file (private overlayfs, else a read-only bind, else a sealed memfd copy).
/// `state_root` is the second, hidden layer of the overlayfs (it needs two). Returns an
/// error only if protection is impossible (it says why).
pub fn reexec_protected(argv: &[OsString], state_root: &Path) -> Result<Outcome> {
    if KNOWN_PROTECTED.load(Ordering::Relaxed) {
        return Ok(Outcome::Already);
    }
    let reexecuted = std::env::var_os(MARKER).is_some();
    if reexecuted {
        std::env::remove_var(MARKER);
    }
    let exe = std::fs::File::open("/proc/self/exe").ctx_path("open", "/proc/self/exe")?;
    if protection(&exe).is_some() {
        if reexecuted {
            restore_name(argv);
        }
        KNOWN_PROTECTED.store(true, Ordering::Relaxed);
        return Ok(Outcome::Already);
    }
    if reexecuted {
        return Err(Error::failed(
            "re-exec reno from a protected file",
            "the re-executed binary is still writable; not trying again",
        ));
    }
    if std::env::var_os(REEXEC).is_none() {
        match remap_in_place() {
            Ok(()) => {
                KNOWN_PROTECTED.store(true, Ordering::Relaxed);
                log::debug!("reno's image now maps a read-only bind of itself (no re-exec)");
                return Ok(Outcome::Remapped);
            }
            Err(e) => log::debug!(
                "remapping reno from a read-only bind in place: {}",
                crate::error::errno_text(e)
            ),
        }
    }
    let file = match through_overlay(&exe, state_root) {
        Ok(f) => {
            log::debug!("re-executing reno through a private read-only overlayfs");
            f
        }
        Err(e) => match read_only_view() {
            Ok(f) => {
                log::debug!("{e}: re-executing reno through a read-only bind instead");
                f
            }
            Err(e2) => {
                log::debug!(
                    "{e}; read-only bind: {}: re-executing reno from a sealed memfd copy",
                    crate::error::errno_text(e2)
                );
                sealed_copy(&exe)?
            }
        },
    };
    if protection(&file).is_none() {
        return Err(Error::failed(
            "re-exec reno from a protected file",
            "the file to execute is writable after all",
        ));
    }
    let cstrings = |v: Vec<OsString>| -> Result<Vec<CString>> {
        v.into_iter()
            .map(|s| {
                CString::new(s.as_bytes())
                    .map_err(|_| Error::invalid("re-exec", "NUL byte in argv or environment"))
            })
            .collect()
    };
    let argv = cstrings(argv.to_vec())?;
    let mut env: Vec<OsString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            kv
        })
        .collect();
    env.push(format!("{MARKER}=1").into());
    let envp = cstrings(env)?;
    let e = linux::process::execveat_fd(&file, &argv, &envp);
    Err(Error::sys("re-exec reno from its protected file", e))
}

/// Our binary, opened (O_PATH) through a private read-only overlayfs. Its top layer is the
/// binary's directory; the second one (overlayfs without an upper layer wants two, which
/// must not contain each other) is the state root, as runc uses its own, or else an empty
/// detached tmpfs (kernels ≥ 6.15 take detached mounts as layers).
fn through_overlay(exe: &std::fs::File, state_root: &Path) -> Result<OwnedFd> {
    let path = std::fs::read_link("/proc/self/exe").ctx_path("readlink", "/proc/self/exe")?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::failed("overlayfs for reno", "no directory").path(&path));
    };
    let step = "fsopen/fsmount a read-only overlayfs for reno";
    // create/run make the state root anyway; exec finds it there.
    let _ = std::fs::create_dir_all(state_root);
    let mnt = match linux::mount::overlay_read_only(&[dir, state_root]) {
        Ok(m) => m,
        // No overlayfs, no new mount API, no privilege: no second try.
        Err(e @ (Errno::NOSYS | Errno::NODEV | Errno::PERM | Errno::ACCESS)) => {
            return Err(Error::sys(step, e).path(dir))
        }
        Err(first) => {
            let tmp = linux::mount::empty_tmpfs()
                .map_err(|e| Error::sys(step, first).detail(format!("(and tmpfs: {e})")))?;
            let tmp_path = PathBuf::from(format!("/proc/self/fd/{}", tmp.as_raw_fd()));
            linux::mount::overlay_read_only(&[dir, &tmp_path]).map_err(|e| {
                Error::sys(step, e).path(dir).detail(format!(
                    "(with {} as second layer: {first})",
                    state_root.display()
                ))
            })?
        }
    };
    let f = rustix::fs::openat(
        &mnt,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx_path("open reno through its overlayfs", &path)?;
    // The path may have changed since the exec (an upgrade renamed a new binary over it).
    // overlayfs keeps the real inode number (xino off) but reports its own or a per-layer
    // st_dev, so compare the inode number, type, size and both times instead of dev/ino.
    let (a, b) = (
        rustix::fs::fstat(exe).ctx_path("fstat", "/proc/self/exe")?,
        rustix::fs::fstat(&f).ctx_path("fstat through overlayfs", &path)?,
    );
    let same = a.st_ino == b.st_ino
        && a.st_mode & 0o170000 == 0o100000
        && a.st_mode == b.st_mode
        && a.st_size == b.st_size
        && (a.st_mtime, a.st_mtime_nsec) == (b.st_mtime, b.st_mtime_nsec)
        && (a.st_ctime, a.st_ctime_nsec) == (b.st_ctime, b.st_ctime_nsec);
    if !same {
        return Err(Error::failed(
            "overlayfs for reno",
            "the file there is not the running binary (replaced since?)",
        )
        .path(&path));
    }
    Ok(f)
}

/// Steps 1 and 2 only, for a caller that can't re-execute (PID 1 with a board config too big
/// to hand over): protected already, or remapped in place; else the error says why not.
pub fn protect_in_place() -> Result<Outcome> {
    if self_protection().is_some() {
        KNOWN_PROTECTED.store(true, Ordering::Relaxed);
        return Ok(Outcome::Already);
    }
    if std::env::var_os(REEXEC).is_some() {
        return Err(Error::failed(
            "remap reno in place",
            format!("{REEXEC} is set: re-executing only"),
        ));
    }
    remap_in_place()
        .map(|()| {
            KNOWN_PROTECTED.store(true, Ordering::Relaxed);
            Outcome::Remapped
        })
        .map_err(|e| Error::sys("remap reno in place from a read-only bind", e))
}

/// Step 2 of the module doc: map our image from a read-only bind of our binary and make that
/// /proc/self/exe. The bind is of /proc/self/exe itself, the running file whatever its path
/// has become since, so (unlike step 3) nothing needs comparing; and the file is checked
/// before the swap, which makes it /proc/self/exe exactly, so nothing needs checking after.
fn remap_in_place() -> std::result::Result<(), Errno> {
    let view = read_only_view()?;
    // mmap wants a readable file; the view is O_PATH.
    let file = rustix::fs::open(
        linux::fs::fd_path(&view),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if protection(&file).is_none() {
        return Err(Errno::NOTSUP);
    }
    linux::exe_remap::remap_self(&file)
}

/// A read-only detached bind mount of our own binary, opened O_PATH: a mount no other
/// process can reach or remount.
fn read_only_view() -> std::result::Result<OwnedFd, Errno> {
    let view = linux::idmap::clone_tree(Path::new("/proc/self/exe"), false)?;
    linux::mount::mount_setattr(&view, false, linux::mount::MOUNT_ATTR_RDONLY, 0)?;
    Ok(view)
}

/// A sealed memfd copy of the binary (runc's first protection, ~1 ms per copy).
fn sealed_copy(exe: &std::fs::File) -> Result<OwnedFd> {
    let memfd = rustix::fs::memfd_create(
        "reno",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING | MemfdFlags::EXEC,
    )
    .or_else(|e| match e {
        // Kernels before 6.3 don't know MFD_EXEC (memfds are executable there anyway).
        Errno::INVAL => {
            rustix::fs::memfd_create("reno", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        }
        e => Err(e),
    })
    .ctx("memfd_create for a sealed copy of reno")?;
    let mut dst = std::fs::File::from(memfd);
    // copy_file_range/sendfile underneath.
    std::io::copy(&mut &*exe, &mut dst).ctx_path("copy reno into a memfd", "/proc/self/exe")?;
    rustix::fs::fcntl_add_seals(&dst, SEALS).ctx("seal the memfd copy of reno")?;
    Ok(dst.into())
}

/// execveat named the new image after the fd ("4"): take argv[0]'s name back for ps.
fn restore_name(argv: &[OsString]) {
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.as_bytes().iter().copied().take(15).collect::<Vec<u8>>())
        .and_then(|n| CString::new(n).ok());
    if let Some(name) = name {
        let _ = rustix::thread::set_name(&name);
    }
}
