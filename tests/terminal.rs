//! process.terminal: the pty is made inside the container, the master reaches the caller
//! over --console-socket (SCM_RIGHTS, runc's protocol), the slave is the process's stdio,
//! controlling tty and /dev/console; without a socket a foreground exec relays itself.

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{reno_bin, stderr, Bundle};
use rustix::fd::OwnedFd;
use serde_json::json;

/// Read from the master until `marker` appears or 10 s pass.
fn read_until(master: &OwnedFd, marker: &str) -> String {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [rustix::event::PollFd::new(
            master,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) == 0 {
            continue;
        }
        match rustix::io::read(master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains(marker) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn listen(b: &Bundle, name: &str) -> (UnixListener, String) {
    let path = b.dir.join(name);
    let l = UnixListener::bind(&path).expect("bind console socket");
    (l, path.to_string_lossy().into_owned())
}

/// Accept the runtime's connection and take the master it sent.
fn receive_master(l: &UnixListener) -> OwnedFd {
    let (stream, _) = l.accept().expect("accept");
    reno::linux::pty::recv_fd(&stream).expect("receive master over SCM_RIGHTS")
}

#[test]
fn create_sends_master_over_console_socket() {
    require_root!();
    let mut b = Bundle::new("ttycreate");
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 101});
    b.sh("tty; stat -c %t,%T /dev/console; stty size; echo DONE; sleep 100");
    b.write_config();
    let (l, sock) = listen(&b, "console.sock");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&[
        "run",
        "-d",
        "--console-socket",
        &sock,
        "--bundle",
        &bundle,
        &b.id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let master = receive_master(&l);
    let text = read_until(&master, "DONE");
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{text:?}");
    // /dev/console is the pty slave (major 136 = 0x88).
    assert!(lines[1].starts_with("88,"), "{text:?}");
    assert_eq!(lines[2], "30 101", "{text:?}");
}

/// create and `run -d` can't relay: without a socket they refuse, leaving nothing behind.
/// (A foreground `run` relays instead, see below.)
#[test]
fn create_or_detached_run_without_socket_is_refused() {
    require_root!();
    let mut b = Bundle::new("ttynosock");
    b.config["process"]["terminal"] = json!(true);
    b.args(&["true"]);
    let out = b.create();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("console-socket"), "{}", stderr(&out));
    b.assert_no_leftovers();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("console-socket"), "{}", stderr(&out));
    b.assert_no_leftovers();
}

/// A console socket for a process without a terminal: refused as runc does (the caller would
/// wait for a master that never comes), nothing left behind.
#[test]
fn console_socket_without_terminal_is_refused() {
    require_root!();
    let mut b = Bundle::new("ttynoterm");
    b.args(&["true"]);
    b.write_config();
    let (_l, sock) = listen(&b, "console.sock");
    let bundle = b.dir.to_string_lossy().into_owned();
    for cmd in ["create", "run"] {
        let out = b.reno(&[cmd, "--console-socket", &sock, "--bundle", &bundle, &b.id]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot use console socket"),
            "{cmd}: {}",
            stderr(&out)
        );
        b.assert_no_leftovers();
    }
}

/// Foreground run with a terminal and stdin that is not a tty: at its EOF the process gets
/// EOF too (^D into the pty), so `reno run < /dev/null` of a shell ends instead of hanging.
#[test]
fn run_tty_relay_stdin_eof_ends_the_shell() {
    require_root!();
    let mut b = Bundle::new("ttyeof");
    b.config["process"]["terminal"] = json!(true);
    b.args(&["sh"]);
    let (code, _, err) = b.run();
    assert_eq!(code, 0, "{err}");
}

fn start_sleeper(b: &mut Bundle) {
    b.args(&["sleep", "1000"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
}

#[test]
fn exec_tty_detached_with_console_socket() {
    require_root!();
    let mut b = Bundle::new("ttyexec");
    start_sleeper(&mut b);
    let (l, sock) = listen(&b, "exec.sock");
    let pid_file = b.dir.join("exec.pid");
    // As conmon calls it: --tty and a process.json with terminal true.
    let pj = b.dir.join("process.json");
    std::fs::write(
        &pj,
        json!({"terminal": true, "user": {"uid": 0, "gid": 0}, "cwd": "/",
               "args": ["sh", "-c", "tty; echo DONE; sleep 2"], "env": ["PATH=/bin"]})
        .to_string(),
    )
    .expect("process.json");
    let out = b.reno(&[
        "exec",
        "--pid-file",
        &pid_file.to_string_lossy(),
        "--process",
        &pj.to_string_lossy(),
        "--detach",
        "--tty",
        "--console-socket",
        &sock,
        &b.id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(pid_file.exists());
    let master = receive_master(&l);
    let text = read_until(&master, "DONE");
    assert!(text.starts_with("/dev/pts/"), "{text:?}");
}

#[test]
fn exec_tty_foreground_relay_under_script() {
    require_root!();
    if !Path::new("/usr/bin/script").exists() {
        skip!("exec_tty_foreground_relay_under_script: script(1) missing (bsdutils)");
        return;
    }
    let mut b = Bundle::new("ttyrelay");
    start_sleeper(&mut b);
    let cmd = format!(
        "{} --root {} exec -t {} sh -c 'tty; echo in=$(head -c 3); exit 3'",
        reno_bin().display(),
        b.root.display(),
        b.id
    );
    // stdin "abc": script copies it to the outer pty, the relay to the container's.
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        std::thread::sleep(Duration::from_millis(500));
        let _ = si.write_all(b"abc");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = child.wait_with_output().expect("wait script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text:?}");
    assert!(text.contains("in=abc"), "{text:?}");
    assert_eq!(out.status.code(), Some(3), "{text:?}");
}

#[test]
fn run_tty_foreground_relay_under_script() {
    require_root!();
    if !Path::new("/usr/bin/script").exists() {
        skip!("run_tty_foreground_relay_under_script: script(1) missing (bsdutils)");
        return;
    }
    let mut b = Bundle::new("ttyrun");
    b.config["process"]["terminal"] = json!(true);
    b.sh("tty; stat -c %t /dev/console; read x; echo got=$x; exit 4");
    b.write_config();
    let cmd = format!(
        "{} --root {} run --bundle {} {}",
        reno_bin().display(),
        b.root.display(),
        b.dir.display(),
        b.id
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        std::thread::sleep(Duration::from_millis(700));
        let _ = si.write_all(b"hello\n");
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().expect("wait script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text:?}");
    assert!(text.contains("88"), "/dev/console is not the pty: {text:?}");
    assert!(text.contains("got=hello"), "{text:?}");
    assert_eq!(out.status.code(), Some(4), "{text:?}");
    // The container is gone after a foreground run.
    assert_eq!(b.status(), "<none>");
}
