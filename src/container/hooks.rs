//! Running OCI hooks: `path` with `args` (args[0] is argv[0]) and exactly `env`, the state
//! JSON on stdin, killed after `timeout` seconds.

use std::ffi::OsString;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, WaitStatus};

use crate::error::{Context, Error, Result};
use crate::linux::spawn::{self, Cmd, Io};
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
    // argv[0] is args[0] (the path when there are no args); the environment is exactly `env`.
    let mut argv: Vec<OsString> = h.args().iter().flatten().map(OsString::from).collect();
    if argv.is_empty() {
        argv.push(h.path().into());
    }
    let env: Vec<OsString> = h
        .env()
        .iter()
        .flatten()
        .filter(|kv| kv.contains('='))
        .map(OsString::from)
        .collect();
    let mut child = Cmd::new(h.path().as_os_str(), &argv, Some(&env))
        .and_then(|c| c.spawn(Io::Pipe, Io::Inherit))
        .map_err(|e| Error::sys("start", e).path(h.path()))?;
    if let Some(stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = write_all(&stdin, state_json.as_bytes());
    }
    let status = match h.timeout() {
        Some(secs) if secs > 0 => wait_timeout(child.pid, secs as u64)?,
        _ => Some(spawn::wait(child.pid).ctx("wait")?),
    };
    match status {
        Some(s) if s.exit_status() == Some(0) => Ok(()),
        Some(s) => Err(Error::failed("exited", spawn::describe(s))),
        None => Err(Error::failed(
            "timed out",
            format!("killed after {}s", h.timeout().unwrap_or(0)),
        )),
    }
}

fn write_all(fd: &rustix::fd::OwnedFd, mut b: &[u8]) -> rustix::io::Result<()> {
    while !b.is_empty() {
        match rustix::io::write(fd, b) {
            Ok(n) => b = &b[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wait at most `secs` for the child (via a pidfd, no polling loop); kill it on timeout.
fn wait_timeout(pid: Pid, secs: u64) -> Result<Option<WaitStatus>> {
    let pidfd =
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ctx("pidfd_open")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = spawn::wait(pid);
            return Ok(None);
        }
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => return spawn::wait(pid).map(Some).ctx("wait"),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
        }
    }
}
