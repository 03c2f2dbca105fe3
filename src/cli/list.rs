use super::{help, next_tok, outln, unknown, value, Tok};
use crate::container::{self, Globals};
use crate::error::{Error, Result};

const USAGE: &str = "\
usage: reno list [-f table|json] [-q]
  -f, --format FORMAT   table (default) or json
  -q, --quiet           ids only
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut json, mut quiet) = (false, false);
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-f" || f == "--format" => {
                let v = value(p)?;
                json = match v.as_str() {
                    "json" => true,
                    "table" => false,
                    _ => {
                        return Err(Error::invalid(
                            "list",
                            format!("unknown format {v:?} (table or json)"),
                        ))
                    }
                };
            }
            Tok::Flag(f) if f == "-q" || f == "--quiet" => quiet = true,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            t => return Err(unknown(t)),
        }
    }
    let all = container::list(g);
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    if quiet {
        for v in &all {
            outln!("{}", s(v, "id"));
        }
    } else if json {
        outln!("{}", serde_json::Value::Array(all));
    } else {
        outln!(
            "{:<12} {:<8} {:<10} {:<40} {:<31} OWNER",
            "ID",
            "PID",
            "STATUS",
            "BUNDLE",
            "CREATED"
        );
        for v in &all {
            outln!(
                "{:<12} {:<8} {:<10} {:<40} {:<31} {}",
                s(v, "id"),
                v["pid"],
                s(v, "status"),
                s(v, "bundle"),
                s(v, "created"),
                s(v, "owner")
            );
        }
    }
    Ok(0)
}
