use super::{id_only, name};
use crate::container::{self, Globals};
use crate::error::Result;

const USAGE: &str = "usage: reno start ID\n  run the user program of a created container\n";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let Some(id) = id_only(p, USAGE)? else {
        return Ok(0);
    };
    container::start(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}
