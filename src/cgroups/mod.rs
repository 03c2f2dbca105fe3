//! Control groups: find the host's hierarchies (v1, v2 or hybrid), make the container's
//! cgroup in each, put processes in it, apply `linux.resources`, freeze, remove.
//!
//! The container's cgroup is identified by one path string (`linux.cgroupsPath`, or
//! `/reno/<id>` by default) that is stored in state.json; every operation re-derives the
//! directories from it and the host's mount table.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use rustix::io::Errno;

mod apply;
pub mod devices;
pub mod knob;
pub mod stats;
pub mod v1;
pub mod v2;

pub use apply::{attach_device_filter, preload_device_programs};

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One cgroup2 hierarchy holds every controller.
    Unified,
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (systemd's /sys/fs/cgroup/unified).
    Hybrid,
}

/// The layout of `hs` (from `hierarchies()`); `None` when no cgroup is mounted at all.
pub fn layout(hs: &[Hierarchy]) -> Option<Layout> {
    let v2 = hs.iter().any(|h| h.v2);
    let v1 = hs
        .iter()
        .any(|h| !h.v2 && h.controllers.iter().any(|c| !c.starts_with("name=")));
    match (v1, v2) {
        (true, true) => Some(Layout::Hybrid),
        (true, false) => Some(Layout::Legacy),
        (false, true) => Some(Layout::Unified),
        (false, false) => None,
    }
}

/// One mounted hierarchy: where it is and what it controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// Controller names for v1 (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    pub v2: bool,
    /// v2 mounted with `favordynmods` (Linux 6.1; init mounts it so): moving a process in
    /// by writing cgroup.procs then skips the RCU grace period (5-20 ms when idle) the
    /// global threadgroup lock otherwise waits for, so a container can join after its clone.
    pub dynmods: bool,
}

/// The container's cgroup across every hierarchy of the host.
#[derive(Debug, Clone)]
pub struct Cgroup {
    /// The path inside each hierarchy, always starting with `/`.
    pub path: String,
    pub dirs: Vec<(Hierarchy, PathBuf)>,
}

/// `hierarchies()`, read once per process: the host's cgroup mounts do not change while one
/// reno command runs, and `create`, its init (a copy of this process, before its root
/// switch) and `run`'s delete all need them (mountinfo is long and costly to render).
pub(crate) fn hierarchies_once() -> Vec<Hierarchy> {
    static ONCE: std::sync::OnceLock<Vec<Hierarchy>> = std::sync::OnceLock::new();
    ONCE.get_or_init(hierarchies).clone()
}

/// Whether a container's directory in `h` can be made after its clone (see
/// `Cgroup::can_join_late`).
pub fn joins_late(h: &Hierarchy) -> bool {
    !h.v2 || h.dynmods
}

/// What the v2 hierarchy mounted at `mount` offers (its root's cgroup.controllers), read
/// once per process: fixed once the host is up (init reads it before forking runtimes).
pub(super) fn root_offers(mount: &Path) -> String {
    static ONCE: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    let read =
        || crate::linux::fs::read_small(mount.join("cgroup.controllers")).unwrap_or_default();
    match ONCE.get_or_init(|| (mount.to_path_buf(), read())) {
        (m, offers) if m == mount => offers.clone(),
        _ => read(),
    }
}

/// Read now what every container start of this process, and of its forks, would read anew:
/// the cgroup mounts and what the v2 root offers (init calls it once the early system is up).
pub fn prewarm() {
    let hs = hierarchies_once();
    if let Some(h) = hs.iter().find(|h| h.v2) {
        root_offers(&h.mount_point);
    }
}

/// Every cgroup hierarchy mounted on the host (from /proc/self/mountinfo).
pub fn hierarchies() -> Vec<Hierarchy> {
    let Ok(info) = crate::linux::fs::read_small("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post_f = post.split(' ');
        let fstype = post_f.next().unwrap_or("");
        let super_opts = post_f.nth(1).unwrap_or("");
        let Some(mp) = pre.split(' ').nth(4) else {
            continue;
        };
        let mount_point = PathBuf::from(crate::linux::mount::unescape_mountinfo(mp));
        let h = match fstype {
            "cgroup2" => Hierarchy {
                mount_point,
                controllers: Vec::new(),
                v2: true,
                dynmods: super_opts.split(',').any(|o| o == "favordynmods"),
            },
            "cgroup" => Hierarchy {
                mount_point,
                controllers: super_opts
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                    .map(str::to_string)
                    .collect(),
                v2: false,
                dynmods: false,
            },
            _ => continue,
        };
        // The same hierarchy can be mounted twice (e.g. inside a container); keep the first.
        if !out
            .iter()
            .any(|o| o.v2 == h.v2 && o.controllers == h.controllers)
        {
            out.push(h);
        }
    }
    out
}

/// The cgroup path for a container: `cgroupsPath` if given (relative paths are taken under
/// the root, as runc does for cgroupfs), otherwise `/reno/<id>`.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> Result<String> {
    let p = match cgroups_path {
        Some(p) => p.to_string_lossy().into_owned(),
        None => format!("/reno/{id}"),
    };
    if p.split('/').any(|c| c == "..") {
        return Err(Error::invalid(
            "cgroupsPath",
            format!("{p:?} must not contain '..'"),
        ));
    }
    if p.contains(':') {
        return Err(Error::invalid(
            "cgroupsPath",
            format!("{p:?} looks like a systemd slice; --systemd-cgroup is not supported"),
        ));
    }
    Ok(if p.starts_with('/') {
        p
    } else {
        format!("/{p}")
    })
}

/// The container's directory in hierarchy `h` (with a v1 cpuset's cpus and mems filled in).
fn make_dir(h: &Hierarchy, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).ctx_path("create cgroup", dir)?;
    if !h.v2 && h.controllers.iter().any(|c| c == "cpuset") {
        inherit_cpuset(&h.mount_point, dir)?;
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and no process can join it:
/// copy them down from the nearest ancestor, level by level (as runc does).
fn inherit_cpuset(mount_point: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut cur = mount_point.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = cur.join(f);
            let empty = crate::linux::fs::read_small(&mine)
                .map(|s| s.trim().is_empty())
                .unwrap_or(false);
            if empty {
                let v = crate::linux::fs::read_small(parent.join(f))
                    .ctx_path("read cpuset", parent.join(f))?;
                crate::linux::fs::write_file(&mine, v.trim().as_bytes())
                    .ctx_path("set cpuset", &mine)?;
            }
        }
    }
    Ok(())
}

impl Cgroup {
    /// The container's cgroup at `path` in every hierarchy (nothing is created).
    pub fn open(path: &str) -> Cgroup {
        let rel = path.trim_start_matches('/');
        let dirs = hierarchies_once().into_iter().map(|h| {
            let d = h.mount_point.join(rel);
            (h, d)
        });
        Cgroup {
            path: path.to_string(),
            dirs: dirs.collect(),
        }
    }

    /// The container's cgroup in the hierarchies where its directory exists: a rootless
    /// container has only those delegated to its user (see `create_where_allowed`).
    pub fn open_existing(path: &str) -> Cgroup {
        let mut cg = Cgroup::open(path);
        cg.dirs.retain(|(_, d)| d.is_dir());
        cg
    }

    /// Create the directories in every hierarchy.
    pub fn create(path: &str) -> Result<Cgroup> {
        let cg = Cgroup::open(path);
        cg.make_dirs(|_| true)?;
        cg.enable_offered();
        Ok(cg)
    }

    /// Create the directories in the hierarchies `pick` selects (`create` makes them all).
    pub fn make_dirs(&self, pick: impl Fn(&Hierarchy) -> bool) -> Result<()> {
        for (h, dir) in self.dirs.iter().filter(|(h, _)| pick(h)) {
            make_dir(h, dir)?;
        }
        Ok(())
    }

    /// Whether any of its directories can be made after the container's clone, the init
    /// joining it itself later (`prepare_join`): v1 ones, and v2 with `favordynmods`.
    pub fn can_join_late(&self) -> bool {
        self.dirs.iter().any(|(h, _)| joins_late(h))
    }

    /// The late directories: made (on a pure v2 host with what the root offers handed
    /// down, as `create` does) while the init sets itself up.
    pub fn make_late_dirs(&self) -> Result<()> {
        self.make_dirs(joins_late)?;
        self.enable_offered();
        Ok(())
    }

    /// Rootless (runc's fs manager): create the directories where the user may, leave out
    /// the hierarchies that refuse (EACCES, EPERM, EROFS: not delegated), and return those
    /// with their errors. Any other error fails as in `create`.
    pub fn create_where_allowed(path: &str) -> Result<(Cgroup, Vec<(Hierarchy, Error)>)> {
        let mut cg = Cgroup::open(path);
        let (mut kept, mut refused) = (Vec::new(), Vec::new());
        for (h, dir) in std::mem::take(&mut cg.dirs) {
            match make_dir(&h, &dir) {
                Ok(()) => kept.push((h, dir)),
                Err(e) if matches!(e.errno, Some(Errno::ACCESS | Errno::PERM | Errno::ROFS)) => {
                    // A cpuset made but not filled in: take it away again.
                    let _ = std::fs::remove_dir(&dir);
                    refused.push((h, e));
                }
                Err(e) => {
                    cg.dirs = kept;
                    let _ = cg.destroy();
                    return Err(e);
                }
            }
        }
        cg.dirs = kept;
        cg.enable_offered();
        Ok((cg, refused))
    }

    fn enable_offered(&self) {
        // On a pure v2 host enable what the root offers down the container's path (as
        // runc does) so stats and later `update`s find their files; a controller that
        // can't be enabled is only an error once a limit asks for it.
        let hs: Vec<Hierarchy> = self.dirs.iter().map(|(h, _)| h.clone()).collect();
        if layout(&hs) == Some(Layout::Unified) {
            if let Some((m, dir)) = self.v2() {
                let offered = root_offers(m);
                // (v2 name, reno's name) of each offered controller reno knows.
                let known: Vec<(&str, &'static str)> = offered
                    .split_whitespace()
                    .filter_map(|c| {
                        knob::static_name(if c == "io" { "blkio" } else { c }).map(|n| (c, n))
                    })
                    .collect();
                // The new directory lists what its parent hands down: all of it already
                // (every start after the first; init hands everything down to /reno at
                // boot) leaves nothing to walk.
                let got = crate::linux::fs::read_small(dir.join("cgroup.controllers"))
                    .unwrap_or_default();
                if known
                    .iter()
                    .all(|(c, _)| got.split_whitespace().any(|g| g == *c))
                {
                    return;
                }
                let names: Vec<&'static str> = known.iter().map(|(_, n)| *n).collect();
                if let Err(e) = self.enable_v2(&names) {
                    log::debug!("{e}");
                }
            }
        }
    }

    /// Open what the container's init needs to join this cgroup itself, before it is
    /// cloned (see `Joining`). With `late` the directories `joins_late` picks come after
    /// the clone: the init opens their `tasks` (v1) or `cgroup.procs` (v2) files itself,
    /// once told they exist, and is not cloned into the v2 one.
    pub fn prepare_join(&self, late: bool) -> Joining {
        let mut j = Joining::default();
        for (h, dir) in &self.dirs {
            let tasks = dir.join("tasks");
            if late && joins_late(h) {
                j.by_self.push(SelfJoin {
                    path: if h.v2 {
                        dir.join("cgroup.procs")
                    } else {
                        tasks
                    },
                    fd: None,
                });
                continue;
            }
            let opened = (!h.v2)
                .then(|| {
                    rustix::fs::open(
                        &tasks,
                        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    )
                    .ok()
                })
                .flatten();
            match opened {
                Some(fd) => j.by_self.push(SelfJoin {
                    path: tasks,
                    fd: Some(fd),
                }),
                None => j.by_pid.push((h.v2, dir.join("cgroup.procs"))),
            }
            if h.v2 {
                j.v2_dir = rustix::fs::open(
                    dir,
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::DIRECTORY
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ok();
            }
        }
        j
    }

    /// Freeze (`true`) or thaw every process: v1 freezer.state, or v2 cgroup.freeze.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        for (h, dir) in &self.dirs {
            let (file, value) = if !h.v2 && h.controllers.iter().any(|c| c == "freezer") {
                ("freezer.state", if frozen { "FROZEN" } else { "THAWED" })
            } else if h.v2 && dir.join("cgroup.freeze").exists() {
                ("cgroup.freeze", if frozen { "1" } else { "0" })
            } else {
                continue;
            };
            let f = dir.join(file);
            crate::linux::fs::write_file(&f, value.as_bytes()).ctx_path("freeze cgroup", &f)?;
            return self.wait_frozen(frozen, &f);
        }
        Err(Error::failed(
            "freeze cgroup",
            "no freezer controller (v1) or cgroup.freeze (v2) on this host",
        ))
    }

    /// v1 goes through FREEZING and v2 reports through cgroup.events: wait (up to 2 s) until
    /// every task has stopped, so `pause` returning means paused.
    fn wait_frozen(&self, frozen: bool, f: &Path) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            if self.is_frozen() == frozen {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::failed(
                    "freeze cgroup",
                    format!(
                        "tasks did not {} within 2 s",
                        if frozen { "freeze" } else { "thaw" }
                    ),
                )
                .path(f));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Whether the cgroup is frozen: v1 freezer.state is FROZEN, or v2 cgroup.events
    /// says `frozen 1`.
    pub fn is_frozen(&self) -> bool {
        for (h, dir) in &self.dirs {
            if !h.v2 && h.controllers.iter().any(|c| c == "freezer") {
                return crate::linux::fs::read_small(dir.join("freezer.state"))
                    .is_ok_and(|s| s.trim() == "FROZEN");
            }
            if h.v2 {
                if let Ok(ev) = crate::linux::fs::read_small(dir.join("cgroup.events")) {
                    if ev.lines().any(|l| l == "frozen 1") {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Pids of every process in the cgroup and in the sub-cgroups the container made
    /// itself (a cgroup namespace with a writable cgroup mount delegates its subtree), as
    /// runc's GetAllPids.
    pub fn pids(&self) -> Result<Vec<i32>> {
        for (_, dir) in &self.dirs {
            if let Ok(s) = crate::linux::fs::read_small(dir.join("cgroup.procs")) {
                let mut out: Vec<i32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
                for sub in subdirs(dir) {
                    collect_pids(&sub, &mut out);
                }
                return Ok(out);
            }
        }
        Ok(Vec::new())
    }

    /// Remove the directories, sub-cgroups first (rmdir of a cgroup that has children is
    /// EBUSY); every process must be gone. Missing ones are fine.
    pub fn destroy(&self) -> Result<()> {
        for (_, dir) in &self.dirs {
            remove_tree(dir)?;
        }
        Ok(())
    }
}

/// The child cgroups of `dir` (its subdirectories).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = crate::linux::fs::read_small(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    for sub in subdirs(dir) {
        collect_pids(&sub, out);
    }
}

/// rmdir first: a container rarely makes sub-cgroups, and listing each of the ~10
/// directories first cost six syscalls apiece on every delete. Only a cgroup that still has
/// children (EBUSY; ENOTEMPTY on some kernels) is walked, then removed again.
fn remove_tree(dir: &Path) -> Result<()> {
    let busy = |e: &std::io::Error| {
        matches!(
            e.raw_os_error(),
            Some(c) if c == Errno::BUSY.raw_os_error() || c == Errno::NOTEMPTY.raw_os_error()
        )
    };
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if busy(&e) => {}
        Err(e) => return Err(e).ctx_path("remove cgroup", dir),
    }
    for sub in subdirs(dir) {
        remove_tree(&sub)?;
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx_path("remove cgroup", dir),
    }
}

/// What `create` applies: `linux.resources` (if any) and the device rules, which every
/// container gets (runc's default allow list, plus an allow for each `linux.devices` node).
pub fn apply_config(cg: &Cgroup, linux: Option<&oci_spec::runtime::Linux>) -> Result<()> {
    use oci_spec::runtime::LinuxDeviceType;
    let nodes: Vec<(char, u32, u32)> = linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let t = match d.typ() {
                LinuxDeviceType::B => 'b',
                LinuxDeviceType::C | LinuxDeviceType::U => 'c',
                _ => return None,
            };
            Some((
                t,
                u32::try_from(d.major()).ok()?,
                u32::try_from(d.minor()).ok()?,
            ))
        })
        .collect();
    let empty = oci_spec::runtime::LinuxResources::default();
    let r = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&empty);
    cg.apply_with_devices(r, &nodes)
}

/// How a new process gets into its cgroup: each v1 hierarchy's `tasks` file, opened by
/// the parent (the kernel checks the opener's credentials), into which the process
/// writes "0" itself (`join_self`); the v2 directory, to clone it straight into
/// (CLONE_INTO_CGROUP); the parent writes its pid into the others (`add_rest`): the v2
/// directory when that clone was refused, and any `tasks` file that would not open (a
/// delegation that chowned only cgroup.procs). A root `create` without a new user
/// namespace makes the v1 directories after the clone, while the init sets itself up in
/// parallel; the init then opens the `tasks` files itself, once told they exist.
///
/// Why not write its pid to cgroup.procs like everyone else: that takes the kernel's
/// global threadgroup lock for writing, a per-cpu rwsem whose writer waits for an RCU
/// grace period, 5-20 ms on an idle machine (11 ms of a 33 ms cold `run` here). A
/// thread moving only itself, or a clone into the cgroup, needs no such lock: 0.06 ms for
/// all eight v1 hierarchies.
#[derive(Debug, Default)]
pub struct Joining {
    pub by_self: Vec<SelfJoin>,
    /// The cgroup's v2 directory, for CLONE_INTO_CGROUP (None: no v2 hierarchy, or it
    /// would not open).
    pub v2_dir: Option<rustix::fd::OwnedFd>,
    /// (is v2, cgroup.procs).
    by_pid: Vec<(bool, PathBuf)>,
}

/// A v1 `tasks` file for a process to move itself into: opened by the parent, or (None)
/// by the process itself, as root in the host's user namespace, where the parent made the
/// directory after the clone.
#[derive(Debug)]
pub struct SelfJoin {
    pub path: PathBuf,
    pub fd: Option<rustix::fd::OwnedFd>,
}

impl Joining {
    /// The parent's half: write `pid` where the process can't join by itself.
    pub fn add_rest(&self, pid: i32, cloned_into_v2: bool) -> Result<()> {
        for (_, f) in self
            .by_pid
            .iter()
            .filter(|(v2, _)| !(*v2 && cloned_into_v2))
        {
            crate::linux::fs::write_file(f, pid.to_string().as_bytes())
                .ctx_path("join cgroup", f)?;
        }
        Ok(())
    }
}

/// The process's half: move the calling thread into each file's cgroup. Call it from a
/// single-threaded process: only the caller moves (which, then, is the whole process).
pub fn join_self(files: Vec<SelfJoin>) -> Result<()> {
    for f in files {
        let fd = match f.fd {
            Some(fd) => fd,
            None => rustix::fs::open(
                &f.path,
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ctx_path("open cgroup", &f.path)?,
        };
        rustix::io::write(&fd, b"0").ctx_path("join cgroup", &f.path)?;
    }
    Ok(())
}
