use super::{help, next_tok, unknown, value, Tok};
use crate::container::Globals;
use crate::error::Result;

const USAGE: &str = "\
usage: reno init [--board FILE] [--check]
  bring the device up from a board config and supervise its containers (what reno does
  when the kernel starts it as PID 1); see board-configs/README.md
  --board FILE   the board config (as PID 1: reno.board= on the kernel command line,
                 else /etc/reno/board.json)
  --check        validate the board config and print the start order, then exit
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(_g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut a = crate::init::InitArgs::default();
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "--check" => a.check = true,
            Tok::Flag(f) if f == "--board" => a.board = Some(value(p)?.into()),
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            t => return Err(unknown(t)),
        }
    }
    Ok(crate::init::main(a))
}
