//! Applying `linux.resources` to a live cgroup: pick v1 or v2 per controller (hybrid hosts
//! have both), check everything that can be checked before the first write, then write
//! each knob once, in the mapping's order.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxCpu, LinuxDeviceCgroup, LinuxResources};

use super::knob::{self, Knob, READ_BACK, RETRY_LATER, SKIP_MISSING, UNIFIED};
use super::{devices, v1, v2, Cgroup};
use crate::error::{Context, Error, Result};
use crate::linux;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    V1,
    V2,
}

/// The v2 name of a controller (v1's blkio is v2's io).
fn v2_name(c: &str) -> &str {
    if c == "blkio" {
        "io"
    } else {
        c
    }
}

impl Cgroup {
    /// Apply resource limits at create: every knob plus the device rules (runc's defaults
    /// even with no `devices` list). `nodes` are `linux.devices` (type, major, minor),
    /// which get an allow rule each.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.apply_with_devices(resources, &[])
    }

    pub fn apply_with_devices(&self, r: &LinuxResources, nodes: &[(char, u32, u32)]) -> Result<()> {
        self.set_resources(r)?;
        let config: &[LinuxDeviceCgroup] = r.devices().as_deref().unwrap_or(&[]);
        self.apply_devices(config, nodes)
    }

    /// Apply limits to a running container (`update`): devices are left alone. On v2, a
    /// partial cpu.max or swap change is completed from the live files (see
    /// `v2::complete_update`).
    pub fn update(&self, r: &LinuxResources) -> Result<()> {
        let mut r = r.clone();
        if let Some((_, dir)) = self.v2() {
            v2::complete_update(&mut r, |f| crate::linux::fs::read_small(dir.join(f)).ok());
        }
        self.set_resources(&r)
    }

    pub(super) fn v1_dir(&self, controller: &str) -> Option<&PathBuf> {
        self.dirs
            .iter()
            .find(|(h, _)| !h.v2 && h.controllers.iter().any(|c| c == controller))
            .map(|(_, d)| d)
    }

    pub(super) fn v2(&self) -> Option<(&Path, &PathBuf)> {
        self.dirs
            .iter()
            .find(|(h, _)| h.v2)
            .map(|(h, d)| (h.mount_point.as_path(), d))
    }

    /// Controllers the v2 hierarchy offers (its root's cgroup.controllers).
    fn v2_controllers(&self) -> Vec<String> {
        self.v2()
            .map(|(m, _)| super::root_offers(m))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn backend(&self, controller: &str, v2_ctrls: &[String]) -> Option<Backend> {
        if controller == "cgroup" && self.v2().is_some() {
            return Some(Backend::V2);
        }
        if self.v1_dir(controller).is_some() {
            return Some(Backend::V1);
        }
        if v2_ctrls.iter().any(|c| c == v2_name(controller)) {
            return Some(Backend::V2);
        }
        None
    }

    fn set_resources(&self, r: &LinuxResources) -> Result<()> {
        knob::validate(r)?;
        let mut wanted = knob::requested(r);
        let unified = r.unified().as_ref().filter(|u| !u.is_empty());
        if wanted.is_empty() && unified.is_none() {
            // No limit asked for (the common container): no controller to look up.
            return Ok(());
        }
        let v2_ctrls = self.v2_controllers();
        if let Some(u) = unified {
            if self.v2().is_none() {
                return Err(knob::bad(
                    "unified",
                    "this host has no cgroup v2 hierarchy to write unified keys into",
                ));
            }
            for k in u.keys() {
                let c = knob::unified_controller(k);
                if !wanted.contains(&c) {
                    wanted.push(c);
                }
            }
        }
        let mut on_v1 = Vec::new();
        let mut on_v2 = Vec::new();
        for c in &wanted {
            match self.backend(c, &v2_ctrls) {
                Some(Backend::V1) => on_v1.push(*c),
                Some(Backend::V2) => on_v2.push(*c),
                None => return Err(missing(c)),
            }
        }
        // Raw keys only make sense where the controller lives in v2.
        if let Some(u) = unified {
            for k in u.keys() {
                let c = knob::unified_controller(k);
                if on_v1.contains(&c) {
                    return Err(knob::bad(
                        "unified",
                        format!("key {k:?}: the {c} controller is a cgroup v1 one on this host"),
                    ));
                }
            }
        }
        self.check_before_update(r, &on_v1, &on_v2)?;

        let mut plan: Vec<(PathBuf, Knob)> = Vec::new();
        if !on_v1.is_empty() {
            let part = split(r, &on_v1, false);
            let env = self.v1_env(&on_v1);
            for k in v1::plan(&part, env)? {
                if let Some(d) = self.v1_dir(k.controller) {
                    plan.push((d.clone(), k));
                }
            }
        }
        if !on_v2.is_empty() {
            let part = split(r, &on_v2, true);
            let Some((_, dir)) = self.v2() else {
                return Err(missing(on_v2[0]));
            };
            let dir = dir.clone();
            self.enable_v2(&on_v2)?;
            let env = v2::Env {
                bfq: dir.join("io.bfq.weight").exists(),
            };
            for k in v2::plan(&part, env)? {
                if k.flags & UNIFIED != 0 && !dir.join(&k.file).exists() {
                    return Err(knob::bad(
                        "unified",
                        format!(
                            "key {:?}: no such file in {} (unknown key or {} controller not enabled)",
                            k.file,
                            dir.display(),
                            v2_name(k.controller)
                        ),
                    ));
                }
                plan.push((dir.clone(), k));
            }
        }
        for (dir, k) in &plan {
            write_knob(dir, k)?;
        }
        Ok(())
    }

    fn v1_env(&self, on_v1: &[&str]) -> v1::Env {
        let mut env = v1::Env::default();
        if on_v1.contains(&"memory") {
            if let Some(d) = self.v1_dir("memory") {
                env.mem_limit = read_u64(&d.join("memory.limit_in_bytes")).unwrap_or(u64::MAX);
                env.memsw = d.join("memory.memsw.limit_in_bytes").exists();
            }
        }
        if on_v1.contains(&"blkio") {
            if let Some(d) = self.v1_dir("blkio") {
                env.bfq = !d.join("blkio.weight").exists();
            }
        }
        env
    }

    /// `memory.checkBeforeUpdate`: refuse a limit below what the cgroup already uses.
    fn check_before_update(
        &self,
        r: &LinuxResources,
        on_v1: &[&str],
        on_v2: &[&str],
    ) -> Result<()> {
        let Some(m) = r.memory() else { return Ok(()) };
        let Some(limit) = m.limit().filter(|&l| l > 0) else {
            return Ok(());
        };
        if m.check_before_update() != Some(true) {
            return Ok(());
        }
        let usage = if on_v1.contains(&"memory") {
            self.v1_dir("memory")
                .and_then(|d| read_u64(&d.join("memory.usage_in_bytes")))
        } else if on_v2.contains(&"memory") {
            self.v2()
                .and_then(|(_, d)| read_u64(&d.join("memory.current")))
        } else {
            None
        };
        match usage {
            Some(u) if u >= limit as u64 => Err(knob::bad(
                "memory.limit",
                format!("rejecting memory limit {limit} below usage {u} (checkBeforeUpdate)"),
            )),
            _ => Ok(()),
        }
    }

    /// Make `controllers` usable in the container's v2 dir: `+name` into cgroup.subtree_control
    /// of every ancestor that lacks it (a few small writes, only on the container's path).
    pub(super) fn enable_v2(&self, controllers: &[&str]) -> Result<()> {
        let Some((mount, dir)) = self.v2() else {
            return Ok(());
        };
        let Ok(rel) = dir.strip_prefix(mount) else {
            return Ok(());
        };
        let mut cur = mount.to_path_buf();
        let mut first_err = None;
        let comps: Vec<_> = rel.components().collect();
        for comp in comps {
            let f = cur.join("cgroup.subtree_control");
            let have = crate::linux::fs::read_small(&f).unwrap_or_default();
            for c in controllers {
                let name = v2_name(c);
                if name == "cgroup" || have.split_whitespace().any(|h| h == name) {
                    continue;
                }
                // Go on with the others: one refusal (cpu with realtime tasks) must not
                // keep the rest disabled.
                let r = linux::fs::write_file(&f, format!("+{name}").as_bytes())
                    .ctx_path(&format!("enable the {name} controller"), &f);
                if let (Err(e), None) = (r, &first_err) {
                    first_err = Some(e);
                }
            }
            cur.push(comp);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Device rules: v1 devices.deny/allow, else a BPF program on the v2 dir.
    fn apply_devices(
        &self,
        config: &[LinuxDeviceCgroup],
        nodes: &[(char, u32, u32)],
    ) -> Result<()> {
        let rules = devices::rules(config, nodes)?;
        if let Some(dir) = self.v1_dir("devices") {
            // Two opens, then one write per rule (the kernel takes one rule per write).
            let open = |name: &str| {
                let f = dir.join(name);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)
                    .ctx_path("open device rules", &f)
                    .map(|h| (h, f))
            };
            let (mut allow, mut deny) = (open("devices.allow")?, open("devices.deny")?);
            for (file, line) in devices::v1_writes(&rules) {
                let (h, f) = if file == "devices.allow" {
                    (&mut allow.0, &allow.1)
                } else {
                    (&mut deny.0, &deny.1)
                };
                std::io::Write::write_all(h, line.as_bytes())
                    .ctx_path(&format!("set device rule {line:?}"), f)?;
            }
            return Ok(());
        }
        if let Some((_, dir)) = self.v2() {
            return attach_device_filter(dir, &rules);
        }
        if config.is_empty() {
            return Ok(());
        }
        Err(missing("devices"))
    }
}

/// Load the rules as a BPF device program and attach it to the v2 cgroup dir. A program
/// this process loaded before for the same instructions is attached again instead (see
/// `LOADED`).
pub fn attach_device_filter(dir: &Path, rules: &[devices::Rule]) -> Result<()> {
    let prog = devices::bpf_program(rules);
    let d = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ctx_path("open cgroup for the device program", dir)?;
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    let i = match loaded.iter().position(|(insns, _)| *insns == prog) {
        Some(i) => i,
        None => {
            let fd = load(&prog)?;
            loaded.push((prog, fd));
            loaded.len() - 1
        }
    };
    linux::bpf::attach_cgroup_device(&d, &loaded[i].1)
        .ctx_path("attach the device program (BPF_CGROUP_DEVICE)", dir)
}

/// Device programs this process has loaded, by instructions. A program can be attached to
/// any number of cgroups; loading makes the kernel verify it each time (milliseconds under
/// TCG). PID 1 loads the common ones at boot (`preload_device_programs`) and the `run`s it
/// forks inherit them; a one-shot CLI process only ever uses its own.
static LOADED: std::sync::Mutex<Vec<(Vec<linux::bpf::Insn>, OwnedFd)>> =
    std::sync::Mutex::new(Vec::new());

fn load(prog: &[linux::bpf::Insn]) -> Result<OwnedFd> {
    linux::bpf::load_cgroup_device_prog(prog).map_err(|(e, log)| {
        let mut err = Error::sys("load the device cgroup BPF program", e);
        if !log.is_empty() {
            err = err.detail(format!("verifier: {log}"));
        }
        err
    })
}

/// For a long-lived process (PID 1) on cgroup v2: load the device programs of the two
/// common configs now, runc's defaults alone and after a deny-all `resources.devices`
/// (`reno spec`'s and most engines'), so that each container forked later attaches them
/// as they are. Returns their fds, which the forks must keep open.
pub fn preload_device_programs() -> Result<Vec<i32>> {
    let deny_all = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(|e| Error::failed("device rules", e.to_string()))?;
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    for config in [&[][..], &[deny_all][..]] {
        let prog = devices::bpf_program(&devices::rules(config, &[])?);
        if !loaded.iter().any(|(insns, _)| *insns == prog) {
            let fd = load(&prog)?;
            loaded.push((prog, fd));
        }
    }
    Ok(loaded.iter().map(|(_, fd)| fd.as_raw_fd()).collect())
}

fn missing(c: &str) -> Error {
    let known = crate::linux::fs::read_small("/proc/cgroups")
        .map(|s| s.lines().any(|l| l.split_whitespace().next() == Some(c)))
        .unwrap_or(false);
    let why = if known {
        "the kernel has it but it is not mounted (v1) nor offered by cgroup v2"
    } else {
        "this kernel does not have it"
    };
    Error::invalid(
        "linux.resources",
        format!("a limit needs the {c} cgroup controller: {why}"),
    )
}

/// The part of `r` whose controllers are in `keep` (cpu and cpuset share `LinuxCpu`).
fn split(r: &LinuxResources, keep: &[&str], with_unified: bool) -> LinuxResources {
    let has = |c: &str| keep.contains(&c);
    let mut out = LinuxResources::default();
    if has("memory") {
        out.set_memory(*r.memory());
    }
    if let Some(cpu) = r.cpu() {
        let mut c = LinuxCpu::default();
        if has("cpu") {
            c = cpu.clone();
            c.set_cpus(None);
            c.set_mems(None);
        }
        if has("cpuset") {
            c.set_cpus(cpu.cpus().clone());
            c.set_mems(cpu.mems().clone());
        }
        out.set_cpu(Some(c));
    }
    if has("pids") {
        out.set_pids(*r.pids());
    }
    if has("blkio") {
        out.set_block_io(r.block_io().clone());
    }
    if has("hugetlb") {
        out.set_hugepage_limits(r.hugepage_limits().clone());
    }
    if has("net_cls") || has("net_prio") {
        out.set_network(r.network().clone());
    }
    if has("rdma") {
        out.set_rdma(r.rdma().clone());
    }
    if with_unified {
        out.set_unified(r.unified().clone());
    }
    out
}

fn read_u64(p: &Path) -> Option<u64> {
    crate::linux::fs::read_small(p).ok()?.trim().parse().ok()
}

fn write_knob(dir: &Path, k: &Knob) -> Result<()> {
    let f = dir.join(&k.file);
    if k.flags & SKIP_MISSING != 0 && !f.exists() {
        return Ok(());
    }
    match linux::fs::write_file(&f, k.value.as_bytes()) {
        Ok(()) => {}
        Err(e) if k.flags & RETRY_LATER != 0 && e.raw_os_error() == Some(22) => return Ok(()),
        Err(e) => {
            let mut err =
                match Err::<(), _>(e).ctx_path(&format!("set {} to {:?}", k.file, k.value), &f) {
                    Err(err) => err,
                    Ok(()) => return Ok(()),
                };
            if k.file.starts_with("memory.") && err.errno == Some(rustix::io::Errno::BUSY) {
                let usage = read_u64(&dir.join("memory.usage_in_bytes"))
                    .or_else(|| read_u64(&dir.join("memory.current")));
                if let Some(u) = usage {
                    err = err.detail(format!("current usage {u}"));
                }
            }
            return Err(err);
        }
    }
    if k.flags & READ_BACK != 0 {
        let got = crate::linux::fs::read_small(&f).unwrap_or_default();
        if got.trim() != k.value {
            return Err(Error::invalid(
                format!("set {}", k.file),
                format!("the kernel clamped {} to {}", k.value, got.trim()),
            )
            .path(&f));
        }
    }
    Ok(())
}
