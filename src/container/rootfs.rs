//! Building the container's filesystem view inside its mount namespace, before the root
//! switch: the rootfs bind, config.json's mounts in order, /dev. Every destination is
//! resolved inside the rootfs by fd (openat2 RESOLVE_IN_ROOT) and mounted through
//! /proc/self/fd/N, so symlinks in the image can't redirect a mount to the host.

use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::cgroups;
use crate::error::{Context, Error, Result};
use crate::linux::fs::{fd_path, mkdir_all_in_root, open_in_root, touch_in_root};
use crate::linux::mount::{self as m, MountOptions};
use crate::spec::{LinuxDevice, LinuxDeviceType, Mount};

pub struct Rootfs {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// Make the host's mounts invisible to propagation, then bind the rootfs onto itself so it
/// is a mount point (pivot_root needs one). Without a mount namespace of its own the
/// container shares the caller's mounts: nothing of those is changed, the root switch is a
/// plain chroot (as runc).
pub fn prepare(rootfs: &Path, propagation: Option<&str>, own_mountns: bool) -> Result<Rootfs> {
    let open = || {
        rustix::fs::open(
            rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx_path("open rootfs", rootfs)
    };
    if !own_mountns {
        return Ok(Rootfs {
            path: rootfs.to_path_buf(),
            fd: open()?,
        });
    }
    let flag = propagation_flag(propagation).unwrap_or(m::MS_SLAVE | m::MS_REC);
    match m::set_propagation(Path::new("/"), flag) {
        // Inside a chroot whose root is not a mount point (no parent mount to change): what
        // we inherited stays; pivot_root will fail the same way and the move + chroot
        // fallback takes over.
        Err(rustix::io::Errno::INVAL) => {
            log::debug!("set root propagation: / is not a mount point")
        }
        r => r.ctx_path("set root propagation", "/")?,
    }
    if flag & m::MS_SHARED != 0 {
        make_parent_private(rootfs)?;
    }
    m::mount(
        &rootfs.to_string_lossy(),
        rootfs,
        "bind",
        m::MS_BIND | m::MS_REC,
        None,
    )
    .ctx_path("bind rootfs", rootfs)?;
    let fd = open()?;
    Ok(Rootfs {
        path: rootfs.to_path_buf(),
        fd,
    })
}

pub fn propagation_flag(p: Option<&str>) -> Option<u64> {
    Some(match p? {
        "private" => m::MS_PRIVATE,
        "rprivate" => m::MS_PRIVATE | m::MS_REC,
        "slave" => m::MS_SLAVE,
        "rslave" => m::MS_SLAVE | m::MS_REC,
        "shared" => m::MS_SHARED,
        "rshared" => m::MS_SHARED | m::MS_REC,
        "unbindable" => m::MS_UNBINDABLE,
        "runbindable" => m::MS_UNBINDABLE | m::MS_REC,
        _ => return None,
    })
}

/// pivot_root refuses a new root whose parent mount is shared: make the mount holding the
/// rootfs private (only needed when the config asks for shared propagation on `/`).
fn make_parent_private(rootfs: &Path) -> Result<()> {
    let info = crate::linux::fs::read_small("/proc/self/mountinfo")
        .ctx_path("read", "/proc/self/mountinfo")?;
    let parent = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(m::unescape_mountinfo)
        .filter(|p| rootfs.starts_with(p))
        .max_by_key(|p| p.len())
        .unwrap_or_else(|| "/".to_string());
    m::set_propagation(Path::new(&parent), m::MS_PRIVATE)
        .ctx_path("make rootfs parent private", &parent)
}

/// Where a config path goes: absolute inside the container.
fn dest_of(mnt: &Mount) -> PathBuf {
    let d = mnt.destination();
    if d.is_absolute() {
        d.clone()
    } else {
        Path::new("/").join(d)
    }
}

pub struct MountCtx<'a> {
    pub root: &'a Rootfs,
    pub bundle: &'a Path,
    pub cgroup_path: &'a str,
    pub new_cgroupns: bool,
    /// `linux.mountLabel` (SELinux), for the mounts that take a context.
    pub mount_label: Option<&'a str>,
}

/// Mount one config.json entry; `tree` is its idmapped source, detached, when it has one.
pub fn mount_entry(ctx: &MountCtx, mnt: &Mount, tree: Option<&OwnedFd>) -> Result<()> {
    let dest = dest_of(mnt);
    let typ = mnt.typ().as_deref().unwrap_or("");
    let opts = m::parse_options(mnt.options().as_deref().unwrap_or(&[]));
    let step = format!("mount {}", dest.display());
    let target_err = |e: Errno| {
        Error::sys(step.clone(), e).path(ctx.root.path.join(crate::linux::fs::relative(&dest)))
    };
    let is_bind = opts.flags & m::MS_BIND != 0 || typ == "bind";
    if is_bind {
        let src = mnt.source().clone().unwrap_or_default();
        let src = if src.is_absolute() {
            src
        } else {
            ctx.bundle.join(src)
        };
        let meta = std::fs::metadata(&src).ctx_path(&format!("{step}: bind source"), &src)?;
        let target = if meta.is_dir() {
            mkdir_all_in_root(&ctx.root.fd, &dest)
        } else {
            touch_in_root(&ctx.root.fd, &dest)
        }
        .map_err(target_err)?;
        let rec = opts.flags & m::MS_REC;
        match tree {
            Some(t) => crate::linux::idmap::attach(t, &target),
            None => m::mount(
                &src.to_string_lossy(),
                &fd_path(&target),
                "",
                m::MS_BIND | rec,
                None,
            ),
        }
        .map_err(|e| target_err(e).detail(format!("source {}", src.display())))?;
        let extra = opts.flags & !(m::MS_BIND | m::MS_REC | m::MS_REMOUNT);
        if extra != 0 {
            let fd = open_in_root(&ctx.root.fd, &dest, OFlags::PATH).map_err(target_err)?;
            m::remount_bind(&fd_path(&fd), extra | rec)
                .map_err(|e| target_err(e).detail("remount"))?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(ctx, &dest, &opts).map_err(|e| Error {
            step: format!("{step}: {}", e.step),
            ..e
        })?;
    } else {
        let checked = if typ == "proc" || typ == "sysfs" {
            ordinary_dir(&ctx.root.fd, &dest).map_err(|e| {
                target_err(e).detail(format!(
                    "{typ} must be mounted on an ordinary directory (not a symlink or a file)"
                ))
            })?
        } else {
            None
        };
        let target = match checked {
            Some(dir) => dir,
            None => mkdir_all_in_root(&ctx.root.fd, &dest).map_err(target_err)?,
        };
        let src = mnt
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| typ.to_string());
        let data = super::lsm::with_mount_label(&opts.data.join(","), typ, ctx.mount_label);
        m::mount(
            &src,
            &fd_path(&target),
            typ,
            opts.flags & !m::MS_REMOUNT,
            Some(&data),
        )
        .map_err(|e| {
            let d = match (e, data.contains("context=")) {
                (Errno::NODEV, _) => format!("unknown filesystem type {typ:?}"),
                // Also what the kernel says to a label the loaded policy doesn't define.
                (Errno::INVAL, true) => format!(
                    "type {typ:?}, with SELinux mount label {:?} (linux.mountLabel)",
                    ctx.mount_label.unwrap_or_default()
                ),
                _ => format!("type {typ:?}"),
            };
            target_err(e).detail(d)
        })?;
        if let (Some(label), "mqueue") = (ctx.mount_label, typ) {
            // mqueue takes no context= option: runc labels its root instead.
            let fd = open_in_root(&ctx.root.fd, &dest, OFlags::PATH).map_err(target_err)?;
            super::lsm::label_file(&fd_path(&fd), label)?;
        }
    }
    apply_after(ctx, &dest, &opts).map_err(target_err)
}

/// A proc or sysfs destination that exists must be a directory itself, not a symlink to
/// one (runc's rule): an image whose /proc points elsewhere would have the real procfs
/// mounted where it chose (over its own root, or a decoy tree) and the masks applied
/// through its links. Returns the directory (O_PATH) when it exists, to mount on.
fn ordinary_dir(root: &OwnedFd, dest: &Path) -> std::result::Result<Option<OwnedFd>, Errno> {
    match open_in_root(root, dest, OFlags::PATH | OFlags::NOFOLLOW) {
        Ok(fd) => match FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) {
            FileType::Directory => Ok(Some(fd)),
            _ => Err(Errno::NOTDIR),
        },
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Propagation changes and recursive attributes, applied to the new mount.
fn apply_after(ctx: &MountCtx, dest: &Path, opts: &MountOptions) -> std::result::Result<(), Errno> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    let fd = open_in_root(&ctx.root.fd, dest, OFlags::PATH)?;
    for p in &opts.propagation {
        m::set_propagation(&fd_path(&fd), *p)?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        m::mount_setattr(&fd, true, opts.rec_set, opts.rec_clear)?;
    }
    Ok(())
}

/// A `cgroup`/`cgroup2` mount: on a v2 host one cgroup2 mount; on v1/hybrid a tmpfs with
/// one mount per hierarchy. With a new cgroup namespace the kernel shows only the
/// container's subtree; without one the container's own directories are bound instead, so
/// the host's tree is never visible.
fn mount_cgroup(ctx: &MountCtx, dest: &Path, opts: &MountOptions) -> Result<()> {
    let hier = cgroups::hierarchies_once();
    let flags = opts.flags & !(m::MS_RDONLY | m::MS_REMOUNT);
    let rel = ctx.cgroup_path.trim_start_matches('/');
    let target_of = |p: &Path| -> Result<OwnedFd> {
        mkdir_all_in_root(&ctx.root.fd, p).ctx_path("create cgroup mount point", p)
    };
    let only_v2 = hier.iter().all(|h| h.v2);
    if only_v2 {
        let t = target_of(dest)?;
        if ctx.new_cgroupns {
            m::mount(
                "cgroup2",
                &fd_path(&t),
                "cgroup2",
                flags | (opts.flags & m::MS_RDONLY),
                None,
            )
            .ctx("mount cgroup2")?;
        } else if let Some(h) = hier.first() {
            let src = h.mount_point.join(rel);
            m::mount(&src.to_string_lossy(), &fd_path(&t), "", m::MS_BIND, None)
                .ctx_path("bind cgroup", &src)?;
            // A bind takes none of the config's flags: remount with them.
            let per_mount = opts.flags & m::MS_PER_MOUNT;
            if per_mount != 0 {
                let t =
                    open_in_root(&ctx.root.fd, dest, OFlags::PATH).ctx("reopen cgroup mount")?;
                m::remount_bind(&fd_path(&t), flags | per_mount).ctx("remount cgroup")?;
            }
        }
        return Ok(());
    }
    let t = target_of(dest)?;
    m::mount("tmpfs", &fd_path(&t), "tmpfs", flags, Some("mode=755")).ctx("mount cgroup tmpfs")?;
    // The tmpfs just mounted is ours alone and empty: its mount points are made and opened
    // by name from its root (no symlink can be there), two syscalls each instead of a
    // resolution from the container's root.
    let tmpfs = open_in_root(&ctx.root.fd, dest, OFlags::DIRECTORY | OFlags::RDONLY)
        .ctx("open cgroup tmpfs")?;
    for h in &hier {
        let name = mount_point_name(h);
        let sub = dest.join(&name);
        match rustix::fs::mkdirat(&tmpfs, name.as_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::sys("create cgroup mount point", e).path(&sub)),
        }
        let t = rustix::fs::openat(
            &tmpfs,
            name.as_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx_path("open cgroup mount point", &sub)?;
        let res = if ctx.new_cgroupns {
            if h.v2 {
                m::mount("cgroup2", &fd_path(&t), "cgroup2", flags, None)
            } else {
                m::mount(
                    "cgroup",
                    &fd_path(&t),
                    "cgroup",
                    flags,
                    Some(&h.controllers.join(",")),
                )
            }
        } else {
            let src = h.mount_point.join(rel);
            m::mount(&src.to_string_lossy(), &fd_path(&t), "", m::MS_BIND, None)
        };
        res.ctx_path("mount cgroup hierarchy", &sub)?;
        // Co-mounted controllers (cpu,cpuacct) get the per-controller symlinks runc makes.
        if !h.v2 && h.controllers.len() > 1 {
            for c in &h.controllers {
                let c = c.trim_start_matches("name=");
                if c != name {
                    let _ = rustix::fs::symlinkat(name.as_str(), &tmpfs, c);
                }
            }
        }
    }
    seal_cgroup_tree(&tmpfs, dest, opts.flags, &hier)
}

/// Give the tmpfs and every hierarchy under it the config's ro/nosuid/nodev/noexec: a bind
/// ignores them, and a hierarchy left writable lets the container's root raise its own
/// limits (pids.max, memory.limit_in_bytes). One recursive mount_setattr (Linux ≥ 5.12);
/// on older kernels a remount of each.
fn seal_cgroup_tree(
    tmpfs: &OwnedFd,
    dest: &Path,
    flags: u64,
    hier: &[cgroups::Hierarchy],
) -> Result<()> {
    let set = m::per_mount_attrs(flags);
    if set == 0 {
        return Ok(());
    }
    match m::mount_setattr(tmpfs, true, set, 0) {
        Ok(()) => return Ok(()),
        Err(Errno::NOSYS) => {}
        Err(e) => return Err(Error::sys("make the cgroup mounts read-only", e).path(dest)),
    }
    let per_mount = flags & m::MS_PER_MOUNT;
    for name in hier.iter().map(mount_point_name) {
        // Opened after the mount, so the fd is the hierarchy's mount, not the tmpfs under it.
        let t = rustix::fs::openat(
            tmpfs,
            name.as_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx_path("reopen cgroup hierarchy", dest.join(&name))?;
        m::remount_bind(&fd_path(&t), per_mount)
            .ctx_path("remount cgroup hierarchy", dest.join(&name))?;
    }
    m::mount("", &fd_path(tmpfs), "", flags | m::MS_REMOUNT, None).ctx("remount cgroup tmpfs")
}

/// The directory a hierarchy is mounted on under /sys/fs/cgroup: `unified` for v2, else its
/// controllers (`cpu,cpuacct`, `systemd` for name=systemd).
fn mount_point_name(h: &cgroups::Hierarchy) -> String {
    if h.v2 {
        "unified".to_string()
    } else {
        h.controllers
            .iter()
            .map(|c| c.trim_start_matches("name="))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Does the config mount something over /dev itself by bind (then reno leaves /dev alone)?
pub fn dev_is_bound(mounts: &[Mount]) -> bool {
    mounts.iter().any(|mnt| {
        dest_of(mnt) == Path::new("/dev")
            && (mnt.typ().as_deref() == Some("bind")
                || mnt
                    .options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

/// The default devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: &[(&str, u32, u32, u32)] = &[
    ("/dev/null", 1, 3, 0o666),
    ("/dev/zero", 1, 5, 0o666),
    ("/dev/full", 1, 7, 0o666),
    ("/dev/random", 1, 8, 0o666),
    ("/dev/urandom", 1, 9, 0o666),
    ("/dev/tty", 5, 0, 0o666),
];

/// Create the default devices and `linux.devices`; mknod where allowed, otherwise bind the
/// host's node (user namespaces), then the /dev symlinks and ptmx.
pub fn setup_dev(root: &Rootfs, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    // mknod with no umask makes the exact mode: no chmod after each node (see make_device).
    let umask = rustix::process::umask(Mode::empty());
    let r = make_devices(root, devices, in_userns);
    rustix::process::umask(umask);
    dev_links(root, r?)
}

/// Returns the directory of the last node made (usually /dev), still open.
fn make_devices(root: &Rootfs, devices: &[LinuxDevice], in_userns: bool) -> Result<Option<DevDir>> {
    let me = Owner {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
    };
    // The directory of the last device made, kept open for the next one (usually /dev).
    let mut dir: Option<DevDir> = None;
    for &(path, major, minor, mode) in DEFAULT_DEVICES {
        if devices.iter().any(|d| d.path() == Path::new(path)) {
            continue;
        }
        make_device(
            root,
            &mut dir,
            Path::new(path),
            FileType::CharacterDevice,
            major,
            minor,
            mode,
            Owner { uid: 0, gid: 0 },
            me,
            in_userns,
        )?;
    }
    for d in devices {
        let ft = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => {
                return Err(Error::invalid(
                    "config",
                    format!(
                        "linux.devices: {}: type 'a' is only valid in the device cgroup",
                        d.path().display()
                    ),
                ))
            }
        };
        let mode = d.file_mode().unwrap_or(0o666);
        make_device(
            root,
            &mut dir,
            d.path(),
            ft,
            d.major() as u32,
            d.minor() as u32,
            mode,
            Owner {
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            },
            me,
            in_userns,
        )?;
    }
    Ok(dir)
}

/// The /dev symlinks and ptmx, in `last` if that is /dev (`make_devices`).
fn dev_links(root: &Rootfs, last: Option<DevDir>) -> Result<()> {
    let dev = match last {
        Some(d) if d.parent == Path::new("dev") => d.fd,
        _ => open_in_root(
            &root.fd,
            Path::new("/dev"),
            OFlags::DIRECTORY | OFlags::RDONLY,
        )
        .ctx("open /dev")?,
    };
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match rustix::fs::symlinkat(target, &dev, link) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::sys("create /dev symlink", e).path(format!("/dev/{link}"))),
        }
    }
    // As runc: /dev/core where the kernel has /proc/kcore (one already there stays).
    if kernel_has_kcore() {
        let _ = rustix::fs::symlinkat("/proc/kcore", &dev, "core");
    }
    // /dev/ptmx → pts/ptmx, replacing whatever the image had (a fresh /dev has nothing).
    let ptmx = || rustix::fs::symlinkat("pts/ptmx", &dev, "ptmx");
    match ptmx() {
        Err(Errno::EXIST) => {
            let _ = rustix::fs::unlinkat(&dev, "ptmx", rustix::fs::AtFlags::empty());
            ptmx()
        }
        r => r,
    }
    .ctx_path("create /dev/ptmx", "/dev/ptmx")
}

/// Whether /proc/kcore exists (CONFIG_PROC_KCORE): looked up once per process, so init's
/// forked runtimes inherit the answer.
pub fn kernel_has_kcore() -> bool {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| Path::new("/proc/kcore").exists())
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// A directory devices are made in: its path in the rootfs, an fd, and whether it is
/// set-group-ID (new nodes then take its group, not ours).
struct DevDir {
    parent: PathBuf,
    fd: OwnedFd,
    setgid: bool,
}

/// One node, made with the umask at 0 (`setup_dev`): chmod only for the set-ID and sticky
/// bits mknod may drop, chown only when the owner is not who we are.
#[allow(clippy::too_many_arguments)]
fn make_device(
    root: &Rootfs,
    dir_cache: &mut Option<DevDir>,
    path: &Path,
    ft: FileType,
    major: u32,
    minor: u32,
    mode: u32,
    owner: Owner,
    me: Owner,
    in_userns: bool,
) -> Result<()> {
    let rel = crate::linux::fs::relative(path);
    let (parent, name) = match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
        _ => {
            return Err(Error::invalid(
                "config",
                format!("linux.devices: bad path {}", path.display()),
            ))
        }
    };
    if !rel.starts_with("dev") {
        return Err(Error::invalid(
            "config",
            format!("linux.devices: {} is not under /dev", path.display()),
        ));
    }
    let cached = match dir_cache.take() {
        Some(d) if d.parent == parent => d,
        _ => {
            let dir = mkdir_all_in_root(&root.fd, &parent).ctx_path("create device dir", path)?;
            let fd = rustix::fs::openat(
                &dir,
                ".",
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ctx_path("open device dir", path)?;
            let setgid = rustix::fs::fstat(&fd)
                .ctx_path("stat device dir", path)?
                .st_mode
                & 0o2000
                != 0;
            DevDir { parent, fd, setgid }
        }
    };
    let cached = dir_cache.insert(cached);
    let (dir, dir_setgid) = (&cached.fd, cached.setgid);
    let dev = rustix::fs::makedev(major, minor);
    let mknod = || {
        rustix::fs::mknodat(
            dir,
            name.as_os_str(),
            ft,
            Mode::from_raw_mode(mode & 0o7777),
            dev,
        )
    };
    let made = if in_userns {
        let _ = rustix::fs::unlinkat(dir, name.as_os_str(), rustix::fs::AtFlags::empty());
        Err(Errno::PERM)
    } else {
        // A fresh /dev is empty: remove what the image has there only when there is
        // something (and before the bind fallback, as in a user namespace).
        match mknod() {
            Err(e @ (Errno::EXIST | Errno::PERM)) => {
                let _ = rustix::fs::unlinkat(dir, name.as_os_str(), rustix::fs::AtFlags::empty());
                if e == Errno::EXIST {
                    mknod()
                } else {
                    Err(e)
                }
            }
            r => r,
        }
    };
    match made {
        Ok(()) => {
            if mode & 0o7000 != 0 {
                rustix::fs::chmodat(
                    dir,
                    name.as_os_str(),
                    Mode::from_raw_mode(mode & 0o7777),
                    rustix::fs::AtFlags::empty(),
                )
                .ctx_path("chmod device", path)?;
            }
            if owner != me || dir_setgid {
                rustix::fs::chownat(
                    dir,
                    name.as_os_str(),
                    Some(rustix::fs::Uid::from_raw(owner.uid)),
                    Some(rustix::fs::Gid::from_raw(owner.gid)),
                    rustix::fs::AtFlags::empty(),
                )
                .ctx_path("chown device", path)?;
            }
            Ok(())
        }
        Err(Errno::PERM) => {
            // Unprivileged: bind the host's node onto an empty file, as runc does.
            let t = touch_in_root(&root.fd, path).ctx_path("create device bind target", path)?;
            m::mount(&path.to_string_lossy(), &fd_path(&t), "", m::MS_BIND, None)
                .ctx_path("bind device", path)
        }
        Err(e) => Err(Error::sys("mknod", e).path(path)),
    }
}

/// Mask a path after the root switch: /dev/null over files, a read-only tmpfs over
/// directories. Missing paths are fine.
pub fn mask_path(path: &str) -> Result<()> {
    let p = Path::new(path);
    // As runc: bind /dev/null over it; the kernel refuses a file over a directory
    // (ENOTDIR), which gets an empty read-only tmpfs instead. One syscall for a file.
    match m::mount("/dev/null", p, "", m::MS_BIND, None) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        // ENOTDIR again: a component on the way is a file, so there is nothing to mask.
        Err(Errno::NOTDIR) => match m::mount("tmpfs", p, "tmpfs", m::MS_RDONLY, None) {
            Ok(()) | Err(Errno::NOTDIR) => Ok(()),
            Err(e) => Err(Error::sys("mask", e).path(p)),
        },
        Err(e) => Err(Error::sys("mask", e).path(p)),
    }
}

/// Make a path read-only after the root switch: bind it onto itself, remount read-only.
pub fn readonly_path(path: &str) -> Result<()> {
    let p = Path::new(path);
    match m::mount(path, p, "", m::MS_BIND | m::MS_REC, None) {
        Err(Errno::NOENT) => return Ok(()),
        r => r.ctx_path("bind readonly path", p)?,
    }
    m::remount_bind(p, m::MS_RDONLY | m::MS_REC).ctx_path("remount readonly path", p)
}

/// Remount the (already switched-to) root read-only.
pub fn readonly_root() -> Result<()> {
    m::remount_bind(Path::new("/"), m::MS_RDONLY).ctx_path("remount root read-only", "/")
}
