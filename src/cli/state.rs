use super::{help, name, need_id, next_tok, outln, unknown, Tok};
use crate::container::{self, Globals};
use crate::error::Result;

const USAGE: &str = "usage: reno state ID\n  print the container's state as JSON\n";

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
    let v = container::state(g, &id).map_err(|e| name(e, &id))?;
    outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(0)
}
