use super::{help, name, need_id, next_tok, unknown, Tok};
use crate::container::{self, Globals};
use crate::error::Result;

const USAGE: &str = "\
usage: reno delete [-f] ID
  delete a stopped (or created, never started) container: its cgroup, its state, then
  poststop hooks
  -f, --force   kill it first if it is still running (an unknown ID is not an error)
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut id, mut force) = (None, false);
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-f" || f == "--force" => force = true,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    container::delete(g, &id, force).map_err(|e| name(e, &id))?;
    Ok(0)
}
