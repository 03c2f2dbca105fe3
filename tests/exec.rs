//! `reno exec`: the new process joins every namespace, the cgroup and the root of the
//! container's init, gets its process spec's user, capabilities, rlimits, no_new_privs and
//! seccomp; its exit code is reno's; failures use runc's wording and leave nothing behind.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{reno_bin, stderr, stdout, Bundle};
use serde_json::{json, Value};

/// A running container whose init sleeps; returns its pid.
fn start_sleeper(b: &mut Bundle) -> i64 {
    b.args(&["sleep", "1000"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
    let state: Value = serde_json::from_slice(&b.reno(&["state", &b.id]).stdout).expect("state");
    assert_eq!(state["status"], "running");
    state["pid"].as_i64().expect("pid")
}

fn exec(b: &Bundle, args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    let out = b.reno(&a);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

fn ns_links(pid: i64) -> Vec<(String, String)> {
    ["user", "ipc", "uts", "net", "pid", "mnt", "cgroup", "time"]
        .iter()
        .map(|n| {
            let l = std::fs::read_link(format!("/proc/{pid}/ns/{n}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            (n.to_string(), l)
        })
        .collect()
}

fn cgroup_of(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default()
}

#[test]
fn foreground_exit_code_pid_namespace_hostname() {
    require_root!();
    let mut b = Bundle::new("exfg");
    b.config["hostname"] = json!("exec-host");
    start_sleeper(&mut b);
    let (code, out, err) = exec(
        &b,
        &[
            &b.id,
            "sh",
            "-c",
            "cat /proc/1/comm; hostname; echo pid=$$; exit 7",
        ],
    );
    assert_eq!(code, 7, "stdout {out} stderr {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "sleep",
        "pid 1 seen from the exec'd process: {out}"
    );
    assert_eq!(lines[1], "exec-host");
    // In the container's pid namespace: a small pid, not the host's.
    let pid: i64 = lines[2].trim_start_matches("pid=").parse().expect("pid");
    assert!(pid > 1 && pid < 100, "{out}");
}

#[test]
fn detach_pid_file_namespaces_cgroup() {
    require_root!();
    let mut b = Bundle::new("exdet");
    let init = start_sleeper(&mut b);
    let pid_file = b.dir.join("exec.pid");
    let pf = pid_file.to_string_lossy().into_owned();
    let (code, _, err) = exec(&b, &["--detach", "--pid-file", &pf, &b.id, "sleep", "500"]);
    assert_eq!(code, 0, "{err}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .expect("comm")
            .trim(),
        "sleep"
    );
    assert_eq!(
        ns_links(pid),
        ns_links(init),
        "namespaces differ from the init's"
    );
    assert_eq!(
        cgroup_of(pid),
        cgroup_of(init),
        "cgroup differs from the init's"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).expect("root"),
        std::fs::read_link(format!("/proc/{init}/root")).expect("root")
    );
    // kill --all reaches it too.
    let out = b.reno(&["kill", "--all", &b.id, "KILL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}/comm")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z"))
            .unwrap_or(false)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false);
    assert!(!alive, "exec'd process survived kill --all");
}

#[test]
fn process_json_user_env_cwd() {
    require_root!();
    let mut b = Bundle::new("exproc");
    start_sleeper(&mut b);
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [2000]},
        "args": ["sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO; grep CapBnd /proc/self/status"],
        "env": ["PATH=/bin", "FOO=from-process-json"],
        "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]},
        "noNewPrivileges": true
    });
    let pj = b.dir.join("process.json");
    std::fs::write(&pj, process.to_string()).expect("write process.json");
    let (code, out, err) = exec(&b, &["--process", &pj.to_string_lossy(), &b.id]);
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1000");
    assert_eq!(l[1], "1001");
    assert!(l[2].split(' ').any(|g| g == "2000"), "{out}");
    assert_eq!(l[3], "/tmp");
    assert_eq!(l[4], "from-process-json");
    assert_eq!(
        l[5].split_whitespace().nth(1),
        Some("0000000000000001"),
        "{out}"
    );
}

#[test]
fn flags_user_cwd_env_cap() {
    require_root!();
    let mut b = Bundle::new("exflags");
    start_sleeper(&mut b);
    let (code, out, err) = exec(
        &b,
        &[
            "--user",
            "1000:1000",
            "--cwd",
            "/tmp",
            "--env",
            "A=1",
            "-e",
            "B=2",
            "--no-new-privs",
            &b.id,
            "sh",
            "-c",
            "id -u; pwd; echo $A$B; grep NoNewPrivs /proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1000");
    assert_eq!(l[1], "/tmp");
    assert_eq!(l[2], "12");
    assert!(l[3].ends_with('1'), "{out}");
    // --cap adds to bounding/effective/permitted: CAP_SYS_ADMIN is bit 21.
    let (code, out, err) = exec(
        &b,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            &b.id,
            "sh",
            "-c",
            "grep CapEff /proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let eff = u64::from_str_radix(out.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap_or(0);
    assert!(eff & (1 << 21) != 0, "CAP_SYS_ADMIN missing: {out}");
    // The default config has no CAP_SYS_ADMIN: without --cap it is absent.
    let (_, out, _) = exec(&b, &[&b.id, "sh", "-c", "grep CapEff /proc/self/status"]);
    let eff = u64::from_str_radix(out.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap_or(0);
    assert_eq!(eff & (1 << 21), 0, "{out}");
}

#[test]
fn seccomp_and_rlimits_of_the_container_apply() {
    require_root!();
    let mut b = Bundle::new("exsec");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]);
    start_sleeper(&mut b);
    let (code, out, err) = exec(
        &b,
        &[
            &b.id,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; mkdir /tmp/x 2>&1; echo mkdir=$?",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "123", "{out}");
    assert_eq!(l[1], "456", "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("mkdir=1"), "{out}");
}

#[test]
fn user_namespace_container() {
    require_root!();
    let mut b = Bundle::new("exuserns");
    let ns = b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    ns.push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    let init = start_sleeper(&mut b);
    let (code, out, err) = exec(&b, &[&b.id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0", "{out}");
    assert_eq!(
        l[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"],
        "{out}"
    );
    let pid_file = b.dir.join("e.pid");
    let (code, _, err) = exec(
        &b,
        &[
            "-d",
            "--pid-file",
            &pid_file.to_string_lossy(),
            &b.id,
            "sleep",
            "100",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(ns_links(pid), ns_links(init));
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        st.lines()
            .any(|l| l.starts_with("Uid:") && l.contains("200000")),
        "host uid of the exec'd process: {st}"
    );
}

#[test]
fn preserve_fds() {
    require_root!();
    let mut b = Bundle::new("exfds");
    start_sleeper(&mut b);
    let data = b.dir.join("fd3.txt");
    std::fs::write(&data, "through fd 3\n").expect("write");
    let run = |extra: &str| {
        let cmd = format!(
            "exec 3<{}; exec {} --root {} exec {extra} {} sh -c 'cat <&3 2>&1 || echo closed'",
            data.display(),
            reno_bin().display(),
            b.root.display(),
            b.id
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&cmd)
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run("--preserve-fds 1").trim(), "through fd 3");
    assert!(
        run("").contains("closed"),
        "fd 3 leaked without --preserve-fds"
    );
}

#[test]
fn errors_like_runc_and_no_stray_process() {
    require_root!();
    let mut b = Bundle::new("exerr");
    // Missing container.
    let (code, _, err) = exec(&b, &["no-such-container", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed") && err.contains("does not exist"),
        "{err}"
    );

    let init = start_sleeper(&mut b);
    // Missing program: fails, and only the init is left in the cgroup.
    let (code, _, err) = exec(&b, &[&b.id, "no-such-program"]);
    assert_eq!(code, 255);
    assert!(err.contains("executable file not found"), "{err}");
    let cg = cgroup_of(init);
    let pids_line = cg
        .lines()
        .find(|l| l.contains(":pids:"))
        .expect("pids cgroup");
    let rel = pids_line.splitn(3, ':').nth(2).expect("path");
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/pids{rel}/cgroup.procs"))
        .expect("cgroup.procs");
    assert_eq!(
        procs.trim(),
        init.to_string(),
        "stray process in the cgroup"
    );

    // -t with --detach needs a console socket.
    let (code, _, err) = exec(&b, &["-d", "-t", &b.id, "true"]);
    assert_eq!(code, 255);
    assert!(err.contains("console socket"), "{err}");

    // Stopped container.
    let out = b.reno(&["kill", &b.id, "KILL"]);
    assert!(out.status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.status() != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, _, err) = exec(&b, &[&b.id, "true"]);
    assert_eq!(code, 255);
    assert!(err.contains("cannot exec in a stopped container"), "{err}");
}

#[test]
fn signals_are_forwarded_in_the_foreground() {
    require_root!();
    let mut b = Bundle::new("exsig");
    start_sleeper(&mut b);
    let mut child = Command::new(reno_bin())
        .arg("--root")
        .arg(&b.root)
        .args([
            "exec",
            &b.id,
            "sh",
            "-c",
            "trap 'exit 42' USR1; while true; do sleep 0.05; done",
        ])
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id() as i32;
    let _ = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.and_then(|s| s.code()), Some(42));
}

#[test]
fn socket_activation_listen_fds_on_run() {
    require_root!();
    let mut b = Bundle::new("listenfds");
    b.sh("echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4 2>/dev/null || echo fd4-closed");
    b.write_config();
    let data = b.dir.join("fd3.txt");
    std::fs::write(&data, "activated\n").expect("write");
    let run = |pid: &str| {
        // exec keeps the shell's pid, so LISTEN_PID=$$ names reno, as systemd would.
        let cmd = format!(
            "exec 3<{} 4</dev/null; LISTEN_FDS=1 LISTEN_PID={pid} exec {} --root {} run --bundle {} {}",
            data.display(),
            reno_bin().display(),
            b.root.display(),
            b.dir.display(),
            b.id
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&cmd)
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run("$$");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l.first().copied(), Some("1 1"), "{out}");
    assert_eq!(l.get(1).copied(), Some("activated"), "{out}");
    assert_eq!(l.get(2).copied(), Some("fd4-closed"), "{out}");
    // LISTEN_PID naming another process: nothing is passed (go-systemd's rule).
    let out = run("1");
    assert!(out.starts_with(" \n") || out.starts_with('\n'), "{out:?}");
}
