//! The command line: global flags, then one file per command. Parses with lexopt, resolves
//! paths and calls into `container`; no syscalls here. Flags and wording follow runc, which
//! containerd's go-runc and conmon were written against.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::container::Globals;
use crate::error::{Error, Kind, Result};

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod init;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod shutdown;
mod spec;
mod start;
mod state;
mod update;

pub const USAGE: &str = "\
usage: reno [global options] COMMAND [options] [arguments]

A minimal OCI container runtime and device init.

Commands:
  create    create a container from a bundle (its init waits for start)
  start     run the user program of a created container
  run       create and start a container (foreground unless --detach)
  state     print a container's state as JSON
  kill      send a signal to a container's init (default SIGTERM)
  delete    delete a stopped or created container (--force: any container)
  exec      run a new process in a running container
  list      list containers
  ps        list the processes of a container
  pause     freeze every process of a container
  resume    thaw a paused container
  update    change a running container's resource limits
  events    resource usage stats and OOM events, as JSON lines
  spec      write a default config.json
  features  print the features document (what reno recognises)
  init      be the device's init: start the board config's containers (as PID 1: default)
  shutdown  ask PID 1 to --poweroff, --reboot or --halt

Global options:
  --root DIR            state directory (default /run/reno; rootless: $XDG_RUNTIME_DIR/reno)
  --log FILE            also write log lines to FILE
  --log-format FORMAT   text or json (for --log)
  --debug               log debug messages
  --systemd-cgroup      not supported (reno manages cgroupfs directly)
  --rootless BOOL       true, false or auto (default: rootless unless run as real root)
  -v, --version         print the version
  -h, --help            this help; COMMAND --help for a command's own
";

/// `println!` that ignores a closed stdout (`reno list | head -1`): reno keeps SIGPIPE
/// ignored (its pipes to the container's init must fail with EPIPE, not kill it), so a
/// failed write must not panic either.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
pub(crate) use outln;

/// Entry point of the binary.
pub fn main() -> i32 {
    // The kernel started us as /init or /sbin/init: be the device's init.
    if crate::init::is_pid1() {
        return crate::init::main(crate::init::InitArgs::default());
    }
    main_with_args(std::env::args_os().skip(1).collect())
}

/// A command-line token, owned (lexopt's borrow the parser, which the value reads need).
pub enum Tok {
    /// `-x` or `--name`, spelled that way.
    Flag(String),
    /// A positional argument.
    Pos(String),
}

pub fn next_tok(p: &mut lexopt::Parser) -> Result<Option<Tok>> {
    Ok(match p.next().map_err(arg_err)? {
        None => None,
        Some(Short(c)) => Some(Tok::Flag(format!("-{c}"))),
        Some(Long(l)) => Some(Tok::Flag(format!("--{l}"))),
        Some(Value(v)) => Some(Tok::Pos(v.string().map_err(arg_err)?)),
    })
}

/// The value of the flag just read (`--flag VALUE` or `--flag=VALUE`).
pub fn value(p: &mut lexopt::Parser) -> Result<String> {
    p.value().map_err(arg_err)?.string().map_err(arg_err)
}

pub fn unknown(t: Tok) -> Error {
    match t {
        Tok::Flag(f) => Error::invalid("usage", format!("unknown option {f}")),
        Tok::Pos(v) => Error::invalid("usage", format!("unexpected argument {v:?}")),
    }
}

/// `/run/reno`, or for a rootless caller `$XDG_RUNTIME_DIR/reno` (runc's choice) when set.
fn default_root(rootless: bool) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if rootless && !d.is_empty() => PathBuf::from(d).join("reno"),
        _ => PathBuf::from("/run/reno"),
    }
}

/// The whole CLI with explicit arguments (argv without the program name); the init mode
/// calls this in forked children to run its containers.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let mut argv = vec![std::env::args_os()
        .next()
        .unwrap_or_else(|| OsString::from("reno"))];
    argv.extend(args.iter().cloned());
    let mut p = lexopt::Parser::from_args(args);
    match run_command(&mut p, &argv) {
        Ok(code) => code,
        Err(e) => {
            crate::log::init(None, false, false);
            log::error!("{e}");
            1
        }
    }
}

fn run_command(p: &mut lexopt::Parser, argv: &[OsString]) -> Result<i32> {
    let mut root: Option<PathBuf> = None;
    let mut rootless: Option<String> = None;
    let mut log_file: Option<PathBuf> = None;
    let mut json = false;
    let mut debug = false;
    let command = loop {
        let Some(t) = next_tok(p)? else {
            eprint!("{USAGE}");
            return Ok(1);
        };
        let f = match t {
            Tok::Flag(f) => f,
            Tok::Pos(c) => break c,
        };
        match f.as_str() {
            "--root" => root = Some(value(p)?.into()),
            "--log" => log_file = Some(value(p)?.into()),
            "--log-format" => {
                let v = value(p)?;
                json = match v.as_str() {
                    "json" => true,
                    "text" => false,
                    _ => {
                        return Err(Error::invalid(
                            "--log-format",
                            format!("unknown format {v:?} (text or json)"),
                        ))
                    }
                };
            }
            "--debug" => debug = true,
            "--systemd-cgroup" => {
                return Err(Error::invalid(
                    "--systemd-cgroup",
                    "not supported: reno manages cgroupfs directly",
                ))
            }
            "--rootless" => {
                let v = value(p)?;
                if !matches!(v.as_str(), "true" | "false" | "auto") {
                    return Err(Error::invalid(
                        "--rootless",
                        format!("{v:?} is not true, false or auto"),
                    ));
                }
                rootless = Some(v);
            }
            "--criu" => {
                value(p)?;
            }
            "-v" | "--version" => {
                print_version();
                return Ok(0);
            }
            "-h" | "--help" => {
                outln!("{}", USAGE.trim_end());
                return Ok(0);
            }
            _ => return Err(unknown(Tok::Flag(f))),
        }
    };
    crate::log::init(log_file.as_deref(), json, debug);
    let rootless = crate::container::userns::detect(rootless.as_deref());
    let g = Globals {
        root: root.unwrap_or_else(|| default_root(rootless)),
        rootless,
    };
    if matches!(command.as_str(), "create" | "run" | "exec") {
        // CVE-2019-5736: start container processes only from a binary nobody can write.
        if let Err(e) = crate::container::sealed::reexec_protected(argv, &g.root) {
            log::warn!("{e}: carrying on from the binary on disk, which the container may reach through /proc/self/exe");
        }
    }
    let r = match command.as_str() {
        "create" => create::main(&g, p),
        "start" => start::main(&g, p),
        "run" => run::main(&g, p),
        "state" => state::main(&g, p),
        "kill" => kill::main(&g, p),
        "delete" => delete::main(&g, p),
        "exec" => exec::main(&g, p),
        "list" => list::main(&g, p),
        "spec" => spec::main(&g, p),
        "features" => features::main(&g, p),
        "init" => init::main(&g, p),
        "shutdown" => shutdown::main(&g, p),
        "pause" => pause::main(&g, p),
        "resume" => resume::main(&g, p),
        "update" => update::main(&g, p),
        "ps" => ps::main(&g, p),
        "events" => events::main(&g, p),
        other => Err(Error::invalid(
            "usage",
            format!("unknown command {other:?}; see reno --help"),
        )),
    };
    // Errors are logged here, where --log is known, so engines find them in the log file.
    r.or_else(|e| {
        log::error!("{e}");
        Ok(1)
    })
}

/// A plain decimal number (`12`, `1.5`, `.5`, `2.`; digits and at most one dot, as the
/// `--interval` and size flags split them) without `str::parse::<f64>`: core's correctly
/// rounded float parser brings a 10 KiB table into the static binary for these two flags.
pub fn decimal(s: &str) -> Option<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    let (mut n, mut scale) = (0f64, 1f64);
    for b in int.bytes() {
        n = n * 10.0 + f64::from(b - b'0');
    }
    for b in frac.bytes() {
        n = n * 10.0 + f64::from(b - b'0');
        scale *= 10.0;
    }
    Some(n / scale)
}

pub fn print_version() {
    outln!(
        "reno version {}\ncommit: {}\nspec: 1.2.0",
        env!("CARGO_PKG_VERSION"),
        option_env!("RENO_COMMIT").unwrap_or("unknown")
    );
}

/// lexopt errors as our usage errors.
pub fn arg_err(e: lexopt::Error) -> Error {
    Error::new(Kind::Invalid, e.to_string())
}

/// A command's --help text as an "error" the caller prints and exits 0 on.
pub fn help(text: &str) -> Result<i32> {
    outln!("{}", text.trim_end());
    Ok(0)
}

/// The whole command line of a command that takes only an ID: the ID, or None when
/// `--help` was asked for (and printed).
pub fn id_only(p: &mut lexopt::Parser, usage: &str) -> Result<Option<String>> {
    let mut id = None;
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-h" || f == "--help" => {
                help(usage)?;
                return Ok(None);
            }
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    need_id(id, usage).map(Some)
}

/// The container id: the one positional argument commands take.
pub fn need_id(id: Option<String>, usage: &str) -> Result<String> {
    id.ok_or_else(|| Error::invalid("usage", format!("missing container id\n{usage}")))
}

/// Add the container's name to errors that don't carry it in their wording already.
pub fn name(e: Error, id: &str) -> Error {
    match e.kind {
        Kind::NotFound | Kind::Exists | Kind::NotRunning => e,
        _ => e.container(id),
    }
}
