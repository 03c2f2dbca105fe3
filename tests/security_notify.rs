//! seccomp SCMP_ACT_NOTIFY end to end: a seccomp agent (a thread of this test, listening on
//! a unix socket) receives the container process state and the listener from `reno create`
//! as runc sends them, then answers the container's mkdir calls: the first with EROFS, the
//! next ones by letting the call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).

mod common;

#[path = "common/notify_agent.rs"]
mod notify_agent;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Bundle;
use notify_agent::{agent, agent_n, notify_profile};
use serde_json::json;

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
