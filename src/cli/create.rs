use std::path::PathBuf;

use super::{help, name, need_id, next_tok, unknown, value, Tok};
use crate::container::{self, CreateOpts, Globals};
use crate::error::{Error, Result};

pub const USAGE: &str = "\
usage: reno create [options] ID
  -b, --bundle DIR        bundle directory (default: current directory)
  --pid-file FILE         write the init's pid to FILE
  --console-socket PATH   unix socket to receive the pty master (process.terminal)
  --no-pivot              switch root with move + chroot instead of pivot_root
  --no-new-keyring        do not create a session keyring
  --preserve-fds N        pass N extra fds (from fd 3) to the container
";

/// Flags shared by create and run; false for a flag it doesn't know.
pub fn parse_create_flag(flag: &str, p: &mut lexopt::Parser, o: &mut CreateOpts) -> Result<bool> {
    match flag {
        "-b" | "--bundle" => o.bundle = value(p)?.into(),
        "--pid-file" => o.pid_file = Some(absolute(value(p)?.into())),
        "--console-socket" => o.console_socket = Some(value(p)?.into()),
        "--no-pivot" => o.no_pivot = true,
        "--no-new-keyring" => o.no_new_keyring = true,
        "--preserve-fds" => {
            let v = value(p)?;
            o.preserve_fds = v
                .parse()
                .map_err(|_| Error::invalid("--preserve-fds", format!("{v:?} is not a number")))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
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
    let mut o = CreateOpts {
        bundle: PathBuf::from("."),
        ..CreateOpts::default()
    };
    let mut id = None;
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if parse_create_flag(&f, p, &mut o)? => {}
            // containerd may pass --detach; create always detaches.
            Tok::Flag(f) if f == "-d" || f == "--detach" => {}
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    o.id = need_id(id, USAGE)?;
    container::create(g, &o).map_err(|e| name(e, &o.id))?;
    Ok(0)
}
