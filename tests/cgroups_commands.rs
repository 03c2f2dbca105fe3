//! pause/resume, update, ps and events against live containers on this host, and the v2
//! device program (raw bpf(2)) on the host's cgroup2 mount.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{reno_bin, stderr, stdout, Bundle};
use serde_json::{json, Value};

fn start(b: &Bundle) {
    let out = b.create();
    assert!(out.status.success(), "create: {}", stderr(&out));
    let out = b.reno(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
}

fn pid(b: &Bundle) -> i32 {
    let v: Value = serde_json::from_slice(&b.reno(&["state", &b.id]).stdout).unwrap_or(Value::Null);
    v["pid"].as_i64().unwrap_or(0) as i32
}

/// How far the container's loop got: it appends a line per round, so the size only grows.
fn counter(b: &Bundle) -> u64 {
    std::fs::metadata(b.rootfs().join("tmp/c"))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// These tests read v1 files (/sys/fs/cgroup/<controller>/…): on a pure v2 host (the VM)
/// they skip loudly; tests/cgroups_v2.rs covers that layout.
fn v1_host(test: &str) -> bool {
    use reno::cgroups::{hierarchies, layout, Layout};
    let l = layout(&hierarchies());
    let ok = matches!(l, Some(Layout::Legacy | Layout::Hybrid));
    if !ok {
        skip!("{test}: needs cgroup v1 controllers (layout here: {l:?})");
    }
    ok
}

#[test]
fn pause_freezes_and_resume_continues() {
    require_root!();
    if !v1_host("pause_freezes_and_resume_continues") {
        return;
    }
    let mut b = Bundle::new("pause");
    b.sh("while :; do echo x >> /tmp/c; done");
    start(&b);
    wait_until("counter", || counter(&b) > 0);
    let out = b.reno(&["resume", &b.id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container not paused"),
        "{}",
        stderr(&out)
    );

    let t = Instant::now();
    let out = b.reno(&["pause", &b.id]);
    assert!(out.status.success(), "pause: {}", stderr(&out));
    eprintln!("pause took {:?}", t.elapsed());
    assert_eq!(b.status(), "paused");
    let freezer = PathBuf::from("/sys/fs/cgroup/freezer/reno")
        .join(&b.id)
        .join("freezer.state");
    assert_eq!(
        std::fs::read_to_string(freezer).unwrap_or_default().trim(),
        "FROZEN"
    );
    let a = counter(&b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&b), a, "counter moved while paused");

    let out = b.reno(&["resume", &b.id]);
    assert!(out.status.success(), "resume: {}", stderr(&out));
    assert_eq!(b.status(), "running");
    wait_until("counter to move again", || counter(&b) > a);

    let out = b.reno(&["delete", "--force", &b.id]);
    assert!(out.status.success());
    b.assert_no_leftovers();
    let out = b.reno(&["pause", &b.id]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

/// A created container can be paused; like runc, it then reads "paused" (not "created"),
/// start is refused until it is resumed, and resume gives back a startable container.
#[test]
fn pause_a_created_container() {
    require_root!();
    if !v1_host("pause_a_created_container") {
        return;
    }
    let mut b = Bundle::new("pausecreated");
    b.args(&["true"]);
    assert!(b.create().status.success());
    let out = b.reno(&["pause", &b.id]);
    assert!(out.status.success(), "pause: {}", stderr(&out));
    assert_eq!(b.status(), "paused");
    let out = b.reno(&["start", &b.id]);
    assert!(
        stderr(&out).contains("cannot start a container in the paused state"),
        "{}",
        stderr(&out)
    );
    let out = b.reno(&["resume", &b.id]);
    assert!(out.status.success(), "resume: {}", stderr(&out));
    assert_eq!(b.status(), "created");
    assert!(b.reno(&["start", &b.id]).status.success());
    wait_until("stop", || b.status() == "stopped");
    assert!(b.reno(&["delete", &b.id]).status.success());
    b.assert_no_leftovers();
}

#[test]
fn pause_a_stopped_container_is_refused() {
    require_root!();
    let mut b = Bundle::new("pausestop");
    b.args(&["true"]);
    start(&b);
    wait_until("stop", || b.status() == "stopped");
    let out = b.reno(&["pause", &b.id]);
    assert!(
        stderr(&out).contains("container not running"),
        "{}",
        stderr(&out)
    );
    let out = b.reno(&["update", "--memory", "64m", &b.id]);
    assert!(
        stderr(&out).contains("container not running"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn update_changes_live_limits() {
    require_root!();
    if !v1_host("update_changes_live_limits") {
        return;
    }
    let mut b = Bundle::new("update");
    b.args(&["sleep", "100"]);
    b.config["linux"]["resources"] = json!({"memory": {"limit": 33554432}, "pids": {"limit": 10}});
    start(&b);
    let f = |c: &str, n: &str| {
        std::fs::read_to_string(
            PathBuf::from("/sys/fs/cgroup")
                .join(c)
                .join("reno")
                .join(&b.id)
                .join(n),
        )
        .unwrap_or_default()
        .trim()
        .to_string()
    };
    let out = b.reno(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "16m",
        "--cpu-shares",
        "256",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "20",
        "--blkio-weight",
        "200",
        &b.id,
    ]);
    assert!(out.status.success(), "update: {}", stderr(&out));
    assert_eq!(f("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(f("memory", "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(f("memory", "memory.soft_limit_in_bytes"), "16777216");
    assert_eq!(f("cpu", "cpu.shares"), "256");
    assert_eq!(f("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(f("cpuset", "cpuset.cpus"), "0");
    assert_eq!(f("pids", "pids.max"), "20");
    assert_eq!(
        f("blkio", "blkio.bfq.weight").trim_start_matches("default "),
        "200"
    );

    // --resources from stdin, runc's LinuxResources JSON.
    let mut child = Command::new(reno_bin())
        .args(["--root"])
        .arg(&b.root)
        .args(["update", "--resources", "-", &b.id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn update");
    {
        use std::io::Write;
        let mut sin = child.stdin.take().expect("stdin");
        sin.write_all(br#"{"memory":{"limit":100663296,"swap":-1},"pids":{"limit":-1}}"#)
            .expect("write");
    }
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(f("memory", "memory.limit_in_bytes"), "100663296");
    assert_eq!(f("pids", "pids.max"), "max");

    for (args, want) in [
        (vec!["--memory", "lots"], "invalid size"),
        (vec!["--memory", "-5"], "invalid size"),
        (vec!["--cpu-quota", "5"], "1000 microseconds"),
        (vec!["--pids-limit", "x"], "not a valid number"),
    ] {
        let mut a = vec!["update"];
        a.extend(args.iter().copied());
        a.push(&b.id);
        let out = b.reno(&a);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    // checkBeforeUpdate refuses a limit below current usage.
    let out = {
        let p = b.root.join("res.json");
        std::fs::write(&p, r#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#).expect("write");
        b.reno(&["update", "-r", &p.to_string_lossy(), &b.id])
    };
    assert!(stderr(&out).contains("below usage"), "{}", stderr(&out));
    assert_eq!(f("memory", "memory.limit_in_bytes"), "100663296");
}

#[test]
fn ps_lists_the_containers_processes() {
    require_root!();
    let mut b = Bundle::new("ps");
    b.sh("sleep 100 & sleep 101");
    start(&b);
    let init = pid(&b);
    wait_until("two processes", || {
        serde_json::from_slice::<Vec<i32>>(&b.reno(&["ps", "--format", "json", &b.id]).stdout)
            .map(|v| v.len() >= 2)
            .unwrap_or(false)
    });
    let out = b.reno(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).expect("json array of ints");
    assert!(pids.contains(&init), "{pids:?} lacks init {init}");
    let table = stdout(&b.reno(&["ps", &b.id]));
    let mut lines = table.lines();
    assert!(lines.next().unwrap_or("").contains("PID"), "{table}");
    assert_eq!(lines.clone().count(), pids.len(), "{table}");
    assert!(table.contains("sleep 101"), "{table}");
    let out = b.reno(&["ps", "--format", "yaml", &b.id]);
    assert!(stderr(&out).contains("invalid format"), "{}", stderr(&out));
}

/// A container may make sub-cgroups of its own (a cgroup namespace with a writable cgroup
/// mount delegates its subtree): `ps` lists their processes too and `delete --force` removes
/// them, deepest first (rmdir of a cgroup with children is EBUSY). Any layout.
#[test]
fn sub_cgroups_made_inside_are_listed_and_removed() {
    require_root!();
    let mut b = Bundle::new("subcg");
    b.sh("sleep 100 & exec sleep 101");
    start(&b);
    let init = pid(&b);
    let ps = || -> Vec<i32> {
        serde_json::from_slice(&b.reno(&["ps", "--format", "json", &b.id]).stdout)
            .unwrap_or_default()
    };
    wait_until("two processes", || ps().len() >= 2);
    let child = ps().into_iter().find(|&p| p != init).expect("the child");
    for h in reno::cgroups::hierarchies() {
        let dir = h.mount_point.join("reno").join(&b.id);
        if !dir.exists() {
            continue;
        }
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).expect("mkdir sub-cgroup");
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = std::fs::read_to_string(dir.join(f)) {
                std::fs::write(sub.join(f), v.trim()).expect("copy cpuset");
            }
        }
        std::fs::write(sub.join("cgroup.procs"), child.to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", sub.display()));
    }
    let pids = ps();
    assert!(
        pids.contains(&init) && pids.contains(&child),
        "{pids:?}: init {init}, child {child} (in sub)"
    );
    let out = b.reno(&["delete", "--force", &b.id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    b.assert_no_leftovers();
}

#[test]
fn events_reports_stats_and_oom() {
    require_root!();
    if !v1_host("events_reports_stats_and_oom") {
        return;
    }
    let mut b = Bundle::new("events");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    b.sh("sleep 1; sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done'; sleep 100");
    let out = b.create();
    assert!(out.status.success(), "create: {}", stderr(&out));

    let one = b.reno(&["events", "--stats", &b.id]);
    assert!(one.status.success(), "{}", stderr(&one));
    let v: Value = serde_json::from_slice(&one.stdout).expect("stats json");
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], b.id.as_str());
    assert_eq!(v["data"]["memory"]["usage"]["limit"], 16777216);
    assert!(
        v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    assert!(v["data"]["cpu"]["usage"].is_object(), "{v}");
    assert!(
        v["data"]["blkio"].is_object() && v["data"]["hugetlb"].is_object(),
        "{v}"
    );

    let mut ev = Command::new(reno_bin())
        .args(["--root"])
        .arg(&b.root)
        .args(["events", "--interval", "200ms", &b.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn events");
    let out = b.reno(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    let (tx, rx) = std::sync::mpsc::channel();
    let so = ev.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for l in BufReader::new(so).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let (mut stats, mut oom) = (0, false);
    let end = Instant::now() + Duration::from_secs(20);
    while !oom && Instant::now() < end {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: Value = serde_json::from_str(&l).expect("event json");
            match v["type"].as_str() {
                Some("stats") => stats += 1,
                Some("oom") => oom = v["id"] == b.id.as_str(),
                _ => panic!("unexpected event {l}"),
            }
        }
    }
    // events ends by itself once the container is gone.
    let _ = b.reno(&["delete", "--force", &b.id]);
    let t = Instant::now();
    while ev.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = ev.try_wait().ok().flatten().is_some();
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(oom, "no oom event (stats events seen: {stats})");
    assert!(stats >= 1);
    assert!(ended, "events did not exit after the container was deleted");
    b.assert_no_leftovers();
}

/// The v2 device program, loaded with bpf(2) and attached to a cgroup on the host's cgroup2
/// mount (in force here even though it holds no controllers): /dev/zero allowed, /dev/null not.
#[test]
fn bpf_device_program_on_the_cgroup2_mount() {
    require_root!();
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    let hs = reno::cgroups::hierarchies();
    if !hs.iter().any(|h| h.v2 && h.mount_point == unified) {
        skip!(
            "bpf_device_program_on_the_cgroup2_mount: no cgroup2 at {}",
            unified.display()
        );
        return;
    }
    let dir = unified.join(format!("reno-bpf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir cgroup");
    let rules = vec![reno::cgroups::devices::Rule {
        allow: true,
        typ: Some('c'),
        major: Some(1),
        minor: Some(5),
        access: "rw".into(),
    }];
    let r = reno::cgroups::attach_device_filter(&dir, &rules);
    let script = format!(
        "echo $$ > {}/cgroup.procs; head -c 1 /dev/zero | wc -c; echo zero-ok; cat /dev/null 2>&1",
        dir.display()
    );
    let out = r.as_ref().ok().map(|_| {
        Command::new("/bin/busybox")
            .args(["sh", "-c", &script])
            .output()
    });
    let _ = std::fs::remove_dir(&dir);
    if let Err(e) = r {
        panic!("attach: {e}");
    }
    let out = out.and_then(Result::ok).expect("run sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1\nzero-ok"), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
}
