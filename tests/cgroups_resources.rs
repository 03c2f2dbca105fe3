//! linux.resources on this host (hybrid: v1 controllers plus hugetlb on the cgroup2 mount):
//! every field is written and read back from the cgroup files, limits are seen in effect,
//! bad input fails cleanly and nothing is left behind.

mod common;

use std::path::PathBuf;

use common::{stderr, Bundle};
use serde_json::json;

fn cg(ctrl: &str, b: &Bundle, file: &str) -> String {
    let p = PathBuf::from("/sys/fs/cgroup")
        .join(ctrl)
        .join("reno")
        .join(&b.id)
        .join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn create_ok(b: &Bundle) {
    let out = b.create();
    assert!(out.status.success(), "create: {}", stderr(&out));
}

fn delete_clean(b: &Bundle) {
    let out = b.reno(&["delete", "--force", &b.id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    b.assert_no_leftovers();
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
fn every_v1_field_is_written() {
    require_root!();
    if !v1_host("every_v1_field_is_written") {
        return;
    }
    let mut b = Bundle::new("cgall");
    b.args(&["sleep", "100"]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432,
                   "swappiness": 7, "disableOOMKiller": true, "checkBeforeUpdate": true},
        "cpu": {"shares": 512, "quota": 30000, "period": 60000, "burst": 1000, "idle": 0,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 33},
        "blockIO": {"weight": 300,
            "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 200}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "b", "major": 254, "minor": 0, "access": "r"}]
    });
    create_ok(&b);
    assert_eq!(cg("memory", &b, "memory.limit_in_bytes"), "67108864");
    assert_eq!(cg("memory", &b, "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(cg("memory", &b, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(cg("memory", &b, "memory.swappiness"), "7");
    assert!(cg("memory", &b, "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(cg("cpu", &b, "cpu.shares"), "512");
    assert_eq!(cg("cpu", &b, "cpu.cfs_quota_us"), "30000");
    assert_eq!(cg("cpu", &b, "cpu.cfs_period_us"), "60000");
    assert_eq!(cg("cpu", &b, "cpu.cfs_burst_us"), "1000");
    assert_eq!(cg("cpu", &b, "cpu.idle"), "0");
    assert_eq!(cg("cpuset", &b, "cpuset.cpus"), "0");
    assert_eq!(cg("cpuset", &b, "cpuset.mems"), "0");
    assert_eq!(cg("pids", &b, "pids.max"), "33");
    assert_eq!(
        cg("blkio", &b, "blkio.bfq.weight").trim_start_matches("default "),
        "300"
    );
    assert_eq!(
        cg("blkio", &b, "blkio.throttle.read_bps_device"),
        "254:0 1048576"
    );
    assert_eq!(
        cg("blkio", &b, "blkio.throttle.write_bps_device"),
        "254:0 2097152"
    );
    assert_eq!(
        cg("blkio", &b, "blkio.throttle.read_iops_device"),
        "254:0 100"
    );
    assert_eq!(
        cg("blkio", &b, "blkio.throttle.write_iops_device"),
        "254:0 200"
    );
    // hugetlb has no v1 mount here: it went to the cgroup2 hierarchy.
    assert_eq!(cg("unified", &b, "hugetlb.2MB.max"), "4194304");
    // and the reservation limit with it, as runc (kernels ≥ 5.7)
    let rsvd = PathBuf::from("/sys/fs/cgroup/unified/reno")
        .join(&b.id)
        .join("hugetlb.2MB.rsvd.max");
    if rsvd.exists() {
        assert_eq!(cg("unified", &b, "hugetlb.2MB.rsvd.max"), "4194304");
    }
    let devs = cg("devices", &b, "devices.list");
    assert!(devs.contains("b 254:0 r\n"), "{devs}");
    assert!(devs.contains("c 1:3 rwm"), "{devs}");
    assert!(!devs.contains("a *:*"), "{devs}");
    delete_clean(&b);
}

#[test]
fn realtime_and_relative_cgroups_path() {
    require_root!();
    if !v1_host("realtime_and_relative_cgroups_path") {
        return;
    }
    let mut b = Bundle::new("cgrt");
    b.args(&["sleep", "100"]);
    // A relative path lands under the hierarchy root (runc's cgroupfs rule); the root
    // has realtime budget to give, unlike a fresh /reno.
    let rel = format!("reno-rt-{}", b.id);
    b.config["linux"]["cgroupsPath"] = json!(rel);
    b.config["linux"]["resources"] =
        json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}});
    create_ok(&b);
    let d = PathBuf::from("/sys/fs/cgroup/cpu").join(&rel);
    let rd = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert_eq!(rd("cpu.rt_period_us").trim(), "1000000");
    assert_eq!(rd("cpu.rt_runtime_us").trim(), "10000");
    delete_clean(&b);
    for h in ["cpu", "memory", "pids", "unified", "systemd"] {
        let p = PathBuf::from("/sys/fs/cgroup").join(h).join(&rel);
        assert!(!p.exists(), "left behind: {}", p.display());
    }
}

#[test]
fn unified_keys_go_to_the_v2_hierarchy() {
    require_root!();
    if !v1_host("unified_keys_go_to_the_v2_hierarchy") {
        return;
    }
    let mut b = Bundle::new("cguni");
    b.args(&["sleep", "100"]);
    b.config["linux"]["resources"] =
        json!({"unified": {"hugetlb.2MB.max": "2097152", "cgroup.max.descendants": "5"}});
    create_ok(&b);
    assert_eq!(cg("unified", &b, "hugetlb.2MB.max"), "2097152");
    assert_eq!(cg("unified", &b, "cgroup.max.descendants"), "5");
    delete_clean(&b);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    require_root!();
    if !v1_host("pids_limit_stops_a_fork_loop") {
        return;
    }
    let mut b = Bundle::new("cgpids");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 8}});
    // ash gives up at the first failed fork: the loop runs in a subshell, which exits
    // with 2 and frees one slot for the final cat.
    b.sh("(i=0; while [ $i -lt 30 ]; do sleep 10 & i=$((i+1)); done) 2>/dev/null; echo sub=$?; cat /sys/fs/cgroup/pids/pids.current");
    let out = b.run_ok();
    assert!(
        out.starts_with("sub=2\n"),
        "the fork loop was not stopped: {out}"
    );
    let n: u32 = out.trim().lines().last().unwrap_or("").parse().unwrap_or(0);
    // init + the sleeps filled the 8 slots with the subshell; it is gone now (7), and
    // busybox may run cat inside the shell itself (no fork) or as an 8th process.
    assert!(
        (7..=8).contains(&n),
        "pids.current {n} should sit at the limit: {out}"
    );
    b.assert_no_leftovers();
}

#[test]
fn devices_deny_blocks_a_node_made_inside() {
    require_root!();
    if !v1_host("devices_deny_blocks_a_node_made_inside") {
        return;
    }
    let mut b = Bundle::new("cgdev");
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE", "CAP_CHOWN"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    // The default config denies everything: mknod is allowed (runc's "b *:* m"), open is not.
    // (loop0, 7:0: the host lets root open it, unlike its root disk.)
    b.sh("rm -f /tmp/loop; mknod /tmp/loop b 7 0 && echo made; dd if=/tmp/loop of=/dev/null bs=512 count=1 2>&1 | head -1; echo x > /dev/null && echo null-ok");
    let out = b.run_ok();
    assert!(out.contains("made"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
    // With an allow rule for reads, reading works.
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}]);
    b.sh("dd if=/tmp/loop of=/dev/null bs=512 count=1 2>&1 | head -1; dd if=/dev/zero of=/tmp/loop count=1 2>&1 | head -1");
    let out = b.run_ok();
    assert!(
        out.starts_with("0+0 records in\n"),
        "read not allowed: {out}"
    );
    assert!(
        out.contains("can't open '/tmp/loop': Operation not permitted"),
        "write allowed: {out}"
    );
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    require_root!();
    if !v1_host("memory_limit_oom_kills_a_hog") {
        return;
    }
    let mut b = Bundle::new("cgoom");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    b.sh("sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done'; echo hog=$?; grep oom_kill /sys/fs/cgroup/memory/memory.oom_control");
    let out = b.run_ok();
    assert!(out.contains("hog=137"), "hog not SIGKILLed: {out}");
    assert!(out.contains("oom_kill 1"), "{out}");
}

/// Bad input: a clear error, exit 1, and nothing left (state dir, cgroups, mounts), also
/// when the error comes from applying limits after the init was cloned.
#[test]
fn bad_resources_fail_cleanly() {
    require_root!();
    if !v1_host("bad_resources_fail_cleanly") {
        return;
    }
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"memory": {"limit": -5}}), "negative"),
        (json!({"memory": {"swappiness": 1000}}), "0-100"),
        (json!({"cpu": {"quota": 7}}), "1000 microseconds"),
        (json!({"cpu": {"shares": 1}}), "clamped"),
        (json!({"cpu": {"cpus": "63"}}), "cpuset.cpus"),
        (
            json!({"pids": {"limit": 5}, "network": {"classID": 5}}),
            "net_cls",
        ),
        (json!({"unified": {"../../escape": "1"}}), "no '/' or '..'"),
        (json!({"unified": {"nosuch.knob": "1"}}), "no such file"),
        (json!({"unified": {"memory.high": "1"}}), "cgroup v1 one"),
        (json!({"blockIO": {"weight": 5000}}), "10 to 1000"),
        (
            json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}),
            "hugetlb.3MB",
        ),
        (
            json!({"devices": [{"allow": true, "type": "c", "access": "rwx"}]}),
            "r, w and m",
        ),
    ];
    for (res, want) in cases {
        let mut b = Bundle::new("cgbad");
        b.args(&["true"]);
        b.config["linux"]["resources"] = res.clone();
        let out = b.create();
        let err = stderr(&out);
        assert!(!out.status.success(), "{res} accepted");
        assert!(err.contains(want), "{res}: error {err:?} lacks {want:?}");
        b.assert_no_leftovers();
    }
    let mut b = Bundle::new("cgdots");
    b.config["linux"]["cgroupsPath"] = json!("/reno/../../etc");
    let out = b.create();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("'..'"), "{}", stderr(&out));
    b.assert_no_leftovers();
}
