//! Control groups: find the host's hierarchies (v1, v2 or hybrid), make the container's
//! cgroup in each, put processes in it, apply `linux.resources`, freeze, remove.
//!
//! The container's cgroup is identified by one path string (`linux.cgroupsPath`, or
//! `/reno/<id>` by default) that is stored in state.json; every operation re-derives the
//! directories from it and the host's mount table.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::error::{Context, Error, Result};

/// One mounted hierarchy: where it is and what it controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// Controller names for v1 (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

/// The container's cgroup across every hierarchy of the host.
#[derive(Debug, Clone)]
pub struct Cgroup {
    /// The path inside each hierarchy, always starting with `/`.
    pub path: String,
    pub dirs: Vec<(Hierarchy, PathBuf)>,
}

/// Every cgroup hierarchy mounted on the host (from /proc/self/mountinfo).
pub fn hierarchies() -> Vec<Hierarchy> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let mut post_f = post.split(' ');
        let fstype = post_f.next().unwrap_or("");
        let super_opts = post_f.nth(1).unwrap_or("");
        let Some(mp) = pre.split(' ').nth(4) else { continue };
        let mount_point = PathBuf::from(crate::linux::mount::unescape_mountinfo(mp));
        let h = match fstype {
            "cgroup2" => Hierarchy { mount_point, controllers: Vec::new(), v2: true },
            "cgroup" => Hierarchy {
                mount_point,
                controllers: super_opts
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                    .map(str::to_string)
                    .collect(),
                v2: false,
            },
            _ => continue,
        };
        // The same hierarchy can be mounted twice (e.g. inside a container); keep the first.
        if !out.iter().any(|o| o.v2 == h.v2 && o.controllers == h.controllers) {
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
        return Err(Error::invalid("cgroupsPath", format!("{p:?} must not contain '..'")));
    }
    if p.contains(':') {
        return Err(Error::invalid("cgroupsPath", format!("{p:?} looks like a systemd slice; --systemd-cgroup is not supported")));
    }
    Ok(if p.starts_with('/') { p } else { format!("/{p}") })
}

impl Cgroup {
    /// The container's cgroup at `path` in every hierarchy (nothing is created).
    pub fn open(path: &str) -> Cgroup {
        let rel = path.trim_start_matches('/');
        let dirs = hierarchies().into_iter().map(|h| {
            let d = h.mount_point.join(rel);
            (h, d)
        });
        Cgroup { path: path.to_string(), dirs: dirs.collect() }
    }

    /// Create the directories in every hierarchy.
    pub fn create(path: &str) -> Result<Cgroup> {
        let cg = Cgroup::open(path);
        for (_, dir) in &cg.dirs {
            std::fs::create_dir_all(dir).ctx_path("create cgroup", dir)?;
        }
        Ok(cg)
    }

    /// Move `pid` into the cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for (_, dir) in &self.dirs {
            let f = dir.join("cgroup.procs");
            crate::linux::fs::write_file(&f, pid.to_string().as_bytes()).ctx_path("join cgroup", &f)?;
        }
        Ok(())
    }

    /// Apply resource limits (the subset this stub knows; the full set lives in the
    /// resource-control issue).
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if let Some(pids) = resources.pids() {
            let v = if pids.limit() > 0 { pids.limit().to_string() } else { "max".to_string() };
            self.write_knob("pids", "pids.max", &v)?;
        }
        if let Some(mem) = resources.memory() {
            if let Some(limit) = mem.limit() {
                let v = if limit > 0 { limit.to_string() } else { "-1".to_string() };
                self.write_v1_or_v2("memory", "memory.limit_in_bytes", "memory.max", &v)?;
            }
        }
        Ok(())
    }

    fn write_v1_or_v2(&self, controller: &str, v1_file: &str, v2_file: &str, value: &str) -> Result<()> {
        for (h, dir) in &self.dirs {
            if !h.v2 && h.controllers.iter().any(|c| c == controller) {
                let f = dir.join(v1_file);
                return crate::linux::fs::write_file(&f, value.as_bytes()).ctx_path("set cgroup limit", &f);
            }
        }
        for (h, dir) in &self.dirs {
            if h.v2 && dir.join(v2_file).exists() {
                let f = dir.join(v2_file);
                return crate::linux::fs::write_file(&f, value.as_bytes()).ctx_path("set cgroup limit", &f);
            }
        }
        Err(Error::failed("set cgroup limit", format!("the {controller} controller is not available on this kernel")))
    }

    fn write_knob(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        self.write_v1_or_v2(controller, file, file, value)
    }

    /// Pids of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        for (_, dir) in &self.dirs {
            let f = dir.join("cgroup.procs");
            if let Ok(s) = std::fs::read_to_string(&f) {
                return Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect());
            }
        }
        Ok(Vec::new())
    }

    /// Remove the directories (every process must be gone). Missing ones are fine.
    pub fn destroy(&self) -> Result<()> {
        for (_, dir) in &self.dirs {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx_path("remove cgroup", dir),
            }
        }
        Ok(())
    }
}
