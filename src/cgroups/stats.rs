//! Usage figures for `reno events` in runc's JSON shape (libcontainer's types.Stats), read
//! from v1 files where a controller is mounted as v1 and from the v2 dir otherwise; and the
//! OOM watch (v1: an eventfd on memory.oom_control; v2: memory.events' oom_kill counter).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use serde_json::{json, Map, Value};

use super::Cgroup;
use crate::error::{Context, Result};

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn num(p: &Path) -> u64 {
    read(p)
        .and_then(|s| {
            let s = s.trim();
            if s == "max" {
                Some(u64::MAX)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, memory.events) as a map.
pub fn flat_keyed(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// v1 blkio `MAJ:MIN Op value` lines.
pub fn blkio_v1(s: &str) -> Vec<Value> {
    s.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, v) = (f.next()?, f.next()?, f.next()?);
            let (ma, mi) = dev.split_once(':')?;
            Some(
                json!({"major": ma.parse::<u64>().ok()?, "minor": mi.parse::<u64>().ok()?,
                        "op": op, "value": v.parse::<u64>().ok()?}),
            )
        })
        .collect()
}

/// v2 io.stat lines (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 …`) as runc's two v1-style lists.
pub fn io_stat_v2(s: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in s.lines() {
        let mut f = l.split_whitespace();
        let Some((ma, mi)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(ma), Ok(mi)) = (ma.parse::<u64>(), mi.parse::<u64>()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(json!({"major": ma, "minor": mi, "op": op, "value": v}));
        }
    }
    (bytes, ios)
}

fn entry(dir: &Path, prefix: &str) -> Value {
    json!({
        "limit": num(&dir.join(format!("{prefix}limit_in_bytes"))),
        "usage": num(&dir.join(format!("{prefix}usage_in_bytes"))),
        "max": num(&dir.join(format!("{prefix}max_usage_in_bytes"))),
        "failcnt": num(&dir.join(format!("{prefix}failcnt"))),
    })
}

impl Cgroup {
    fn dir_for(&self, controller: &str) -> Option<(bool, PathBuf)> {
        if let Some(d) = self.v1_dir(controller) {
            return Some((false, d.clone()));
        }
        self.v2().map(|(_, d)| (true, d.clone()))
    }

    /// The `data` of a runc stats event.
    pub fn stats(&self) -> Value {
        let mut out = Map::new();
        out.insert("cpu".into(), self.cpu_stats());
        out.insert("memory".into(), self.memory_stats());
        let pids = match self.dir_for("pids") {
            Some((_, d)) => {
                let limit = num(&d.join("pids.max"));
                json!({"current": num(&d.join("pids.current")),
                       "limit": if limit == u64::MAX { 0 } else { limit }})
            }
            None => json!({}),
        };
        out.insert("pids".into(), pids);
        out.insert("blkio".into(), self.blkio_stats());
        out.insert("hugetlb".into(), self.hugetlb_stats());
        Value::Object(out)
    }

    fn cpu_stats(&self) -> Value {
        let mut usage = Map::new();
        let mut throttling = json!({});
        if let Some(d) = self.v1_dir("cpuacct") {
            usage.insert("total".into(), num(&d.join("cpuacct.usage")).into());
            let percpu: Vec<u64> = read(&d.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            usage.insert("percpu".into(), percpu.into());
            // cpuacct.stat is in USER_HZ (100) ticks; runc reports nanoseconds.
            let st = flat_keyed(&read(&d.join("cpuacct.stat")).unwrap_or_default());
            let ns = |k: &str| st.get(k).copied().unwrap_or(0) * 10_000_000;
            usage.insert("kernel".into(), ns("system").into());
            usage.insert("user".into(), ns("user").into());
        } else if let Some((_, d)) = self.v2() {
            let st = flat_keyed(&read(&d.join("cpu.stat")).unwrap_or_default());
            let ns = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
            usage.insert("total".into(), ns("usage_usec").into());
            usage.insert("kernel".into(), ns("system_usec").into());
            usage.insert("user".into(), ns("user_usec").into());
            throttling = json!({"periods": st.get("nr_periods").copied().unwrap_or(0),
                "throttledPeriods": st.get("nr_throttled").copied().unwrap_or(0),
                "throttledTime": ns("throttled_usec")});
        }
        if let Some(d) = self.v1_dir("cpu") {
            let st = flat_keyed(&read(&d.join("cpu.stat")).unwrap_or_default());
            let g = |k: &str| st.get(k).copied().unwrap_or(0);
            throttling = json!({"periods": g("nr_periods"), "throttledPeriods": g("nr_throttled"),
                "throttledTime": g("throttled_time")});
        }
        json!({"usage": usage, "throttling": throttling})
    }

    fn memory_stats(&self) -> Value {
        match self.dir_for("memory") {
            Some((false, d)) => {
                let raw = flat_keyed(&read(&d.join("memory.stat")).unwrap_or_default());
                json!({
                    "cache": raw.get("cache").copied().unwrap_or(0),
                    "usage": entry(&d, "memory."),
                    "swap": entry(&d, "memory.memsw."),
                    "kernel": entry(&d, "memory.kmem."),
                    "kernelTCP": entry(&d, "memory.kmem.tcp."),
                    "raw": raw,
                })
            }
            Some((true, d)) => {
                let raw = flat_keyed(&read(&d.join("memory.stat")).unwrap_or_default());
                let ev = flat_keyed(&read(&d.join("memory.events")).unwrap_or_default());
                json!({
                    "cache": raw.get("file").copied().unwrap_or(0),
                    "usage": {"usage": num(&d.join("memory.current")),
                              "limit": num(&d.join("memory.max")),
                              "max": num(&d.join("memory.peak")),
                              "failcnt": ev.get("max").copied().unwrap_or(0)},
                    "swap": {"usage": num(&d.join("memory.swap.current")),
                             "limit": num(&d.join("memory.swap.max")), "failcnt": 0},
                    "raw": raw,
                })
            }
            None => json!({}),
        }
    }

    fn blkio_stats(&self) -> Value {
        match self.dir_for("blkio") {
            Some((false, d)) => {
                let f = |n: &str| blkio_v1(&read(&d.join(n)).unwrap_or_default());
                json!({
                    "ioServiceBytesRecursive": f("blkio.throttle.io_service_bytes_recursive"),
                    "ioServicedRecursive": f("blkio.throttle.io_serviced_recursive"),
                })
            }
            Some((true, d)) => {
                let (b, i) = io_stat_v2(&read(&d.join("io.stat")).unwrap_or_default());
                json!({"ioServiceBytesRecursive": b, "ioServicedRecursive": i})
            }
            None => json!({}),
        }
    }

    fn hugetlb_stats(&self) -> Value {
        let mut out = Map::new();
        let Some((v2, d)) = self.dir_for("hugetlb") else {
            return Value::Object(out);
        };
        for size in page_sizes() {
            let v = if v2 {
                let ev = flat_keyed(
                    &read(&d.join(format!("hugetlb.{size}.events"))).unwrap_or_default(),
                );
                if !d.join(format!("hugetlb.{size}.current")).exists() {
                    continue;
                }
                json!({"usage": num(&d.join(format!("hugetlb.{size}.current"))),
                       "failcnt": ev.get("max").copied().unwrap_or(0)})
            } else {
                json!({"usage": num(&d.join(format!("hugetlb.{size}.usage_in_bytes"))),
                       "max": num(&d.join(format!("hugetlb.{size}.max_usage_in_bytes"))),
                       "failcnt": num(&d.join(format!("hugetlb.{size}.failcnt")))})
            };
            out.insert(size, v);
        }
        Value::Object(out)
    }

    /// Start watching for OOM kills in this cgroup.
    pub fn oom_watch(&self) -> Result<OomWatch> {
        if let Some(d) = self.v1_dir("memory") {
            let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)
                .ctx("create eventfd")?;
            let ctl_path = d.join("memory.oom_control");
            let ctl = rustix::fs::open(
                &ctl_path,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ctx_path("open", &ctl_path)?;
            use std::os::fd::AsRawFd;
            let line = format!("{} {}", efd.as_raw_fd(), ctl.as_raw_fd());
            let ec = d.join("cgroup.event_control");
            crate::linux::fs::write_file(&ec, line.as_bytes())
                .ctx_path("register OOM eventfd", &ec)?;
            return Ok(OomWatch::V1 {
                efd,
                _ctl: ctl,
                ctl_path,
            });
        }
        let events = self
            .v2()
            .map(|(_, d)| d.join("memory.events"))
            .filter(|p| p.exists());
        let seen = events.as_deref().map(oom_kills).unwrap_or(0);
        Ok(OomWatch::V2 { events, seen })
    }
}

fn oom_kills(p: &Path) -> u64 {
    flat_keyed(&read(p).unwrap_or_default())
        .get("oom_kill")
        .copied()
        .unwrap_or(0)
}

/// Hugepage sizes of the machine as cgroup files name them (2MB, 1GB).
pub fn page_sizes() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(kb) = n
            .strip_prefix("hugepages-")
            .and_then(|s| s.strip_suffix("kB"))
        else {
            continue;
        };
        let Ok(kb) = kb.parse::<u64>() else { continue };
        out.push(if kb >= 1 << 20 {
            format!("{}GB", kb >> 20)
        } else if kb >= 1 << 10 {
            format!("{}MB", kb >> 10)
        } else {
            format!("{kb}KB")
        });
    }
    out.sort();
    out
}

pub enum OomWatch {
    V1 {
        efd: OwnedFd,
        _ctl: OwnedFd,
        ctl_path: PathBuf,
    },
    V2 {
        events: Option<PathBuf>,
        seen: u64,
    },
}

impl OomWatch {
    /// An fd to poll for readability (v1 only; v2 is polled by re-reading).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            OomWatch::V1 { efd, .. } => Some(efd.as_fd()),
            OomWatch::V2 { .. } => None,
        }
    }

    /// OOM events since the last call (never blocks).
    pub fn take(&mut self) -> u64 {
        match self {
            OomWatch::V1 { efd, ctl_path, .. } => {
                let mut fds = [rustix::event::PollFd::new(
                    efd,
                    rustix::event::PollFlags::IN,
                )];
                let zero = rustix::time::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                if !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0) {
                    return 0;
                }
                let mut buf = [0u8; 8];
                let n = match rustix::io::read(&*efd, &mut buf) {
                    Ok(8) => u64::from_ne_bytes(buf),
                    _ => 0,
                };
                // The kernel also signals the eventfd when the cgroup is removed.
                if !ctl_path.exists() {
                    return 0;
                }
                n
            }
            OomWatch::V2 { events, seen } => {
                let Some(p) = events else { return 0 };
                let now = oom_kills(p);
                let n = now.saturating_sub(*seen);
                *seen = now;
                n
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_files() {
        let m = flat_keyed("cache 4096\nrss 8192\n");
        assert_eq!(m["rss"], 8192);
        let b = blkio_v1("254:0 Read 10\n254:0 Write 20\nTotal 30\n");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1]["op"], "Write");
        let (bytes, ios) = io_stat_v2("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0\n");
        assert_eq!(bytes[0]["value"], 1);
        assert_eq!(ios[1]["value"], 4);
    }
}
