use super::{help, name, need_id, next_tok, unknown, Tok};
use crate::container::{self, Globals};
use crate::error::Result;

const USAGE: &str = "usage: reno start ID\n  run the user program of a created container\n";

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
    container::start(g, &id).map_err(|e| name(e, &id))?;
    Ok(0)
}
