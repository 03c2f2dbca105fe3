use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use super::{help, name, need_id, next_tok, unknown, value, Tok};
use crate::container::Globals;
use crate::error::{Context, Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "\
usage: reno update [options] ID
  change the resource limits of a running container
  -r, --resources FILE     linux.resources JSON (LinuxResources); - reads stdin
  --memory SIZE            memory limit (64m, 1g, -1 = unlimited)
  --memory-swap SIZE       memory+swap limit
  --memory-reservation SIZE
  --cpu-shares N           (also --cpu-share)
  --cpu-quota N            microseconds per period, -1 = unlimited
  --cpu-period N           microseconds
  --cpu-burst N
  --cpu-rt-period N, --cpu-rt-runtime N
  --cpuset-cpus LIST, --cpuset-mems LIST
  --pids-limit N
  --blkio-weight N         10-1000
  Flags are applied on top of --resources.
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut id = None;
    let mut r = LinuxResources::default();
    let (mut mem, mut cpu, mut blk) = (None::<LinuxMemory>, None::<LinuxCpu>, None::<LinuxBlockIo>);
    while let Some(t) = next_tok(p)? {
        let f = match t {
            Tok::Pos(v) if id.is_none() => {
                id = Some(v);
                continue;
            }
            Tok::Pos(v) => return Err(unknown(Tok::Pos(v))),
            Tok::Flag(f) => f,
        };
        match f.as_str() {
            "-h" | "--help" => return help(USAGE),
            "-r" | "--resources" => r = read_resources(&value(p)?)?,
            "--memory" => {
                mem.get_or_insert_with(Default::default)
                    .set_limit(Some(size(&f, &value(p)?)?));
            }
            "--memory-swap" => {
                mem.get_or_insert_with(Default::default)
                    .set_swap(Some(size(&f, &value(p)?)?));
            }
            "--memory-reservation" => {
                mem.get_or_insert_with(Default::default)
                    .set_reservation(Some(size(&f, &value(p)?)?));
            }
            "--kernel-memory" | "--kernel-memory-tcp" => {
                value(p)?;
                log::warn!("{f} is ignored (kernel memory limits are deprecated)");
            }
            "--cpu-shares" | "--cpu-share" => {
                cpu.get_or_insert_with(Default::default)
                    .set_shares(Some(int(&f, &value(p)?)?));
            }
            "--cpu-quota" => {
                cpu.get_or_insert_with(Default::default)
                    .set_quota(Some(int(&f, &value(p)?)?));
            }
            "--cpu-period" => {
                cpu.get_or_insert_with(Default::default)
                    .set_period(Some(int(&f, &value(p)?)?));
            }
            "--cpu-burst" => {
                cpu.get_or_insert_with(Default::default)
                    .set_burst(Some(int(&f, &value(p)?)?));
            }
            "--cpu-rt-period" => {
                cpu.get_or_insert_with(Default::default)
                    .set_realtime_period(Some(int(&f, &value(p)?)?));
            }
            "--cpu-rt-runtime" => {
                cpu.get_or_insert_with(Default::default)
                    .set_realtime_runtime(Some(int(&f, &value(p)?)?));
            }
            "--cpu-idle" => {
                cpu.get_or_insert_with(Default::default)
                    .set_idle(Some(int(&f, &value(p)?)?));
            }
            "--cpuset-cpus" => {
                cpu.get_or_insert_with(Default::default)
                    .set_cpus(Some(value(p)?));
            }
            "--cpuset-mems" => {
                cpu.get_or_insert_with(Default::default)
                    .set_mems(Some(value(p)?));
            }
            "--pids-limit" => {
                let mut pl = LinuxPids::default();
                pl.set_limit(int(&f, &value(p)?)?);
                r.set_pids(Some(pl));
            }
            "--blkio-weight" => {
                blk.get_or_insert_with(Default::default)
                    .set_weight(Some(int(&f, &value(p)?)?));
            }
            _ => return Err(unknown(Tok::Flag(f))),
        }
    }
    let id = need_id(id, USAGE)?;
    if let Some(m) = mem {
        let mut base = r.memory().unwrap_or_default();
        if m.limit().is_some() {
            base.set_limit(m.limit());
        }
        if m.swap().is_some() {
            base.set_swap(m.swap());
        }
        if m.reservation().is_some() {
            base.set_reservation(m.reservation());
        }
        r.set_memory(Some(base));
    }
    if let Some(c) = cpu {
        let mut base = r.cpu().clone().unwrap_or_default();
        macro_rules! take {
            ($get:ident, $set:ident) => {
                if c.$get().is_some() {
                    base.$set(c.$get().clone());
                }
            };
        }
        take!(shares, set_shares);
        take!(quota, set_quota);
        take!(period, set_period);
        take!(burst, set_burst);
        take!(realtime_period, set_realtime_period);
        take!(realtime_runtime, set_realtime_runtime);
        take!(idle, set_idle);
        take!(cpus, set_cpus);
        take!(mems, set_mems);
        r.set_cpu(Some(base));
    }
    if let Some(b) = blk {
        let mut base = r.block_io().clone().unwrap_or_default();
        base.set_weight(b.weight());
        r.set_block_io(Some(base));
    }
    update(g, &id, &r).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn update(g: &Globals, id: &str, r: &LinuxResources) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    match state::status(&state::dir(&g.root, id), &saved) {
        Status::Running | Status::Created | Status::Paused => {}
        _ => return Err(Error::new(Kind::NotRunning, "container not running")),
    }
    crate::container::ops::cgroup_of(&saved)?.update(r)
}

fn read_resources(src: &str) -> Result<LinuxResources> {
    let bytes = if src == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .ctx("read resources from stdin")?;
        b
    } else {
        std::fs::read(src).ctx_path("read resources", src)?
    };
    crate::spec::parse_resources(&bytes).map_err(|e| {
        Error::invalid(
            "update --resources",
            format!("{src}: not LinuxResources JSON: {e}"),
        )
    })
}

fn int<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T> {
    v.trim().parse().map_err(|_| {
        Error::invalid(
            format!("update {flag}"),
            format!("{v:?} is not a valid number here"),
        )
    })
}

/// runc's sizes (go-units RAMInBytes): `-1`, or a number with an optional binary unit
/// b, k, m, g, t, p (with an optional trailing b or ib), any case: 64m, 1.5GiB, 1024.
pub fn size(flag: &str, v: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(
            format!("update {flag}"),
            format!("invalid size {v:?} (like 64m or -1)"),
        )
    };
    let s = v.trim().to_ascii_lowercase();
    if s == "-1" {
        return Ok(-1);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n = super::decimal(n).ok_or_else(bad)?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(unit);
    let mult: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let bytes = n * mult;
    if !(0.0..9.2e18).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn decimal_matches_str_parse() {
        for s in [
            "0",
            "1",
            "12",
            "1.5",
            ".5",
            "2.",
            "0.3",
            "0.1",
            "123.456",
            "64",
            "1.0000001",
            "99999999999999",
            "0.000001",
            "007.70",
        ] {
            assert_eq!(crate::cli::decimal(s), s.parse::<f64>().ok(), "{s}");
        }
        for s in ["", ".", "1.2.3", "-1", "1e3", "+1", " 1", "inf", "NaN"] {
            assert_eq!(crate::cli::decimal(s), None, "{s}");
        }
    }

    #[test]
    fn sizes_like_runc() {
        assert_eq!(size("x", "64m").unwrap(), 64 << 20);
        assert_eq!(size("x", "64MB").unwrap(), 64 << 20);
        assert_eq!(size("x", "1GiB").unwrap(), 1 << 30);
        assert_eq!(size("x", "1.5k").unwrap(), 1536);
        assert_eq!(size("x", "4096").unwrap(), 4096);
        assert_eq!(size("x", "100b").unwrap(), 100);
        assert_eq!(size("x", "-1").unwrap(), -1);
        assert_eq!(size("x", ".5k").unwrap(), 512);
        assert_eq!(size("x", "2.k").unwrap(), 2048);
        assert_eq!(size("x", "0.3k").unwrap(), 307);
        for bad in [
            "",
            "m",
            "12q",
            "-5",
            "1e99g",
            ".k",
            "1.2.3m",
            "99999999999999999999g",
        ] {
            assert!(size("x", bad).is_err(), "{bad}");
        }
    }
}
