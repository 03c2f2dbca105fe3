//! An in-test seccomp agent (a thread listening on a unix socket): it receives the container
//! process state and the listener as runc sends them, then answers mkdir calls: the first
//! with EROFS, the next ones by letting the call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
//! Shared by tests/security_notify.rs and tests/rootless.rs.
#![allow(dead_code)]

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use reno::linux::seccomp::{notif_recv, notif_send, NOTIF_FLAG_CONTINUE};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{json, Value};

const EROFS: i32 = 30;

/// What the agent saw: the JSON it was sent and the syscall numbers it was asked about.
pub struct Seen {
    pub state: Value,
    pub calls: Vec<i32>,
}

/// Accept one connection on `sock`, take the state and the fd, answer notifications until
/// every filtered process is gone (POLLHUP) or 20 s pass.
pub fn agent(sock: &Path) -> mpsc::Receiver<Result<Seen, String>> {
    agent_n(sock, 1)
}

/// As `agent`, for `n` connections, each served by a thread of its own.
pub fn agent_n(sock: &Path, n: usize) -> mpsc::Receiver<Result<Seen, String>> {
    let listener = UnixListener::bind(sock).expect("bind agent socket");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for _ in 0..n {
            match listener.accept() {
                Ok((conn, _)) => {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        let _ = tx.send(serve(conn));
                    });
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("accept: {e}")));
                }
            }
        }
    });
    rx
}

fn serve(conn: std::os::unix::net::UnixStream) -> Result<Seen, String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let r = rustix::net::recvmsg(&conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    let n = r.bytes;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(f) = m {
            fds.extend(f);
        }
    }
    let state: Value = serde_json::from_slice(&buf[..n]).map_err(|e| format!("state json: {e}"))?;
    if fds.len() != 1 {
        return Err(format!("expected one fd, got {}", fds.len()));
    }
    let fd = fds.remove(0);
    let mut calls = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        let ts = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        match poll(&mut p, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let rev = p[0].revents();
        if rev.contains(PollFlags::IN) {
            let Ok(req) = notif_recv(&fd) else { continue };
            calls.push(req.nr);
            // The first mkdir fails, the rest run for real.
            let r = if calls.len() == 1 {
                notif_send(&fd, req.id, 0, -EROFS, 0)
            } else {
                notif_send(&fd, req.id, 0, 0, NOTIF_FLAG_CONTINUE)
            };
            if let Err(e) = r {
                // ENOENT: the caller died meanwhile.
                eprintln!("agent: NOTIF_SEND: {e}");
            }
        } else if rev.intersects(PollFlags::HUP | PollFlags::ERR) {
            break;
        }
    }
    Ok(Seen { state, calls })
}

pub fn notify_profile(sock: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "reno-test-metadata",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}
