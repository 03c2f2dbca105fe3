use std::time::{Duration, Instant};

use serde_json::json;

use super::{help, name, need_id, next_tok, outln, unknown, value, Tok};
use crate::cgroups::Cgroup;
use crate::container::Globals;
use crate::error::{Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "\
usage: reno events [--stats] [--interval 5s] ID
  print the container's events as JSON lines, as runc does: a stats event every interval
  and an oom event whenever the kernel OOM-kills a process of the container; ends when
  the container stops. --stats prints one stats event and exits.
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    // It may poll for hours: malloc, not the bump arena.
    crate::linux::alloc::stop_bumping();
    let (mut id, mut once, mut interval) = (None, false, Duration::from_secs(5));
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "--stats" => once = true,
            Tok::Flag(f) if f == "--interval" => interval = duration(&value(p)?)?,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    events(g, &id, once, interval).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn events(g: &Globals, id: &str, once: bool, interval: Duration) -> Result<()> {
    // Read the state under the lock, then let go: a long watch must not block other commands.
    let (saved, dir) = {
        let (_lock, saved) = state::open(&g.root, id)?;
        let dir = state::dir(&g.root, id);
        if state::status(&dir, &saved) == Status::Stopped {
            return Err(Error::new(
                Kind::NotRunning,
                format!("container with id {id} is not running"),
            ));
        }
        (saved, dir)
    };
    let cg = crate::container::ops::cgroup_of(&saved)?;
    let stats = |cg: &Cgroup| json!({"type": "stats", "id": id, "data": cg.stats()});
    if once {
        outln!("{}", stats(&cg));
        return Ok(());
    }
    let mut oom = cg.oom_watch()?;
    let mut next = Instant::now();
    loop {
        for _ in 0..oom.take() {
            outln!("{}", json!({"type": "oom", "id": id}));
        }
        if state::status(&dir, &saved) == Status::Stopped {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next {
            outln!("{}", stats(&cg));
            next = now + interval;
        }
        // Wake for the next stats, an OOM (v1 eventfd), or every 100 ms to see v2 OOMs and
        // the container's end.
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        let ts = rustix::time::Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: wait.subsec_nanos() as i64,
        };
        match oom.fd() {
            Some(fd) => {
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                let _ = rustix::event::poll(&mut fds, Some(&ts));
            }
            None => std::thread::sleep(wait),
        }
    }
}

/// Go's time.ParseDuration for the common forms: 5s, 100ms, 1m30s, 1.5s, 2h.
pub fn duration(v: &str) -> Result<Duration> {
    let bad = || {
        Error::invalid(
            "events --interval",
            format!("invalid duration {v:?} (like 5s or 500ms)"),
        )
    };
    let mut rest = v.trim();
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n = super::decimal(&rest[..n_end]).ok_or_else(bad)?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = &rest[u_end..];
    }
    if total <= 0.0 || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        for bad in ["", "5", "s", "0s", "-1s", "5x"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
