use super::{help, name, need_id, next_tok, unknown, Tok};
use crate::cgroups::Cgroup;
use crate::container::Globals;
use crate::error::{Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "usage: reno pause ID\n  freeze every process of the container (v1 freezer, v2 cgroup.freeze)\n";

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
    pause(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn pause(g: &Globals, id: &str) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    match state::status(&state::dir(&g.root, id), &saved) {
        Status::Running | Status::Created => Cgroup::open(&saved.cgroup).set_frozen(true),
        Status::Paused => Err(Error::new(Kind::WrongState, "container already paused")),
        _ => Err(Error::new(Kind::NotRunning, "container not running")),
    }
}
