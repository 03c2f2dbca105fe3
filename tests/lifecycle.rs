//! The lifecycle as runtime-spec and runc define it: create/start/state/kill/delete, run's
//! exit codes, hooks, wrong-state errors with runc's wording, and bad input that must leave
//! nothing behind.

mod common;

use std::time::Duration;

use common::{stderr, stdout, Bundle};
use serde_json::{json, Value};

#[test]
fn create_start_kill_delete() {
    require_root!();
    let mut b = Bundle::new("life");
    b.args(&["sleep", "1000"]);
    let pid_file = b.dir.join("init.pid");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        &pid_file.to_string_lossy(),
        &b.id,
    ]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let state: Value =
        serde_json::from_slice(&b.reno(&["state", &b.id]).stdout).expect("state json");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], json!(b.id));
    assert_eq!(state["bundle"], json!(bundle));
    let pid = state["pid"].as_i64().expect("pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file").trim(),
        pid.to_string()
    );
    // The user's program has not run yet: the init is still reno.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm");
    assert_eq!(comm.trim(), "reno");

    let list = stdout(&b.reno(&["list", "--format", "json"]));
    assert!(list.contains(&b.id), "{list}");

    let out = b.reno(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(b.status(), "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm");
    assert_eq!(comm.trim(), "sleep");

    // Wrong-state operations, with runc's wording.
    let out = b.reno(&["start", &b.id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot start an already running container"),
        "{}",
        stderr(&out)
    );
    let out = b.reno(&["delete", &b.id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not stopped: running"),
        "{}",
        stderr(&out)
    );

    let out = b.reno(&["kill", &b.id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    wait_status(&b, "stopped");
    let out = b.reno(&["kill", &b.id, "9"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container not running"),
        "{}",
        stderr(&out)
    );
    let out = b.reno(&["start", &b.id]);
    assert!(
        stderr(&out).contains("cannot start a container that has stopped"),
        "{}",
        stderr(&out)
    );

    let out = b.reno(&["delete", &b.id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    b.assert_no_leftovers();
    let out = b.reno(&["state", &b.id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

fn wait_status(b: &Bundle, want: &str) {
    for _ in 0..500 {
        if b.status() == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("container never became {want}: {}", b.status());
}

#[test]
fn kill_signals_by_name_and_number() {
    require_root!();
    let mut b = Bundle::new("sig");
    // The init traps USR1 and exits with a code that proves it saw it.
    b.sh("trap 'echo got-usr1 > /tmp/sig; exit 0' USR1; echo ready > /tmp/ready; while true; do sleep 0.05; done");
    assert!(b.create().status.success());
    assert!(b.reno(&["start", &b.id]).status.success());
    let ready = b.rootfs().join("tmp/ready");
    for _ in 0..400 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = b.reno(&["kill", &b.id, "sigusr1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_status(&b, "stopped");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/sig")).expect("sig file"),
        "got-usr1\n"
    );
    assert!(b.reno(&["delete", &b.id]).status.success());
    b.assert_no_leftovers();
}

#[test]
fn delete_force_running_and_created() {
    require_root!();
    for start in [false, true] {
        let mut b = Bundle::new("force");
        b.args(&["sleep", "1000"]);
        assert!(b.create().status.success());
        if start {
            assert!(b.reno(&["start", &b.id]).status.success());
        }
        let out = b.reno(&["delete", "--force", &b.id]);
        assert!(out.status.success(), "{}", stderr(&out));
        b.assert_no_leftovers();
    }
}

/// A created (never started) container is deleted without --force, as runc does: the
/// containerd shim deletes created tasks with a plain `delete`.
#[test]
fn delete_created_without_force() {
    require_root!();
    let mut b = Bundle::new("delcreated");
    b.args(&["sleep", "1000"]);
    assert!(b.create().status.success());
    let out = b.reno(&["delete", &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_no_leftovers();
}

/// TERM (or HUP, INT, QUIT) to a created container stops it, as it stops runc's waiting
/// init; a second kill then finds it not running.
#[test]
fn kill_term_stops_a_created_container() {
    require_root!();
    for sig in ["TERM", "INT"] {
        let mut b = Bundle::new("killcreated");
        b.args(&["sleep", "1000"]);
        assert!(b.create().status.success());
        let out = b.reno(&["kill", &b.id, sig]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut status = String::new();
        for _ in 0..50 {
            let st = b.reno(&["state", &b.id]);
            status = String::from_utf8_lossy(&st.stdout).into_owned();
            if status.contains("\"stopped\"") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(status.contains("\"stopped\""), "{sig}: {status}");
        let out = b.reno(&["kill", &b.id, "KILL"]);
        assert_eq!(out.status.code(), Some(1), "{sig}: {}", stderr(&out));
        assert!(b.reno(&["delete", &b.id]).status.success());
        b.assert_no_leftovers();
    }
}

#[test]
fn delete_unknown_id() {
    require_root!();
    let b = Bundle::new("unknown");
    let out = b.reno(&["delete", "--force", "no-such-container"]);
    assert!(
        out.status.success(),
        "delete --force of an unknown id must succeed: {}",
        stderr(&out)
    );
    let out = b.reno(&["delete", "no-such-container"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn run_exit_codes() {
    require_root!();
    // Killed-by-signal cases run without a new pid namespace: as pid 1 of its own
    // namespace the shell would be immune to signals it sends itself.
    for (script, code) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -9 $$", 137),
        ("kill -TERM $$", 143),
    ] {
        let mut b = Bundle::new("code");
        b.sh(script);
        if script.starts_with("kill") {
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .expect("ns")
                .retain(|n| n["type"] != "pid");
        }
        let (got, _, err) = b.run();
        assert_eq!(got, code, "{script}: {err}");
        b.assert_no_leftovers();
    }
}

#[test]
fn run_forwards_signals() {
    require_root!();
    let mut b = Bundle::new("fwd");
    b.sh("trap 'exit 42' TERM; echo up > /tmp/up; while true; do sleep 0.05; done");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut child = std::process::Command::new(common::reno_bin())
        .args([
            "--root",
            &b.root.to_string_lossy(),
            "run",
            "--bundle",
            &bundle,
            &b.id,
        ])
        .spawn()
        .expect("spawn");
    let up = b.rootfs().join("tmp/up");
    for _ in 0..500 {
        if up.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .expect("signal reno run");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(42));
    b.assert_no_leftovers();
}

#[test]
fn run_detach_and_keep() {
    require_root!();
    let mut b = Bundle::new("detach");
    b.args(&["sleep", "1000"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.status(), "running");
    assert!(b.reno(&["delete", "-f", &b.id]).status.success());

    let mut k = Bundle::new("keep");
    k.sh("exit 5");
    k.write_config();
    let bundle = k.dir.to_string_lossy().into_owned();
    let out = k.reno(&["run", "--keep", "--bundle", &bundle, &k.id]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(k.status(), "stopped");
    assert!(k.reno(&["delete", &k.id]).status.success());
    k.assert_no_leftovers();
}

#[test]
fn duplicate_id_is_refused() {
    require_root!();
    let mut b = Bundle::new("dup");
    b.args(&["sleep", "1000"]);
    assert!(b.create().status.success());
    let out = b.create();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container with id exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        b.status(),
        "created",
        "the first container must be untouched"
    );
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    require_root!();
    let mut b = Bundle::new("hooks");
    let log = b.dir.join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo \"{name} $HOOK_ENV $s\" >> {}", log.display())], "env": ["HOOK_ENV=e1"]});
    // createContainer runs before the root switch, so it sees the rootfs at its host path;
    // startContainer runs inside the container's root.
    let rootfs = b.rootfs();
    let created = json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo createContainer >> {}/tmp/in-container", rootfs.display())]});
    let started = json!({"path": "/bin/sh", "args": ["sh", "-c", "echo startContainer >> /tmp/in-container"]});
    b.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [created],
        "startContainer": [started],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    b.sh("cat /tmp/in-container");
    let out = b.run_ok();
    assert_eq!(out, "createContainer\nstartContainer\n");
    let text = std::fs::read_to_string(&log).expect("hook log");
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    for l in text.lines() {
        let parts: Vec<&str> = l.splitn(3, ' ').collect();
        assert_eq!(parts[1], "e1", "hook env: {l}");
        let state: Value = serde_json::from_str(parts[2]).expect("state json on stdin");
        assert_eq!(state["id"], json!(b.id));
        assert!(state["pid"].as_i64().is_some());
    }
    assert!(
        text.lines()
            .next()
            .unwrap_or("")
            .contains("\"status\":\"creating\""),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap_or("")
            .contains("\"status\":\"stopped\""),
        "{text}"
    );
}

/// runtime-spec: poststart hooks run after the container's program is executed. A slow
/// startContainer hook keeps the init from its execve for a while; the poststart hook must
/// still find the container's pid running `sleep`, not reno's init.
#[test]
fn poststart_runs_after_the_program_is_executed() {
    require_root!();
    let mut b = Bundle::new("poststart-exec");
    let log = b.dir.join("poststart.log");
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.3"]}],
        "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", format!(
            "read -r s; pid=$(echo \"$s\" | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); cat /proc/$pid/comm > {}",
            log.display())]}],
    });
    b.args(&["sleep", "5"]);
    let o = b.create();
    assert!(o.status.success(), "create: {}", stderr(&o));
    let o = b.reno(&["start", &b.id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    let comm = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = b.reno(&["delete", "--force", &b.id]);
    assert_eq!(
        comm.trim(),
        "sleep",
        "the poststart hook saw the init as {comm:?}"
    );
}

#[test]
fn failing_or_slow_hook_aborts_create_and_leaves_nothing() {
    require_root!();
    for (hook, want) in [
        (
            json!({"path": "/bin/false"}),
            "createRuntime hook #0 /bin/false: exited",
        ),
        (
            json!({"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}),
            "timed out",
        ),
        (
            json!({"path": "/nonexistent/hook"}),
            "No such file or directory",
        ),
    ] {
        let mut b = Bundle::new("badhook");
        b.config["hooks"] = json!({"createRuntime": [hook]});
        let (code, _, err) = b.run();
        assert_eq!(code, 1);
        assert!(err.contains(want), "want {want:?} in: {err}");
        b.assert_no_leftovers();
    }
}

#[test]
fn poststop_failure_is_only_a_warning() {
    require_root!();
    let mut b = Bundle::new("poststop");
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    b.sh("true");
    let (code, _, err) = b.run();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("poststop hook #0 /bin/false"), "{err}");
    b.assert_no_leftovers();
}

/// Each bad input: one clear line with the step, a non-zero exit, nothing left behind.
#[test]
fn bad_input_errors() {
    require_root!();
    type Edit = Box<dyn Fn(&mut Bundle)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing rootfs",
            Box::new(|b| b.config["root"]["path"] = json!("nope")),
            "root.path",
        ),
        (
            "bad major version",
            Box::new(|b| b.config["ociVersion"] = json!("2.0.0")),
            "ociVersion: \"2.0.0\" is not supported",
        ),
        (
            "unknown namespace",
            Box::new(|b| b.config["linux"]["namespaces"] = json!([{"type": "bogus"}])),
            "bogus",
        ),
        (
            "unknown mount type",
            Box::new(|b| {
                b.config["mounts"]
                    .as_array_mut()
                    .expect("m")
                    .push(json!({"destination": "/x", "type": "nosuchfs", "source": "x"}))
            }),
            "unknown filesystem type \"nosuchfs\"",
        ),
        (
            "missing program",
            Box::new(|b| {
                b.args(&["/bin/does-not-exist"]);
            }),
            "exec: \"/bin/does-not-exist\"",
        ),
        (
            "program not in PATH",
            Box::new(|b| {
                b.args(&["nosuchprog"]);
            }),
            "executable file not found in $PATH",
        ),
        (
            "relative cwd",
            Box::new(|b| b.config["process"]["cwd"] = json!("tmp")),
            "process.cwd",
        ),
        (
            "empty args",
            Box::new(|b| b.config["process"]["args"] = json!([])),
            "process.args",
        ),
        (
            "host sysctl",
            Box::new(|b| b.config["linux"]["sysctl"] = json!({"vm.swappiness": "1"})),
            "not namespaced",
        ),
        (
            "hostname without uts",
            Box::new(|b| {
                b.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}])
            }),
            "without a private UTS namespace",
        ),
        (
            "rlimit above hard limit",
            Box::new(|b| {
                b.config["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 99999999u64, "hard": 99999999u64}])
            }),
            "setrlimit",
        ),
        (
            "bind source missing",
            Box::new(|b| {
                b.config["mounts"].as_array_mut().expect("m").push(json!({"destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["bind"]}))
            }),
            "/no/such/dir",
        ),
    ];
    for (what, edit, want) in cases {
        let mut b = Bundle::new("bad");
        edit(&mut b);
        let (code, _, err) = b.run();
        assert_eq!(code, 1, "{what}: exit code; stderr: {err}");
        assert!(err.contains(want), "{what}: want {want:?} in: {err}");
        assert!(
            err.contains(&b.id) || err.contains("container"),
            "{what}: error must name the container: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        b.assert_no_leftovers();
    }
}

#[test]
fn malformed_config_and_bundle_errors() {
    require_root!();
    let b = Bundle::new("malformed");
    std::fs::write(
        b.dir.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}\n",
    )
    .expect("write");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["create", "--bundle", &bundle, &b.id]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("parse config") && err.contains("line 4 column"),
        "{err}"
    );
    assert!(err.contains("config.json"), "{err}");
    b.assert_no_leftovers();

    let out = b.reno(&["create", "--bundle", "/no/such/bundle", &b.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("open bundle: /no/such/bundle: No such file or directory"),
        "{}",
        stderr(&out)
    );

    for bad in ["a/b", "..", "with space"] {
        let out = b.reno(&["create", "--bundle", &bundle, bad]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("invalid container id"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    let out = b.reno(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown command"), "{}", stderr(&out));
}

#[test]
fn no_pivot_uses_move_and_chroot() {
    require_root!();
    let mut b = Bundle::new("nopivot");
    b.sh("cat /proc/self/mountinfo | wc -l; ls /");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "--no-pivot", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("bin\n"), "{text}");
    b.assert_no_leftovers();
}

#[test]
fn version_and_features() {
    let out = std::process::Command::new(common::reno_bin())
        .arg("--version")
        .output()
        .expect("run");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("reno version "));
    assert!(lines[1].starts_with("commit: "));
    assert!(lines[2].starts_with("spec: 1."));
    let out = std::process::Command::new(common::reno_bin())
        .arg("features")
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("features json");
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert!(v["hooks"].as_array().expect("hooks").len() == 6);
    assert!(v["mountOptions"]
        .as_array()
        .expect("opts")
        .iter()
        .any(|o| o == "rro"));
}

#[test]
fn create_without_process_then_start_errors() {
    require_root!();
    let mut b = Bundle::new("noproc");
    if let Some(o) = b.config.as_object_mut() {
        o.remove("process");
    }
    let out = b.create();
    assert!(
        out.status.success(),
        "create without process must succeed: {}",
        stderr(&out)
    );
    assert_eq!(b.status(), "created");
    let out = b.reno(&["start", &b.id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("without process"), "{}", stderr(&out));
    assert_eq!(b.status(), "created", "a refused start must have no effect");
    assert!(b.reno(&["delete", "--force", &b.id]).status.success());
    b.assert_no_leftovers();
}

#[test]
fn poststart_failure_is_a_warning_and_the_container_runs() {
    require_root!();
    let mut b = Bundle::new("poststart");
    let log = b.dir.join("ran");
    b.config["hooks"] = json!({"poststart": [
        {"path": "/bin/false"},
        {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", log.display())]}
    ]});
    b.sh("echo ran-program");
    let (code, out, err) = b.run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "ran-program\n");
    assert!(err.contains("poststart hook #0 /bin/false"), "{err}");
    assert!(log.exists(), "the second poststart hook must still run");
}
