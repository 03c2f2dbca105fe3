//! Running OCI hooks: `path` with `args` (args[0] is argv[0]) and exactly `env`, the state
//! JSON on stdin, killed after `timeout` seconds.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::event::{poll, PollFd, PollFlags};

use crate::error::{Context, Error, Result};
use crate::spec::Hook;

/// Run every hook of one kind in order; the first failure stops the rest.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run(h, state_json).map_err(|e| {
            let step = format!("{kind} hook #{i} {}", h.path().display());
            Error {
                step: format!("{step}: {}", e.step),
                ..e
            }
        })?;
    }
    Ok(())
}

/// Run each hook; failures are logged as warnings and the rest still run (poststop).
pub fn run_all_warn(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run(h, state_json) {
            log::warn!("{kind} hook #{i} {}: {e}", h.path().display());
        }
    }
}

pub fn run(h: &Hook, state_json: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().ctx_path("start", h.path())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let status = match h.timeout() {
        Some(secs) if secs > 0 => wait_timeout(&mut child, secs as u64)?,
        _ => Some(child.wait().ctx("wait")?),
    };
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(Error::failed("exited", format!("{s}"))),
        None => Err(Error::failed(
            "timed out",
            format!("killed after {}s", h.timeout().unwrap_or(0)),
        )),
    }
}

/// Wait at most `secs` for the child (via a pidfd, no polling loop); kill it on timeout.
fn wait_timeout(
    child: &mut std::process::Child,
    secs: u64,
) -> Result<Option<std::process::ExitStatus>> {
    let pid = crate::linux::process::pid_from_raw(child.id() as i32).ctx("hook pid")?;
    let pidfd =
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ctx("pidfd_open")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => return child.wait().map(Some).ctx("wait"),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
        }
    }
}
