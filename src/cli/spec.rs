use std::path::PathBuf;

use super::{help, next_tok, unknown, value, Tok};
use crate::container::Globals;
use crate::error::{Context, Error, Result};

const USAGE: &str = "\
usage: reno spec [-b DIR] [--rootless]
  write a default config.json into the bundle directory (default: current directory)
  --rootless   a config an unprivileged user can run (user namespace, no cgroup limits)
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(_g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut bundle, mut rootless) = (PathBuf::from("."), false);
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-b" || f == "--bundle" => bundle = value(p)?.into(),
            Tok::Flag(f) if f == "--rootless" => rootless = true,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            t => return Err(unknown(t)),
        }
    }
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::invalid("spec", "File config.json exists. Remove it first").path(&path));
    }
    std::fs::write(&path, crate::spec::default_config(rootless) + "\n").ctx_path("write", &path)?;
    Ok(0)
}
