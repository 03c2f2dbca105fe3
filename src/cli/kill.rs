use super::{help, name, need_id, next_tok, unknown, value, Tok};
use crate::container::{self, Globals};
use crate::error::{Error, Result};
use crate::linux::signal;

const USAGE: &str = "\
usage: reno kill [-a] ID [SIGNAL]
  send SIGNAL (a number or a name, with or without SIG; default TERM) to the init
  -a, --all   send it to every process of the container
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut id, mut sig, mut all) = (None, None, false);
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-a" || f == "--all" => all = true,
            Tok::Flag(f) if f == "-s" || f == "--signal" => sig = Some(value(p)?),
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            Tok::Pos(v) if sig.is_none() => sig = Some(v),
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    let s = sig.unwrap_or_else(|| "TERM".into());
    let n = signal::parse_signal(&s)
        .ok_or_else(|| Error::invalid("kill", format!("unknown signal {s:?}")))?;
    container::kill(g, &id, n, all).map_err(|e| name(e, &id))?;
    Ok(0)
}
