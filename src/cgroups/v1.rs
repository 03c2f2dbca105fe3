//! cgroup v1 file mapping (runc's libcontainer/cgroups/fs): each resource to its file in the
//! controller's own hierarchy.

use oci_spec::runtime::LinuxResources;

use super::knob::{bad, knob, Knob, READ_BACK, RETRY_LATER, SKIP_MISSING};
use crate::error::Result;

/// What the mapping needs to know about the live cgroup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Env {
    /// memory.limit_in_bytes now (to order the memory/memsw writes).
    pub mem_limit: u64,
    /// blkio.weight is missing (no CFQ): use blkio.bfq.weight(_device).
    pub bfq: bool,
    /// memory.memsw.limit_in_bytes exists (swap accounting on).
    pub memsw: bool,
}

fn limit_str(v: i64) -> String {
    v.to_string()
}

/// The ordered writes for `r`.
pub fn plan(r: &LinuxResources, env: Env) -> Result<Vec<Knob>> {
    let mut k = Vec::new();
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        let mut swap = m.swap().unwrap_or(0);
        // runc: unlimited memory without an explicit swap means unlimited swap too.
        if limit == -1 && swap == 0 && env.memsw {
            swap = -1;
        }
        if swap == -1 && !env.memsw {
            // Unlimited swap is all there is without swap accounting.
            swap = 0;
        }
        if swap != 0 && !env.memsw {
            return Err(bad(
                "memory.swap",
                "swap accounting is off in this kernel (no memory.memsw.limit_in_bytes)",
            ));
        }
        let mem = knob("memory", "memory.limit_in_bytes", limit_str(limit));
        let sw = knob("memory", "memory.memsw.limit_in_bytes", limit_str(swap));
        match (limit != 0, swap != 0) {
            // memsw must stay >= limit at every step: raise memsw first when growing.
            (true, true) if swap == -1 || env.mem_limit < swap as u64 => k.extend([sw, mem]),
            (true, true) => k.extend([mem, sw]),
            (true, false) => k.push(mem),
            (false, true) => k.push(sw),
            (false, false) => {}
        }
        if let Some(res) = m.reservation().filter(|&v| v != 0) {
            k.push(knob("memory", "memory.soft_limit_in_bytes", limit_str(res)));
        }
        if m.disable_oom_killer() == Some(true) {
            k.push(knob("memory", "memory.oom_control", "1"));
        }
        if let Some(s) = m.swappiness() {
            k.push(knob("memory", "memory.swappiness", s.to_string()));
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(s) = cpu.shares().filter(|&s| s != 0) {
            k.push(knob("cpu", "cpu.shares", s.to_string()).with(READ_BACK));
        }
        let quota = cpu.quota().filter(|&q| q != 0);
        let late = if quota.is_some() { RETRY_LATER } else { 0 };
        let period = cpu
            .period()
            .filter(|&p| p != 0)
            .map(|p| knob("cpu", "cpu.cfs_period_us", p.to_string()));
        let burst = cpu
            .burst()
            .map(|b| knob("cpu", "cpu.cfs_burst_us", b.to_string()));
        k.extend(period.clone().map(|p| p.with(late)));
        k.extend(burst.clone().map(|b| b.with(late)));
        if let Some(q) = quota {
            k.push(knob("cpu", "cpu.cfs_quota_us", q.to_string()));
            k.extend(period);
            k.extend(burst);
        }
        if let Some(i) = cpu.idle() {
            k.push(knob("cpu", "cpu.idle", i.to_string()));
        }
        if let Some(p) = cpu.realtime_period().filter(|&p| p != 0) {
            k.push(knob("cpu", "cpu.rt_period_us", p.to_string()));
        }
        if let Some(rt) = cpu.realtime_runtime().filter(|&p| p != 0) {
            k.push(knob("cpu", "cpu.rt_runtime_us", rt.to_string()));
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
        let (wf, wdf) = if env.bfq {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
        if let Some(w) = b.weight() {
            k.push(knob("blkio", wf, w.to_string()));
        }
        if let Some(w) = b.leaf_weight() {
            k.push(knob("blkio", "blkio.leaf_weight", w.to_string()));
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                k.push(knob(
                    "blkio",
                    wdf,
                    format!("{}:{} {w}", wd.major(), wd.minor()),
                ));
            }
            if let Some(w) = wd.leaf_weight() {
                k.push(knob(
                    "blkio",
                    "blkio.leaf_weight_device",
                    format!("{}:{} {w}", wd.major(), wd.minor()),
                ));
            }
        }
        for (file, list) in [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ] {
            for td in list.iter().flatten() {
                k.push(knob(
                    "blkio",
                    file,
                    format!("{}:{} {}", td.major(), td.minor(), td.rate()),
                ));
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let f = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        k.push(knob("hugetlb", &f, h.limit().to_string()));
        // The reservation limit too (kernels ≥ 5.7), as runc: same value, skipped if absent.
        let f = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size());
        k.push(knob("hugetlb", &f, h.limit().to_string()).with(SKIP_MISSING));
    }
    if let Some(n) = r.network() {
        if let Some(c) = n.class_id() {
            k.push(knob("net_cls", "net_cls.classid", c.to_string()));
        }
        for p in n.priorities().iter().flatten() {
            k.push(knob(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            ));
        }
    }
    k.extend(rdma(r));
    Ok(k)
}

/// `rdma.max` lines, the same on v1 and v2 (sorted by device for a stable order).
pub fn rdma(r: &LinuxResources) -> Vec<Knob> {
    let mut out = Vec::new();
    let mut devs: Vec<_> = r.rdma().iter().flatten().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devs {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line != *dev {
            out.push(knob("rdma", "rdma.max", line));
        }
    }
    out
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
    fn memory_order_depends_on_current_limit() {
        let env = Env {
            mem_limit: 1 << 20,
            memsw: true,
            bfq: false,
        };
        let j = r#"{"memory":{"limit":4194304,"swap":8388608,"reservation":1048576,"swappiness":10,"disableOOMKiller":true}}"#;
        assert_eq!(
            files(j, env),
            [
                p("memory.memsw.limit_in_bytes", "8388608"),
                p("memory.limit_in_bytes", "4194304"),
                p("memory.soft_limit_in_bytes", "1048576"),
                p("memory.oom_control", "1"),
                p("memory.swappiness", "10"),
            ]
        );
        let shrink = Env {
            mem_limit: 1 << 40,
            ..env
        };
        assert_eq!(files(j, shrink)[0], p("memory.limit_in_bytes", "4194304"));
        assert_eq!(
            files(r#"{"memory":{"limit":-1}}"#, env),
            [
                p("memory.memsw.limit_in_bytes", "-1"),
                p("memory.limit_in_bytes", "-1")
            ]
        );
    }

    #[test]
    fn cpu_blkio_hugetlb_net_rdma() {
        let j = r#"{"cpu":{"shares":512,"quota":50000,"period":100000,"burst":1000,"idle":0,
            "realtimePeriod":1000000,"realtimeRuntime":10000,"cpus":"0","mems":"0"},
            "blockIO":{"weight":300,"weightDevice":[{"major":254,"minor":0,"weight":200}],
              "throttleReadBpsDevice":[{"major":254,"minor":0,"rate":1048576}],
              "throttleWriteIOPSDevice":[{"major":254,"minor":0,"rate":100}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
            "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]},
            "rdma":{"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}},
            "pids":{"limit":-1}}"#;
        let env = Env {
            bfq: true,
            ..Env::default()
        };
        let f = files(j, env);
        assert_eq!(
            f,
            [
                p("cpu.shares", "512"),
                p("cpu.cfs_period_us", "100000"),
                p("cpu.cfs_burst_us", "1000"),
                p("cpu.cfs_quota_us", "50000"),
                p("cpu.cfs_period_us", "100000"),
                p("cpu.cfs_burst_us", "1000"),
                p("cpu.idle", "0"),
                p("cpu.rt_period_us", "1000000"),
                p("cpu.rt_runtime_us", "10000"),
                p("cpuset.cpus", "0"),
                p("cpuset.mems", "0"),
                p("pids.max", "max"),
                p("blkio.bfq.weight", "300"),
                p("blkio.bfq.weight_device", "254:0 200"),
                p("blkio.throttle.read_bps_device", "254:0 1048576"),
                p("blkio.throttle.write_iops_device", "254:0 100"),
                p("hugetlb.2MB.limit_in_bytes", "4194304"),
                p("hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
                p("net_cls.classid", "1048577"),
                p("net_prio.ifpriomap", "eth0 5"),
                p("rdma.max", "mlx4_0 hca_handle=2 hca_object=2000"),
            ]
        );
    }

    #[test]
    fn swap_without_accounting_is_an_error() {
        let r: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":1048576,"swap":2097152}}"#).unwrap();
        assert!(plan(&r, Env::default()).is_err());
    }
}
