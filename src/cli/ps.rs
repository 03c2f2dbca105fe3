use super::{help, name, need_id, next_tok, outln, unknown, value, Tok};
use crate::container::Globals;
use crate::error::{Context, Error, Result};
use crate::state;

const USAGE: &str = "\
usage: reno ps [--format table|json] ID [-- PS_OPTIONS…]
  list the processes in the container's cgroup: `ps -ef` (or PS_OPTIONS) filtered to them,
  or with --format json a JSON array of their pids
";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    let (mut id, mut json, mut ps_args) = (None, false, Vec::new());
    while let Some(t) = next_tok(p)? {
        match t {
            Tok::Flag(f) if f == "-f" || f == "--format" => {
                json = match value(p)?.as_str() {
                    "json" => true,
                    "table" => false,
                    v => {
                        return Err(Error::invalid(
                            "ps",
                            format!("invalid format {v:?} (table or json)"),
                        ))
                    }
                }
            }
            Tok::Flag(f) if f == "-h" || f == "--help" => return help(USAGE),
            Tok::Pos(v) if id.is_none() => id = Some(v),
            Tok::Pos(v) => ps_args.push(v),
            t => return Err(unknown(t)),
        }
    }
    let id = need_id(id, USAGE)?;
    let pids = {
        let (_lock, saved) = state::open(&g.root, &id).map_err(|e| name(e, &id))?;
        crate::container::ops::cgroup_of(&saved)
            .and_then(|cg| cg.pids())
            .map_err(|e| name(e, &id))?
    };
    if json {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        outln!("[{}]", list.join(","));
        return Ok(0);
    }
    if ps_args.is_empty() {
        ps_args.push("-ef".into());
    }
    let mut argv: Vec<std::ffi::OsString> = vec!["ps".into()];
    argv.extend(ps_args.iter().map(Into::into));
    let (status, stdout, stderr) = crate::linux::spawn::Cmd::new("ps".as_ref(), &argv, None)
        .and_then(|c| c.output())
        .ctx("run ps")?;
    if status.exit_status() != Some(0) {
        return Err(Error::failed(
            "ps",
            format!(
                "ps {}: {}",
                ps_args.join(" "),
                String::from_utf8_lossy(&stderr).trim()
            ),
        ));
    }
    outln!(
        "{}",
        filter(&String::from_utf8_lossy(&stdout), &pids)?.trim_end()
    );
    Ok(0)
}

/// Keep ps's header and the lines whose PID column is one of `pids` (runc's way).
fn filter(table: &str, pids: &[i32]) -> Result<String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::failed("ps", "couldn't find PID field in ps output"))?;
    let mut out = format!("{header}\n");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_by_pid_column() {
        let t = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sh\n";
        assert_eq!(
            super::filter(t, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sh\n"
        );
    }
}
