use super::{help, next_tok, unknown, Tok};
use crate::container::Globals;
use crate::error::{Error, Result};
use crate::init::board::Action;

const USAGE: &str = "\
usage: reno shutdown --poweroff|--reboot|--halt
  ask reno running as PID 1 to stop every container in reverse order and power off,
  reboot or halt (as busybox's poweroff/reboot/halt do by signal)
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(_g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let mut action = None;
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "--poweroff" => action = Some(Action::Poweroff),
            Tok::Flag(f) if f == "--reboot" => action = Some(Action::Reboot),
            Tok::Flag(f) if f == "--halt" => action = Some(Action::Halt),
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            t => return Err(unknown(t)),
        }
    }
    let a = action.ok_or_else(|| Error::invalid("usage", USAGE.trim_end()))?;
    Ok(crate::init::request_shutdown(a))
}
