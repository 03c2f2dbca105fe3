//! Idmapped mounts (Linux ≥ 5.12): a detached copy of a tree (open_tree OPEN_TREE_CLONE),
//! given a user namespace's id mapping (mount_setattr MOUNT_ATTR_IDMAP), later attached
//! where it belongs (move_mount). The user namespace comes from a short-lived helper child
//! whose maps we write, as runc does for mappings the container's own userns doesn't have.

use std::path::Path;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{MoveMountFlags, OpenTreeFlags};
use syscalls::{syscall, Sysno};

use super::process::{self, Forked};

/// `MOUNT_ATTR_IDMAP` from <linux/mount.h>.
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC [| AT_RECURSIVE])`: a
/// detached bind mount of `path` (with its submounts when `recursive`, as rbind).
pub fn clone_tree(path: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    rustix::mount::open_tree(CWD, path, flags)
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH [| AT_RECURSIVE], {MOUNT_ATTR_IDMAP, userns_fd})`.
/// The tree must be detached and not idmapped yet; the filesystem must support idmapping
/// (EINVAL otherwise), the caller needs CAP_SYS_ADMIN in its user namespace.
pub fn set_idmap(tree: impl AsFd, userns: impl AsFd, recursive: bool) -> Result<(), Errno> {
    super::mount::mount_setattr_userns(tree, recursive, MOUNT_ATTR_IDMAP, 0, Some(userns.as_fd()))
}

/// `move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`:
/// attach a detached tree on the directory (or file) open as `target`. By fd, not through
/// /proc/self/fd/N: move_mount doesn't follow a final symlink, magic links included.
pub fn attach(tree: impl AsFd, target: impl AsFd) -> Result<(), Errno> {
    rustix::mount::move_mount(
        tree,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

fn libc_eio() -> i32 {
    Errno::IO.raw_os_error()
}

/// A user namespace with these maps ("inside outside count" lines, as /proc/PID/uid_map):
/// a child is cloned into a new user namespace and waits on a pipe while we write its maps
/// and open its namespace; then it exits. Needs the privilege to write such maps (root).
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> Result<OwnedFd, Errno> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let pid = match process::clone_process(process::CLONE_NEWUSER)? {
        Forked::Child => {
            drop(wr);
            let mut b = [0u8; 1];
            // Returns at EOF: the parent is done with us (or gone).
            let _ = rustix::io::read(&rd, &mut b);
            process::exit_now(0)
        }
        Forked::Parent(pid) => pid,
    };
    drop(rd);
    let raw = pid.as_raw_nonzero().get();
    let result = (|| {
        let proc = format!("/proc/{raw}");
        let write = |file: &str, map: &str| {
            if map.is_empty() {
                return Ok(());
            }
            super::fs::write_file(Path::new(&format!("{proc}/{file}")), map.as_bytes())
                .map_err(|e| Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc_eio())))
        };
        write("uid_map", uid_map)?;
        write("gid_map", gid_map)?;
        rustix::fs::open(
            format!("{proc}/ns/user").as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    })();
    // Release the child with a byte, not by EOF alone: a copy of `wr` may live on in a child
    // that another thread forked meanwhile (test harnesses), and EOF would then never come.
    let _ = rustix::io::write(&wr, b"x");
    drop(wr);
    let _ = process::wait_exit_code(pid);
    result
}

/// Whether the kernel has mount_setattr(2) (Linux ≥ 5.12), for `features`: probed with an
/// invalid fd, which gives EBADF where the call exists.
pub fn kernel_supported() -> bool {
    // SAFETY: all arguments are integers or NULL; with fd -1 the kernel reads nothing.
    let r = unsafe { syscall!(Sysno::mount_setattr, -1i32 as usize, 0, 0, 0, 0) };
    !matches!(r, Err(e) if e.into_raw() == Errno::NOSYS.raw_os_error())
}
