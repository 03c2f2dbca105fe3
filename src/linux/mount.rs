//! Mounting: option strings to flags, mount(2), mount_setattr(2), pivot_root and the
//! move-mount + chroot fallback for roots that can't be pivoted (initramfs).

use std::path::{Path, PathBuf};

use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};
use syscalls::{syscall, Sysno};

pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_SYNCHRONOUS: u64 = 16;
pub const MS_REMOUNT: u64 = 32;
pub const MS_MANDLOCK: u64 = 64;
pub const MS_DIRSYNC: u64 = 128;
pub const MS_NOSYMFOLLOW: u64 = 256;
pub const MS_NOATIME: u64 = 1024;
pub const MS_NODIRATIME: u64 = 2048;
pub const MS_BIND: u64 = 4096;
pub const MS_MOVE: u64 = 8192;
pub const MS_REC: u64 = 16384;
pub const MS_SILENT: u64 = 32768;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
pub const MS_RELATIME: u64 = 1 << 21;
pub const MS_I_VERSION: u64 = 1 << 23;
pub const MS_STRICTATIME: u64 = 1 << 24;
pub const MS_LAZYTIME: u64 = 1 << 25;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// What a config.json mount's `options` mean to the kernel.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: u64,
    /// MS_* flags explicitly cleared (`rw`, `suid`, …), for remounts.
    pub clear: u64,
    /// Propagation changes applied after the mount (MS_SHARED|MS_REC, …), in order.
    pub propagation: Vec<u64>,
    /// Recursive attributes (rro, rnosuid, …) for mount_setattr(AT_RECURSIVE): (set, clear).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// Filesystem-specific options passed through as the data string.
    pub data: Vec<String>,
    /// `tmpcopyup` was given (accepted; reno copies nothing up yet).
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap` was given.
    pub idmap: bool,
    /// `ridmap`: the idmapping applies to the submounts too.
    pub ridmap: bool,
}

/// (name, set, clear) as runc's table in libcontainer/specconv.
const FLAG_OPTIONS: &[(&str, u64, u64)] = &[
    ("async", 0, MS_SYNCHRONOUS),
    ("atime", 0, MS_NOATIME),
    ("bind", MS_BIND, 0),
    ("defaults", 0, 0),
    ("dev", 0, MS_NODEV),
    ("diratime", 0, MS_NODIRATIME),
    ("dirsync", MS_DIRSYNC, 0),
    ("exec", 0, MS_NOEXEC),
    ("iversion", MS_I_VERSION, 0),
    ("lazytime", MS_LAZYTIME, 0),
    ("loud", 0, MS_SILENT),
    ("mand", MS_MANDLOCK, 0),
    ("noatime", MS_NOATIME, 0),
    ("nodev", MS_NODEV, 0),
    ("nodiratime", MS_NODIRATIME, 0),
    ("noexec", MS_NOEXEC, 0),
    ("noiversion", 0, MS_I_VERSION),
    ("nolazytime", 0, MS_LAZYTIME),
    ("nomand", 0, MS_MANDLOCK),
    ("norelatime", 0, MS_RELATIME),
    ("nostrictatime", 0, MS_STRICTATIME),
    ("nosuid", MS_NOSUID, 0),
    ("nosymfollow", MS_NOSYMFOLLOW, 0),
    ("rbind", MS_BIND | MS_REC, 0),
    ("relatime", MS_RELATIME, 0),
    ("remount", MS_REMOUNT, 0),
    ("ro", MS_RDONLY, 0),
    ("rw", 0, MS_RDONLY),
    ("silent", MS_SILENT, 0),
    ("strictatime", MS_STRICTATIME, 0),
    ("suid", 0, MS_NOSUID),
    ("sync", MS_SYNCHRONOUS, 0),
    ("symfollow", 0, MS_NOSYMFOLLOW),
];

const PROPAGATION_OPTIONS: &[(&str, u64)] = &[
    ("private", MS_PRIVATE),
    ("rprivate", MS_PRIVATE | MS_REC),
    ("shared", MS_SHARED),
    ("rshared", MS_SHARED | MS_REC),
    ("slave", MS_SLAVE),
    ("rslave", MS_SLAVE | MS_REC),
    ("unbindable", MS_UNBINDABLE),
    ("runbindable", MS_UNBINDABLE | MS_REC),
];

/// (name, set, clear) for mount_setattr with AT_RECURSIVE.
const RECURSIVE_OPTIONS: &[(&str, u64, u64)] = &[
    ("rro", MOUNT_ATTR_RDONLY, 0),
    ("rrw", 0, MOUNT_ATTR_RDONLY),
    ("rnosuid", MOUNT_ATTR_NOSUID, 0),
    ("rsuid", 0, MOUNT_ATTR_NOSUID),
    ("rnodev", MOUNT_ATTR_NODEV, 0),
    ("rdev", 0, MOUNT_ATTR_NODEV),
    ("rnoexec", MOUNT_ATTR_NOEXEC, 0),
    ("rexec", 0, MOUNT_ATTR_NOEXEC),
    ("rnodiratime", MOUNT_ATTR_NODIRATIME, 0),
    ("rdiratime", 0, MOUNT_ATTR_NODIRATIME),
    ("rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    ("rnorelatime", 0, MOUNT_ATTR__ATIME),
    ("rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
    ("ratime", 0, MOUNT_ATTR_NOATIME),
    ("rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    ("rnostrictatime", 0, MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0),
    ("rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW),
];

/// Every option name reno recognises (for `features`).
pub fn known_option_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = FLAG_OPTIONS.iter().map(|o| o.0).collect();
    v.extend(PROPAGATION_OPTIONS.iter().map(|o| o.0));
    v.extend(RECURSIVE_OPTIONS.iter().map(|o| o.0));
    v.extend(["tmpcopyup", "idmap", "ridmap"]);
    v.sort_unstable();
    v
}

pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let s = opt.as_str();
        if let Some(&(_, set, clear)) = FLAG_OPTIONS.iter().find(|f| f.0 == s) {
            o.flags = (o.flags & !clear) | set;
            o.clear = (o.clear & !set) | clear;
        } else if let Some(&(_, p)) = PROPAGATION_OPTIONS.iter().find(|f| f.0 == s) {
            o.propagation.push(p);
        } else if let Some(&(_, set, clear)) = RECURSIVE_OPTIONS.iter().find(|f| f.0 == s) {
            o.rec_set = (o.rec_set & !clear) | set;
            o.rec_clear |= clear;
        } else if s == "tmpcopyup" {
            o.tmpcopyup = true;
        } else if s == "idmap" || s == "ridmap" {
            o.idmap = true;
            o.ridmap = s == "ridmap";
        } else {
            o.data.push(opt.clone());
        }
    }
    o
}

/// mount(2) with raw flags; `source` and `fstype` may be empty strings.
pub fn mount(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: u64,
    data: Option<&str>,
) -> Result<(), Errno> {
    let data_c = match data {
        Some(d) if !d.is_empty() => Some(std::ffi::CString::new(d).map_err(|_| Errno::INVAL)?),
        _ => None,
    };
    rustix::mount::mount(
        source,
        target,
        fstype,
        MountFlags::from_bits_retain(flags as u32),
        data_c.as_deref(),
    )
}

/// Change the propagation of the mount at `target`.
pub fn set_propagation(target: &Path, flags: u64) -> Result<(), Errno> {
    mount("", target, "", flags, None)
}

/// The flags that belong to a mount rather than to its filesystem: what a bind does not
/// take from its options and a user namespace can lock.
pub const MS_PER_MOUNT: u64 = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

/// The MOUNT_ATTR_* (mount_setattr) form of the MS_PER_MOUNT flags in `flags`.
pub fn per_mount_attrs(flags: u64) -> u64 {
    [
        (MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MS_NODEV, MOUNT_ATTR_NODEV),
        (MS_NOEXEC, MOUNT_ATTR_NOEXEC),
    ]
    .iter()
    .filter(|(ms, _)| flags & ms != 0)
    .fold(0, |acc, (_, attr)| acc | attr)
}

/// Remount a bind mount with `flags` (MS_BIND|MS_REMOUNT added). Where the kernel refuses
/// (EPERM: flags locked by a user namespace), retry keeping the source's locked flags.
pub fn remount_bind(target: &Path, flags: u64) -> Result<(), Errno> {
    match mount("", target, "", flags | MS_BIND | MS_REMOUNT, None) {
        Err(Errno::PERM) => {
            let st = rustix::fs::statvfs(target)?;
            let locked = st.f_flag.bits() & MS_PER_MOUNT;
            mount("", target, "", flags | locked | MS_BIND | MS_REMOUNT, None)
        }
        r => r,
    }
}

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clear}).
pub fn mount_setattr(fd: impl AsFd, recursive: bool, set: u64, clear: u64) -> Result<(), Errno> {
    mount_setattr_userns(fd, recursive, set, clear, None)
}

/// mount_setattr with `userns_fd` filled in (MOUNT_ATTR_IDMAP needs it).
pub fn mount_setattr_userns(
    fd: impl AsFd,
    recursive: bool,
    set: u64,
    clear: u64,
    userns: Option<rustix::fd::BorrowedFd<'_>>,
) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: userns.map_or(0, |u| u.as_raw_fd() as u64),
    };
    let flags: u32 = 0x1000 /* AT_EMPTY_PATH */ | if recursive { 0x8000 } else { 0 };
    let empty = b"\0";
    // SAFETY: the path is a NUL-terminated empty string and attr a valid mount_attr; both
    // outlive the call.
    unsafe {
        syscall!(
            Sysno::mount_setattr,
            fd.as_fd().as_raw_fd(),
            empty.as_ptr() as usize,
            flags,
            &attr as *const MountAttr as usize,
            std::mem::size_of::<MountAttr>()
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

pub fn unmount_detach(target: &Path) -> Result<(), Errno> {
    rustix::mount::unmount(target, UnmountFlags::DETACH)
}

/// Init found its `/` to be the initramfs, which pivot_root can't leave (EINVAL): the
/// containers of its forked runtimes go straight to move + chroot. Fixed for the life of
/// the process (and its forks); false means "try pivot_root".
static ROOT_IS_INITRAMFS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn note_root_is_initramfs() {
    ROOT_IS_INITRAMFS.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub fn root_is_known_initramfs() -> bool {
    ROOT_IS_INITRAMFS.load(std::sync::atomic::Ordering::Relaxed)
}

/// pivot_root into `rootfs` without a put_old directory (runc's trick): pivot "." onto ".",
/// then detach the old root that now sits on top.
pub fn pivot_into(rootfs: &Path) -> Result<(), Errno> {
    use rustix::fs::{Mode, OFlags};
    let old = rustix::fs::open(
        "/",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let new = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::process::fchdir(&new)?;
    rustix::process::pivot_root(".", ".")?;
    rustix::process::fchdir(&old)?;
    // Keep unmount events of the old root from propagating back to the host.
    mount("", Path::new("."), "", MS_SLAVE | MS_REC, None)?;
    unmount_detach(Path::new("."))?;
    rustix::process::chdir("/")
}

/// The fallback where pivot_root can't work (the current root is initramfs/ramfs, or
/// `--no-pivot`): detach every host mount outside the rootfs, move the rootfs onto `/` and
/// chroot into it.
pub fn move_root(rootfs: &Path) -> Result<(), Errno> {
    detach_mounts_outside(rootfs);
    rustix::process::chdir(rootfs)?;
    mount(&rootfs.to_string_lossy(), Path::new("/"), "", MS_MOVE, None)?;
    rustix::process::chroot(".")?;
    rustix::process::chdir("/")
}

/// Lazily unmount every mount that is not the rootfs or below it, so nothing of the host
/// stays reachable once we chroot. A lazy unmount takes the mounts below along, so only the
/// outermost ones are unmounted (each unmount waits for an RCU grace period: /sys and its
/// cgroup2, /dev and its pts and shm go in one each); where that fails (a locked mount in
/// a user namespace), the ones below it are tried one by one, deepest first. What stays is
/// left for the masking that follows.
fn detach_mounts_outside(rootfs: &Path) {
    let Ok(info) = super::fs::read_small("/proc/self/mountinfo") else {
        return;
    };
    let points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p != Path::new("/") && !p.starts_with(rootfs) && !rootfs.starts_with(p))
        .collect();
    for (top, stacked, below) in outermost(points) {
        if unmount_detach(&top).is_ok() {
            for _ in 1..stacked {
                let _ = unmount_detach(&top);
            }
        } else {
            for p in below {
                let _ = unmount_detach(&p);
            }
        }
    }
}

/// The mount points grouped under their outermost ones: (outermost, how many mounts are
/// stacked on it, every point below it deepest first).
fn outermost(mut points: Vec<PathBuf>) -> Vec<(PathBuf, usize, Vec<PathBuf>)> {
    // Sorted by components, a mount's descendants follow it. A point listed n times has n
    // mounts stacked on it.
    points.sort();
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let top = points[i].clone();
        let end = points[i + 1..]
            .iter()
            .position(|p| !p.starts_with(&top))
            .map_or(points.len(), |n| i + 1 + n);
        let stacked = points[i..end].iter().filter(|p| **p == top).count();
        let mut below: Vec<PathBuf> = points[i + 1..end]
            .iter()
            .filter(|p| **p != top)
            .cloned()
            .collect();
        below.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        out.push((top, stacked, below));
        i = end;
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A detached, read-only overlayfs whose layers are `lowers` (the first on top), with no
/// upper layer: `fsopen("overlay")`, `fsconfig(FSCONFIG_SET_STRING, "lowerdir", "A:B")`,
/// `fsconfig(…, "xino", "off")`, `fsconfig(FSCONFIG_CMD_CREATE)`,
/// `fsmount(…, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID)`. It is attached
/// nowhere: only the returned fd (and files opened through it) reach it. Without an upper
/// layer overlayfs wants at least two lower ones, and refuses layers that contain each
/// other (EINVAL/ELOOP).
pub fn overlay_read_only(lowers: &[&Path]) -> Result<rustix::fd::OwnedFd, Errno> {
    use rustix::mount::{fsconfig_create, fsconfig_set_string, fsmount, fsopen};
    use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};
    let ctx = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let list = std::ffi::CString::new(lowerdir_list(lowers)).map_err(|_| Errno::INVAL)?;
    fsconfig_set_string(&ctx, "lowerdir", list.as_c_str())?;
    // Layers on different filesystems would otherwise turn xino on (and log about it); its
    // inode numbers would no longer be the real ones either.
    let _ = fsconfig_set_string(&ctx, "xino", "off");
    fsconfig_create(&ctx)?;
    fsmount(
        &ctx,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )
}

/// A detached, empty, read-only tmpfs: `fsopen("tmpfs")`, `fsconfig(FSCONFIG_CMD_CREATE)`,
/// `fsmount(…, MOUNT_ATTR_RDONLY)`. A directory nobody else can see or fill.
pub fn empty_tmpfs() -> Result<rustix::fd::OwnedFd, Errno> {
    use rustix::mount::{fsconfig_create, fsmount, fsopen};
    use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};
    let ctx = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_create(&ctx)?;
    fsmount(
        &ctx,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )
}

/// overlayfs' `lowerdir` value: the layers joined with ':', each ':' and '\\' in a path
/// escaped with '\\' (runc's escapeOverlayLowerDir).
fn lowerdir_list(lowers: &[&Path]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut list = Vec::new();
    for (i, l) in lowers.iter().enumerate() {
        if i > 0 {
            list.push(b':');
        }
        for &c in l.as_os_str().as_bytes() {
            if c == b':' || c == b'\\' {
                list.push(b'\\');
            }
            list.push(c);
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_mounts_are_detached_by_their_outermost_points() {
        let p = |s: &[&str]| s.iter().map(PathBuf::from).collect::<Vec<_>>();
        let got = outermost(p(&[
            "/sys/fs/cgroup",
            "/dev",
            "/sys",
            "/dev/pts",
            "/devices",
            "/tmp",
            "/tmp",
            "/dev/shm",
            "/sys/kernel/debug",
            "/sys/kernel/debug/tracing",
        ]));
        assert_eq!(
            got,
            vec![
                (PathBuf::from("/dev"), 1, p(&["/dev/pts", "/dev/shm"])),
                (PathBuf::from("/devices"), 1, vec![]),
                (
                    PathBuf::from("/sys"),
                    1,
                    p(&[
                        "/sys/kernel/debug/tracing",
                        "/sys/fs/cgroup",
                        "/sys/kernel/debug"
                    ])
                ),
                (PathBuf::from("/tmp"), 2, vec![]),
            ]
        );
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&v(&[
            "rbind",
            "ro",
            "nosuid",
            "rslave",
            "mode=755",
            "size=65536k",
        ]));
        assert_eq!(o.flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
        assert_eq!(o.propagation, vec![MS_SLAVE | MS_REC]);
        assert_eq!(o.data, v(&["mode=755", "size=65536k"]));
    }

    #[test]
    fn later_options_override_earlier() {
        let o = parse_options(&v(&["ro", "rw"]));
        assert_eq!(o.flags & MS_RDONLY, 0);
        assert_eq!(o.clear & MS_RDONLY, MS_RDONLY);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse_options(&v(&["rro", "rnosymfollow"]));
        assert_eq!(o.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSYMFOLLOW);
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    }

    #[test]
    fn lowerdir_list_escapes_colons_and_backslashes() {
        let l = super::lowerdir_list(&[Path::new("/usr/bin"), Path::new("/run/a:b\\c")]);
        assert_eq!(l, b"/usr/bin:/run/a\\:b\\\\c".to_vec());
    }
}
