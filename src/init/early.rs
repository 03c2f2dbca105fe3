//! The early system reno sets up as PID 1, before any container: the kernel hands over a bare
//! root (devtmpfs is not even mounted), so this does what an initramfs script or busybox's
//! rcS would: /proc, /sys, /dev, /dev/pts, /dev/shm, /run, cgroups, /tmp, the board's mounts,
//! hostname, loopback, and optionally a switch to the real root and a read-only `/`.

use std::path::Path;

use crate::error::{Context, Error, Result};
use crate::linux::mount::{
    self as m, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_RELATIME, MS_REMOUNT,
};

use super::board::{Board, CgroupMode, MountEntry};
use super::log;

/// Everything before the supervisor starts. Errors are fatal (the caller logs and reboots);
/// optional parts (loopback, optional board mounts, cgroup controllers) only warn.
pub fn setup(board: &Board) -> Result<()> {
    base_mounts()?;
    for (i, md) in board.modules.iter().enumerate() {
        if let Err(e) = load_module(i, md) {
            if md.optional {
                log::warn(&format!("{e} (optional)"));
            } else {
                return Err(e);
            }
        }
    }
    if let Some(sr) = &board.switch_root {
        if root_is_initramfs() {
            switch_root(sr)?;
            // The new root has its own empty /dev/pts, /dev/shm, /run mount points.
            base_mounts()?;
        } else {
            log::info("/ is not an initramfs: switchRoot skipped");
        }
    }
    cgroups(board.cgroup)?;
    if board.tmp {
        mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")?;
    }
    for (i, me) in board.mounts.iter().enumerate() {
        if let Err(e) = board_mount(me) {
            if me.optional {
                log::warn(&format!("mounts[{i}] (optional): {e}"));
            } else {
                return Err(e);
            }
        }
    }
    if let Some(h) = &board.hostname {
        rustix::system::sethostname(h.as_bytes()).ctx("sethostname")?;
    }
    if board.loopback {
        if let Err(e) = crate::linux::netif::set_up("lo") {
            log::warn(&format!("bring lo up: {}", crate::error::errno_text(e)));
        }
    }
    if board.root_read_only {
        m::mount("", Path::new("/"), "", MS_REMOUNT | MS_RDONLY, None)
            .ctx_path("remount / read-only", "/")?;
    }
    Ok(())
}

fn load_module(i: usize, md: &super::board::Module) -> Result<()> {
    let step = format!("modules[{i}]: load module");
    if !md.path.exists() {
        return Err(Error::failed(step, "no such file").path(&md.path));
    }
    match crate::linux::kmod::load(&md.path, &md.params) {
        Ok(()) => {
            log::info(&format!("loaded module {}", md.path.display()));
            Ok(())
        }
        // The kernel's answer to an unresolved symbol.
        Err(rustix::io::Errno::NOENT) => Err(Error::failed(
            step,
            "unknown symbol: load the modules it depends on first (depends= in its .modinfo)",
        )
        .path(&md.path)),
        Err(e) => Err(Error::sys(step, e).path(&md.path)),
    }
}

/// The API filesystems every container runtime and tool expects.
fn base_mounts() -> Result<()> {
    mount_fs(
        "proc",
        "/proc",
        "proc",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        "",
    )?;
    mount_fs(
        "sysfs",
        "/sys",
        "sysfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        "",
    )?;
    mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755")?;
    mount_fs(
        "devpts",
        "/dev/pts",
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "gid=5,mode=0620,ptmxmode=0666",
    )?;
    mount_fs(
        "shm",
        "/dev/shm",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        "mode=1777",
    )?;
    mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")?;
    Ok(())
}

/// Is `target` already a mount point? (compares with its parent's device, like mountpoint(1);
/// before /proc exists this is all we can ask.)
fn is_mount_point(target: &Path) -> bool {
    let Some(parent) = target.parent() else {
        return true;
    };
    match (rustix::fs::stat(target), rustix::fs::stat(parent)) {
        (Ok(a), Ok(b)) => a.st_dev != b.st_dev || a.st_ino == b.st_ino,
        _ => false,
    }
}

/// Mount unless something is already mounted there (a kernel with CONFIG_DEVTMPFS_MOUNT, or
/// an initramfs script that ran before reno).
fn mount_fs(source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> Result<()> {
    let t = Path::new(target);
    std::fs::create_dir_all(t).ctx_path("create mount point", t)?;
    if is_mount_point(t) {
        return Ok(());
    }
    m::mount(source, t, fstype, flags, Some(data))
        .map_err(|e| Error::sys(format!("mount {fstype}"), e).path(t))
}

fn board_mount(me: &MountEntry) -> Result<()> {
    let o = m::parse_options(&me.options);
    std::fs::create_dir_all(&me.destination).ctx_path("create mount point", &me.destination)?;
    let data = o.data.join(",");
    m::mount(
        &me.source,
        &me.destination,
        &me.fstype,
        o.flags,
        Some(&data),
    )
    .map_err(|e| {
        Error::sys(format!("mount {} {}", me.fstype, me.source), e).path(&me.destination)
    })?;
    for p in o.propagation {
        m::set_propagation(&me.destination, p)
            .ctx_path("set mount propagation", &me.destination)?;
    }
    Ok(())
}

fn cgroups(mode: CgroupMode) -> Result<()> {
    let root = Path::new("/sys/fs/cgroup");
    let flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
    match mode {
        CgroupMode::None => Ok(()),
        CgroupMode::V2 => cgroup2(root, flags),
        CgroupMode::V1 => cgroup1(root, flags),
        // Prefer the unified hierarchy; old BSP kernels may lack it.
        CgroupMode::Auto => cgroup2(root, flags).or_else(|e| {
            log::warn(&format!("cgroup v2 unavailable ({e}), trying v1"));
            cgroup1(root, flags)
        }),
    }
}

fn cgroup2(root: &Path, flags: u64) -> Result<()> {
    std::fs::create_dir_all(root).ctx_path("create mount point", root)?;
    if !is_mount_point(root) {
        // favordynmods (Linux 6.0): moving a process between cgroups and enabling
        // controllers no longer wait for an RCU grace period each (a percpu rwsem's
        // writer side), at a small cost to fork and exit; every container start does both
        // (tens of ms under TCG). Older kernels refuse the option: mount without it.
        m::mount(
            "cgroup2",
            root,
            "cgroup2",
            flags,
            Some("nsdelegate,favordynmods"),
        )
        .or_else(|e| match e {
            rustix::io::Errno::INVAL => {
                m::mount("cgroup2", root, "cgroup2", flags, Some("nsdelegate"))
            }
            e => Err(e),
        })
        .ctx_path("mount cgroup2", root)?;
    }
    // Hand every controller down so containers' cgroups can use them.
    let ctl = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let enable: Vec<String> = ctl.split_whitespace().map(|c| format!("+{c}")).collect();
    if !enable.is_empty() {
        let path = root.join("cgroup.subtree_control");
        if let Err(e) = std::fs::write(&path, enable.join(" ")) {
            log::warn(&format!(
                "enable cgroup controllers {}: {e}",
                enable.join(" ")
            ));
        }
    }
    // The parent of the containers' default cgroups (`/reno/<id>`), made now with the same
    // controllers handed down: otherwise the first container start makes it, paying for a
    // cgroup with every controller plus one enable per controller (~20 ms under TCG).
    // Not fatal: `create` makes whatever is missing.
    let parent = root.join("reno");
    match std::fs::create_dir(&parent) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            log::warn(&format!("create {}: {e}", parent.display()));
            return Ok(());
        }
    }
    if !enable.is_empty() {
        let path = parent.join("cgroup.subtree_control");
        if let Err(e) = std::fs::write(&path, enable.join(" ")) {
            log::warn(&format!(
                "enable cgroup controllers in {}: {e}",
                parent.display()
            ));
        }
    }
    Ok(())
}

/// One hierarchy per enabled controller listed in /proc/cgroups, under a tmpfs.
fn cgroup1(root: &Path, flags: u64) -> Result<()> {
    mount_fs("cgroup", "/sys/fs/cgroup", "tmpfs", flags, "mode=0755")?;
    let list = std::fs::read_to_string("/proc/cgroups").ctx_path("read", "/proc/cgroups")?;
    for line in list.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[3] != "1" {
            continue;
        }
        let dir = root.join(f[0]);
        std::fs::create_dir_all(&dir).ctx_path("create mount point", &dir)?;
        if let Err(e) = m::mount("cgroup", &dir, "cgroup", flags, Some(f[0])) {
            // Controllers can be co-mounted already (cpu,cpuacct); not fatal.
            log::warn(&format!(
                "mount cgroup v1 {}: {}",
                f[0],
                crate::error::errno_text(e)
            ));
        }
    }
    Ok(())
}

/// `/` is the initramfs when the kernel lists it as "rootfs" (a ramfs or tmpfs it unpacked
/// the cpio into), the one root pivot_root cannot leave.
pub fn root_is_initramfs() -> bool {
    let info = crate::linux::fs::read_small("/proc/self/mountinfo").unwrap_or_default();
    info.lines().any(|l| {
        l.split(' ').nth(4) == Some("/")
            && l.split_once(" - ")
                .and_then(|(_, post)| post.split(' ').next())
                == Some("rootfs")
    })
}

/// Mount the real root, move the API filesystems into it, and make it `/`. pivot_root fails
/// with EINVAL on the initramfs, so this is MS_MOVE + chroot (what switch_root(8) does).
/// The initramfs's files are left in memory (reno's initramfs is just this binary and the
/// board config, so deleting them would gain little).
fn switch_root(sr: &super::board::SwitchRoot) -> Result<()> {
    let new = Path::new("/newroot");
    std::fs::create_dir_all(new).ctx_path("create mount point", new)?;
    let dev = Path::new(&sr.device);
    let deadline = log::boottime() + sr.wait_seconds as f64;
    while !dev.exists() && log::boottime() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let o = m::parse_options(&sr.options);
    m::mount(
        &sr.device,
        new,
        &sr.fstype,
        o.flags,
        Some(&o.data.join(",")),
    )
    .map_err(|e| {
        Error::sys(format!("switchRoot: mount {} {}", sr.fstype, sr.device), e).path(new)
    })?;
    for api in ["/dev", "/proc", "/sys", "/run"] {
        let target = new.join(&api[1..]);
        std::fs::create_dir_all(&target).ctx_path("switchRoot: create", &target)?;
        m::mount(api, &target, "", MS_MOVE, None).ctx_path("switchRoot: move mount", &target)?;
    }
    rustix::process::chdir(new).ctx_path("switchRoot: chdir", new)?;
    m::mount(".", Path::new("/"), "", MS_MOVE, None)
        .ctx_path("switchRoot: move new root onto /", new)?;
    rustix::process::chroot(".").ctx("switchRoot: chroot")?;
    rustix::process::chdir("/").ctx("switchRoot: chdir /")?;
    log::info(&format!("switched root to {} ({})", sr.device, sr.fstype));
    Ok(())
}

/// The very first step as PID 1: the API filesystems (so /proc/cmdline and /dev/console
/// exist), then make sure fds 0-2 are open on the console. The kernel opens them only when
/// the initramfs has a /dev/console node.
pub fn setup_console() -> Result<()> {
    base_mounts()?;
    if rustix::io::fcntl_getfd(rustix::stdio::stderr()).is_err() {
        use rustix::fs::{Mode, OFlags};
        let c = rustix::fs::open("/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
            .ctx_path("open", "/dev/console")?;
        rustix::stdio::dup2_stdin(&c).ctx("dup2 console")?;
        rustix::stdio::dup2_stdout(&c).ctx("dup2 console")?;
        rustix::stdio::dup2_stderr(&c).ctx("dup2 console")?;
    }
    Ok(())
}

/// One line describing the early system (mount points, hostname), logged at boot so a
/// console log shows what the board config produced.
pub fn summary() -> String {
    let info = crate::linux::fs::read_small("/proc/self/mountinfo").unwrap_or_default();
    let mounts: Vec<String> = info
        .lines()
        .filter_map(|l| {
            let mp = l.split(' ').nth(4)?;
            let ro = l.split(' ').nth(5)?.split(',').any(|o| o == "ro");
            let fstype = l.split_once(" - ")?.1.split(' ').next()?;
            let ro = if ro { ",ro" } else { "" };
            Some(format!("{}({fstype}{ro})", m::unescape_mountinfo(mp)))
        })
        .collect();
    let host = rustix::system::uname();
    let lo_flags = std::fs::read_to_string("/sys/class/net/lo/flags").unwrap_or_default();
    let lo_up =
        u32::from_str_radix(lo_flags.trim().trim_start_matches("0x"), 16).is_ok_and(|f| f & 1 != 0);
    format!(
        "mounts {}; hostname {}; lo {}",
        mounts.join(" "),
        host.nodename().to_string_lossy(),
        if lo_up { "up" } else { "down" }
    )
}
