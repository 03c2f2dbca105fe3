//! reno as a device's init: read the board config, set up the early system, start the
//! containers in dependency order and keep them running; shut down cleanly on a signal.
//!
//! As PID 1 it never exits: a fatal error is logged and the board's `onFatal` action
//! (reboot by default) follows after a delay. Run as an ordinary process (tests, or a device
//! with another init) it skips the early system, becomes a child subreaper, and exits after
//! stopping its containers on SIGTERM/SIGINT.

pub mod board;
pub mod early;
pub mod launch;
pub mod log;
pub mod shutdown;
pub mod supervisor;

use std::path::{Path, PathBuf};

use crate::container::sealed::{self, Outcome, Protection};
use crate::error::{Context, Error, Result};
use crate::linux::signal;

use board::{Action, Board, OnFatal};

/// Where PID 1 looks for its board config when neither `--board` nor `reno.board=` says.
pub const DEFAULT_BOARD: &str = "/etc/reno/board.json";

/// `reno init [--board FILE] [--check]`.
#[derive(Debug, Clone, Default)]
pub struct InitArgs {
    pub board: Option<PathBuf>,
    /// Validate the board config and print the start order, then exit.
    pub check: bool,
}

/// Is this process the system's init (and should `reno` with no arguments run as one)?
pub fn is_pid1() -> bool {
    rustix::process::getpid().is_init()
}

/// Entry point of `reno init`. Returns only when not PID 1 (or with `--check`).
pub fn main(args: InitArgs) -> i32 {
    // A supervisor lives for the device's uptime: malloc, not the bump arena.
    crate::linux::alloc::stop_bumping();
    if args.check {
        return check(args.board.as_deref());
    }
    if is_pid1() {
        pid1(args)
    } else {
        match supervise_only(args) {
            Ok(()) => 0,
            Err(e) => {
                log::error(&e.to_string());
                1
            }
        }
    }
}

/// `reno init --check`: validate and print the start order (for firmware build scripts).
fn check(path: Option<&Path>) -> i32 {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BOARD));
    let result = load(&path).and_then(|b| board::start_order(&b).map(|o| (b, o)));
    match result {
        Ok((b, order)) => {
            println!(
                "{}: ok (version {}, target {})",
                path.display(),
                b.version,
                b.target.as_deref().unwrap_or("unspecified")
            );
            println!("start order:");
            for (n, &i) in order.iter().enumerate() {
                let c = &b.containers[i];
                let kind = match c.kind {
                    board::Kind::Oneshot => "oneshot",
                    board::Kind::Service => "service",
                };
                let after = if c.depends_on.is_empty() {
                    String::new()
                } else {
                    format!(" after {}", c.depends_on.join(", "))
                };
                println!(
                    "  {}. {} ({kind}, {}){after}",
                    n + 1,
                    c.id,
                    c.bundle.display()
                );
            }
            0
        }
        Err(e) => {
            eprintln!("reno init: {e}");
            1
        }
    }
}

fn load(path: &Path) -> Result<Board> {
    let text = std::fs::read_to_string(path).ctx_path("read board config", path)?;
    parse_board(path, &text)
}

fn parse_board(path: &Path, text: &str) -> Result<Board> {
    board::parse(text).map_err(|mut e| {
        e.step = e.step.replacen(
            "board config",
            &format!("board config {}", path.display()),
            1,
        );
        e
    })
}

/// The words of the kernel command line (empty if /proc/cmdline is unreadable).
fn cmdline_words() -> Vec<String> {
    std::fs::read_to_string("/proc/cmdline")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `reno.board=PATH` from the kernel command line.
fn board_from_cmdline() -> Option<PathBuf> {
    cmdline_words()
        .iter()
        .find_map(|w| w.strip_prefix("reno.board="))
        .map(PathBuf::from)
}

/// PID 1: never returns.
fn pid1(args: InitArgs) -> i32 {
    // Set only in the image `protect_self` re-executed: the early system is up already.
    let resumed = take_resumed();
    let started = resumed.as_ref().map_or_else(log::boottime, |r| r.started);
    // Before anything can go wrong: signals arrive only through the supervisor's signalfd,
    // and ctrl-alt-del becomes SIGINT instead of an immediate reboot.
    let _ = signal::block(supervisor::handled_signals());
    let _ = rustix::system::reboot(rustix::system::RebootCommand::CadOff);
    let default_fatal = OnFatal {
        action: Action::Reboot,
        delay_seconds: 5,
    };
    if resumed.is_none() {
        if let Err(e) = early::setup_console() {
            // Keep going: logging may be lost, but the device can still work.
            log::error(&e.to_string());
        }
        log::info(&format!(
            "reno {} starting as PID 1",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let path = args
        .board
        .or_else(board_from_cmdline)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BOARD));
    // The re-executed image gets the text the first one read: after a switchRoot, `path`
    // names a file of the initramfs, out of reach.
    let text = match &resumed {
        Some(r) => Ok(r.board.clone()),
        None => std::fs::read_to_string(&path).ctx_path("read board config", &path),
    };
    let (board, board_text) = match text.and_then(|t| parse_board(&path, &t).map(|b| (b, t))) {
        Ok(bt) => bt,
        Err(e) => fatal(&e, default_fatal),
    };
    if resumed.is_none() {
        log::info(&format!("board config {}", path.display()));
    }
    log::configure(&board.log);
    if resumed.is_none() {
        if let Err(e) = early::setup(&board) {
            fatal(&e, board.on_fatal);
        }
        log::info(&format!(
            "early system ready ({} s): {}",
            log::Fixed(log::boottime() - started, 3),
            early::summary()
        ));
    }
    protect_self(&board, &board_text, started, resumed.is_some());
    drop(board_text);
    preload_device_programs();
    // Work out once here what each container's runtime, a fork of this process, would work
    // out anew every time: the cgroup mounts (parsing mountinfo: ~0.6 ms a container under
    // TCG) and what cgroup v2 offers, the kernel's last capability and /proc/kcore, whether
    // we are rootless and whether pivot_root can work here. The early system made those
    // mounts; nothing else does.
    crate::cgroups::prewarm();
    let _ = crate::linux::caps::last_cap();
    let _ = crate::container::userns::detect(None);
    let _ = crate::container::rootfs::kernel_has_kcore();
    if early::root_is_initramfs() {
        crate::linux::mount::note_root_is_initramfs();
    }
    let words = cmdline_words();
    // Each `reno.probe=PATH[,ARG...]`, in order: the floors a container's start-up is
    // compared with (see `launch::probe`).
    for probe in words.iter().filter_map(|w| w.strip_prefix("reno.probe=")) {
        let argv: Vec<&str> = probe.split(',').collect();
        // The first run pays for cold caches (under TCG: translating the code), the others
        // compare with a container started after another one (tests/vm takes their median).
        for again in ["", " again", " again", " again"] {
            match launch::probe(&argv) {
                Ok((secs, line)) => log::info(&format!(
                    "probe {probe}{again}: fork+exec to first output {} ms ({line:?})",
                    log::Fixed(secs * 1000.0, 1)
                )),
                Err(e) => log::warn(&format!("probe {probe}: {e}")),
            }
        }
    }
    let on_fatal = board.on_fatal;
    let grace = board.final_kill_seconds;
    let mut sup = match supervisor::Supervisor::new(board, started) {
        Ok(s) => s,
        Err(e) => fatal(&e, on_fatal),
    };
    sup.set_runtime_debug(words.iter().any(|w| w == "reno.debug"));
    let action = sup.run();
    sup.stop_all();
    sup.close_watchdog();
    shutdown::finish(action, grace)
}

/// On cgroup v2, load the common device-cgroup BPF programs once for every container this
/// init will start (see `cgroups::preload_device_programs`); without them, each container
/// start loads its own. Not fatal.
fn preload_device_programs() {
    let hs = crate::cgroups::hierarchies();
    if crate::cgroups::layout(&hs) != Some(crate::cgroups::Layout::Unified) {
        return;
    }
    match crate::cgroups::preload_device_programs() {
        Ok(fds) => launch::keep_in_children(&fds),
        Err(e) => log::warn(&format!("{e}: each container will load its own")),
    }
}

/// Environment of the image `protect_self` re-executes: PID 1's start (CLOCK_BOOTTIME), which
/// also says the early system is up (mounts, modules and a switched root survive execve), and
/// the board config's text.
const RESUMED: &str = "_RENO_PID1_STARTED";
const RESUMED_BOARD: &str = "_RENO_PID1_BOARD";
/// A board config longer than this is not handed over (an environment string may not exceed
/// 128 KiB); such a PID 1 is not re-executed.
const MAX_HANDED_OVER: usize = 64 * 1024;

/// What the first image hands the re-executed one.
struct Resumed {
    started: f64,
    board: String,
}

/// What a re-executed PID 1 was handed, removed from the environment at once so no
/// container inherits it.
fn take_resumed() -> Option<Resumed> {
    let started = std::env::var(RESUMED).ok();
    let board = std::env::var(RESUMED_BOARD).ok();
    std::env::remove_var(RESUMED);
    std::env::remove_var(RESUMED_BOARD);
    Some(Resumed {
        started: crate::cli::decimal(&started?)?,
        board: board?,
    })
}

/// CVE-2019-5736 once for all containers: every `run` init forks inherits PID 1's image, so
/// once /proc/self/exe is a file nobody can write (a read-only `/` after the early system,
/// the image remapped in place from a read-only bind, or after a re-exec from a private
/// read-only overlayfs, a read-only bind or a sealed memfd: `container::sealed`), the
/// runtime's check before each container returns at once instead of protecting the binary
/// per launch. Called after the early system so a read-only root
/// (`rootReadOnly`) needs nothing, and so the re-executed image, which finds `RESUMED` set,
/// skips straight to here; it keeps argv and the environment (the kernel command line's
/// words). If protection is impossible the runtime still does it per launch.
fn protect_self(board: &Board, board_text: &str, started: f64, resumed: bool) {
    if board_text.len() > MAX_HANDED_OVER && !resumed {
        // Too big to hand over to a re-executed image: only what needs no exec.
        match sealed::protect_in_place() {
            Ok(_) => log::info(&format!("binary on {}", how(sealed::self_protection()))),
            Err(e) => log::warn(&format!(
                "board config over {MAX_HANDED_OVER} bytes, not re-executing PID 1 ({e}); each \
                 container launch will protect reno itself instead"
            )),
        }
        return;
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::env::set_var(RESUMED, log::Fixed(started, 6).to_string());
    std::env::set_var(RESUMED_BOARD, board_text);
    let t = log::boottime();
    let r = sealed::reexec_protected(&argv, &board.state_root);
    std::env::remove_var(RESUMED);
    std::env::remove_var(RESUMED_BOARD);
    match r {
        Ok(Outcome::Remapped) => log::info(&format!(
            "remapped in place from a read-only bind of the binary ({} ms)",
            log::Fixed((log::boottime() - t) * 1000.0, 1)
        )),
        Ok(Outcome::Already) if resumed => log::info(&format!(
            "re-executed from {} ({} s since PID 1 start)",
            how(sealed::self_protection()),
            log::Fixed(log::boottime() - started, 3)
        )),
        Ok(Outcome::Already) => log::info(&format!(
            "binary already on {} ({} ms to check)",
            how(sealed::self_protection()),
            log::Fixed((log::boottime() - t) * 1000.0, 1)
        )),
        Err(e) => log::warn(&format!(
            "{e}: each container launch will re-execute reno from a protected file instead"
        )),
    }
}

/// How /proc/self/exe is protected, for the log.
fn how(p: Option<Protection>) -> &'static str {
    match p {
        Some(Protection::SealedCopy) => "a sealed memfd copy",
        Some(Protection::ReadOnlyMount) => "a read-only mount",
        None => "?",
    }
}

/// Log a fatal error and carry out `onFatal` after its delay.
fn fatal(e: &Error, f: OnFatal) -> ! {
    log::error(&format!("fatal: {e}"));
    log::error(&format!("{:?} in {} s", f.action, f.delay_seconds));
    std::thread::sleep(std::time::Duration::from_secs(f.delay_seconds));
    rustix::fs::sync();
    shutdown::power(f.action)
}

/// Not PID 1: supervise the board's containers (no early system) until a signal.
fn supervise_only(args: InitArgs) -> Result<()> {
    let started = log::boottime();
    let path = args.board.unwrap_or_else(|| PathBuf::from(DEFAULT_BOARD));
    let board = load(&path)?;
    log::configure(&board.log);
    // As PID 1 does (its early system aside): the re-executed image starts over here.
    if let Err(e) =
        sealed::reexec_protected(&std::env::args_os().collect::<Vec<_>>(), &board.state_root)
    {
        log::warn(&format!(
            "{e}: each container launch will re-execute reno from a protected file instead"
        ));
    }
    // Orphans of our containers come to us, as they would to PID 1.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .ctx("set child subreaper")?;
    let mut sup = supervisor::Supervisor::new(board, started)?;
    let action = sup.run();
    log::info(&format!(
        "{action:?} requested; not PID 1, stopping containers and exiting"
    ));
    sup.stop_all();
    sup.close_watchdog();
    Ok(())
}

/// `reno shutdown --poweroff|--reboot|--halt`: ask PID 1, busybox-style, by signal.
pub fn request_shutdown(action: Action) -> i32 {
    let sig = match action {
        Action::Poweroff => signal::SIGUSR2,
        Action::Reboot => signal::SIGTERM,
        Action::Halt => signal::SIGUSR1,
    };
    match signal::kill(1, sig) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "reno shutdown: signal PID 1: {}",
                crate::error::errno_text(e)
            );
            1
        }
    }
}
