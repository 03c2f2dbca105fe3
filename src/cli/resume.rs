use super::{id_only, name};
use crate::container::Globals;
use crate::error::{Error, Kind, Result};
use crate::state::{self, Status};

const USAGE: &str = "usage: reno resume ID\n  thaw a paused container\n";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let Some(id) = id_only(p, USAGE)? else {
        return Ok(0);
    };
    resume(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}

fn resume(g: &Globals, id: &str) -> Result<()> {
    let (_lock, saved) = state::open(&g.root, id)?;
    let cg = crate::container::ops::cgroup_of(&saved)?;
    match state::status(&state::dir(&g.root, id), &saved) {
        Status::Paused => cg.set_frozen(false),
        Status::Stopped => Err(Error::new(Kind::NotRunning, "container not running")),
        _ => Err(Error::new(Kind::WrongState, "container not paused")),
    }
}
