//! cgroup v2 file mapping (runc's libcontainer/cgroups/fs2), with the documented v1→v2
//! conversions. Everything lives in the one unified directory.

use oci_spec::runtime::LinuxResources;

use super::knob::{bad, knob, unified_controller, Knob, RETRY_LATER, SKIP_MISSING, UNIFIED};
use crate::error::Result;

#[derive(Debug, Clone, Copy, Default)]
pub struct Env {
    /// io.bfq.weight exists (BFQ scheduler): it takes v1 weights unconverted, and per-device.
    pub bfq: bool,
}

/// cpu.shares (2..262144) → cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// v1's memory+swap limit → v2's swap-only limit (`memory.swap.max`); 0 means unchanged.
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<i64> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err(bad(
            "memory.swap",
            "unable to set swap limit without memory limit",
        ));
    }
    if swap < memory {
        return Err(bad(
            "memory.swap",
            "memory+swap limit should be >= memory limit",
        ));
    }
    Ok(swap - memory)
}

/// `update` on v2: fill in what a partial update leaves out from the live files, as runc
/// does from its saved config. Two v2 files combine two fields each: `cpu.max` (quota and
/// period; a period alone would otherwise reset the quota to "max") and `memory.swap.max`
/// (derived from swap − limit; a swap alone would otherwise be refused for lack of a limit).
/// `read` gets a file of the container's v2 dir, `None` if it is missing.
pub fn complete_update(r: &mut LinuxResources, read: impl Fn(&str) -> Option<String>) {
    if let Some(mut cpu) = r.cpu().clone() {
        let period_only = cpu.quota().unwrap_or(0) == 0 && cpu.period().unwrap_or(0) != 0;
        if period_only {
            let quota = read("cpu.max").and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|q| q.parse::<i64>().ok())
            });
            if let Some(q) = quota {
                cpu.set_quota(Some(q));
                r.set_cpu(Some(cpu));
            }
        }
    }
    if let Some(mut m) = *r.memory() {
        if m.swap().unwrap_or(0) != 0 && m.limit().unwrap_or(0) == 0 {
            let limit = read("memory.max").and_then(|s| match s.trim() {
                "max" => Some(-1),
                n => n.parse::<i64>().ok(),
            });
            if let Some(l) = limit {
                m.set_limit(Some(l));
                r.set_memory(Some(m));
            }
        }
    }
}

/// "" (leave alone) for 0, "max" for -1, the number otherwise.
fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        n => Some(n.to_string()),
    }
}

/// The ordered writes for `r`. Fields with no v2 knob are errors when they ask for a limit
/// (realtime, net_cls/net_prio: see `requested`) and warnings when they are only hints.
pub fn plan(r: &LinuxResources, env: Env) -> Result<Vec<Knob>> {
    let mut k = Vec::new();
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        let swap_req = m.swap().unwrap_or(0);
        let swap = swap_to_v2(swap_req, limit)?;
        let swap_str = match num(swap) {
            None if swap_req > 0 => Some("0".to_string()), // swap == limit: no swap at all
            s => s,
        };
        if let Some(s) = swap_str {
            let skip = if s == "max" || s == "0" {
                SKIP_MISSING
            } else {
                0
            };
            k.push(knob("memory", "memory.swap.max", s).with(skip));
        }
        if let Some(v) = num(limit) {
            k.push(knob("memory", "memory.max", v));
        }
        if let Some(v) = m.reservation().and_then(num) {
            k.push(knob("memory", "memory.low", v));
        }
        if m.swappiness().is_some() {
            log::warn!("linux.resources.memory.swappiness has no cgroup v2 knob; ignored");
        }
        if m.disable_oom_killer() == Some(true) {
            log::warn!("linux.resources.memory.disableOOMKiller has no cgroup v2 knob; ignored");
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu.realtime_period().is_some_and(|v| v != 0)
            || cpu.realtime_runtime().is_some_and(|v| v != 0)
        {
            return Err(bad(
                "cpu.realtimeRuntime",
                "realtime scheduling limits have no cgroup v2 knob",
            ));
        }
        if let Some(i) = cpu.idle() {
            k.push(knob("cpu", "cpu.idle", i.to_string()));
        }
        if let Some(s) = cpu.shares().filter(|&s| s != 0) {
            k.push(knob("cpu", "cpu.weight", shares_to_weight(s).to_string()));
        }
        let quota = cpu.quota().unwrap_or(0);
        let period = cpu.period().unwrap_or(0);
        let burst = cpu
            .burst()
            .map(|b| knob("cpu", "cpu.max.burst", b.to_string()));
        if let Some(b) = &burst {
            let late = if quota != 0 { RETRY_LATER } else { 0 };
            k.push(b.clone().with(late));
        }
        if quota != 0 || period != 0 {
            let mut v = if quota > 0 {
                quota.to_string()
            } else {
                "max".to_string()
            };
            if period != 0 {
                v.push_str(&format!(" {period}"));
            }
            k.push(knob("cpu", "cpu.max", v));
            k.extend(burst);
        }
        if let Some(c) = cpu.cpus().as_ref().filter(|c| !c.trim().is_empty()) {
            k.push(knob("cpuset", "cpuset.cpus", c.trim()));
        }
        if let Some(c) = cpu.mems().as_ref().filter(|c| !c.trim().is_empty()) {
            k.push(knob("cpuset", "cpuset.mems", c.trim()));
        }
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            0 => {}
            n if n > 0 => k.push(knob("pids", "pids.max", n.to_string())),
            _ => k.push(knob("pids", "pids.max", "max")),
        }
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            if env.bfq {
                k.push(knob("blkio", "io.bfq.weight", w.to_string()));
            } else {
                k.push(knob(
                    "blkio",
                    "io.weight",
                    blkio_to_io_weight(w).to_string(),
                ));
            }
        }
        if b.leaf_weight().is_some() {
            log::warn!("linux.resources.blockIO.leafWeight has no cgroup v2 knob; ignored");
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                if !env.bfq {
                    return Err(bad(
                        "blockIO.weightDevice",
                        "per-device weights need the BFQ scheduler (no io.bfq.weight)",
                    ));
                }
                let line = format!("{}:{} {w}", wd.major(), wd.minor());
                k.push(knob("blkio", "io.bfq.weight", line));
            }
        }
        for (name, list) in [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ] {
            for td in list.iter().flatten() {
                let line = format!("{}:{} {name}={}", td.major(), td.minor(), td.rate());
                k.push(knob("blkio", "io.max", line));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let f = format!("hugetlb.{}.max", h.page_size());
        k.push(knob("hugetlb", &f, h.limit().to_string()));
        // The reservation limit too (kernels ≥ 5.7), as runc: same value, skipped if absent.
        let f = format!("hugetlb.{}.rsvd.max", h.page_size());
        k.push(knob("hugetlb", &f, h.limit().to_string()).with(SKIP_MISSING));
    }
    k.extend(super::v1::rdma(r));
    // Raw keys last, so they can override what the mapping above wrote (runc's order).
    let mut keys: Vec<_> = r.unified().iter().flatten().collect();
    keys.sort();
    for (key, v) in keys {
        k.push(knob(unified_controller(key), key, v.clone()).with(UNIFIED));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(j: &str, env: Env) -> Vec<(String, String)> {
        let r: LinuxResources = serde_json::from_str(j).unwrap();
        plan(&r, env)
            .unwrap()
            .into_iter()
            .map(|k| (k.file, k.value))
            .collect()
    }

    fn p(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
        assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(300, 0).is_err());
    }

    #[test]
    fn memory() {
        let e = Env::default();
        assert_eq!(
            files(
                r#"{"memory":{"limit":1048576,"swap":3145728,"reservation":524288}}"#,
                e
            ),
            [
                p("memory.swap.max", "2097152"),
                p("memory.max", "1048576"),
                p("memory.low", "524288"),
            ]
        );
        assert_eq!(
            files(r#"{"memory":{"limit":1048576,"swap":1048576}}"#, e),
            [p("memory.swap.max", "0"), p("memory.max", "1048576")]
        );
        assert_eq!(
            files(r#"{"memory":{"limit":-1}}"#, e),
            [p("memory.swap.max", "max"), p("memory.max", "max")]
        );
    }

    #[test]
    fn cpu_pids_io_hugetlb_unified() {
        let j = r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"burst":2000,"idle":1,
                "cpus":"0-1","mems":"0"},
            "pids":{"limit":10},
            "blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":10}],
              "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":7}]},
            "hugepageLimits":[{"pageSize":"1GB","limit":0}],
            "unified":{"memory.high":"1000000","cgroup.max.depth":"3"}}"#;
        assert_eq!(
            files(j, Env::default()),
            [
                p("cpu.idle", "1"),
                p("cpu.weight", "39"),
                p("cpu.max.burst", "2000"),
                p("cpu.max", "50000 100000"),
                p("cpu.max.burst", "2000"),
                p("cpuset.cpus", "0-1"),
                p("cpuset.mems", "0"),
                p("pids.max", "10"),
                p("io.weight", "4950"),
                p("io.max", "8:0 rbps=10"),
                p("io.max", "8:0 wiops=7"),
                p("hugetlb.1GB.max", "0"),
                p("hugetlb.1GB.rsvd.max", "0"),
                p("cgroup.max.depth", "3"),
                p("memory.high", "1000000"),
            ]
        );
        assert_eq!(
            files(r#"{"cpu":{"quota":-1}}"#, Env::default()),
            [p("cpu.max", "max")]
        );
        assert_eq!(
            files(r#"{"cpu":{"period":50000}}"#, Env::default()),
            [p("cpu.max", "max 50000")]
        );
        let bfq = Env { bfq: true };
        assert_eq!(
            files(
                r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":20}]}}"#,
                bfq
            ),
            [p("io.bfq.weight", "500"), p("io.bfq.weight", "8:0 20")]
        );
    }

    #[test]
    fn partial_update_keeps_the_other_half() {
        let live = |f: &str| match f {
            "cpu.max" => Some("30000 60000\n".to_string()),
            "memory.max" => Some("50331648\n".to_string()),
            _ => None,
        };
        let mut r: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"period":40000},"memory":{"swap":83886080}}"#).unwrap();
        complete_update(&mut r, live);
        assert_eq!(
            plan(&r, Env::default())
                .unwrap()
                .into_iter()
                .map(|k| (k.file, k.value))
                .collect::<Vec<_>>(),
            [
                p("memory.swap.max", "33554432"),
                p("memory.max", "50331648"),
                p("cpu.max", "30000 40000"),
            ]
        );
        // Unlimited now: quota stays "max"; swap without any memory limit is refused as runc.
        let unl = |f: &str| match f {
            "cpu.max" => Some("max 100000".to_string()),
            "memory.max" => Some("max".to_string()),
            _ => None,
        };
        let mut r: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"period":40000},"memory":{"swap":83886080}}"#).unwrap();
        complete_update(&mut r, unl);
        assert!(plan(&r, Env::default()).is_err());
        let mut r: LinuxResources = serde_json::from_str(r#"{"cpu":{"period":40000}}"#).unwrap();
        complete_update(&mut r, unl);
        assert_eq!(files_of(&r), [p("cpu.max", "max 40000")]);
        // Both halves given, or a missing file (v1 host): untouched.
        let mut r: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"quota":1000,"period":40000}}"#).unwrap();
        complete_update(&mut r, live);
        assert_eq!(files_of(&r), [p("cpu.max", "1000 40000")]);
        let mut r: LinuxResources = serde_json::from_str(r#"{"cpu":{"period":40000}}"#).unwrap();
        complete_update(&mut r, |_| None);
        assert_eq!(files_of(&r), [p("cpu.max", "max 40000")]);
    }

    fn files_of(r: &LinuxResources) -> Vec<(String, String)> {
        plan(r, Env::default())
            .unwrap()
            .into_iter()
            .map(|k| (k.file, k.value))
            .collect()
    }

    #[test]
    fn no_v2_knob_for_realtime() {
        let r: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"realtimeRuntime":1000}}"#).unwrap();
        assert!(plan(&r, Env::default()).is_err());
    }
}
