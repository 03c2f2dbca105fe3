use std::path::PathBuf;

use super::create::parse_create_flag;
use super::{help, name, need_id, next_tok, unknown, Tok};
use crate::container::{self, CreateOpts, Globals};
use crate::error::Result;

const USAGE: &str = "\
usage: reno run [options] ID
  create and start a container; in the foreground wait for it, forward signals, exit with
  its exit code (128+N when killed by signal N) and delete it
  -b, --bundle DIR        bundle directory (default: current directory)
  -d, --detach            return once the container is running
  --keep                  do not delete the container after it exits
  --pid-file FILE         write the init's pid to FILE
  --console-socket PATH   unix socket to receive the pty master
  --no-pivot              switch root with move + chroot instead of pivot_root
  --no-new-keyring        do not create a session keyring
  --preserve-fds N        pass N extra fds (from fd 3) to the container
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut o = CreateOpts {
        bundle: PathBuf::from("."),
        ..CreateOpts::default()
    };
    let (mut detach, mut keep, mut id) = (false, false, None);
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if parse_create_flag(&f, p, &mut o)? => {}
            Tok::Flag(f) if f == "-d" || f == "--detach" => detach = true,
            Tok::Flag(f) if f == "--keep" => keep = true,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    o.id = need_id(id, USAGE)?;
    container::run(g, &o, detach, keep).map_err(|e| name(e, &o.id))
}
