//! Running the runtime's own CLI in a forked child: init never calls container internals, it
//! runs `reno --root STATE run --bundle B ID` (foreground, exit code = the container's) the
//! way a service manager would run runc, with stdout/stderr on a pipe it reads.

use std::ffi::OsString;
use std::path::Path;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::Pid;

use crate::error::{Context, Result};
use crate::linux::process::{exit_now, fork, Forked};
use crate::linux::signal;

/// `reno --root STATE run --bundle B ID`.
pub fn run_args(state_root: &Path, bundle: &Path, id: &str) -> Vec<OsString> {
    vec![
        "--root".into(),
        state_root.into(),
        "run".into(),
        "--bundle".into(),
        bundle.into(),
        id.into(),
    ]
}

/// `reno --root STATE delete --force ID`: clean up after a `run` that had to be killed.
pub fn delete_args(state_root: &Path, id: &str) -> Vec<OsString> {
    vec![
        "--root".into(),
        state_root.into(),
        "delete".into(),
        "--force".into(),
        id.into(),
    ]
}

/// Fork a child running the CLI with `args`; its stdout and stderr go to the returned pipe
/// (read end, non-blocking), stdin is /dev/null. The child gets an empty signal mask (init
/// blocks everything it reads through signalfd) and its own session, so a console ^C does
/// not reach it.
pub fn spawn(args: Vec<OsString>) -> Result<(Pid, OwnedFd)> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).ctx("create output pipe")?;
    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .ctx_path("open", "/dev/null")?;
    match fork().ctx("fork")? {
        Forked::Child => {
            drop(r);
            let ok = rustix::stdio::dup2_stdin(&null).is_ok()
                && rustix::stdio::dup2_stdout(&w).is_ok()
                && rustix::stdio::dup2_stderr(&w).is_ok();
            drop(w);
            drop(null);
            // Nothing of init's (signalfd, watchdog, other containers' pipes) may stay open
            // in the runtime and its container; only the device programs loaded at boot
            // (close-on-exec: the container never gets them), which the runtime attaches.
            crate::linux::fds::close_from_except(3, &kept_fds());
            if !ok || signal::set_mask(0).is_err() {
                exit_now(127);
            }
            let _ = rustix::process::setsid();
            exit_now(run_cli(args))
        }
        Forked::Parent(pid) => {
            drop(w);
            let fl = rustix::fs::fcntl_getfl(&r).ctx("fcntl F_GETFL")?;
            rustix::fs::fcntl_setfl(&r, fl | OFlags::NONBLOCK).ctx("fcntl F_SETFL")?;
            Ok((pid, r))
        }
    }
}

/// Fork the CLI with output discarded to init's own log and wait for it (used for cleanup).
pub fn run_and_wait(args: Vec<OsString>) -> i32 {
    match fork() {
        Ok(Forked::Child) => {
            crate::linux::fds::close_from_except(3, &kept_fds());
            let _ = signal::set_mask(0);
            exit_now(run_cli(args))
        }
        Ok(Forked::Parent(pid)) => crate::linux::process::wait_exit_code(pid).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// Descriptors of init's that its runtime children keep (`keep_in_children`).
static KEPT: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Keep `fds` open in the runtime processes forked from now on (they must be close-on-exec).
pub fn keep_in_children(fds: &[i32]) {
    KEPT.lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend_from_slice(fds);
}

fn kept_fds() -> Vec<i32> {
    KEPT.lock().map(|k| k.clone()).unwrap_or_default()
}

/// `reno.probe=PATH[,ARG...]` on the kernel command line: fork + exec `PATH ARG...`
/// (`PATH reno-probe` without arguments; no namespaces, no runtime) and time it from the
/// fork to its first line of output. A bare program is the floor a container's start-up is
/// compared with; tests/bench/floor.c, which makes a container itself, is the kernel's
/// share of one. Returns the seconds and that line.
pub fn probe(argv: &[&str]) -> Result<(f64, String)> {
    use std::ffi::CString;
    let Some(&first) = argv.first() else {
        return Err(crate::error::Error::invalid("reno.probe", "no program"));
    };
    let path = Path::new(first);
    let args = if argv.len() > 1 {
        argv
    } else {
        &[first, "reno-probe"][..]
    };
    let argv = args
        .iter()
        .map(|a| CString::new(*a))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| crate::error::Error::invalid("reno.probe", "contains NUL"))?;
    let envp = [c"PATH=/bin:/usr/bin".to_owned()];
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).ctx("create probe pipe")?;
    let start = super::log::boottime();
    let pid = match fork().ctx("fork")? {
        Forked::Child => {
            drop(r);
            if rustix::stdio::dup2_stdout(&w).is_err() {
                exit_now(127);
            }
            drop(w);
            crate::linux::fds::close_from(3);
            let _ = signal::set_mask(0);
            let _ = crate::linux::process::execve(&argv[0], &argv, &envp);
            exit_now(127)
        }
        Forked::Parent(pid) => pid,
    };
    drop(w);
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match rustix::io::read(&r, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                line.extend_from_slice(&buf[..n]);
                if line.contains(&b'\n') {
                    break;
                }
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(crate::error::Error::sys("read probe output", e)),
        }
    }
    let elapsed = super::log::boottime() - start;
    let code = crate::linux::process::wait_exit_code(pid).ctx("wait for the probe")?;
    let text = String::from_utf8_lossy(&line).trim_end().to_string();
    if code != 0 && text.is_empty() {
        return Err(crate::error::Error::failed(
            "reno.probe",
            format!("exited with code {code} before printing anything"),
        )
        .path(path));
    }
    Ok((elapsed, text))
}

/// The runtime's CLI, run in this (forked) process: no exec, no extra process image. It
/// allocates from the bump arena, as `reno` run from a shell does (init itself stopped it).
fn run_cli(args: Vec<OsString>) -> i32 {
    crate::linux::alloc::resume_bumping();
    crate::cli::main_with_args(args)
}
