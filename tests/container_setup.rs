//! What a container sees from inside: each item of config.json that the lifecycle core
//! applies, asserted on the container's own /proc output.

mod common;

use common::{status_field, Bundle};
use serde_json::json;

#[test]
fn namespaces_are_new_except_when_shared() {
    require_root!();
    let mut b = Bundle::new("ns");
    b.sh("for n in pid mnt uts ipc net cgroup user; do echo $n $(readlink /proc/self/ns/$n); done");
    let out = b.run_ok();
    for line in out.lines() {
        let (name, link) = line.split_once(' ').expect("ns line");
        let host = std::fs::read_link(format!("/proc/self/ns/{name}")).expect("host ns");
        let same = host.to_string_lossy() == link;
        // The default spec creates pid, mount, uts, ipc, net and cgroup; user is the host's.
        assert_eq!(
            same,
            name == "user",
            "namespace {name}: container {link}, host {}",
            host.display()
        );
    }
}

#[test]
fn joins_an_existing_namespace_by_path() {
    require_root!();
    let mut b = Bundle::new("nsjoin");
    let host_net = std::fs::read_link("/proc/self/ns/net").expect("host netns");
    let nss = b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    for n in nss.iter_mut() {
        if n["type"] == "network" {
            n["path"] = json!("/proc/self/ns/net");
        }
    }
    b.sh("readlink /proc/self/ns/net");
    assert_eq!(b.run_ok().trim(), host_net.to_string_lossy());
}

#[test]
fn new_network_namespace_has_lo_up() {
    require_root!();
    // runc brings lo up in a network namespace it creates; services on 127.0.0.1 need it.
    let mut b = Bundle::new("netlo");
    b.sh("cat /sys/class/net/lo/flags");
    let flags = b.run_ok();
    let v = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).expect("lo flags");
    assert_eq!(
        v & 0x1,
        0x1,
        "lo is down in the new netns: flags {}",
        flags.trim()
    );
}

#[test]
fn init_leads_its_own_session() {
    require_root!();
    // As runc's: the caller's terminal and process-group signals (conmon's --timeout kills
    // the container's group) must not reach the caller's own group.
    let mut b = Bundle::new("setsid");
    b.sh("cut -d' ' -f1,5,6 /proc/1/stat");
    assert_eq!(b.run_ok().trim(), "1 1 1");
}

#[test]
fn time_namespace_offsets() {
    require_root!();
    let mut b = Bundle::new("timens");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("ns")
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}});
    b.sh("cat /proc/uptime");
    let up: f64 = b
        .run_ok()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("uptime");
    assert!(
        up > 86400.0 * 365.0,
        "boottime offset not applied: uptime {up}"
    );
}

#[test]
fn hostname_and_domainname() {
    require_root!();
    let mut b = Bundle::new("uts");
    b.config["hostname"] = json!("box-1");
    b.config["domainname"] = json!("example.org");
    b.sh("hostname; cat /proc/sys/kernel/domainname");
    assert_eq!(b.run_ok(), "box-1\nexample.org\n");
}

#[test]
fn process_args_env_cwd() {
    require_root!();
    let mut b = Bundle::new("proc");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/tmp/work");
    std::fs::create_dir_all(b.rootfs().join("tmp/work")).expect("mkdir");
    b.args(&["sh", "-c", "echo \"$0|$1|$FOO|$(pwd)\"", "zero", "one"]);
    assert_eq!(b.run_ok(), "zero|one|bar baz|/tmp/work\n");
}

#[test]
fn user_groups_and_umask() {
    require_root!();
    let mut b = Bundle::new("user");
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63});
    b.sh("cat /proc/self/status");
    let out = b.run_ok();
    assert_eq!(status_field(&out, "Uid"), Some("1000\t1000\t1000\t1000"));
    assert_eq!(status_field(&out, "Gid"), Some("1001\t1001\t1001\t1001"));
    assert_eq!(status_field(&out, "Groups"), Some("5 7"));
    assert_eq!(status_field(&out, "Umask"), Some("0077"));
}

#[test]
fn capabilities_all_five_sets() {
    require_root!();
    let mut b = Bundle::new("caps");
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_NET_RAW"],
        "ambient": ["CAP_NET_RAW"]
    });
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.sh("cat /proc/self/status");
    let out = b.run_ok();
    // Root's exec rules: permitted = inheritable | bounding (no SECBIT_NOROOT, as runc).
    let bit = |n: u32| 1u64 << n;
    let hex = |v: u64| format!("{v:016x}");
    assert_eq!(
        status_field(&out, "CapBnd"),
        Some(hex(bit(0) | bit(5) | bit(13) | bit(21)).as_str())
    );
    assert_eq!(status_field(&out, "CapAmb"), Some(hex(bit(13)).as_str()));
    assert_eq!(status_field(&out, "CapInh"), Some(hex(bit(13)).as_str()));
    assert_eq!(
        status_field(&out, "CapPrm"),
        Some(hex(bit(0) | bit(5) | bit(13) | bit(21)).as_str())
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("0"));
}

#[test]
fn no_new_privileges() {
    require_root!();
    let mut b = Bundle::new("nnp");
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.sh("grep NoNewPrivs /proc/self/status");
    assert_eq!(b.run_ok().trim(), "NoNewPrivs:\t1");
}

#[test]
fn rlimits() {
    require_root!();
    let mut b = Bundle::new("rlimit");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    b.sh("grep -E 'open files|core file' /proc/self/limits");
    let out = b.run_ok();
    assert!(
        out.lines().any(|l| l.starts_with("Max open files")
            && l.split_whitespace().skip(3).take(2).collect::<Vec<_>>() == ["321", "654"]),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("Max core file size") && l.contains(" 0 ")),
        "{out}"
    );
}

#[test]
fn sysctl_in_the_containers_namespaces() {
    require_root!();
    let mut b = Bundle::new("sysctl");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    b.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    assert_eq!(b.run_ok(), "1\n1234\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").expect("host shmmni");
    assert_ne!(host.trim(), "1234", "sysctl leaked to the host");
}

#[test]
fn mounts_and_their_flags() {
    require_root!();
    let mut b = Bundle::new("mounts");
    let host_dir = b.dir.join("shared");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("f"), "host file\n").expect("write");
    b.config["mounts"].as_array_mut().expect("mounts").extend([
        json!({"destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nosuid", "nodev"]}),
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m", "mode=700"]}),
        json!({"destination": "/deep/new/dir", "type": "tmpfs", "source": "tmpfs"}),
    ]);
    b.sh("cat /data/f; touch /data/x 2>/dev/null && echo data-writable; touch /scratch/y && echo scratch-writable; stat -c %a /scratch; grep -E ' /(data|scratch|proc|sys|dev|deep/new/dir) ' /proc/self/mountinfo");
    let out = b.run_ok();
    assert!(out.starts_with("host file\n"), "{out}");
    assert!(!out.contains("data-writable"), "{out}");
    assert!(out.contains("scratch-writable\n700\n"), "{out}");
    let line = |dest: &str| {
        out.lines()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("no mount at {dest}:\n{out}"))
            .to_string()
    };
    let data = line("/data");
    let opts = data.split(' ').nth(5).unwrap_or("");
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.split(',').any(|x| x == o), "/data lacks {o}: {data}");
    }
    assert!(line("/scratch").contains("noexec"), "{out}");
    assert!(
        line("/sys")
            .split(' ')
            .nth(5)
            .unwrap_or("")
            .starts_with("ro"),
        "{out}"
    );
    assert!(line("/proc").contains(" proc "), "{out}");
    line("/deep/new/dir");
    assert!(!host_dir.join("x").exists());
}

#[test]
fn symlinked_mount_destination_stays_inside_rootfs() {
    require_root!();
    let mut b = Bundle::new("symlink");
    let outside = b.dir.join("outside-target");
    std::fs::create_dir_all(&outside).expect("mkdir");
    // An image whose /evil points at a host path: the mount must land inside the rootfs.
    std::os::unix::fs::symlink(&outside, b.rootfs().join("evil")).expect("symlink");
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    b.sh("grep -c tmpfs /proc/self/mountinfo >/dev/null; echo ok");
    assert_eq!(b.run_ok(), "ok\n");
    assert!(
        b.rootfs()
            .join(outside.strip_prefix("/").expect("abs"))
            .is_dir(),
        "the destination was not created inside the rootfs"
    );
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !host_mounts.contains(outside.to_string_lossy().as_ref()),
        "mounted on the host path"
    );
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let mut b = Bundle::new("mask");
    // /proc/keys and /proc/timer_list exist on this kernel (kcore does not). A path under
    // a file is as missing as a path that isn't there (ENOTDIR for both masking mounts).
    if let Some(m) = b.config["linux"]["maskedPaths"].as_array_mut() {
        m.push(json!("/proc/keys/below-a-file"));
    }
    b.sh("wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable; grep -E ' /proc/(sys|keys) ' /proc/self/mountinfo");
    let out = b.run_ok();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(str::trim),
        Some("0"),
        "/proc/keys not masked: {out}"
    );
    assert_eq!(
        lines.next().map(str::trim),
        Some("0"),
        "/proc/timer_list not masked: {out}"
    );
    assert_eq!(
        lines.next().map(str::trim),
        Some("0"),
        "/sys/firmware not masked: {out}"
    );
    assert!(!out.contains("sys-writable"), "/proc/sys writable: {out}");
    let sys = out
        .lines()
        .find(|l| l.contains(" /proc/sys "))
        .expect("/proc/sys mount");
    assert!(
        sys.split(' ').nth(5).unwrap_or("").starts_with("ro"),
        "{sys}"
    );
}

#[test]
fn readonly_root() {
    require_root!();
    let mut b = Bundle::new("rofs");
    b.config["root"]["readonly"] = json!(true);
    b.sh("touch /newfile 2>/dev/null && echo writable; touch /tmp/x 2>/dev/null && echo tmp-writable; echo done");
    assert_eq!(b.run_ok(), "done\n");
}

#[test]
fn devices_default_and_configured() {
    require_root!();
    let mut b = Bundle::new("dev");
    b.config["linux"]["devices"] = json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 7, "gid": 8}]);
    b.sh("for d in null zero full random urandom tty mydev; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx");
    let out = b.run_ok();
    assert!(
        out.contains("/dev/null character special file 1:3 666 0:0"),
        "{out}"
    );
    assert!(
        out.contains("/dev/urandom character special file 1:9 666"),
        "{out}"
    );
    assert!(out.contains("/dev/tty character special file 5:0"), "{out}");
    assert!(
        out.contains("/dev/mydev character special file 1:3 660 7:8"),
        "{out}"
    );
    assert!(
        out.contains("/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n"),
        "{out}"
    );
}

#[test]
fn cgroup_namespace_shows_own_root() {
    require_root!();
    let mut b = Bundle::new("cgns");
    b.sh("cat /proc/self/cgroup; ls /sys/fs/cgroup");
    let out = b.run_ok();
    for l in out.lines().filter(|l| l.contains(':')) {
        assert!(l.ends_with(":/"), "cgroup not rooted at the container: {l}");
    }
    assert!(out.contains("memory"), "{out}");
}

/// The init moves itself into its v1 hierarchies (writing "0" into `tasks`, see
/// cgroups::Joining) and is cloned into the v2 one: it must be in the container's cgroup in
/// every hierarchy the host has, before its program runs.
#[test]
fn init_is_in_its_cgroup_in_every_hierarchy() {
    require_root!();
    let mut b = Bundle::new("cgjoin");
    let ns = b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    ns.retain(|n| n["type"] != "cgroup");
    b.sh("cat /proc/self/cgroup");
    let out = b.run_ok();
    let want = format!(":/reno/{}", b.id);
    let host = std::fs::read_to_string("/proc/self/cgroup").expect("host /proc/self/cgroup");
    assert_eq!(out.lines().count(), host.lines().count(), "{out}");
    for l in out.lines() {
        assert!(l.ends_with(&want), "not in its cgroup: {l} (all: {out})");
    }
}

#[test]
fn pids_limit_and_memory_limit_applied() {
    require_root!();
    let mut b = Bundle::new("res");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 17}, "memory": {"limit": 67108864}});
    b.sh("cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes");
    assert_eq!(b.run_ok(), "17\n67108864\n");
}

#[test]
fn oom_score_adj() {
    require_root!();
    let mut b = Bundle::new("oom");
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.sh("cat /proc/self/oom_score_adj");
    assert_eq!(b.run_ok(), "500\n");
}

#[test]
fn no_host_fds_leak_and_cwd_inside() {
    require_root!();
    let mut b = Bundle::new("fds");
    b.sh("ls /proc/self/fd | wc -l; readlink /proc/self/cwd");
    // 0, 1, 2 and the fd ls uses for the directory.
    assert_eq!(b.run_ok(), "4\n/\n");
}

#[test]
fn seccomp_profile_applied_last() {
    require_root!();
    let mut b = Bundle::new("seccomp");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.sh(
        "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; test -d /tmp/x && echo made; true",
    );
    let out = b.run_ok();
    assert!(out.starts_with("Seccomp:\t2\n"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("made"), "{out}");
}

#[test]
fn podmans_default_seccomp_profile_runs_a_shell() {
    require_root!();
    let mut b = Bundle::new("podman-seccomp");
    let profile: serde_json::Value =
        serde_json::from_str(include_str!("data/podman-seccomp.json")).expect("profile");
    b.config["linux"]["seccomp"] = profile;
    b.sh("mkdir /tmp/y && echo ok; grep '^Seccomp:' /proc/self/status");
    assert_eq!(b.run_ok(), "ok\nSeccomp:\t2\n");
}

#[test]
fn seccomp_without_no_new_privs_loads_before_dropping_caps() {
    require_root!();
    let mut b = Bundle::new("seccomp-nnp0");
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
    assert_eq!(b.run_ok(), "NoNewPrivs:\t0\nSeccomp:\t2\n");
}

/// runtime-tools' linux_seccomp: a profile loaded before the user switch (no
/// no_new_privs) that denies getcwd must not break reno's own cwd check (runc fails here,
/// crun passes): the cwd is entered and checked before the profile is loaded.
#[test]
fn seccomp_denying_getcwd_still_starts() {
    require_root!();
    let mut b = Bundle::new("seccomp-getcwd");
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["cwd"] = json!("/tmp");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.sh("readlink /proc/self/cwd; grep '^Seccomp:' /proc/self/status");
    assert_eq!(b.run_ok(), "/tmp\nSeccomp:\t2\n");
}

#[test]
fn user_namespace_with_id_maps() {
    require_root!();
    let mut b = Bundle::new("userns");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("ns")
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The cgroup mount needs a cgroup namespace owned by the user namespace: drop it here.
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .retain(|m| m["type"] != "cgroup");
    let status = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .expect("chown");
    assert!(status.success());
    b.sh("id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/x && stat -c %u /tmp/x");
    let out = b.run_ok();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "0", "100000", "65536", "0", "100000", "65536", "0"],
        "{out}"
    );
    let host_uid = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(b.rootfs().join("tmp/x")).expect("stat"),
    );
    assert_eq!(host_uid, 100000);
}

/// CVE-2019-5736 class: until execve the container's init is a copy of reno; it is
/// non-dumpable, so no process of the container's user can open its /proc/<pid>/exe or
/// memory. The kernel shows it: a non-dumpable task's /proc/<pid> belongs to root. (Here
/// the switch to uid 1000 alone would also clear it; reno sets it for uid-0 containers too.)
#[test]
fn waiting_init_is_not_dumpable() {
    require_root!();
    use std::os::unix::fs::MetadataExt;
    let mut b = Bundle::new("dumpable");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.args(&["sleep", "100"]);
    let out = b.create();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let state: serde_json::Value =
        serde_json::from_slice(&b.reno(&["state", &b.id]).stdout).expect("state");
    let pid = state["pid"].as_i64().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert_eq!(
        common::status_field(&status, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "the waiting init already runs as the user"
    );
    let lmeta = std::fs::symlink_metadata(format!("/proc/{pid}/exe")).expect("lstat exe");
    assert_eq!(
        lmeta.uid(),
        0,
        "the waiting init is dumpable: its /proc entries belong to its user"
    );
    assert!(b.reno(&["start", &b.id]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(50));
    let lmeta = std::fs::symlink_metadata(format!("/proc/{pid}/exe")).expect("lstat exe");
    assert_eq!(
        lmeta.uid(),
        1000,
        "after execve the user's program is dumpable again"
    );
}

#[test]
fn sigpipe_is_not_ignored_in_the_container() {
    require_root!();
    let mut b = Bundle::new("sigpipe");
    b.sh("grep SigIgn /proc/self/status");
    let out = b.run_ok();
    let mask =
        u64::from_str_radix(out.trim().trim_start_matches("SigIgn:").trim(), 16).expect("mask");
    assert_eq!(
        mask & (1 << 12),
        0,
        "SIGPIPE ignored in the container: {out}"
    );
}

#[test]
fn personality_scheduler_and_io_priority() {
    require_root!();
    let mut b = Bundle::new("sched");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/ionice")).expect("ionice applet");
    b.sh("cat /proc/self/personality; cut -d' ' -f19,41 /proc/self/stat; ionice");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("00000008"),
        "personality LINUX32: {out}"
    );
    // Field 19 is nice, 41 the policy (3 = SCHED_BATCH).
    assert_eq!(lines.get(1).copied(), Some("7 3"), "scheduler: {out}");
    assert_eq!(
        lines.get(2).copied(),
        Some("best-effort: prio 6"),
        "ioPriority: {out}"
    );
}
