//! Rootless containers: a real unprivileged user (made here with useradd, with ranges in
//! /etc/subuid and /etc/subgid) runs `reno --root <its dir> run` of a bundle with a user
//! namespace. Its own id is mapped directly; several ranges go through newuidmap/newgidmap.
//! Without a delegated cgroup the containers run without one (runc's behaviour), and a
//! config with limits fails with a clear error and leaves nothing behind; with memory and
//! pids hierarchies delegated (as systemd does), the container gets its limits there.
//! seccomp NOTIFY reaches an in-test agent from a rootless `run` and `exec`.

mod common;
#[path = "common/notify_agent.rs"]
mod notify_agent;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::Bundle;
use serde_json::{json, Value};

const USER: &str = "reno-rootless";
const SUB_COUNT: u32 = 65536;

/// The leftover checks look at every process of the user: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct User {
    uid: u32,
    gid: u32,
    /// First host id of its /etc/subuid and /etc/subgid range.
    sub: u32,
}

/// Make the user (once) and its subordinate ranges; None (after printing SKIP) when the
/// machine can't.
fn user() -> Option<User> {
    if let Some(why) = common::skip_reason() {
        skip!("rootless: {why}");
        return None;
    }
    if id_of("-u").is_none() {
        let out = Command::new("useradd")
            .args([
                "--no-create-home",
                "--shell",
                "/bin/sh",
                "--home-dir",
                "/nonexistent",
            ])
            .arg(USER)
            .output();
        match out {
            Ok(o) if o.status.success() || o.status.code() == Some(9) => {}
            Ok(o) => {
                skip!("rootless: useradd failed: {}", common::stderr(&o));
                return None;
            }
            Err(e) => {
                skip!("rootless: useradd not found: {e}");
                return None;
            }
        }
    }
    let (uid, gid) = (id_of("-u")?, id_of("-g")?);
    let sub = match (sub_start("/etc/subuid"), sub_start("/etc/subgid")) {
        (Some(u), Some(g)) if u == g => u,
        _ => add_sub_ranges()?,
    };
    Some(User { uid, gid, sub })
}

fn id_of(flag: &str) -> Option<u32> {
    let o = Command::new("id").arg(flag).arg(USER).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// The start of USER's range in /etc/subuid or /etc/subgid.
fn sub_start(file: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && f[0] == USER && f[2].parse() == Ok(SUB_COUNT))
            .then(|| f[1].parse().ok())
            .flatten()
    })
}

/// Give USER one range, the same in both files, above every range already there.
fn add_sub_ranges() -> Option<u32> {
    let mut start = 300_000u32;
    for file in ["/etc/subuid", "/etc/subgid"] {
        for l in std::fs::read_to_string(file).unwrap_or_default().lines() {
            let f: Vec<&str> = l.split(':').collect();
            if let (Some(s), Some(n)) = (
                f.get(1).and_then(|s| s.parse::<u32>().ok()),
                f.get(2).and_then(|s| s.parse::<u32>().ok()),
            ) {
                start = start.max(s.saturating_add(n));
            }
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{USER}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        if let Err(e) = std::fs::write(file, format!("{kept}{USER}:{start}:{SUB_COUNT}\n")) {
            skip!("rootless: cannot write {file}: {e}");
            return None;
        }
    }
    Some(start)
}

fn have_newuidmap() -> bool {
    ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]
        .iter()
        .all(|p| Path::new(p).exists())
}

/// A bundle the user owns, with a copy of reno it can execute (the build tree may not be
/// reachable for it) and a config from `reno spec --rootless` run as the user.
struct RootlessBundle {
    b: Bundle,
    reno: PathBuf,
    state: PathBuf,
}

impl RootlessBundle {
    fn new(u: &User, name: &str) -> RootlessBundle {
        let b = Bundle::new(name);
        let base = b.dir.parent().expect("bundle base").to_path_buf();
        let reno = base.join("reno");
        std::fs::copy(common::reno_bin(), &reno).expect("copy reno");
        let _ = std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/whoami"));
        std::fs::write(
            b.rootfs().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/tmp:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(b.rootfs().join("etc/group"), "root:x:0:\nalice:x:1000:\n").expect("group");
        std::fs::set_permissions(
            b.rootfs().join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .expect("chmod tmp");
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", u.uid, u.gid))
            .arg(&base)
            .status()
            .expect("chown");
        assert!(st.success());
        let state = base.join("state");
        let mut rb = RootlessBundle { b, reno, state };
        let dir = rb.b.dir.to_string_lossy().into_owned();
        std::fs::remove_file(rb.b.dir.join("config.json")).expect("remove root's config");
        let out = rb.reno_as(u, &["spec", "--rootless", "--bundle", &dir]);
        assert!(out.status.success(), "spec: {}", common::stderr(&out));
        rb.b.config = serde_json::from_slice(
            &std::fs::read(rb.b.dir.join("config.json")).expect("read config"),
        )
        .expect("parse config");
        rb.b.config["process"]["terminal"] = json!(false);
        rb
    }

    /// `reno --root <state> ARGS…` as the user; stdio through files.
    fn reno_as(&self, u: &User, args: &[&str]) -> Output {
        common::output_via_files(
            Command::new(&self.reno)
                .arg("--root")
                .arg(&self.state)
                .args(args)
                .uid(u.uid)
                .gid(u.gid)
                .env_remove("XDG_RUNTIME_DIR")
                .current_dir(&self.b.dir),
        )
    }

    /// `reno_as` that must succeed; its stdout.
    fn reno_ok(&self, u: &User, args: &[&str]) -> String {
        let out = self.reno_as(u, args);
        assert!(
            out.status.success(),
            "{}: {}",
            args[0],
            common::stderr(&out)
        );
        common::stdout(&out)
    }

    fn run_as(&self, u: &User) -> (i32, String, String) {
        self.b.write_config();
        let out = self.reno_as(u, &["run", &self.b.id]);
        (
            out.status.code().unwrap_or(-1),
            common::stdout(&out),
            common::stderr(&out),
        )
    }

    /// No state dir, no mount of the rootfs, no process of the user or its sub-range, no
    /// cgroup.
    fn assert_nothing_left(&self, u: &User) {
        let left: Vec<_> = std::fs::read_dir(&self.state)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "state left behind: {left:?}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let rootfs = self.b.rootfs();
        assert!(
            !mounts.contains(rootfs.to_string_lossy().as_ref()),
            "mount left behind under {}",
            rootfs.display()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let procs = processes_of(u);
            if procs.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "processes left behind: {procs:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.b.assert_no_leftovers();
    }
}

/// (pid, uid) of every process running as the user or an id of its range.
fn processes_of(u: &User) -> Vec<(String, u32)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let uid = common::status_field(&status, "Uid")
            .and_then(|f| f.split_whitespace().next())
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(uid) = uid {
            if uid == u.uid || (u.sub..u.sub + SUB_COUNT).contains(&uid) {
                v.push((name, uid));
            }
        }
    }
    v
}

#[test]
fn rootless_spec_runs_as_root_of_its_own_user_namespace() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    let mut rb = RootlessBundle::new(&u, "rl-spec");
    rb.b.sh(
        "id; whoami; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
             touch /root-made 2>&1; hostname",
    );
    rb.b.config["root"]["readonly"] = json!(false);
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("uid=0(root) gid=0(root)"), "{out}");
    assert_eq!(lines[1], "root");
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(words(lines[2]), ["0", &u.uid.to_string(), "1"]);
    assert_eq!(words(lines[3]), ["0", &u.gid.to_string(), "1"]);
    // One own-gid mapping written directly: the kernel requires setgroups denied.
    assert_eq!(lines[4], "deny");
    assert_eq!(lines.last(), Some(&"reno"));
    // Root inside is the user outside.
    let md = std::fs::metadata(rb.b.rootfs().join("root-made")).expect("file made inside");
    assert_eq!((md.uid(), md.gid()), (u.uid, u.gid));
    rb.assert_nothing_left(&u);
}

#[test]
fn rootless_subid_ranges_through_newuidmap() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    if !have_newuidmap() {
        skip!("rootless_subid_ranges: newuidmap/newgidmap missing (tests/install-deps installs uidmap)");
        return;
    }
    let mut rb = RootlessBundle::new(&u, "rl-subid");
    let maps = |own: u32| {
        json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": u.sub, "size": SUB_COUNT}
        ])
    };
    rb.b.config["linux"]["uidMappings"] = maps(u.uid);
    rb.b.config["linux"]["gidMappings"] = maps(u.gid);
    rb.b.config["root"]["readonly"] = json!(false);
    rb.b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 5]});
    rb.b.sh(
        "id; whoami; cat /proc/self/setgroups; touch /tmp/alice-made; \
             mkdir /tmp/alice-dir && touch /tmp/alice-dir/f && echo made",
    );
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "uid=1000(alice) gid=1000(alice) groups=5,1000(alice)",
        "{out}"
    );
    assert_eq!(lines[1], "alice");
    // newgidmap leaves setgroups allowed (the additional gids above needed it).
    assert_eq!(lines[2], "allow");
    assert_eq!(lines[3], "made");
    // uid 1000 inside is sub + 999 outside.
    for f in ["tmp/alice-made", "tmp/alice-dir", "tmp/alice-dir/f"] {
        let md = std::fs::metadata(rb.b.rootfs().join(f)).expect(f);
        assert_eq!((md.uid(), md.gid()), (u.sub + 999, u.sub + 999), "{f}");
    }
    rb.assert_nothing_left(&u);
}

#[test]
fn rootless_mapping_outside_the_subid_range_is_refused() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    if !have_newuidmap() {
        skip!("rootless_mapping_outside: newuidmap missing");
        return;
    }
    let mut rb = RootlessBundle::new(&u, "rl-badmap");
    // Host root is not the user's to map.
    rb.b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    rb.b.sh("id");
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("newuidmap"), "{err}");
    rb.assert_nothing_left(&u);
}

#[test]
fn rootless_limits_without_a_cgroup_fail_cleanly() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    let mut rb = RootlessBundle::new(&u, "rl-limits");
    rb.b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    rb.b.sh("id");
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("rootless") && err.contains("memory"), "{err}");
    rb.assert_nothing_left(&u);
    // Device rules alone (runc's default deny-all) are ignored, as runc does.
    rb.b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    rb.assert_nothing_left(&u);
}

#[test]
fn rootless_lifecycle_create_exec_kill_delete() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    let mut rb = RootlessBundle::new(&u, "rl-life");
    rb.b.args(&["sleep", "60"]);
    rb.b.write_config();
    let id = rb.b.id.clone();
    rb.reno_ok(&u, &["create", &id]);
    rb.reno_ok(&u, &["start", &id]);
    let out = rb.reno_as(&u, &["state", &id]);
    let st: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(st["status"], "running", "{}", common::stderr(&out));
    // `reno exec` as the user: joins the user namespace first, then the pid namespace
    // (the double fork), and sees the container's processes.
    let out = rb.reno_as(&u, &["exec", &id, "sh", "-c", "id -u; cat /proc/1/cmdline"]);
    assert!(out.status.success(), "exec: {}", common::stderr(&out));
    assert_eq!(common::stdout(&out), "0\nsleep\u{0}60\u{0}");
    // uid 1000 is not mapped by `spec --rootless` (only 0 is): a clear error.
    let out = rb.reno_as(&u, &["exec", "--user", "1000:1000", &id, "id"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("setresgid 1000"),
        "{}",
        common::stderr(&out)
    );
    // No cgroup, so nothing to freeze: a clear error, not the root cgroup frozen.
    let out = rb.reno_as(&u, &["pause", &id]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("rootless"),
        "{}",
        common::stderr(&out)
    );
    // No cgroup: `kill --all` signals the init (never the root cgroup's processes).
    let out = rb.reno_as(&u, &["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", common::stderr(&out));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let out = rb.reno_as(&u, &["state", &id]);
        let st: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if st["status"] == "stopped" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {st}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = rb.reno_as(&u, &["delete", &id]);
    assert!(out.status.success(), "delete: {}", common::stderr(&out));
    rb.assert_nothing_left(&u);
}

/// A unix socket of the root-run agent that the user may connect to.
fn agent_for_user(
    rb: &RootlessBundle,
    name: &str,
    n: usize,
) -> (
    PathBuf,
    std::sync::mpsc::Receiver<Result<notify_agent::Seen, String>>,
) {
    let sock = rb.state.parent().expect("bundle base").join(name);
    let rx = notify_agent::agent_n(&sock, n);
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod agent socket");
    (sock, rx)
}

fn agent_seen(
    rx: &std::sync::mpsc::Receiver<Result<notify_agent::Seen, String>>,
) -> notify_agent::Seen {
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("agent finished")
        .expect("agent ok")
}

/// x86_64 mkdir, mkdirat: what the agent must have been asked about.
const MKDIRS: [i32; 2] = [83, 258];

#[test]
fn rootless_seccomp_notify_reaches_the_agent() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    if std::env::consts::ARCH != "x86_64" {
        skip!("rootless notify test checks x86_64 syscall numbers");
        return;
    }
    // The listener is loaded after no_new_privs (as the process's user) or before the
    // capabilities drop (without it): two hand-over points. With subordinate ranges the
    // process's user (1000 inside) is not ours outside: pidfd_getfd then passes on our
    // capabilities over the container's user namespace, not on a uid match.
    let subid = have_newuidmap();
    if !subid {
        skip!("rootless notify as uid 1000: newuidmap/newgidmap missing (tests/install-deps installs uidmap)");
    }
    let cases = [(true, false), (false, false), (true, true)];
    for (nnp, as_1000) in cases.into_iter().filter(|c| subid || !c.1) {
        let name = format!(
            "rl-notify-{}{}",
            if nnp { "nnp" } else { "caps" },
            if as_1000 { "-1000" } else { "" }
        );
        let mut rb = RootlessBundle::new(&u, &name);
        let (sock, rx) = agent_for_user(&rb, "agent.sock", 1);
        rb.b.config["root"]["readonly"] = json!(false);
        rb.b.config["process"]["noNewPrivileges"] = json!(nnp);
        rb.b.config["linux"]["seccomp"] = notify_agent::notify_profile(&sock);
        let mut owner = u.uid;
        if as_1000 {
            let maps = |own: u32| {
                json!([
                    {"containerID": 0, "hostID": own, "size": 1},
                    {"containerID": 1, "hostID": u.sub, "size": SUB_COUNT}
                ])
            };
            rb.b.config["linux"]["uidMappings"] = maps(u.uid);
            rb.b.config["linux"]["gidMappings"] = maps(u.gid);
            rb.b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            owner = u.sub + 999;
        }
        rb.b.sh(
            "mkdir /tmp/a; echo first=$?; mkdir /tmp/b; echo second=$?; \
             test -d /tmp/b && echo b-exists; test -d /tmp/a || echo a-missing",
        );
        let (code, out, err) = rb.run_as(&u);
        assert_eq!(code, 0, "{name}\nstdout:\n{out}\nstderr:\n{err}");
        // The agent failed the first mkdir (EROFS) and let the second run.
        assert_eq!(out, "first=1\nsecond=0\nb-exists\na-missing\n", "{name}");
        let seen = agent_seen(&rx);
        assert_eq!(seen.calls.len(), 2, "{name}: {:?}", seen.calls);
        assert!(
            seen.calls.iter().all(|n| MKDIRS.contains(n)),
            "{:?}",
            seen.calls
        );
        assert_eq!(seen.state["state"]["id"], json!(rb.b.id));
        assert_eq!(seen.state["metadata"], "reno-test-metadata");
        // The container's own process made b.
        let md = std::fs::metadata(rb.b.rootfs().join("tmp/b")).expect("b made");
        assert_eq!(md.uid(), owner, "{name}");
        rb.assert_nothing_left(&u);
    }
}

#[test]
fn rootless_seccomp_notify_for_exec() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    if std::env::consts::ARCH != "x86_64" {
        skip!("rootless notify test checks x86_64 syscall numbers");
        return;
    }
    let mut rb = RootlessBundle::new(&u, "rl-notify-exec");
    let (sock, rx) = agent_for_user(&rb, "agent.sock", 2);
    rb.b.config["root"]["readonly"] = json!(false);
    rb.b.config["linux"]["seccomp"] = notify_agent::notify_profile(&sock);
    rb.b.args(&["sleep", "60"]);
    rb.b.write_config();
    let id = rb.b.id.clone();
    rb.reno_ok(&u, &["create", &id]);
    rb.reno_ok(&u, &["start", &id]);
    // The exec'd process gets a listener of its own (a second connection to the agent),
    // whose first mkdir fails; then it lists its fds: only stdio (what a process
    // without --preserve-fds gets), nothing left over from the hand-over.
    let out = rb.reno_ok(
        &u,
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "mkdir /tmp/x; echo rc=$?; mkdir /tmp/y; echo rc=$?; ls /proc/self/fd",
        ],
    );
    assert_eq!(out, "rc=1\nrc=0\n0\n1\n2\n3\n");
    rb.reno_ok(&u, &["kill", &id, "KILL"]);
    let mut states = vec![agent_seen(&rx).state, agent_seen(&rx).state];
    states.sort_by_key(|s| s["state"]["status"].as_str().map(str::to_string));
    assert_eq!(states[0]["state"]["status"], "creating", "{states:?}");
    assert_eq!(states[1]["state"]["status"], "running", "{states:?}");
    assert_ne!(
        states[0]["pid"], states[1]["pid"],
        "the exec process's own pid"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let out = rb.reno_as(&u, &["delete", &id]);
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delete: {}",
            common::stderr(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rb.assert_nothing_left(&u);
}

/// Root delegates a cgroup to the user the way systemd's `Delegate=yes` and runc's rootless
/// tests do on cgroup v1: in each hierarchy named, a directory owned by the user, with its
/// `cgroup.procs` and `tasks`. Removed (with anything left below) on drop.
struct Delegated {
    dirs: Vec<PathBuf>,
}

const DELEG: &str = "reno-rootless-deleg";

impl Delegated {
    /// None (after printing SKIP) when the host has no v1 hierarchy for one of `ctrls`.
    fn new(u: &User, ctrls: &[&str]) -> Option<Delegated> {
        let mut d = Delegated { dirs: Vec::new() };
        for c in ctrls {
            let mount = Path::new("/sys/fs/cgroup").join(c);
            if !mount.join("tasks").exists() {
                skip!(
                    "rootless delegation: no cgroup v1 {c} hierarchy at {}",
                    mount.display()
                );
                return None;
            }
            let dir = mount.join(DELEG);
            d.remove_one(&dir);
            std::fs::create_dir(&dir).expect("mkdir delegated cgroup");
            d.dirs.push(dir.clone());
            for p in [dir.clone(), dir.join("cgroup.procs"), dir.join("tasks")] {
                std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).expect("chown");
            }
        }
        Some(d)
    }

    fn remove_one(&self, dir: &Path) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for d in &self.dirs {
            self.remove_one(d);
        }
    }
}

#[test]
fn rootless_delegated_cgroup_gets_limits() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(u) = user() else { return };
    let Some(deleg) = Delegated::new(&u, &["memory", "pids"]) else {
        return;
    };
    let mut rb = RootlessBundle::new(&u, "rl-deleg");
    let id = rb.b.id.clone();
    let cg = format!("/{DELEG}/{id}");
    rb.b.config["linux"]["cgroupsPath"] = json!(cg);
    rb.b.config["linux"]["resources"] =
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 32}});
    // The container reads its own limits through the host's /sys (`spec --rootless` binds
    // it) and its own cgroups (its cgroup namespace's root, so "/"); the cpu hierarchy,
    // not delegated, has no directory for it.
    rb.b.sh(&format!(
        "grep -E ':(memory|pids):' /proc/self/cgroup | cut -d: -f2-; \
         cat /sys/fs/cgroup/memory{cg}/memory.limit_in_bytes /sys/fs/cgroup/pids{cg}/pids.max; \
         test -e /sys/fs/cgroup/cpu/{DELEG} || echo no-cpu-cgroup"
    ));
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines[..2].sort_unstable();
    assert_eq!(
        lines,
        ["memory:/", "pids:/", "67108864", "32", "no-cpu-cgroup"],
        "{out}"
    );
    // `run` deleted the container: its sub-cgroup is gone, the delegated one stays.
    for d in &deleg.dirs {
        assert!(d.is_dir(), "{} removed", d.display());
        assert!(!d.join(&id).exists(), "{}/{id} left behind", d.display());
    }
    rb.assert_nothing_left(&u);

    // create, exec, ps, delete: the exec'd process joins the delegated cgroups only.
    rb.b.args(&["sleep", "60"]);
    rb.b.write_config();
    let out = rb.reno_as(&u, &["create", &id]);
    assert!(out.status.success(), "create: {}", common::stderr(&out));
    let procs = std::fs::read_to_string(deleg.dirs[0].join(&id).join("cgroup.procs"))
        .expect("the container's memory cgroup");
    assert_eq!(procs.lines().count(), 1, "the init: {procs}");
    rb.reno_ok(&u, &["start", &id]);
    let out = rb.reno_ok(
        &u,
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "grep -E ':(memory|pids):' /proc/self/cgroup | cut -d: -f2-",
        ],
    );
    let mut seen: Vec<String> = out.lines().map(str::to_string).collect();
    seen.sort();
    assert_eq!(seen, ["memory:/", "pids:/"]);
    let out = rb.reno_ok(&u, &["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&out).expect("ps json");
    assert_eq!(pids.len(), 1, "{pids:?}");
    rb.reno_ok(&u, &["delete", "--force", &id]);
    for d in &deleg.dirs {
        assert!(!d.join(&id).exists(), "{}/{id} left behind", d.display());
    }
    rb.assert_nothing_left(&u);

    // A limit whose controller was not delegated: a clear error, nothing left.
    rb.b.sh("true");
    rb.b.config["linux"]["resources"] = json!({"pids": {"limit": 32}, "cpu": {"shares": 512}});
    let (code, out, err) = rb.run_as(&u);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("rootless") && err.contains("cpu"), "{err}");
    for d in &deleg.dirs {
        assert!(!d.join(&id).exists(), "{}/{id} left behind", d.display());
    }
    rb.assert_nothing_left(&u);
}
