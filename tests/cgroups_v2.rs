//! The cgroup v2 backend end to end. Runs only on a pure v2 host (the booted-kernel VM of
//! tests/vm); on v1 or hybrid hosts every test here prints SKIP.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{reno_bin, stderr, Bundle};
use serde_json::{json, Value};

fn v2_host(test: &str) -> bool {
    use reno::cgroups::{hierarchies, layout, Layout};
    let l = layout(&hierarchies());
    if l != Some(Layout::Unified) {
        skip!("{test}: needs a pure cgroup v2 host (layout here: {l:?}); run it in tests/vm");
        return false;
    }
    true
}

fn mount() -> PathBuf {
    reno::cgroups::hierarchies()
        .into_iter()
        .find(|h| h.v2)
        .map(|h| h.mount_point)
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"))
}

fn knob(b: &Bundle, file: &str) -> String {
    let p = mount().join("reno").join(&b.id).join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn offered(c: &str) -> bool {
    std::fs::read_to_string(mount().join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .any(|x| x == c)
}

#[test]
fn v2_fields_are_written_with_conversions() {
    require_root!();
    if !v2_host("v2_fields_are_written_with_conversions") {
        return;
    }
    let mut b = Bundle::new("v2all");
    b.args(&["sleep", "100"]);
    let mut res = json!({
        "memory": {"limit": 67108864, "reservation": 33554432},
        "cpu": {"shares": 1024, "quota": 30000, "period": 60000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 33},
        "unified": {"memory.high": "50331648"}
    });
    if offered("hugetlb")
        && std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists()
    {
        res["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4194304}]);
    }
    b.config["linux"]["resources"] = res.clone();
    let out = b.create();
    assert!(out.status.success(), "create: {}", stderr(&out));
    assert_eq!(knob(&b, "memory.max"), "67108864");
    assert_eq!(knob(&b, "memory.low"), "33554432");
    assert_eq!(knob(&b, "memory.high"), "50331648");
    assert_eq!(knob(&b, "cpu.weight"), "39", "shares 1024 → weight 39");
    assert_eq!(knob(&b, "cpu.max"), "30000 60000");
    assert_eq!(knob(&b, "cpuset.cpus"), "0");
    assert_eq!(knob(&b, "cpuset.mems"), "0");
    assert_eq!(knob(&b, "pids.max"), "33");
    if res.get("hugepageLimits").is_some() {
        assert_eq!(knob(&b, "hugetlb.2MB.max"), "4194304");
        let rsvd = mount()
            .join("reno")
            .join(&b.id)
            .join("hugetlb.2MB.rsvd.max");
        if rsvd.exists() {
            assert_eq!(knob(&b, "hugetlb.2MB.rsvd.max"), "4194304");
        }
    }
    let out = b.reno(&["delete", "--force", &b.id]);
    assert!(out.status.success());
    b.assert_no_leftovers();
}

#[test]
fn v2_realtime_and_bad_unified_key_are_errors() {
    require_root!();
    if !v2_host("v2_realtime_and_bad_unified_key_are_errors") {
        return;
    }
    for (res, want) in [
        (
            json!({"cpu": {"realtimeRuntime": 1000}}),
            "no cgroup v2 knob",
        ),
        (json!({"unified": {"nosuch.knob": "1"}}), "no such file"),
        (
            json!({"unified": {"../cgroup.procs": "1"}}),
            "no '/' or '..'",
        ),
    ] {
        let mut b = Bundle::new("v2bad");
        b.args(&["true"]);
        b.config["linux"]["resources"] = res.clone();
        let out = b.create();
        assert!(!out.status.success(), "{res} accepted");
        assert!(stderr(&out).contains(want), "{res}: {}", stderr(&out));
        b.assert_no_leftovers();
    }
}

#[test]
fn v2_device_program_denies_and_allows() {
    require_root!();
    if !v2_host("v2_device_program_denies_and_allows") {
        return;
    }
    let mut b = Bundle::new("v2dev");
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    // 10:200 (tun): denied by the program → EPERM; allowed → whatever the driver says.
    // The node goes in /dev (the spec's tmpfs): the rootfs may sit on a nodev mount (a /tmp
    // tmpfs), where open fails with EACCES before the cgroup is asked.
    b.sh("mknod /dev/t c 10 200; cat /dev/t 2>&1 | head -1; echo x > /dev/null && echo null-ok");
    let out = b.run_ok();
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}]);
    b.sh("mknod /dev/t c 10 200; cat /dev/t 2>&1 | head -1; echo done");
    let out = b.run_ok();
    assert!(out.contains("done"), "{out}");
    assert!(!out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("Permission denied"), "{out}");
}

#[test]
fn v2_pause_resume_update_events() {
    require_root!();
    if !v2_host("v2_pause_resume_update_events") {
        return;
    }
    let mut b = Bundle::new("v2cmd");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    b.sh("i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo $i > /tmp/c; done; sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done'; sleep 100");
    let out = b.create();
    assert!(out.status.success(), "create: {}", stderr(&out));
    let mut ev = Command::new(reno_bin())
        .args(["--root"])
        .arg(&b.root)
        .args(["events", "--interval", "200ms", &b.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn events");
    let out = b.reno(&["start", &b.id]);
    assert!(out.status.success());
    let so = ev.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(so).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let end = Instant::now() + Duration::from_secs(30);
    let mut oom = false;
    while !oom && Instant::now() < end {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: Value = serde_json::from_str(&l).expect("json");
            oom = v["type"] == "oom";
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(oom, "no oom event");

    let out = b.reno(&["pause", &b.id]);
    assert!(out.status.success(), "pause: {}", stderr(&out));
    assert_eq!(knob(&b, "cgroup.freeze"), "1");
    assert!(knob(&b, "cgroup.events").contains("frozen 1"));
    assert_eq!(b.status(), "paused");
    let out = b.reno(&["resume", &b.id]);
    assert!(out.status.success(), "resume: {}", stderr(&out));
    assert_eq!(b.status(), "running");

    let out = b.reno(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "96m",
        "--cpu-quota",
        "20000",
        "--pids-limit",
        "9",
        &b.id,
    ]);
    assert!(out.status.success(), "update: {}", stderr(&out));
    assert_eq!(knob(&b, "memory.max"), "67108864");
    if mount()
        .join("reno")
        .join(&b.id)
        .join("memory.swap.max")
        .exists()
    {
        assert_eq!(knob(&b, "memory.swap.max"), "33554432");
    }
    assert!(knob(&b, "cpu.max").starts_with("20000 "));
    assert_eq!(knob(&b, "pids.max"), "9");
    // One half of cpu.max / of the swap: the other half stays (runc keeps it from its config).
    let out = b.reno(&["update", "--cpu-period", "40000", &b.id]);
    assert!(out.status.success(), "update: {}", stderr(&out));
    assert_eq!(knob(&b, "cpu.max"), "20000 40000");
    let out = b.reno(&["update", "--memory-swap", "80m", &b.id]);
    assert!(out.status.success(), "update: {}", stderr(&out));
    assert_eq!(knob(&b, "memory.max"), "67108864");
    if mount()
        .join("reno")
        .join(&b.id)
        .join("memory.swap.max")
        .exists()
    {
        assert_eq!(knob(&b, "memory.swap.max"), "16777216");
    }
    let out = b.reno(&["delete", "--force", &b.id]);
    assert!(out.status.success());
    b.assert_no_leftovers();
}

/// On a hybrid host, a private mount namespace that sees only the cgroup2 mount (at
/// /sys/fs/cgroup) is a pure-v2 layout with just the controllers the unified hierarchy holds
/// (hugetlb here). That runs reno's v2 path for real on this machine: detection, controller
/// enabling, the BPF device program inside a container, cgroup.freeze, cleanup.
#[test]
fn v2_path_in_a_private_cgroup2_only_mount_namespace() {
    require_root!();
    use reno::cgroups::{hierarchies, layout, Layout};
    let hs = hierarchies();
    let Some(v2) = hs.iter().find(|h| h.v2) else {
        skip!("v2_path_in_a_private_cgroup2_only_mount_namespace: no cgroup2 mount");
        return;
    };
    if layout(&hs) != Some(Layout::Hybrid) || !std::path::Path::new("/usr/bin/unshare").exists() {
        skip!(
            "v2_path_in_a_private_cgroup2_only_mount_namespace: needs a hybrid host and unshare(1)"
        );
        return;
    }
    let mut b = Bundle::new("v2sim");
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    b.sh("mknod /tmp/t c 10 200; cat /tmp/t 2>&1 | head -1; echo x > /dev/null && echo null-ok; while :; do echo x >> /tmp/c; done");
    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}],
        "unified": {"cgroup.max.descendants": "3"}});
    b.write_config();
    let mut umounts = String::new();
    for h in hs.iter().filter(|h| !h.v2) {
        umounts.push_str(&format!("umount {} && ", h.mount_point.display()));
    }
    let reno = format!("{} --root {}", reno_bin().display(), b.root.display());
    let id = &b.id;
    let script = format!(
        "set -e; {umounts} umount {v2m} && mount -t cgroup2 none /sys/fs/cgroup
        {reno} create --bundle {bundle} {id}; {reno} start {id}; sleep 0.5
        cat /sys/fs/cgroup/reno/{id}/cgroup.max.descendants
        {reno} pause {id}; echo state=$({reno} state {id} | grep -o '\"status\": \"[a-z]*\"')
        cat /sys/fs/cgroup/reno/{id}/cgroup.freeze
        a=$(wc -c < {rootfs}/tmp/c); sleep 0.3; b=$(wc -c < {rootfs}/tmp/c); [ $a -gt 0 ] && [ $a = $b ] && echo counter-stopped
        {reno} resume {id}; sleep 0.3; c=$(wc -c < {rootfs}/tmp/c); [ $c -gt $b ] && echo counter-moves
        {reno} ps --format json {id}
        {reno} delete --force {id}; [ -e /sys/fs/cgroup/reno/{id} ] || echo cgroup-gone",
        v2m = v2.mount_point.display(),
        bundle = b.dir.display(),
        rootfs = b.rootfs().display(),
    );
    let out = Command::new("/usr/bin/unshare")
        .args(["-m", "--propagation", "private", "/bin/sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let all = format!("stdout:\n{text}\nstderr:\n{err}");
    assert!(out.status.success(), "{all}");
    assert!(
        text.contains("can't open '/tmp/t': Operation not permitted"),
        "{all}"
    );
    assert!(text.contains("null-ok"), "{all}");
    assert!(
        text.contains("\n3\n") || text.starts_with("3\n"),
        "unified key: {all}"
    );
    assert!(text.contains("state=\"status\": \"paused\""), "{all}");
    assert!(
        text.contains("\n1\ncounter-stopped\ncounter-moves\n"),
        "{all}"
    );
    assert!(text.contains("cgroup-gone"), "{all}");
}
