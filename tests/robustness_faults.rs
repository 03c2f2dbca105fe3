//! Fault injection: SIGKILL `reno` (and separately the container's init) at every chosen
//! syscall of create, start and delete (strace's inject=…:signal=SIGKILL:when=N), and from
//! hooks that kill their parent reno. After each: `reno delete --force` must succeed and
//! leave no state dir, cgroup, mount or process, and the same id must work again.
//!
//! CI mode takes the syscalls that change the host (mkdir, write, rename, clone, …) at
//! every occurrence; RENO_FAULT_FULL=1 takes every syscall reno makes. The matrix is
//! printed and written to $CARGO_TARGET_TMPDIR/fault-matrix.txt.

mod common;
#[path = "robustness/leftovers.rs"]
mod leftovers;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{reno_bin, stderr, Bundle};
use serde_json::json;

/// Syscalls after which the host differs: the interesting kill points in CI mode.
const KEY: &[&str] = &[
    "mkdir",
    "mkdirat",
    "openat",
    "write",
    "rename",
    "renameat",
    "renameat2",
    "fsync",
    "flock",
    "mknodat",
    "fchmodat",
    "clone",
    "clone3",
    "read",
    "wait4",
    "kill",
    "rmdir",
    "unlinkat",
    "unlink",
    "execve",
    "pipe2",
    "close",
    "poll",
    "ppoll",
];

fn strace_missing() -> Option<String> {
    let ok = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success());
    (!matches!(ok, Ok(true))).then(|| "strace missing: tests/robustness/install-deps.sh".into())
}

fn tag_config(b: &mut Bundle, tag: &str) {
    b.args(&["sleep", "1000"]);
    b.config["process"]["env"]
        .as_array_mut()
        .expect("env")
        .push(json!(format!("RENO_FAULT_TAG={tag}")));
}

/// reno ARGS under strace with `inject` (none: just count syscalls into `count_file`).
fn reno_strace(
    b: &Bundle,
    tag: &str,
    follow: bool,
    inject: Option<&str>,
    count_file: Option<&Path>,
    args: &[&str],
) -> Output {
    let mut c = Command::new("strace");
    c.arg("-qq");
    if follow {
        c.arg("-f");
    }
    match (inject, count_file) {
        (Some(i), _) => {
            // strace tampers with traced syscalls only.
            let sc = i.split(':').next().unwrap_or(i);
            c.args(["-o", "/dev/null", "-e"])
                .arg(format!("trace={sc}"))
                .arg("-e")
                .arg(format!("inject={i}"));
        }
        (None, Some(f)) => {
            c.args(["-c", "-U", "name,calls", "-o"]).arg(f);
        }
        (None, None) => {}
    }
    c.arg(reno_bin()).arg("--root").arg(&b.root).args(args);
    // stderr through a file: a surviving init inherits it and would hold a pipe open.
    let errf = b.dir.join("strace-reno.err");
    let file = std::fs::File::create(&errf).expect("stderr file");
    c.env("RENO_FAULT_TAG", tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    let status = c.status().expect("spawn strace");
    Output {
        status,
        stdout: Vec::new(),
        stderr: std::fs::read(&errf).unwrap_or_default(),
    }
}

/// Per-syscall call counts of reno ARGS (strace -c).
fn syscall_counts(b: &Bundle, tag: &str, follow: bool, args: &[&str]) -> BTreeMap<String, u32> {
    let f = b.dir.join("strace-count");
    let out = reno_strace(b, tag, follow, None, Some(&f), args);
    assert!(
        out.status.success(),
        "counting run failed: {}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&f).expect("strace -c output");
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, n) = (w.next()?, w.next()?.parse().ok()?);
            (!name.starts_with('-') && name != "syscall" && name != "total")
                .then(|| (name.to_string(), n))
        })
        .collect()
}

/// After a fault: what `state` said, then delete --force, leftovers, and a retry.
fn verify(b: &Bundle, tag: &str) -> Result<String, String> {
    let st = b.reno(&["state", &b.id]);
    let said = if st.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap_or_default();
        format!("state={}", v["status"].as_str().unwrap_or("?"))
    } else {
        let e = stderr(&st);
        format!("state error: {}", e.trim().lines().last().unwrap_or(""))
    };
    let del = b.reno(&["delete", "--force", &b.id]);
    if !del.status.success() {
        return Err(format!(
            "{said}; delete --force failed: {}",
            stderr(&del).trim()
        ));
    }
    let left = leftovers::settle(2000, || {
        leftovers::leftovers(&b.root, &b.id, &b.rootfs(), tag)
    });
    if !left.is_empty() {
        return Err(format!(
            "{said}; left behind after delete --force: {left:?}"
        ));
    }
    let c = b.create();
    let ok = c.status.success() && b.reno(&["start", &b.id]).status.success();
    let d = b.reno(&["delete", "--force", &b.id]);
    if !ok || !d.status.success() {
        return Err(format!(
            "{said}; retry with the same id failed: {}",
            stderr(&c).trim()
        ));
    }
    let left = leftovers::settle(2000, || {
        leftovers::leftovers(&b.root, &b.id, &b.rootfs(), tag)
    });
    if !left.is_empty() {
        return Err(format!("{said}; retry left {left:?}"));
    }
    Ok(said)
}

struct Matrix {
    rows: Vec<String>,
    failures: Vec<String>,
}

impl Matrix {
    fn record(&mut self, case: String, r: Result<String, String>) {
        match r {
            Ok(s) => self.rows.push(format!("ok   | {case} | {s}")),
            Err(e) => {
                self.rows.push(format!("FAIL | {case} | {e}"));
                self.failures.push(format!("{case}: {e}"));
            }
        }
    }
    fn finish(self, name: &str) {
        let text = self.rows.join("\n");
        println!("{text}");
        let _ = std::fs::write(
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fault-matrix-{name}.txt")),
            &text,
        );
        println!(
            "{name}: {} cases, {} failed",
            self.rows.len(),
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} fault cases failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn chosen(counts: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
    let full = std::env::var_os("RENO_FAULT_FULL").is_some();
    let mut v = Vec::new();
    for (name, n) in counts {
        if full || KEY.contains(&name.as_str()) {
            for i in 1..=*n {
                v.push((name.clone(), i));
            }
        }
    }
    v
}

/// Which phase a case injects into: the command that runs under strace and what precedes it.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Create,
    Start,
    Delete,
}

fn phase_args<'a>(b: &'a Bundle, bundle: &'a str, p: Phase) -> Vec<&'a str> {
    match p {
        Phase::Create => vec!["create", "--bundle", bundle, &b.id],
        Phase::Start => vec!["start", &b.id],
        Phase::Delete => vec!["delete", "--force", &b.id],
    }
}

fn prepare(b: &Bundle, p: Phase) {
    match p {
        Phase::Create => b.write_config(),
        Phase::Start | Phase::Delete => {
            let o = b.create();
            assert!(o.status.success(), "create: {}", stderr(&o));
            if matches!(p, Phase::Delete) {
                let o = b.reno(&["start", &b.id]);
                assert!(o.status.success(), "start: {}", stderr(&o));
            }
        }
    }
}

fn kill_reno_at_syscalls(phase: Phase) {
    require_root!();
    if let Some(why) = strace_missing() {
        skip!("{why}");
        return;
    }
    let mut b = Bundle::new(&format!("fault-{phase:?}").to_lowercase());
    let tag = b.id.clone();
    tag_config(&mut b, &tag);
    let bundle = b.dir.to_string_lossy().into_owned();
    prepare(&b, phase);
    let counts = syscall_counts(&b, &tag, false, &phase_args(&b, &bundle, phase));
    let _ = b.reno(&["delete", "--force", &b.id]);
    let mut m = Matrix {
        rows: Vec::new(),
        failures: Vec::new(),
    };
    let cases = chosen(&counts);
    println!(
        "{phase:?}: {} kill points over {} syscalls",
        cases.len(),
        counts.len()
    );
    for (sc, n) in cases {
        prepare(&b, phase);
        let out = reno_strace(
            &b,
            &tag,
            false,
            Some(&format!("{sc}:signal=SIGKILL:when={n}")),
            None,
            &phase_args(&b, &bundle, phase),
        );
        let case = format!("{phase:?}: SIGKILL reno at {sc}#{n}");
        if matches!(phase, Phase::Start) {
            // A second start must answer, not wait on a fifo nobody writes any more.
            let again = Command::new("timeout")
                .arg("10")
                .arg(reno_bin())
                .arg("--root")
                .arg(&b.root)
                .args(["start", &b.id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("timeout reno start");
            if again.code() == Some(124) {
                m.record(case.clone(), Err("a second start hangs".into()));
            }
        }
        let died = if out.status.success() {
            "reno finished"
        } else {
            "reno killed"
        };
        m.record(
            case,
            verify(&b, &tag).map(|s| format!("{died}; {s}; cleaned; retry ok")),
        );
    }
    m.finish(&format!("reno-{phase:?}").to_lowercase());
}

#[test]
fn kill_reno_during_create() {
    kill_reno_at_syscalls(Phase::Create);
}

#[test]
fn kill_reno_during_start() {
    kill_reno_at_syscalls(Phase::Start);
}

#[test]
fn kill_reno_during_delete() {
    kill_reno_at_syscalls(Phase::Delete);
}

/// Every mkdir of `create` (the state root for the first container, then the cgroup in each
/// hierarchy: on cgroup v1 most of them after the init is cloned) failing with ENOSPC: a clear error naming the step,
/// the path and the errno, and nothing left behind *without* a delete (the init included).
#[test]
fn mkdir_errors_during_create_leave_nothing() {
    require_root!();
    if let Some(why) = strace_missing() {
        skip!("{why}");
        return;
    }
    let mut b = Bundle::new("fault-mkdir");
    let tag = b.id.clone();
    tag_config(&mut b, &tag);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let args = ["create", "--bundle", bundle.as_str(), b.id.as_str()];
    let mut m = Matrix {
        rows: Vec::new(),
        failures: Vec::new(),
    };
    // The first container makes the state root too (only when it is missing): its mkdir
    // is the first one there.
    let _ = std::fs::remove_dir_all(&b.root);
    let out = reno_strace(
        &b,
        &tag,
        false,
        Some("mkdir:error=ENOSPC:when=1"),
        None,
        &args,
    );
    let err = stderr(&out);
    let r = if out.status.success() {
        Err("create succeeded".to_string())
    } else if !(err.contains("create state root") && err.contains("(errno 28)")) {
        Err(format!("error lacks the step or the errno: {}", err.trim()))
    } else if b.root.join(&b.id).exists() {
        Err("a state dir was left".to_string())
    } else {
        Ok(err.trim().lines().last().unwrap_or("").to_string())
    };
    m.record("state root mkdir: ENOSPC".to_string(), r);
    // Every later container: the root is there.
    let c = b.create();
    assert!(c.status.success(), "create: {}", stderr(&c));
    let o = b.reno(&["delete", "--force", &b.id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    let counts = syscall_counts(&b, &tag, false, &args);
    let o = b.reno(&["delete", "--force", &b.id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    let n = counts.get("mkdir").copied().unwrap_or(0);
    assert!(n >= 2, "create made {n} mkdir calls: {counts:?}");
    for i in 1..=n {
        let case = format!("mkdir #{i} of {n}: ENOSPC");
        let inject = format!("mkdir:error=ENOSPC:when={i}");
        let out = reno_strace(&b, &tag, false, Some(&inject), None, &args);
        let err = stderr(&out);
        let r = if out.status.success() {
            Err("create succeeded".to_string())
        } else if !(err.contains(&b.id) && err.contains('/') && err.contains("(errno 28)")) {
            Err(format!(
                "error lacks the id, a path or the errno: {}",
                err.trim()
            ))
        } else {
            let left = leftovers::settle(2000, || {
                leftovers::leftovers(&b.root, &b.id, &b.rootfs(), &tag)
            });
            if left.is_empty() {
                Ok(err.trim().lines().last().unwrap_or("").to_string())
            } else {
                Err(format!("left behind: {left:?} ({})", err.trim()))
            }
        };
        m.record(case, r);
        let _ = b.reno(&["delete", "--force", &b.id]);
    }
    let c = b.create();
    assert!(
        c.status.success(),
        "create after the faults: {}",
        stderr(&c)
    );
    let _ = b.reno(&["delete", "--force", &b.id]);
    m.finish("mkdir-errors");
}

/// The container's init killed at each of its set-up syscalls that reno itself never makes
/// (so when=N counts the init's calls alone), under `run` (with `create` strace -f would
/// wait for the init forever); then once more while it waits on the fifo, before start.
#[test]
fn kill_init_during_setup() {
    require_root!();
    if let Some(why) = strace_missing() {
        skip!("{why}");
        return;
    }
    let mut b = Bundle::new("fault-init");
    let tag = b.id.clone();
    tag_config(&mut b, &tag);
    b.args(&["true"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let args = ["run", "--bundle", &bundle, &b.id];
    let all = syscall_counts(&b, &tag, true, &args);
    let parent = syscall_counts(&b, &tag, false, &args);
    let mut m = Matrix {
        rows: Vec::new(),
        failures: Vec::new(),
    };
    for (sc, n) in all {
        // ppoll: reno's own wait on the fifo (start/run), made only when the init is slower
        // than it, so the parent-only count may miss it; killing it kills `run`, not the init.
        if parent.contains_key(&sc) || sc == "exit_group" || sc == "ppoll" || sc == "poll" {
            continue;
        }
        for i in 1..=n {
            let out = reno_strace(
                &b,
                &tag,
                true,
                Some(&format!("{sc}:signal=SIGKILL:when={i}")),
                None,
                &args,
            );
            let how = if out.status.success() {
                "run exit 0".to_string()
            } else {
                format!(
                    "run exit {}: {}",
                    out.status.code().unwrap_or(-1),
                    stderr(&out).trim().lines().last().unwrap_or("")
                )
            };
            // run cleans up after itself: nothing may be left even before delete --force.
            let left = leftovers::settle(2000, || {
                leftovers::leftovers(&b.root, &b.id, &b.rootfs(), &tag)
            });
            let r = if left.is_empty() {
                verify(&b, &tag).map(|s| format!("{how}; nothing left; {s}; retry ok"))
            } else {
                let _ = verify(&b, &tag);
                Err(format!("{how}; run left {left:?}"))
            };
            m.record(format!("run: SIGKILL init at {sc}#{i}"), r);
        }
    }
    // Killed while waiting for start, then start and delete.
    b.args(&["sleep", "1000"]);
    let o = b.create();
    assert!(o.status.success(), "create: {}", stderr(&o));
    let st: serde_json::Value =
        serde_json::from_slice(&b.reno(&["state", &b.id]).stdout).expect("state");
    let pid = st["pid"].as_i64().expect("pid") as i32;
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).expect("pid"),
        rustix::process::Signal::KILL,
    );
    let s = b.reno(&["start", &b.id]);
    m.record(
        "created: SIGKILL init, then start".into(),
        if s.status.success() {
            Err("start of a dead init succeeded".into())
        } else {
            verify(&b, &tag).map(|v| format!("start: {}; {v}", stderr(&s).trim()))
        },
    );
    m.finish("init");
}

/// Hooks that SIGKILL the reno running them, at each hook point reno runs on the host.
#[test]
fn hooks_kill_reno() {
    require_root!();
    let mut m = Matrix {
        rows: Vec::new(),
        failures: Vec::new(),
    };
    for hook in ["prestart", "createRuntime", "poststart", "poststop"] {
        let mut b = Bundle::new(&format!("fault-hook-{}", hook.to_lowercase()));
        let tag = b.id.clone();
        tag_config(&mut b, &tag);
        b.config["hooks"] =
            json!({ hook: [{"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $PPID"]}] });
        let o = b.create();
        let mut how = format!(
            "create {}",
            if o.status.success() { "ok" } else { "killed" }
        );
        if o.status.success() {
            let s = b.reno(&["start", &b.id]);
            how += &format!(
                ", start {}",
                if s.status.success() { "ok" } else { "killed" }
            );
        }
        if hook == "poststop" {
            let d = b.reno(&["delete", "--force", &b.id]);
            how += &format!(
                ", delete {}",
                if d.status.success() { "ok" } else { "killed" }
            );
        }
        // The retry would run the killing hook again: drop it first.
        let mut r = verify_keep_hooks_off(&mut b, &tag);
        if let Ok(s) = &mut r {
            *s = format!("{how}; {s}");
        }
        m.record(format!("hook {hook} kills reno"), r);
    }
    m.finish("hooks");
}

fn verify_keep_hooks_off(b: &mut Bundle, tag: &str) -> Result<String, String> {
    b.config["hooks"] = json!({});
    // state/delete read the frozen config copy, so the hook still runs on delete: fine,
    // poststop failures are warnings and the state is gone by then.
    verify(b, tag)
}
