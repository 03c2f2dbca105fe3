//! The supervisor loop: start containers in dependency order, relay their output line by
//! line, restart them with exponential backoff, reap every orphan, feed the watchdog, and
//! turn signals into a shutdown request.
//!
//! One `poll` on the signalfd and the output pipes, with a timeout set by the nearest
//! deadline (a backoff expiring, a stop timeout, the next watchdog feed): no busy polling.
//! Idle work (parsing bundle configs ahead for the runtimes, `container::preparsed`) is done
//! a piece at a time between polls that don't wait.

use std::path::Path;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};

use crate::container::preparsed;
use crate::error::{Context, Result};
use crate::linux::signal::{self, SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};
use crate::linux::{signalfd, watchdog};

use super::board::{Action, Board, Kind, OnExhausted, Restart, WatchdogMode};
use super::log::Fixed;
use super::{launch, log};

/// The signals PID 1 handles, all read through the signalfd.
pub fn handled_signals() -> signal::SigMask {
    [SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP]
        .iter()
        .fold(0, |m, &s| m | signal::bit(s))
}

/// busybox init's meaning of each signal.
pub fn action_for(sig: i32) -> Option<Action> {
    match sig {
        SIGUSR2 => Some(Action::Poweroff),
        SIGTERM | SIGINT => Some(Action::Reboot),
        SIGUSR1 => Some(Action::Halt),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Not started yet: waiting for its dependencies.
    Waiting,
    Running {
        pid: i32,
        since: f64,
    },
    /// Waiting out the backoff delay before the next start.
    Backoff {
        until: f64,
    },
    /// A oneshot that succeeded, or a service that ended and is not restarted.
    Done {
        code: i32,
    },
    /// Retries exhausted (or never started because a dependency gave up).
    GaveUp,
}

struct Unit {
    state: State,
    out: Option<OwnedFd>,
    buf: Vec<u8>,
    retries: u32,
    delay_ms: u64,
    ready: bool,
    /// Asked to stop (readiness timeout or shutdown): its exit is not a crash.
    stopping: bool,
    /// After a readiness timeout: when SIGTERM has had stopTimeoutSeconds and SIGKILL follows
    /// (a container's PID 1 without a TERM handler ignores SIGTERM).
    kill_at: Option<f64>,
    /// Its config was parsed ahead (or that failed) since it last started.
    preparse_tried: bool,
    /// Its bundle is on a local filesystem (`preparsed::on_local_fs`): parsed ahead at all.
    preparsable: bool,
}

/// Configs parsed ahead at a time: each costs init ~15 kB of RSS while held (dropped when
/// its unit starts), so only the next few starts (boot order, restarts in backoff) get one.
const PREPARSED_MAX: usize = 4;

pub struct Supervisor {
    board: Board,
    order: Vec<usize>,
    units: Vec<Unit>,
    sigfd: OwnedFd,
    watchdog: Option<OwnedFd>,
    next_feed: f64,
    started_at: f64,
    first_running_logged: bool,
    boot_complete_logged: bool,
    /// Set when a container's onExhausted asks for a reboot or poweroff.
    exhausted_action: Option<Action>,
    /// In stop_all: exits are stops, never restarted.
    shutting_down: bool,
    /// Run the runtime with `--debug` (kernel command line `reno.debug`).
    runtime_debug: bool,
}

impl Supervisor {
    /// Blocks the handled signals (the caller may have done so already) and opens the
    /// signalfd and, if the board asks for it, the watchdog.
    pub fn new(board: Board, started_at: f64) -> Result<Self> {
        let order = super::board::start_order(&board)?;
        signal::block(handled_signals()).ctx("block signals")?;
        let sigfd = signalfd::create(handled_signals()).ctx("signalfd")?;
        let mountinfo = crate::linux::fs::read_small("/proc/self/mountinfo").unwrap_or_default();
        let units = board
            .containers
            .iter()
            .map(|c| Unit {
                preparsable: preparsed::on_local_fs(&c.bundle, &mountinfo),
                state: State::Waiting,
                out: None,
                buf: Vec::new(),
                retries: 0,
                delay_ms: c.backoff.initial_ms,
                ready: false,
                stopping: false,
                kill_at: None,
                preparse_tried: false,
            })
            .collect();
        let watchdog = match board.watchdog.mode {
            WatchdogMode::Off => None,
            _ => match open_watchdog(&board.watchdog.device, board.watchdog.timeout_seconds) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    log::warn(&format!(
                        "watchdog {}: {e}",
                        board.watchdog.device.display()
                    ));
                    None
                }
            },
        };
        Ok(Supervisor {
            board,
            order,
            units,
            sigfd,
            watchdog,
            next_feed: 0.0,
            started_at,
            first_running_logged: false,
            boot_complete_logged: false,
            exhausted_action: None,
            shutting_down: false,
            runtime_debug: false,
        })
    }

    /// Start the containers' runtime with `--debug`: its debug lines (how the root was
    /// switched, each set-up step) are logged with the container's output.
    pub fn set_runtime_debug(&mut self, on: bool) {
        self.runtime_debug = on;
    }

    /// Run until a signal (or an exhausted container) asks for a shutdown.
    pub fn run(&mut self) -> Action {
        if let Err(e) = std::fs::create_dir_all(&self.board.state_root) {
            log::warn(&format!(
                "create stateRoot {}: {e}",
                self.board.state_root.display()
            ));
        }
        loop {
            let now = log::boottime();
            if let Some(a) = self.step(now) {
                return a;
            }
            self.feed_watchdog(now);
            // Idle work pending: only look for events, then do one piece of it.
            let idle_work = self.next_to_preparse();
            let timeout = match idle_work {
                None => self
                    .next_deadline(now)
                    .map(|d| ((d - now).max(0.0) * 1000.0).ceil() as u64),
                Some(_) => Some(0),
            };
            self.wait_events(timeout);
            if let Some(a) = self.handle_signals() {
                log::info(&format!("{a:?} requested"));
                return a;
            }
            if let Some(a) = self.exhausted_action.take() {
                return a;
            }
            if let Some(i) = idle_work {
                self.units[i].preparse_tried = true;
                preparsed::preparse(&self.board.containers[i].bundle);
            }
        }
    }

    /// Start whatever can start now; check readiness.
    fn step(&mut self, now: f64) -> Option<Action> {
        for k in 0..self.order.len() {
            let i = self.order[k];
            match self.units[i].state {
                State::Waiting => {
                    if let Some(blocker) = self.gave_up_dependency(i) {
                        let id = self.board.containers[i].id.clone();
                        log::error(&format!("{id}: not started: dependency {blocker} gave up"));
                        self.units[i].state = State::GaveUp;
                    } else if self.deps_satisfied(i) {
                        self.start(i, now);
                    }
                }
                State::Backoff { until } if now >= until => self.start(i, now),
                State::Running { pid, since } => {
                    if self.units[i].kill_at.is_some_and(|t| now >= t) {
                        self.units[i].kill_at = None;
                        self.force_stop(i, pid);
                    } else {
                        self.check_ready(i, pid, since, now);
                    }
                }
                _ => {}
            }
        }
        if !self.boot_complete_logged
            && self
                .units
                .iter()
                .all(|u| !matches!(u.state, State::Waiting | State::Backoff { .. }))
        {
            self.boot_complete_logged = true;
            let rss = rss_kb().map_or_else(|| "?".to_string(), |k| k.to_string());
            log::info(&format!(
                "boot complete: {} containers started in {} s, PID 1 RSS {rss} kB",
                self.units.len(),
                Fixed(now - self.started_at, 3)
            ));
            if self.board.watchdog.mode == WatchdogMode::Boot {
                if let Some(fd) = self.watchdog.take() {
                    let _ = watchdog::disarm(fd);
                    log::info("watchdog disarmed (mode boot)");
                }
            }
        }
        self.exhausted_action.take()
    }

    /// Whether a unit other than `except` with `bundle` is waiting to start (for
    /// dependencies or a backoff).
    fn will_start(&self, bundle: &Path, except: usize) -> bool {
        let mut units = self.units.iter().zip(&self.board.containers).enumerate();
        units.any(|(j, (u, c))| {
            j != except
                && matches!(u.state, State::Waiting | State::Backoff { .. })
                && c.bundle == bundle
        })
    }

    /// The next unit whose config to parse ahead (`container::preparsed`): the first in
    /// start order that is still to start, not tried since it last started, and not in the
    /// cache, while the cache holds fewer than `PREPARSED_MAX`.
    fn next_to_preparse(&self) -> Option<usize> {
        if preparsed::len() >= PREPARSED_MAX {
            return None;
        }
        self.order.iter().copied().find(|&i| {
            let u = &self.units[i];
            matches!(u.state, State::Waiting | State::Backoff { .. })
                && u.preparsable
                && !u.preparse_tried
                && !preparsed::holds(&self.board.containers[i].bundle)
        })
    }

    fn gave_up_dependency(&self, i: usize) -> Option<String> {
        self.board.containers[i]
            .depends_on
            .iter()
            .find(|d| {
                self.index(d)
                    .is_some_and(|j| self.units[j].state == State::GaveUp)
            })
            .cloned()
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.board.containers.iter().position(|c| c.id == id)
    }

    fn deps_satisfied(&self, i: usize) -> bool {
        self.board.containers[i].depends_on.iter().all(|d| {
            let Some(j) = self.index(d) else { return false };
            let u = &self.units[j];
            match self.board.containers[j].kind {
                Kind::Oneshot => u.state == State::Done { code: 0 },
                Kind::Service => matches!(u.state, State::Running { .. }) && u.ready,
            }
        })
    }

    fn start(&mut self, i: usize, now: f64) {
        let c = &self.board.containers[i];
        let mut args = launch::run_args(&self.board.state_root, &c.bundle, &c.id);
        if self.runtime_debug {
            args.insert(0, "--debug".into());
        }
        match launch::spawn(args) {
            Ok((pid, out)) => {
                // The runtime has its copy: keep ours only for other units still to start.
                self.units[i].preparse_tried = false;
                if !self.will_start(&c.bundle, i) {
                    preparsed::forget(&c.bundle);
                }
                let u = &mut self.units[i];
                u.state = State::Running {
                    pid: pid.as_raw_nonzero().get(),
                    since: now,
                };
                u.out = Some(out);
                u.buf.clear();
                u.ready = c.ready.is_none();
                u.stopping = false;
                u.kill_at = None;
                log::info(&format!(
                    "{}: started {} (pid {})",
                    c.id,
                    c.bundle.display(),
                    pid.as_raw_nonzero()
                ));
                if c.kind == Kind::Service && !self.first_running_logged {
                    self.first_running_logged = true;
                    log::info(&format!(
                        "first service started {} s after init start",
                        Fixed(now - self.started_at, 3)
                    ));
                }
            }
            Err(e) => {
                log::error(&format!("{}: start: {e}", c.id));
                self.after_exit(i, 127, now, now);
            }
        }
    }

    fn check_ready(&mut self, i: usize, pid: i32, since: f64, now: f64) {
        let Some(r) = &self.board.containers[i].ready else {
            return;
        };
        let u = &mut self.units[i];
        if u.ready || u.stopping {
            return;
        }
        if r.file.exists() {
            u.ready = true;
            log::info(&format!(
                "{}: ready ({} s)",
                self.board.containers[i].id,
                Fixed(now - since, 3)
            ));
        } else if now - since > r.timeout_seconds as f64 {
            log::error(&format!(
                "{}: not ready after {} s ({} missing), stopping it",
                self.board.containers[i].id,
                r.timeout_seconds,
                r.file.display()
            ));
            u.stopping = true;
            u.kill_at = Some(now + self.board.containers[i].stop_timeout_seconds as f64);
            let _ = signal::kill(pid, SIGTERM);
        }
    }

    /// SIGKILL a container's `run` and `delete --force` the container (the kill does not
    /// reach the container's processes, which live in their own session and namespaces).
    fn force_stop(&mut self, i: usize, pid: i32) {
        let c = &self.board.containers[i];
        log::warn(&format!(
            "{}: still running {} s after SIGTERM, killing it",
            c.id, c.stop_timeout_seconds
        ));
        let _ = signal::kill(pid, SIGKILL);
        launch::run_and_wait(launch::delete_args(&self.board.state_root, &c.id));
    }

    /// The nearest time something must happen without an event.
    fn next_deadline(&self, now: f64) -> Option<f64> {
        let mut d: Option<f64> = None;
        let mut at = |t: f64| d = Some(d.map_or(t, |x: f64| x.min(t)));
        for (i, u) in self.units.iter().enumerate() {
            match u.state {
                State::Backoff { until } => at(until),
                // Ready files are polled every 50 ms, only while a service is not ready yet.
                State::Running { .. } => {
                    if let Some(t) = u.kill_at {
                        at(t)
                    } else if !u.ready && !u.stopping && self.board.containers[i].ready.is_some() {
                        at(now + 0.05)
                    }
                }
                _ => {}
            }
        }
        if self.watchdog.is_some() {
            at(self.next_feed);
        }
        d
    }

    fn feed_watchdog(&mut self, now: f64) {
        let healthy = !self.units.iter().any(|u| u.state == State::GaveUp);
        if let Some(fd) = &self.watchdog {
            if healthy && now >= self.next_feed {
                let _ = watchdog::feed(fd);
                self.next_feed = now + (self.board.watchdog.timeout_seconds as f64 / 3.0).max(0.5);
            }
        }
    }

    /// Sleep in poll until a signal, container output, or `timeout_ms`.
    fn wait_events(&mut self, timeout_ms: Option<u64>) {
        let mut idx: Vec<usize> = Vec::new();
        let ready: Vec<usize> = {
            let mut fds = vec![PollFd::new(&self.sigfd, PollFlags::IN)];
            for (i, u) in self.units.iter().enumerate() {
                if let Some(fd) = &u.out {
                    fds.push(PollFd::new(fd, PollFlags::IN));
                    idx.push(i);
                }
            }
            let ts = timeout_ms.map(|ms| rustix::time::Timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: ((ms % 1000) * 1_000_000) as i64,
            });
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) => fds[1..]
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| !f.revents().is_empty())
                    .map(|(k, _)| idx[k])
                    .collect(),
                Err(_) => Vec::new(),
            }
        };
        for i in ready {
            self.drain(i);
        }
    }

    /// Read what a container printed and log it line by line under its id.
    fn drain(&mut self, i: usize) {
        let id = self.board.containers[i].id.clone();
        let u = &mut self.units[i];
        let Some(fd) = &u.out else { return };
        let mut chunk = [0u8; 4096];
        let eof = loop {
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => break true,
                Ok(n) => u.buf.extend_from_slice(&chunk[..n]),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break false,
                Err(_) => break true,
            }
            // Emit complete lines as they come; cap a line at 4 KiB.
            while let Some(p) = u.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = u.buf.drain(..=p).collect();
                log::container(
                    &id,
                    String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r'),
                );
            }
            if u.buf.len() >= 4096 {
                let line: Vec<u8> = std::mem::take(&mut u.buf);
                log::container(&id, &String::from_utf8_lossy(&line));
            }
        };
        if eof {
            if !u.buf.is_empty() {
                let line: Vec<u8> = std::mem::take(&mut u.buf);
                log::container(&id, &String::from_utf8_lossy(&line));
            }
            u.out = None;
        }
    }

    /// Read the signalfd: reap on SIGCHLD, return a shutdown action for the others.
    fn handle_signals(&mut self) -> Option<Action> {
        let mut action = None;
        loop {
            match signalfd::read(&self.sigfd) {
                Ok(Some((SIGCHLD, _))) => self.reap(),
                Ok(Some((SIGHUP, _))) => log::info("SIGHUP ignored"),
                Ok(Some((sig, from))) => {
                    if let Some(a) = action_for(sig) {
                        log::info(&format!("signal {sig} from pid {from}: {a:?}"));
                        action = action.or(Some(a));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log::error(&format!("read signalfd: {}", crate::error::errno_text(e)));
                    break;
                }
            }
        }
        action
    }

    /// Reap every exited child: our containers' `run` processes and any orphan.
    fn reap(&mut self) {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => {
                    let code = crate::linux::process::status_code(status);
                    self.exited(pid, code);
                }
                Ok(None) => break,
                Err(Errno::INTR) => continue,
                Err(_) => break, // ECHILD: nothing left
            }
        }
    }

    fn exited(&mut self, pid: Pid, code: i32) {
        let raw = pid.as_raw_nonzero().get();
        let Some(i) = self
            .units
            .iter()
            .position(|u| matches!(u.state, State::Running { pid: p, .. } if p == raw))
        else {
            return; // an orphan: reaped, nothing else to do
        };
        let State::Running { since, .. } = self.units[i].state else {
            return;
        };
        // Flush what it printed before it died.
        self.drain(i);
        self.after_exit(i, code, since, log::boottime());
    }

    /// Decide what follows an exit: done, a restart after a delay, or giving up.
    fn after_exit(&mut self, i: usize, code: i32, since: f64, now: f64) {
        let c = &self.board.containers[i];
        let u = &mut self.units[i];
        let ran = now - since;
        if self.shutting_down {
            u.state = State::Done { code };
            log::info(&format!(
                "{}: stopped (code {code}, ran {} s)",
                c.id,
                Fixed(ran, 3)
            ));
            return;
        }
        let failed = code != 0 || (u.stopping && c.kind == Kind::Service);
        if ran >= c.backoff.reset_after_seconds as f64 {
            u.retries = 0;
            u.delay_ms = c.backoff.initial_ms;
        }
        let restart = match c.restart {
            Restart::Never => false,
            Restart::OnFailure => failed,
            Restart::Always => true,
        };
        if !restart {
            u.state = if failed && c.kind == Kind::Oneshot {
                State::GaveUp
            } else {
                State::Done { code }
            };
            log::info(&format!(
                "{}: exited with code {code} after {} s",
                c.id,
                Fixed(ran, 3)
            ));
            if u.state == State::GaveUp {
                log::error(&format!("{}: oneshot failed", c.id));
                self.exhausted_action = exhausted(&c.id, c.on_exhausted);
            }
            return;
        }
        if c.max_retries.is_some_and(|m| u.retries >= m) {
            log::error(&format!(
                "{}: exited with code {code}; giving up after {} restarts",
                c.id, u.retries
            ));
            u.state = State::GaveUp;
            self.exhausted_action = exhausted(&c.id, c.on_exhausted);
            return;
        }
        u.retries += 1;
        let delay = u.delay_ms;
        u.delay_ms = ((u.delay_ms as f64 * c.backoff.factor) as u64).min(c.backoff.max_ms);
        u.state = State::Backoff {
            until: now + delay as f64 / 1000.0,
        };
        log::info(&format!(
            "{}: exited with code {code} after {} s; restart {} in {delay} ms",
            c.id,
            Fixed(ran, 3),
            u.retries
        ));
    }

    /// Stop every running container, in reverse start order: SIGTERM to its `run` (which
    /// forwards it to the container), SIGKILL and `delete --force` after stopTimeoutSeconds.
    pub fn stop_all(&mut self) {
        self.shutting_down = true;
        for k in (0..self.order.len()).rev() {
            let i = self.order[k];
            if let State::Backoff { .. } | State::Waiting = self.units[i].state {
                self.units[i].state = State::Done { code: 0 };
            }
            let State::Running { pid, .. } = self.units[i].state else {
                continue;
            };
            let c = self.board.containers[i].clone();
            log::info(&format!("{}: stopping", c.id));
            self.units[i].stopping = true;
            let _ = signal::kill(pid, SIGTERM);
            let deadline = log::boottime() + c.stop_timeout_seconds as f64;
            if !self.wait_stopped(i, deadline) {
                log::warn(&format!(
                    "{}: still running after {} s, killing it",
                    c.id, c.stop_timeout_seconds
                ));
                let _ = signal::kill(pid, SIGKILL);
                launch::run_and_wait(launch::delete_args(&self.board.state_root, &c.id));
                self.wait_stopped(i, log::boottime() + 2.0);
            }
        }
    }

    /// Relay output and reap until container `i` is no longer running or `deadline` passes.
    fn wait_stopped(&mut self, i: usize, deadline: f64) -> bool {
        loop {
            if !matches!(self.units[i].state, State::Running { .. }) {
                // Its restart policy must not bring it back during shutdown.
                if let State::Backoff { .. } = self.units[i].state {
                    self.units[i].state = State::Done { code: 0 };
                }
                return true;
            }
            let now = log::boottime();
            if now >= deadline {
                return false;
            }
            self.wait_events(Some(((deadline - now) * 1000.0).ceil() as u64));
            let _ = self.handle_signals();
        }
    }

    /// Disarm the watchdog with the magic close (clean shutdown only).
    pub fn close_watchdog(&mut self) {
        if let Some(fd) = self.watchdog.take() {
            let _ = watchdog::disarm(fd);
        }
    }
}

/// The action a container's `onExhausted` asks for, logged so the console says why the
/// device goes down.
fn exhausted(id: &str, on: OnExhausted) -> Option<Action> {
    let a = match on {
        OnExhausted::GiveUp => None,
        OnExhausted::Reboot => Some(Action::Reboot),
        OnExhausted::Poweroff => Some(Action::Poweroff),
    }?;
    log::error(&format!("{id}: onExhausted: {a:?}"));
    Some(a)
}

fn open_watchdog(device: &Path, timeout: u64) -> Result<OwnedFd> {
    let fd = watchdog::open(device).ctx_path("open watchdog", device)?;
    match watchdog::set_timeout(&fd, timeout as u32) {
        Ok(t) => log::info(&format!(
            "watchdog {} armed, timeout {t} s",
            device.display()
        )),
        Err(e) => log::warn(&format!(
            "watchdog {}: set timeout: {}",
            device.display(),
            crate::error::errno_text(e)
        )),
    }
    Ok(fd)
}

/// Resident set size of this process in kB: smaps_rollup's Rss, counted from the page
/// tables. VmRSS (/proc/self/status) lags on kernels before 6.2: each task caches up to 64
/// faults' worth of its counts (SPLIT_RSS_COUNTING), and a process that just exec'd (PID 1
/// after its re-exec) can show a few kB there. VmRSS where smaps_rollup is missing (< 4.14).
pub fn rss_kb() -> Option<u64> {
    let field = |file: &str, key: &str| -> Option<u64> {
        let s = std::fs::read_to_string(file).ok()?;
        let l = s.lines().find(|l| l.starts_with(key))?;
        l.split_whitespace().nth(1)?.parse().ok()
    };
    field("/proc/self/smaps_rollup", "Rss:").or_else(|| field("/proc/self/status", "VmRSS:"))
}
