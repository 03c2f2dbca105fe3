//! start, kill, delete, state, list and run: the operations on an existing container.

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use serde_json::Value;

use super::create::{create_container, Config, Created};
use super::hooks;
use super::{CreateOpts, Globals};
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Kind, Result};
use crate::linux::{self, signal};
use crate::spec;
use crate::state::{self, Saved, Status};

fn wrong_state(msg: String) -> Error {
    Error::new(Kind::WrongState, msg)
}

/// The frozen config copy, for hooks after create.
fn saved_spec(dir: &Path) -> Option<Box<spec::Spec>> {
    let bytes = std::fs::read(dir.join(state::CONFIG_COPY)).ok()?;
    match spec::parse(&bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("saved config of {}: {e}; hooks skipped", dir.display());
            None
        }
    }
}

pub fn start(g: &Globals, id: &str) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    let dir = state::dir(&g.root, id);
    match state::status(&dir, &saved) {
        Status::Created => {}
        Status::Stopped => {
            return Err(wrong_state(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running => {
            return Err(wrong_state(
                "cannot start an already running container".into(),
            ))
        }
        Status::Paused => {
            return Err(wrong_state(
                "cannot start a container in the paused state".into(),
            ))
        }
        Status::Creating => {
            return Err(wrong_state(
                "cannot start a container that is still being created".into(),
            ))
        }
    }
    start_created(&dir, &saved, saved_spec(&dir).as_deref(), None)
}

/// Release the init waiting on the fifo, then run poststart hooks: a failing one is a
/// warning and the rest still run (runtime-spec; runc kills the container instead).
fn start_created(
    dir: &Path,
    saved: &Saved,
    spec: Option<&spec::Spec>,
    fifo_reader: Option<OwnedFd>,
) -> Result<()> {
    if spec.is_some_and(|s| s.process().is_none()) {
        return Err(wrong_state(
            "cannot start a container without process (config.json has none)".into(),
        ));
    }
    let fifo = release_init(dir, saved, fifo_reader)?;
    if let Some(h) = spec.and_then(|s| s.hooks().as_ref()) {
        if h.poststart().is_some() {
            wait_for_exec(&fifo, saved);
        }
        let json = state::to_json(saved, Status::Running).to_string();
        hooks::run_all_warn("poststart", h.poststart().as_ref(), &json);
    }
    Ok(())
}

/// Until the init has executed the container's program (or is gone): it holds the fifo's
/// write end open to its execve, so the fifo hangs up then.
fn wait_for_exec(fifo: &OwnedFd, saved: &Saved) {
    use rustix::event::PollFlags;
    loop {
        let events = poll_fifo(fifo);
        if events.contains(PollFlags::HUP) {
            return;
        }
        if events.contains(PollFlags::IN) {
            // Readable without a hang-up: only bytes the init should not have written;
            // take them (at end of file, the writer is gone) rather than spin on them.
            match rustix::io::read(fifo, &mut [0u8; 64]) {
                Ok(0) => return,
                Err(e) if e != rustix::io::Errno::AGAIN && e != rustix::io::Errno::INTR => return,
                _ => {}
            }
        } else if !linux::process::is_alive(saved.pid, saved.start_time) {
            return;
        }
    }
}

/// What happened on the fifo within 5 ms: readable, hung up, or nothing (timeout, EINTR).
fn poll_fifo(fifo: &OwnedFd) -> rustix::event::PollFlags {
    let mut fds = [rustix::event::PollFd::new(
        fifo,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 5_000_000,
    };
    match rustix::event::poll(&mut fds, Some(&ts)) {
        Ok(n) if n > 0 => fds[0].revents(),
        _ => rustix::event::PollFlags::empty(),
    }
}

/// The exec fifo's read end, non-blocking: opening it never waits for the init, whose
/// blocking open for writing it completes.
pub(super) fn open_fifo_reader(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx_path("open exec fifo", path)
}

/// Open the fifo for reading (which completes the init's blocking open for writing; `run`
/// opened it already), take its one byte, remove the fifo: from then on the container
/// counts as running.
fn release_init(dir: &Path, saved: &Saved, opened: Option<OwnedFd>) -> Result<OwnedFd> {
    let path = dir.join(state::FIFO);
    let fd = match opened {
        Some(fd) => fd,
        None => open_fifo_reader(&path)?,
    };
    let mut buf = [0u8; 1];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(1) => break,
            Ok(_) | Err(rustix::io::Errno::AGAIN) => {
                if !linux::process::is_alive(saved.pid, saved.start_time) {
                    // It may have written its byte, exec'd a short program and exited
                    // between our read and this check: that init did start.
                    if matches!(rustix::io::read(&fd, &mut buf), Ok(1)) {
                        break;
                    }
                    return Err(wrong_state(
                        "cannot start a container that has stopped".into(),
                    ));
                }
                poll_fifo(&fd);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("read exec fifo", e).path(&path)),
        }
    }
    // The init removes it too, once past it: either may come first.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).ctx_path("remove exec fifo", &path)
        }
        _ => Ok(fd),
    }
}

pub fn kill(g: &Globals, id: &str, sig: i32, all: bool) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    let dir = state::dir(&g.root, id);
    let status = state::status(&dir, &saved);
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::new(Kind::NotRunning, "container not running"));
    }
    // A created container's init is still reno, waiting for `start`. runc's (Go) init dies
    // of HUP, INT, QUIT and TERM, and engines stop a never-started container with them;
    // ours, pid 1 of its namespace without handlers, would ignore them: kill it instead.
    let sig = if status == Status::Created
        && [
            signal::SIGHUP,
            signal::SIGINT,
            signal::SIGQUIT,
            signal::SIGTERM,
        ]
        .contains(&sig)
    {
        signal::SIGKILL
    } else {
        sig
    };
    // Without a cgroup (rootless) there is no list of the container's processes: the
    // init alone (its pid namespace takes the rest with it). Never the root cgroup's.
    if all && !saved.cgroup.is_empty() {
        let cg = Cgroup::open(&saved.cgroup);
        for pid in cg.pids()? {
            let _ = signal::kill(pid, sig);
        }
        if sig == signal::SIGKILL && cg.is_frozen() {
            let _ = cg.set_frozen(false);
        }
        return Ok(());
    }
    match signal::kill(saved.pid, sig) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::SRCH) => Err(Error::new(Kind::NotRunning, "container not running")),
        Err(e) => Err(Error::sys(
            format!("kill {} with signal {sig}", saved.pid),
            e,
        )),
    }
}

pub fn delete(g: &Globals, id: &str, force: bool) -> Result<()> {
    state::validate_id(id)?;
    let dir = state::dir(&g.root, id);
    let _lock = match state::lock(&dir) {
        Ok(l) => l,
        Err(e) if e.kind == Kind::NotFound && force => return Ok(()),
        Err(e) => return Err(e),
    };
    let saved = match state::load(&dir) {
        // pid 0: the create died before its first save (we hold its lock now).
        Ok(s) if s.pid <= 0 => return salvage(&dir, id),
        Ok(s) => s,
        Err(e) if force => {
            log::warn!("{e}; removing the container anyway");
            return salvage(&dir, id);
        }
        Err(e) => return Err(e),
    };
    let status = state::status(&dir, &saved);
    if status != Status::Stopped {
        // runc deletes a created (never started) container without --force too, and the
        // containerd shim relies on it: its delete of a created task passes no --force.
        if !force && status != Status::Created {
            return Err(wrong_state(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.as_str()
            )));
        }
        kill_everything(&saved);
    }
    destroy(&dir, &saved, saved_spec(&dir).as_deref())
}

/// SIGKILL the init (and, if the container shares the host's pid namespace, every process
/// in its cgroup), thaw if frozen, and wait until they are gone.
fn kill_everything(saved: &Saved) {
    let cg = Cgroup::open(&saved.cgroup);
    if saved.pid > 0 {
        let _ = signal::kill(saved.pid, signal::SIGKILL);
    }
    if saved.shared_pidns && !saved.cgroup.is_empty() {
        for pid in cg.pids().unwrap_or_default() {
            let _ = signal::kill(pid, signal::SIGKILL);
        }
    }
    if !saved.cgroup.is_empty() && cg.is_frozen() {
        let _ = cg.set_frozen(false);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved.pid > 0
        && linux::process::is_alive(saved.pid, saved.start_time)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A container without a usable state.json (a create killed before its first save, or a
/// corrupt file): its init's pid is unknown, but its cgroup is not. Find the cgroup the way
/// create named it (from the frozen config copy), kill everything in it, remove it and the
/// state dir. No hooks: the container never got as far as to need its poststop ones.
fn salvage(dir: &Path, id: &str) -> Result<()> {
    let cgroups_path =
        saved_spec(dir).and_then(|s| s.linux().as_ref().and_then(|l| l.cgroups_path().clone()));
    let path = crate::cgroups::container_path(cgroups_path.as_deref(), id)
        .or_else(|_| crate::cgroups::container_path(None, id))?;
    let cg = Cgroup::open(&path);
    for pid in cg.pids().unwrap_or_default() {
        let _ = signal::kill(pid, signal::SIGKILL);
    }
    if cg.is_frozen() {
        let _ = cg.set_frozen(false);
    }
    remove_cgroup(&cg)?;
    state::remove(dir)
}

/// Remove the cgroup; processes leave it a moment after they die: retry briefly on EBUSY.
fn remove_cgroup(cg: &Cgroup) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cg.destroy() {
            Ok(()) => return Ok(()),
            Err(e) if e.errno == Some(rustix::io::Errno::BUSY) && Instant::now() < deadline => {
                for pid in cg.pids().unwrap_or_default() {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The container's cgroup, for the commands that need one (ps, pause, update, events): a
/// rootless container without one must not send them to the root cgroup.
pub fn cgroup_of(saved: &Saved) -> Result<Cgroup> {
    if saved.cgroup.is_empty() {
        return Err(Error::failed(
            "cgroup",
            "the container has none (rootless, no cgroup delegated)",
        ));
    }
    // A rootless container has only the hierarchies delegated to its user.
    Ok(Cgroup::open_existing(&saved.cgroup))
}

/// Remove the cgroup and the state dir, then run poststop hooks (failures are warnings).
fn destroy(dir: &Path, saved: &Saved, spec: Option<&spec::Spec>) -> Result<()> {
    if !saved.cgroup.is_empty() {
        remove_cgroup(&Cgroup::open(&saved.cgroup))?;
    }
    state::remove(dir)?;
    if let Some(h) = spec.and_then(|s| s.hooks().as_ref()) {
        let json = state::to_json(saved, Status::Stopped).to_string();
        hooks::run_all_warn("poststop", h.poststop().as_ref(), &json);
    }
    Ok(())
}

/// The state JSON of one container (no lock: never blocks behind a long operation).
pub fn state(g: &Globals, id: &str) -> Result<Value> {
    state::validate_id(id)?;
    let dir = state::dir(&g.root, id);
    if !dir.is_dir() {
        return Err(Error::new(
            Kind::NotFound,
            format!("container does not exist: {id}"),
        ));
    }
    let saved = state::load(&dir)?;
    let status = state::status(&dir, &saved);
    Ok(state::to_json(&saved, status))
}

/// Every container's state; unreadable ones are shown as stopped with a warning.
pub fn list(g: &Globals) -> Vec<Value> {
    state::list_ids(&g.root)
        .into_iter()
        .filter_map(|id| match state(g, &id) {
            Ok(v) => Some(v),
            Err(e) => {
                log::warn!("{e}");
                None
            }
        })
        .collect()
}

/// `run`: create + start; in the foreground wait, forward signals, return the exit code and
/// delete the container unless `keep`.
pub fn run(g: &Globals, o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    if detach {
        let mut c = create_container(g, o, Config::load(o)?, None, true)?;
        start_or_undo(&mut c)?;
        return Ok(0);
    }
    // process.terminal without a console socket: reno relays the pty itself.
    let config = Config::load(o)?;
    let console = super::relay::Console::for_run(o, &config.spec)?;
    let relay_opts = console.as_ref().map(|c| c.opts(o));
    let o = relay_opts.as_ref().unwrap_or(o);
    let mask = signal::forwardable() | signal::bit(signal::SIGCHLD);
    let old = signal::block(mask).ctx("block signals")?;
    let mut c = match create_container(g, o, config, Some(old), true) {
        Ok(c) => c,
        Err(e) => {
            let _ = signal::set_mask(old);
            return Err(e);
        }
    };
    start_or_undo(&mut c)?;
    let Created {
        pid,
        dir,
        saved,
        lock,
        spec,
        ..
    } = c;
    drop(lock);
    let relayed = match console {
        Some(c) => Some(c.relay(pid, mask)?),
        None => None,
    };
    let code = loop {
        if let Some(code) = relayed {
            break code;
        }
        match signal::wait(mask, None) {
            Ok(Some(signal::SIGCHLD)) | Ok(None) => {
                match linux::process::try_wait(pid) {
                    Ok(Some(code)) => break code,
                    Ok(None) => {}
                    // Reaped by someone else: we can no longer learn its code; don't spin.
                    Err(e) => return Err(Error::sys("wait for the container's init", e)),
                }
            }
            Ok(Some(sig)) => {
                let _ = signal::kill(saved.pid, sig);
            }
            Err(e) => return Err(Error::sys("wait for signals", e)),
        }
    };
    if !keep {
        let _lock = state::lock(&dir)?;
        destroy(&dir, &saved, Some(&spec))?;
    }
    let _ = signal::set_mask(old);
    Ok(code)
}

fn start_or_undo(c: &mut Created) -> Result<()> {
    let reader = c.fifo_reader.take();
    if let Err(e) = start_created(&c.dir, &c.saved, Some(&c.spec), reader) {
        kill_everything(&c.saved);
        let _ = linux::process::try_wait(c.pid);
        let _ = destroy(&c.dir, &c.saved, Some(&c.spec));
        return Err(e);
    }
    Ok(())
}
