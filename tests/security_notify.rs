//! seccomp SCMP_ACT_NOTIFY end to end: a seccomp agent (a thread of this test, listening on
//! a unix socket) receives the container process state and the listener from `reno create`
//! as runc sends them, then answers the container's mkdir calls: the first with EROFS, the
//! next ones by letting the call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).

mod common;

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::Bundle;
use reno::linux::seccomp::{notif_recv, notif_send, NOTIF_FLAG_CONTINUE};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::{json, Value};

const EROFS: i32 = 30;

/// What the agent saw: the JSON it was sent and the syscall numbers it was asked about.
struct Seen {
    state: Value,
    calls: Vec<i32>,
}

/// Accept one connection on `sock`, take the state and the fd, answer notifications until
/// every filtered process is gone (POLLHUP) or 20 s pass.
fn agent(sock: &Path) -> mpsc::Receiver<Result<Seen, String>> {
    agent_n(sock, 1)
}

/// As `agent`, for `n` connections, each served by a thread of its own.
fn agent_n(sock: &Path, n: usize) -> mpsc::Receiver<Result<Seen, String>> {
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

fn notify_profile(sock: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "reno-test-metadata",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn sock_path(b: &Bundle) -> PathBuf {
    b.dir.parent().expect("bundle base").join("agent.sock")
}

const SCRIPT: &str = "mkdir /tmp/a; echo first=$?; mkdir /tmp/b; echo second=$?; \
                      test -d /tmp/b && echo b-exists; test -d /tmp/a || echo a-missing";

fn notify_case(nnp: bool) {
    let mut b = Bundle::new(if nnp { "notify-nnp" } else { "notify" });
    let sock = sock_path(&b);
    let rx = agent(&sock);
    b.sh(SCRIPT);
    b.config["process"]["noNewPrivileges"] = json!(nnp);
    b.config["linux"]["seccomp"] = notify_profile(&sock);
    let out = b.run_ok();
    assert!(out.contains("first=1"), "first mkdir should fail: {out}");
    assert!(out.contains("second=0"), "second mkdir should run: {out}");
    assert!(
        out.contains("b-exists") && out.contains("a-missing"),
        "{out}"
    );
    let seen = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("agent finished")
        .expect("agent ok");
    let s = &seen.state;
    assert_eq!(s["fds"], json!(["seccompFd"]), "{s}");
    assert_eq!(s["metadata"], "reno-test-metadata", "{s}");
    assert_eq!(s["state"]["id"], json!(b.id), "{s}");
    assert_eq!(s["state"]["status"], "creating", "{s}");
    assert!(s["pid"].as_i64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["pid"], s["state"]["pid"], "{s}");
    assert!(s["ociVersion"].is_string(), "{s}");
    let mkdirs = [83, 258]; // x86_64 mkdir, mkdirat
    assert_eq!(seen.calls.len(), 2, "notifications: {:?}", seen.calls);
    assert!(
        seen.calls.iter().all(|n| mkdirs.contains(n)),
        "{:?}",
        seen.calls
    );
    b.assert_no_leftovers();
}

#[test]
fn notify_agent_answers_mkdir() {
    require_root!();
    if std::env::consts::ARCH != "x86_64" {
        skip!("notify test checks x86_64 syscall numbers");
        return;
    }
    notify_case(false);
}

#[test]
fn notify_agent_answers_mkdir_with_no_new_privileges() {
    require_root!();
    if std::env::consts::ARCH != "x86_64" {
        skip!("notify test checks x86_64 syscall numbers");
        return;
    }
    notify_case(true);
}

#[test]
fn notify_without_listener_path_is_refused() {
    require_root!();
    let mut b = Bundle::new("notify-nopath");
    b.sh("true");
    let mut prof = notify_profile(Path::new("/x"));
    prof.as_object_mut().map(|o| o.remove("listenerPath"));
    b.config["linux"]["seccomp"] = prof;
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("listenerPath"), "{err}");
    b.assert_no_leftovers();
}

#[test]
fn notify_with_absent_agent_fails_cleanly() {
    require_root!();
    let mut b = Bundle::new("notify-noagent");
    b.sh("true");
    let sock = sock_path(&b);
    b.config["linux"]["seccomp"] = notify_profile(&sock);
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("seccomp agent"), "{err}");
    b.assert_no_leftovers();
}

#[test]
fn notify_on_write_is_refused() {
    require_root!();
    let mut b = Bundle::new("notify-write");
    b.sh("true");
    let sock = sock_path(&b);
    let mut prof = notify_profile(&sock);
    prof["syscalls"][0]["names"] = json!(["write"]);
    b.config["linux"]["seccomp"] = prof;
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("write syscall"), "{err}");
    b.assert_no_leftovers();
}

#[test]
fn notify_agent_gets_the_exec_process_too() {
    require_root!();
    let mut b = Bundle::new("notify-exec");
    let sock = sock_path(&b);
    let rx = agent_n(&sock, 2);
    b.sh("sleep 30");
    b.config["linux"]["seccomp"] = notify_profile(&sock);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = b.reno(&["exec", &b.id, "sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out).trim(), "rc=1");
    let _ = b.reno(&["kill", &b.id, "KILL"]);
    let mut states = Vec::new();
    for _ in 0..2 {
        let seen = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("agent finished")
            .expect("agent ok");
        states.push(seen.state);
    }
    let init = states.iter().find(|s| s["state"]["status"] == "creating");
    let exec = states.iter().find(|s| s["state"]["status"] == "running");
    let (Some(init), Some(exec)) = (init, exec) else {
        panic!("one creating and one running state expected: {states:?}");
    };
    assert_eq!(exec["state"]["pid"], init["pid"], "state.pid is the init's");
    assert_ne!(exec["pid"], init["pid"], "pid is the exec process's");
}
