//! Every bad input we know of, through the real binary: each must fail with a clear error
//! (exit 1, no panic) and leave nothing behind. The run renders tests/BAD-INPUTS.md's table
//! into $CARGO_TARGET_TMPDIR/BAD-INPUTS.md; RENO_WRITE_BAD_INPUTS=1 writes it in place.

mod common;
#[path = "robustness/leftovers.rs"]
mod leftovers;

use std::path::Path;

use common::{reno_with_files, stderr, Bundle};
use serde_json::{json, Value};

type Edit = fn(&mut Value);

/// Point the config's namespace of type `t` at `path` (joining instead of creating).
fn set_ns_path(c: &mut Value, t: &str, path: &str) {
    let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
    ns.retain(|n| n["type"] != t);
    ns.push(json!({"type": t, "path": path}));
}

fn config_cases() -> Vec<(&'static str, Edit)> {
    vec![
        ("ociVersion missing", |c| {
            drop(c.as_object_mut().unwrap().remove("ociVersion"))
        }),
        ("ociVersion \"0.1.0\"", |c| c["ociVersion"] = json!("0.1.0")),
        ("ociVersion a number", |c| c["ociVersion"] = json!(1)),
        ("root missing", |c| {
            drop(c.as_object_mut().unwrap().remove("root"))
        }),
        ("root.path empty", |c| c["root"]["path"] = json!("")),
        ("root.path does not exist", |c| {
            c["root"]["path"] = json!("nonexistent")
        }),
        ("root.path is a file", |c| {
            c["root"]["path"] = json!("config.json")
        }),
        ("process missing", |c| {
            drop(c.as_object_mut().unwrap().remove("process"))
        }),
        ("process.args empty", |c| c["process"]["args"] = json!([])),
        ("process.args[0] not in rootfs", |c| {
            c["process"]["args"] = json!(["/no/such/program"])
        }),
        ("process.args[0] not executable", |c| {
            c["process"]["args"] = json!(["/etc/passwd"])
        }),
        ("process.args[0] a directory", |c| {
            c["process"]["args"] = json!(["/etc"])
        }),
        ("process.cwd relative", |c| {
            c["process"]["cwd"] = json!("tmp")
        }),
        ("process.user.uid negative", |c| {
            c["process"]["user"]["uid"] = json!(-1)
        }),
        ("process.rlimits type unknown", |c| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}])
        }),
        ("process.rlimits soft > hard", |c| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}])
        }),
        ("capability unknown", |c| {
            c["process"]["capabilities"]["bounding"] = json!(["CAP_NOPE"])
        }),
        ("process.env entry without '='", |c| {
            c["process"]["env"] = json!(["NOEQUALS"])
        }),
        ("process.terminal true, no --console-socket", |c| {
            c["process"]["terminal"] = json!(true)
        }),
        ("mount destination relative", |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "rel", "type": "tmpfs", "source": "tmpfs"}))
        }),
        ("mount type unknown", |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/x", "type": "bogusfs", "source": "none"}))
        }),
        ("bind mount source missing", |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["bind"]}))
        }),
        ("mount option unknown", |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt=1"]}))
        }),
        ("namespace type unknown", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "bogus"}))
        }),
        ("namespace listed twice", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "pid"}))
        }),
        ("namespace path missing", |c| {
            set_ns_path(c, "network", "/no/such/ns")
        }),
        ("namespace path not a namespace", |c| {
            set_ns_path(c, "network", "/etc/hostname")
        }),
        ("uidMappings without a user namespace", |c| {
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        }),
        ("hostname without a uts namespace", |c| {
            c["hostname"] = json!("x");
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "uts");
        }),
        ("sysctl not namespaced", |c| {
            c["linux"]["sysctl"] = json!({"vm.swappiness": "10"})
        }),
        ("sysctl net.* without a net namespace", |c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
        }),
        ("cgroupsPath with ..", |c| {
            c["linux"]["cgroupsPath"] = json!("/../../escape")
        }),
        ("memory limit -2", |c| {
            c["linux"]["resources"] = json!({"memory": {"limit": -2}})
        }),
        ("memory limit 4 KiB", |c| {
            c["linux"]["resources"] = json!({"memory": {"limit": 4096}})
        }),
        ("cpu shares a string", |c| {
            c["linux"]["resources"] = json!({"cpu": {"shares": "lots"}})
        }),
        (
            "device type unknown",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}])
            },
        ),
        (
            "device path outside /dev",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}])
            },
        ),
        ("seccomp defaultAction unknown", |c| {
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"})
        }),
        (
            "seccomp syscall name unknown",
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}),
        ),
        (
            "seccomp arg index 6",
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
        ),
        (
            "seccomp architecture unknown",
            |c| {
                c["linux"]["seccomp"] =
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]})
            },
        ),
        (
            "seccomp SCMP_ACT_NOTIFY",
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/tmp/x.sock", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
        ),
        ("hook path relative", |c| {
            c["hooks"] = json!({"prestart": [{"path": "true"}]})
        }),
        ("hook path missing", |c| {
            c["hooks"] = json!({"createRuntime": [{"path": "/no/such/hook"}]})
        }),
        ("hook fails (exit 1)", |c| {
            c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]})
        }),
        (
            "hook times out",
            |c| c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]}),
        ),
        ("unknown top-level field", |c| {
            c["bogusField"] = json!({"x": 1})
        }),
    ]
}

fn raw_cases() -> Vec<(&'static str, Option<&'static [u8]>)> {
    vec![
        ("config.json missing", None),
        ("config.json empty", Some(b"")),
        (
            "config.json truncated",
            Some(b"{\"ociVersion\": \"1.2.0\", \"process\": {"),
        ),
        ("config.json `null`", Some(b"null")),
        ("config.json `[]`", Some(b"[]")),
        (
            "config.json not UTF-8",
            Some(b"{\"ociVersion\": \"\xff\xfe\"}"),
        ),
    ]
}

struct Row {
    input: String,
    code: i32,
    error: String,
}

fn row(input: impl Into<String>, out: &std::process::Output) -> Row {
    let err = stderr(out);
    Row {
        input: input.into(),
        code: out.status.code().unwrap_or(-1),
        error: pick_line(&err)
            .trim_start_matches("reno: ")
            .replace('|', "\\|"),
    }
}

/// "Bad" inputs that reno accepts on purpose, and why.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "process missing",
        "runtime-spec: process is optional at create; start then refuses, with no effect",
    ),
    (
        "mount destination relative",
        "taken relative to the container's / (runc does the same, with a warning)",
    ),
    (
        "memory limit -2",
        "reno takes any limit <= 0 as unlimited (src/cgroups today)",
    ),
    (
        "seccomp syscall name unknown",
        "the rule is skipped, as runc and libseccomp do for names the kernel lacks",
    ),
    (
        "unknown top-level field",
        "runtime-spec: unknown properties MUST be ignored",
    ),
];

/// The error line: the last one reno wrote as an error, else the first (usage text).
fn pick_line(err: &str) -> &str {
    let t = err.trim();
    t.lines()
        .rev()
        .find(|l| l.starts_with("reno:"))
        .or_else(|| t.lines().next())
        .unwrap_or("")
}

/// Temp paths and generated ids out of the table, so it only changes when messages do.
fn scrub(s: &str) -> String {
    let pid = format!("-{}-", std::process::id());
    let mut out = String::new();
    for word in s.split_inclusive([' ', '`', '"']) {
        let mut w = word.to_string();
        if let Some(at) = w.find(&format!("/reno-it{pid}")) {
            let start = w[..at].rfind(' ').map(|i| i + 1).unwrap_or(0);
            let rest = &w[at + 1..];
            let end = rest.find('/').map(|i| at + 1 + i).unwrap_or(w.len());
            w.replace_range(start..end, "$TMP");
        }
        if let Some(at) = w.find(&pid) {
            let start = w[..at].rfind("it-").unwrap_or(at);
            let tail = &w[at + pid.len()..];
            let n = tail.chars().take_while(char::is_ascii_digit).count();
            w.replace_range(start..at + pid.len() + n, "$ID");
        }
        out.push_str(&w);
    }
    out
}

fn check(r: &Row, fails: &mut Vec<String>) {
    if r.error.starts_with("accepted: ") {
        return;
    }
    if r.code == 0 || r.error.is_empty() || r.error.contains("panicked") || r.code > 1 {
        fails.push(format!("{}: exit {}: {:?}", r.input, r.code, r.error));
    }
}

#[test]
fn bad_inputs_fail_clearly_and_leave_nothing() {
    require_root!();
    let mut fails = Vec::new();
    let mut config_rows = Vec::new();
    for (name, edit) in config_cases() {
        let mut b = Bundle::new("bad");
        b.args(&["true"]);
        edit(&mut b.config);
        let out = b.create();
        let mut r = row(name, &out);
        if out.status.success() {
            let s = b.reno(&["start", &b.id]);
            match ACCEPTED.iter().find(|(n, _)| *n == name) {
                // A config without process is created; it is `start` that must refuse it.
                Some((_, why))
                    if s.status.success()
                        || (name == "process missing"
                            && String::from_utf8_lossy(&s.stderr).contains("without process")) =>
                {
                    r.code = 0;
                    r.error = format!("accepted: {why}");
                }
                _ => fails.push(format!(
                    "{name}: accepted by create (start: exit {})",
                    s.status.code().unwrap_or(-1)
                )),
            }
        } else {
            // A failed create must not need a delete: nothing half-made.
            let left = leftovers::settle(2000, || {
                leftovers::leftovers(&b.root, &b.id, &b.rootfs(), "\0none")
            });
            if !left.is_empty() {
                fails.push(format!("{name}: failed create left {left:?}"));
            }
        }
        let _ = b.reno(&["delete", "--force", &b.id]);
        check(&r, &mut fails);
        config_rows.push(r);
    }
    for (name, bytes) in raw_cases() {
        let b = Bundle::new("badraw");
        let p = b.dir.join("config.json");
        match bytes {
            None => std::fs::remove_file(&p).expect("rm config"),
            Some(bytes) => std::fs::write(&p, bytes).expect("write config"),
        }
        let bundle = b.dir.to_string_lossy().into_owned();
        let out = b.reno(&["create", "--bundle", &bundle, &b.id]);
        let r = row(name, &out);
        check(&r, &mut fails);
        let left = leftovers::leftovers(&b.root, &b.id, &b.rootfs(), "\0none");
        assert!(left.is_empty(), "{name}: {left:?}");
        config_rows.push(r);
    }

    // The command line (no container needed; a fresh state root).
    let root = std::env::temp_dir().join(format!("reno-bad-argv-{}", std::process::id()));
    let long_id = "x".repeat(2000);
    let argv_cases: Vec<(String, Vec<&str>)> = vec![
        ("no arguments".into(), vec![]),
        ("unknown command".into(), vec!["frobnicate"]),
        ("unknown global option".into(), vec!["--bogus", "list"]),
        (
            "unknown command option".into(),
            vec!["state", "--bogus", "c"],
        ),
        ("missing id".into(), vec!["state"]),
        ("extra argument".into(), vec!["state", "a", "b"]),
        ("id with '/'".into(), vec!["state", "a/b"]),
        ("id '..'".into(), vec!["delete", "--force", ".."]),
        ("id empty".into(), vec!["state", ""]),
        ("id with a newline".into(), vec!["state", "a\nb"]),
        ("id of 2000 characters".into(), vec!["state", &long_id]),
        ("state of an unknown id".into(), vec!["state", "nosuch"]),
        ("kill an unknown id".into(), vec!["kill", "nosuch"]),
        ("start an unknown id".into(), vec!["start", "nosuch"]),
        ("delete an unknown id".into(), vec!["delete", "nosuch"]),
        (
            "kill with signal SIGNOPE".into(),
            vec!["kill", "c", "SIGNOPE"],
        ),
        ("kill with signal 99999".into(), vec!["kill", "c", "99999"]),
        ("kill with signal -1".into(), vec!["kill", "c", "-1"]),
        (
            "--log-format xml".into(),
            vec!["--log-format", "xml", "list"],
        ),
        (
            "--rootless maybe".into(),
            vec!["--rootless", "maybe", "list"],
        ),
        ("--systemd-cgroup".into(), vec!["--systemd-cgroup", "list"]),
        ("--root without a value".into(), vec!["--root"]),
        (
            "list --format yaml".into(),
            vec!["list", "--format", "yaml"],
        ),
        (
            "create without --bundle, cwd has no config".into(),
            vec!["create", "c"],
        ),
        (
            "create --bundle that does not exist".into(),
            vec!["create", "--bundle", "/no/such/bundle", "c"],
        ),
    ];
    let mut argv_rows = Vec::new();
    for (name, args) in argv_cases {
        let out = reno_with_files(&root, &args);
        let r = row(name, &out);
        check(&r, &mut fails);
        argv_rows.push(r);
    }
    let file_root = root.join("a-file");
    let _ = std::fs::create_dir_all(&root);
    std::fs::write(&file_root, b"x").expect("file");
    let out = reno_with_files(&file_root, &["state", "c"]);
    let r = row("--root is a file", &out);
    check(&r, &mut fails);
    argv_rows.push(r);
    let _ = std::fs::remove_dir_all(&root);

    // Power loss: a created container whose state.json went bad.
    let mut state_rows = Vec::new();
    let state_cases: Vec<(&str, Option<&[u8]>)> = vec![
        ("state.json empty", Some(b"")),
        (
            "state.json truncated",
            Some(b"{\"ociVersion\":\"1.2.0\",\"id\":\"c\",\"pi"),
        ),
        ("state.json garbage", Some(b"\x00\xffgarbage")),
        ("state.json `null`", Some(b"null")),
        ("state.json without an id", Some(b"{\"pid\": 1}")),
        (
            "state.json pid 4294967297",
            Some(b"{\"id\":\"c\",\"pid\":4294967297}"),
        ),
        ("state.json pid -5", Some(b"{\"id\":\"c\",\"pid\":-5}")),
        ("state.json missing (create died before saving)", None),
    ];
    for (name, bytes) in state_cases {
        let mut b = Bundle::new("badstate");
        b.args(&["sleep", "1000"]);
        let o = b.create();
        assert!(o.status.success(), "{}", stderr(&o));
        let sf = b.root.join(&b.id).join("state.json");
        match bytes {
            None => std::fs::remove_file(&sf).expect("rm"),
            Some(bytes) => std::fs::write(&sf, bytes).expect("write"),
        }
        let st = b.reno(&["state", &b.id]);
        let list = b.reno(&["list"]);
        let del = b.reno(&["delete", "--force", &b.id]);
        let left = leftovers::settle(3000, || {
            leftovers::leftovers(&b.root, &b.id, &b.rootfs(), &format!("\0{}", b.id))
        });
        let pid_gone = b.root.join(&b.id).exists();
        let cell = |o: &std::process::Output| {
            let e = stderr(o)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("reno: ")
                .replace('|', "\\|");
            if o.status.success() {
                let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
                match v.get("status") {
                    Some(s) => format!("ok, status {s}"),
                    None if e.is_empty() => "ok".to_string(),
                    None => format!("ok; {e}"),
                }
            } else {
                format!("exit {}: {e}", o.status.code().unwrap_or(-1))
            }
        };
        if !del.status.success() || !left.is_empty() || pid_gone {
            fails.push(format!(
                "{name}: delete --force: {} left {left:?}",
                stderr(&del)
            ));
        }
        state_rows.push(format!(
            "| {name} | {} | {} | {} |",
            cell(&st),
            cell(&list),
            if left.is_empty() {
                "ok, nothing left"
            } else {
                "LEFT BEHIND"
            }
        ));
    }

    let table = |rows: &[Row]| -> String {
        rows.iter()
            .map(|r| format!("| {} | {} | `{}` |", r.input, r.code, r.error))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let md = format!(
        "# Bad inputs and the errors they get\n\n\
Generated by `tests/robustness_bad_inputs.rs` (`RENO_WRITE_BAD_INPUTS=1 cargo test --test \
robustness_bad_inputs`) from the real binary as root. Every case must exit 1 with an error \
naming the problem (or be one of the few accepted on purpose, marked \"accepted\"), never panic, and leave no state dir, cgroup, mount or process behind; \
the test fails otherwise. Fuzzing (tests/robustness_fuzz.rs, tests/fuzz/) covers the same \
surfaces with random input and asserts only \"no panic\".\n\n\
## config.json (`reno create`)\n\n| input | exit | error (last stderr line) |\n|---|---|---|\n{}\n\n\
## Command line\n\n| input | exit | error (last stderr line) |\n|---|---|---|\n{}\n\n\
## state.json after a power loss (container created, its init alive)\n\n\
| state file | `reno state` | `reno list` | `reno delete --force` |\n|---|---|---|---|\n{}\n",
        table(&config_rows),
        table(&argv_rows),
        state_rows.join("\n")
    );
    let md = scrub(&md);
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("BAD-INPUTS.md"),
        &md,
    );
    if std::env::var_os("RENO_WRITE_BAD_INPUTS").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/BAD-INPUTS.md"),
            &md,
        )
        .expect("write table");
    }
    println!("{md}");
    assert!(
        fails.is_empty(),
        "bad inputs not handled:\n{}",
        fails.join("\n")
    );
}
