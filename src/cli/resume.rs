use super::{help, name, need_id, next_tok, unknown, Tok};
use crate::cgroups::Cgroup;
use crate::container::Globals;
use crate::error::{Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "usage: reno resume ID\n  thaw a paused container\n";

pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut id = None;
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    resume(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn resume(g: &Globals, id: &str) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    let cg = Cgroup::open(&saved.cgroup);
    match state::status(&state::dir(&g.root, id), &saved) {
        Status::Paused => cg.set_frozen(false),
        // A created container can be paused too; its status still reads "created".
        Status::Created if cg.is_frozen() => cg.set_frozen(false),
        Status::Stopped => Err(Error::new(Kind::NotRunning, "container not running")),
        _ => Err(Error::new(Kind::WrongState, "container not paused")),
    }
}
