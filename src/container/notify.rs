//! seccomp user notification (SCMP_ACT_NOTIFY), runc's protocol.
//!
//! The process that loads the filter gets the listener fd; it sends the fd's *number* over
//! the pipe (`Msg::SeccompFd`), the parent takes a copy with pidfd_getfd(2), connects to
//! `linux.seccomp.listenerPath` and sends one message: the container process state JSON
//! (`fds: ["seccompFd"]`, `metadata` = listenerMetadata) with the fd as SCM_RIGHTS. Then it
//! answers `Msg::SeccompDone` and the child closes its copy. The agent handles the
//! notifications from then on, including those of the rest of reno's own set-up.
//!
//! An unprivileged (rootless) parent passes pidfd_getfd's ptrace check on the uid match and
//! its capabilities over the container's user namespace, but not the dumpability check: the
//! child's memory belongs to the initial user namespace, where the parent has no
//! CAP_SYS_PTRACE, and the child is non-dumpable (CVE-2019-5736). So the child is dumpable
//! for the hand-over only; see [`load_and_hand_over`] for why that window is safe. runc
//! keeps this pidfd_getfd protocol (rather than SCM_RIGHTS) so that a profile may NOTIFY on
//! sendmsg: the hand-over itself uses only write and read.

use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::fd::AsRawFd;
use rustix::process::Pid;
use serde_json::{json, Value};

use super::channel::{Channel, Msg};
use crate::error::{Context, Error, Kind, Result};
use crate::linux::fdpass;
use crate::spec::{self, LinuxNamespaceType, Spec};

/// Name of the fd in the process state's `fds`, as runtime-spec's `SeccompFdName`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// Child side: load the filter; with a listener, pass it to the parent and wait until the
/// parent has it.
///
/// `unprivileged_parent`: the parent can only take the fd from a dumpable process, so this
/// one is dumpable from the message until the parent's answer, and non-dumpable again
/// after. Who could reach it meanwhile (ptrace, /proc/PID/{mem,fd,exe}, pidfd_getfd) is
/// only a process with our uid that sees our pid:
/// - `create`: the container has no process yet (a pid namespace joined by path, whose
///   processes could see us, is refused in [`listener_of`]); in the host's pid namespace,
///   processes of our uid could already do all of this to the `reno create` that started us,
///   which holds more than we do.
/// - `exec`: the container's processes see us and may run as our uid (rootless root is
///   the caller), so `exec` first closes every fd its program would not get anyway (see
///   exec.rs): nothing of the host's is left to take.
/// - In both, /proc/PID/exe is the protected re-executed copy of reno (sealed.rs), never the
///   host binary, and the root and cwd are already the container's. Our capabilities are
///   only those of the container's user namespace (the parent is unprivileged), and the
///   kernel's own check (cap_ptrace_access_check) still lets in only a process holding all
///   of them: a container process with fewer (runc's default set) can't reach us before
///   the switch to the process's user, and after it we hold no more than that process.
pub fn load_and_hand_over(
    prog: &crate::seccomp::Program,
    ch: &mut Channel,
    unprivileged_parent: bool,
) -> Result<()> {
    let Some(listener) = crate::seccomp::load(prog)? else {
        return Ok(());
    };
    if unprivileged_parent {
        set_dumpable(true)?;
    }
    let sent = ch.send(&Msg::SeccompFd(listener.as_raw_fd()));
    let answer = sent.and_then(|()| ch.recv());
    if unprivileged_parent {
        set_dumpable(false)?;
    }
    match answer? {
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

fn set_dumpable(on: bool) -> Result<()> {
    use rustix::process::DumpableBehavior as D;
    let (b, what) = if on {
        (
            D::Dumpable,
            "prctl(PR_SET_DUMPABLE, 1) for the seccomp listener hand-over",
        )
    } else {
        (D::NotDumpable, "prctl(PR_SET_DUMPABLE, 0)")
    };
    rustix::process::set_dumpable_behavior(b).ctx(what)
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
    let joined_pidns = spec::namespaces(spec)
        .iter()
        .any(|(t, p)| *t == LinuxNamespaceType::Pid && p.is_some());
    if joined_pidns && !rustix::process::geteuid().is_root() {
        return Err(Error::invalid(
            "linux.seccomp",
            "SCMP_ACT_NOTIFY in a pid namespace joined by path is not supported rootless: \
             the listener hand-over would open the init to that namespace's processes",
        ));
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
                "no ptrace access to the container process (Yama's ptrace_scope, or an LSM, refuses it)"
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
