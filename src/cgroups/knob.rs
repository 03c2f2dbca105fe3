//! What applying resources means, before any file is touched: an ordered list of knobs
//! (controller, file, value), computed from `LinuxResources` by the v1 or v2 mapping.

use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result};

/// One write into the container's cgroup dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knob {
    /// The v1 name of the controller the knob belongs to (`blkio` for v2's `io.*` too;
    /// `cgroup` for v2 core files set through `unified`).
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    pub flags: u8,
}

/// A missing file is not an error (the kernel lacks an optional feature, e.g. swap).
pub const SKIP_MISSING: u8 = 1;
/// EINVAL is ignored: the same file is written again after a related knob (runc's
/// period/quota/burst dance).
pub const RETRY_LATER: u8 = 2;
/// Read the value back and fail if the kernel clamped it (cpu.shares).
pub const READ_BACK: u8 = 4;
/// Key from `unified`: the file must exist before anything is written.
pub const UNIFIED: u8 = 8;

pub fn knob(controller: &'static str, file: &str, value: impl Into<String>) -> Knob {
    Knob {
        controller,
        file: file.to_string(),
        value: value.into(),
        flags: 0,
    }
}

impl Knob {
    pub fn with(mut self, flags: u8) -> Knob {
        self.flags |= flags;
        self
    }
}

/// The controllers a configuration asks for (v1 names), whatever the backend.
pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let mut c = Vec::new();
    if let Some(m) = r.memory() {
        let set = m.limit().is_some()
            || m.reservation().is_some()
            || m.swap().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer() == Some(true);
        if set {
            c.push("memory");
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu.shares().is_some()
            || cpu.quota().is_some()
            || cpu.period().is_some()
            || cpu.burst().is_some()
            || cpu.idle().is_some()
            || cpu.realtime_runtime().is_some()
            || cpu.realtime_period().is_some()
        {
            c.push("cpu");
        }
        if nonempty(cpu.cpus()) || nonempty(cpu.mems()) {
            c.push("cpuset");
        }
    }
    if r.pids().is_some() {
        c.push("pids");
    }
    if let Some(b) = r.block_io() {
        let any = b.weight().is_some()
            || b.leaf_weight().is_some()
            || [
                b.throttle_read_bps_device(),
                b.throttle_write_bps_device(),
                b.throttle_read_iops_device(),
                b.throttle_write_iops_device(),
            ]
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
        if any {
            c.push("blkio");
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
        c.push("hugetlb");
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            c.push("net_cls");
        }
        if n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
            c.push("net_prio");
        }
    }
    if r.rdma().as_ref().is_some_and(|v| !v.is_empty()) {
        c.push("rdma");
    }
    c
}

fn nonempty(s: &Option<String>) -> bool {
    s.as_ref().is_some_and(|s| !s.trim().is_empty())
}

pub fn bad(field: &str, detail: impl Into<String>) -> Error {
    Error::invalid(format!("linux.resources.{field}"), detail)
}

/// Memory sizes: -1 (unlimited) or a byte count.
pub fn check_mem(field: &str, v: Option<i64>) -> Result<()> {
    match v {
        Some(n) if n < -1 => Err(bad(
            field,
            format!("{n} is negative (use -1 for unlimited)"),
        )),
        _ => Ok(()),
    }
}

/// Checks shared by both backends, so a bad value fails the same way on every host.
pub fn validate(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        check_mem("memory.limit", m.limit())?;
        check_mem("memory.reservation", m.reservation())?;
        check_mem("memory.swap", m.swap())?;
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(bad(
                    "memory.swappiness",
                    format!("invalid value:{s}. valid memory swappiness range is 0-100"),
                ));
            }
        }
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                return Err(bad(
                    "memory.swap",
                    format!("memory+swap limit {s} should be >= memory limit {l}"),
                ));
            }
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(q) = cpu.quota() {
            if q < -1 || (0..1000).contains(&q) && q != 0 {
                return Err(bad(
                    "cpu.quota",
                    format!("{q}: must be -1 (unlimited) or at least 1000 microseconds"),
                ));
            }
        }
        if let Some(p) = cpu.period() {
            if !(1000..=1_000_000).contains(&p) {
                return Err(bad(
                    "cpu.period",
                    format!("{p}: must be 1000 to 1000000 microseconds"),
                ));
            }
        }
        if let Some(s) = cpu.shares() {
            if s > 262_144 {
                return Err(bad(
                    "cpu.shares",
                    format!("{s}: the maximum allowed cpu-shares is 262144"),
                ));
            }
        }
        for (name, v) in [("cpus", cpu.cpus()), ("mems", cpu.mems())] {
            if let Some(v) = v {
                if !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
                {
                    return Err(bad(
                        &format!("cpu.{name}"),
                        format!("{v:?} is not a list like 0-2,4"),
                    ));
                }
            }
        }
        if let Some(i) = cpu.idle() {
            if !(0..=1).contains(&i) {
                return Err(bad("cpu.idle", format!("{i}: must be 0 or 1")));
            }
        }
    }
    if let Some(b) = r.block_io() {
        for (f, w) in [("weight", b.weight()), ("leafWeight", b.leaf_weight())] {
            if let Some(w) = w {
                if !(10..=1000).contains(&w) {
                    return Err(bad(
                        &format!("blockIO.{f}"),
                        format!("{w}: must be 10 to 1000"),
                    ));
                }
            }
        }
        for wd in b.weight_device().iter().flatten() {
            check_dev("blockIO.weightDevice", wd.major(), wd.minor())?;
        }
        for list in [
            b.throttle_read_bps_device(),
            b.throttle_write_bps_device(),
            b.throttle_read_iops_device(),
            b.throttle_write_iops_device(),
        ] {
            for td in list.iter().flatten() {
                check_dev("blockIO.throttle", td.major(), td.minor())?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let ps = h.page_size();
        let ok = ps.len() > 2
            && (ps.ends_with("KB") || ps.ends_with("MB") || ps.ends_with("GB"))
            && ps[..ps.len() - 2].chars().all(|c| c.is_ascii_digit());
        if !ok {
            return Err(bad(
                "hugepageLimits",
                format!("page size {ps:?} is not like 2MB or 1GB"),
            ));
        }
        if h.limit() < 0 {
            return Err(bad(
                "hugepageLimits",
                format!("limit {} is negative", h.limit()),
            ));
        }
    }
    for (k, _) in r.unified().iter().flatten() {
        check_unified_key(k)?;
    }
    for (dev, _) in r.rdma().iter().flatten() {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(bad("rdma", format!("device name {dev:?}")));
        }
    }
    Ok(())
}

fn check_dev(field: &str, major: i64, minor: i64) -> Result<()> {
    if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
        return Err(bad(
            field,
            format!("device {major}:{minor} is out of range"),
        ));
    }
    Ok(())
}

/// A `unified` key names one file in the container's own cgroup dir: no path tricks.
pub fn check_unified_key(k: &str) -> Result<()> {
    if k.is_empty() || k.contains('/') || k.contains("..") || !k.contains('.') {
        return Err(bad(
            "unified",
            format!("key {k:?} is not a cgroup file name (no '/' or '..', like memory.high)"),
        ));
    }
    Ok(())
}

/// The controller a `unified` key belongs to (`memory.high` → memory).
pub fn unified_controller(k: &str) -> &'static str {
    match k.split('.').next().unwrap_or("") {
        "memory" => "memory",
        "cpu" => "cpu",
        "cpuset" => "cpuset",
        "io" => "blkio",
        "pids" => "pids",
        "hugetlb" => "hugetlb",
        "rdma" => "rdma",
        "misc" => "misc",
        _ => "cgroup",
    }
}

/// A controller name as the static str `Knob` uses, if reno knows it.
pub fn static_name(c: &str) -> Option<&'static str> {
    const ALL: &[&str] = &[
        "cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "rdma", "misc", "net_cls",
        "net_prio",
    ];
    ALL.iter().copied().find(|a| *a == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(j: &str) -> LinuxResources {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn validation_catches_bad_values() {
        for j in [
            r#"{"memory":{"limit":-5}}"#,
            r#"{"memory":{"swappiness":101}}"#,
            r#"{"memory":{"limit":100000000,"swap":1000}}"#,
            r#"{"cpu":{"quota":5}}"#,
            r#"{"cpu":{"period":10}}"#,
            r#"{"cpu":{"shares":9999999}}"#,
            r#"{"cpu":{"cpus":"0;rm"}}"#,
            r#"{"blockIO":{"weight":5}}"#,
            r#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#,
            r#"{"unified":{"../../x":"1"}}"#,
            r#"{"unified":{"memory.high/x":"1"}}"#,
            r#"{"unified":{"nodot":"1"}}"#,
        ] {
            assert!(validate(&res(j)).is_err(), "{j} accepted");
        }
        validate(&res(
            r#"{"memory":{"limit":-1,"swap":-1},"cpu":{"quota":-1,"cpus":"0-1"}}"#,
        ))
        .unwrap();
    }

    #[test]
    fn requested_controllers() {
        let r = res(
            r#"{"memory":{"limit":1},"cpu":{"cpus":"0"},"network":{"classID":3},"devices":[]}"#,
        );
        assert_eq!(requested(&r), ["memory", "cpuset", "net_cls"]);
        assert_eq!(unified_controller("io.max"), "blkio");
        assert_eq!(unified_controller("cgroup.max.depth"), "cgroup");
    }
}
