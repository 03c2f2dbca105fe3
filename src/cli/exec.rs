use std::path::PathBuf;

use super::{arg_err, help, name, need_id, next_tok, unknown, value, Tok};
use crate::container::exec::{self, ExecOpts};
use crate::container::Globals;
use crate::error::{Error, Result};

const USAGE: &str = "\
usage: reno exec [options] ID [COMMAND [ARG...]]
  run a new process in a running container; in the foreground exit with its exit code
  -p, --process FILE       process.json to run (the process flags below are then ignored)
  -t, --tty                allocate a pty (process.terminal)
  --console-socket PATH    unix socket to receive the pty master
  -d, --detach             return once the process runs
  --pid-file FILE          write the process's pid to FILE
  --cwd DIR                working directory in the container
  -e, --env K=V            add an environment variable (repeatable)
  -u, --user UID[:GID]     run as this user
  -g, --additional-gids G  additional group (repeatable)
  -c, --cap CAP            add a capability (repeatable)
  --no-new-privs           set no_new_privs
  --preserve-fds N         pass N extra fds (from fd 3) to the process
  --process-label L        SELinux label of the process
  --apparmor P             AppArmor profile of the process
  --ignore-paused          exec even if the container is paused
";

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| Error::invalid(flag.to_string(), format!("{v:?} is not a number")))
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut o = ExecOpts::default();
    let mut id = None;
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) => match f.as_str() {
                "-p" | "--process" => o.process = Some(value(p)?.into()),
                "-t" | "--tty" => o.tty = true,
                "--console-socket" => o.console_socket = Some(value(p)?.into()),
                "-d" | "--detach" => o.detach = true,
                "--pid-file" => o.pid_file = Some(absolute(value(p)?.into())),
                "--cwd" => o.cwd = Some(value(p)?.into()),
                "-e" | "--env" => o.env.push(value(p)?),
                "-u" | "--user" => {
                    let v = value(p)?;
                    let (u, g) = match v.split_once(':') {
                        Some((u, g)) => (u, Some(g)),
                        None => (v.as_str(), None),
                    };
                    let gid = match g {
                        Some(g) => Some(num("--user", g)?),
                        None => None,
                    };
                    o.user = Some((num("--user", u)?, gid));
                }
                "-g" | "--additional-gids" => {
                    for g in value(p)?.split(',').filter(|s| !s.is_empty()) {
                        o.additional_gids.push(num("--additional-gids", g)?);
                    }
                }
                "-c" | "--cap" => o.caps.push(value(p)?),
                "--no-new-privs" => o.no_new_privs = true,
                "--preserve-fds" => o.preserve_fds = num("--preserve-fds", &value(p)?)?,
                "--process-label" => o.process_label = Some(value(p)?),
                "--apparmor" => o.apparmor = Some(value(p)?),
                "--ignore-paused" => o.ignore_paused = true,
                "-h" | "--help" => return help(USAGE),
                _ => return Err(unknown(Tok::Flag(f))),
            },
            Tok::Pos(v) => {
                id = Some(v);
                // Everything after the id belongs to the command, flags included.
                let mut rest = Vec::new();
                for a in p.raw_args().map_err(arg_err)? {
                    rest.push(a.into_string().map_err(|a| {
                        Error::invalid("usage", format!("argument {a:?} is not UTF-8"))
                    })?);
                }
                if rest.first().is_some_and(|a| a == "--") {
                    rest.remove(0);
                }
                o.args = rest;
                break;
            }
        }
    }
    o.id = need_id(id, USAGE)?;
    // runc's form: "exec failed: …" and 255, so a failed exec is never mistaken for the
    // program's own exit code.
    match exec::exec(g, &o) {
        Ok(code) => Ok(code),
        Err(e) => {
            log::error!("exec failed: {}", name(e, &o.id));
            Ok(255)
        }
    }
}
