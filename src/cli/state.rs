use super::{id_only, name, outln};
use crate::container::{self, Globals};
use crate::error::Result;

const USAGE: &str = "usage: reno state ID\n  print the container's state as JSON\n";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let Some(id) = id_only(p, USAGE)? else {
        return Ok(0);
    };
    let v = container::state(g, &id).map_err(|e| name(e, &id))?;
    outln!("{}", crate::spec::json_text(&v, true));
    Ok(0)
}
