use super::{id_only, name};
use crate::container::Globals;
use crate::error::{Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "usage: reno pause ID\n  freeze every process of the container (v1 freezer, v2 cgroup.freeze)\n";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let Some(id) = id_only(p, USAGE)? else {
        return Ok(0);
    };
    pause(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn pause(g: &Globals, id: &str) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    match state::status(&state::dir(&g.root, id), &saved) {
        Status::Running | Status::Created => {
            crate::container::ops::cgroup_of(&saved)?.set_frozen(true)
        }
        Status::Paused => Err(Error::new(Kind::WrongState, "container already paused")),
        _ => Err(Error::new(Kind::NotRunning, "container not running")),
    }
}
