//! seccomp user notification (SCMP_ACT_NOTIFY), runc's protocol.
//!
//! The process that loads the filter gets the listener fd; it sends the fd's *number* over
//! the pipe (`Msg::SeccompFd`), the parent takes a copy with pidfd_getfd(2), connects to
//! `linux.seccomp.listenerPath` and sends one message: the container process state JSON
//! (`fds: ["seccompFd"]`, `metadata` = listenerMetadata) with the fd as SCM_RIGHTS. Then it
//! answers `Msg::SeccompDone` and the child closes its copy. The agent handles the
//! notifications from then on, including those of the rest of reno's own set-up.

use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::fd::AsRawFd;
use rustix::process::Pid;
use serde_json::{json, Value};

use super::channel::{Channel, Msg};
use crate::error::{Context, Error, Kind, Result};
use crate::linux::fdpass;
use crate::spec::Spec;

/// Name of the fd in the process state's `fds`, as runtime-spec's `SeccompFdName`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// Child side: load the filter; with a listener, pass it to the parent and wait until the
/// parent has it.
pub fn load_and_hand_over(prog: &crate::seccomp::Program, ch: &mut Channel) -> Result<()> {
    let Some(listener) = crate::seccomp::load(prog)? else {
        return Ok(());
    };
    ch.send(&Msg::SeccompFd(listener.as_raw_fd()))?;
    match ch.recv()? {
        Some(Msg::SeccompDone) => Ok(()),
        Some(m) => Err(Error::failed(
            "seccomp listener hand-over",
            format!("unexpected {m:?}"),
        )),
        None => Err(Error::failed(
            "seccomp listener hand-over",
            "reno went away",
        )),
    }
}

/// The agent's address and metadata, if the profile has NOTIFY rules. A profile with NOTIFY
/// rules but no listenerPath is refused (runc's rule): the filtered calls would block forever.
pub fn listener_of(spec: &Spec, notify: bool) -> Result<Option<(std::path::PathBuf, String)>> {
    let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    if !notify {
        return Ok(None);
    }
    let path = sc
        .listener_path()
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "linux.seccomp.listenerPath",
                "SCMP_ACT_NOTIFY needs a listenerPath (the seccomp agent's unix socket)",
            )
        })?;
    Ok(Some((
        path,
        sc.listener_metadata().clone().unwrap_or_default(),
    )))
}

/// The JSON the agent receives: runtime-spec's ContainerProcessState.
pub fn process_state(state: &Value, pid: i32, metadata: &str) -> Value {
    json!({
        "ociVersion": state["ociVersion"],
        "fds": [SECCOMP_FD_NAME],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
}

/// Parent side, on `Msg::SeccompFd(n)` from process `pid`: take the fd, send it to the
/// agent, tell the child it may go on.
pub fn forward(
    ch: &mut Channel,
    pid: Pid,
    child_fd: i32,
    listener: Option<&(std::path::PathBuf, String)>,
    state: &Value,
) -> Result<()> {
    let Some((path, metadata)) = listener else {
        return Err(Error::failed(
            "seccomp listener",
            "the process sent a listener but the profile has no listenerPath",
        ));
    };
    let fd = fdpass::take_fd(pid, child_fd).map_err(|e| {
        let why = match e {
            rustix::io::Errno::NOSYS => {
                "pidfd_getfd(2) is missing (Linux < 5.6): SCMP_ACT_NOTIFY is not supported here"
            }
            rustix::io::Errno::PERM => {
                "no ptrace access to the container process (an unprivileged reno can't take fds from its non-dumpable init)"
            }
            _ => "taking the listener from the container process",
        };
        Error::sys("pidfd_getfd (seccomp listener)", e).detail(why)
    })?;
    let body = process_state(state, pid.as_raw_nonzero().get(), metadata);
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| Error::failed("seccomp listener: encode state", e.to_string()))?;
    send_to_agent(path, &bytes, &fd)?;
    ch.send(&Msg::SeccompDone)
}

fn send_to_agent(path: &Path, data: &[u8], fd: &rustix::fd::OwnedFd) -> Result<()> {
    let sock = UnixStream::connect(path).ctx_path("connect to the seccomp agent", path)?;
    fdpass::send_with_fd(&sock, data, fd)
        .map_err(|e| Error::sys("send the seccomp listener to the agent", e).path(path))
}

/// Read the child's messages until it sends `want` (or hangs up, if `want` is None),
/// serving listener hand-overs on the way.
pub fn wait_serving(
    ch: &mut Channel,
    pid: Pid,
    want: Option<Msg>,
    listener: Option<&(std::path::PathBuf, String)>,
    state: &Value,
) -> Result<()> {
    loop {
        match ch.recv()? {
            Some(Msg::SeccompFd(n)) => forward(ch, pid, n, listener, state)?,
            Some(m) if Some(&m) == want.as_ref() => return Ok(()),
            Some(Msg::Failed(msg)) => return Err(Error::new(Kind::Failed, msg)),
            Some(m) => {
                return Err(Error::failed(
                    "container process",
                    format!("unexpected message {m:?}"),
                ))
            }
            None if want.is_none() => return Ok(()),
            None => return Err(Error::failed("container init", super::create::INIT_GONE)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_is_runc_shaped() {
        let st = json!({"ociVersion": "1.2.0", "id": "c", "status": "creating", "pid": 42});
        let v = process_state(&st, 42, "meta");
        assert_eq!(v["ociVersion"], "1.2.0");
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "meta");
        assert_eq!(v["state"]["status"], "creating");
    }
}
