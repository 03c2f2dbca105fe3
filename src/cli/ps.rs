use super::{arg_err, help, name, need_id, next_tok, unknown, value, Tok};
use crate::container::{exec, Globals};
use crate::error::{Context, Error, Result};

const USAGE: &str = "\
usage: reno ps [--format table|json] ID [PS_ARGS...]
  list the container's processes: json prints the host pids as an array (containerd's
  `ctr task ps` reads that); table runs ps(1) (default `ps -ef`) and keeps its rows
";

pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut id, mut format) = (None, "table".to_string());
    let mut ps_args = Vec::new();
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-f" || f == "--format" => format = value(p)?,
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) => {
                id = Some(v);
                for a in p.raw_args().map_err(arg_err)? {
                    ps_args.push(a.to_string_lossy().into_owned());
                }
                break;
            }
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    let pids = exec::processes(g, &id).map_err(|e| name(e, &id))?;
    match format.as_str() {
        "json" => {
            println!("{}", serde_json::Value::from(pids));
            Ok(0)
        }
        "table" => table(&pids, ps_args),
        f => Err(Error::invalid("--format", format!("{f:?}: table or json"))),
    }
}

/// ps(1)'s header, then its rows whose PID column is one of ours (runc's way).
fn table(pids: &[i32], mut args: Vec<String>) -> Result<i32> {
    if args.is_empty() {
        args.push("-ef".into());
    }
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .ctx("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| Error::failed("ps", "no PID column in ps output"))?;
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|s| s.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(0)
}
