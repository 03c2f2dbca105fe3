//! Robustness: power loss (bad state files), concurrency (id collisions, racing starts),
//! resource exhaustion (pids, memory, a full state filesystem, EMFILE) and a long
//! run/delete loop that must keep reno's fds, mounts and memory flat. Every case ends with
//! the "nothing left behind" check of tests/robustness/leftovers.rs.

mod common;
#[path = "robustness/leftovers.rs"]
mod leftovers;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{reno_bin, reno_with_files, stderr, stdout, Bundle};
use serde_json::{json, Value};

fn tagged(name: &str) -> (Bundle, String) {
    let mut b = Bundle::new(name);
    let tag = format!("RENO_ROBUST_TAG={}", b.id);
    b.args(&["sleep", "1000"]);
    b.config["process"]["env"]
        .as_array_mut()
        .expect("env")
        .push(json!(tag));
    (b, tag)
}

fn assert_clean(b: &Bundle, tag: &str) {
    let left = leftovers::settle(3000, || {
        leftovers::leftovers(&b.root, &b.id, &b.rootfs(), tag)
    });
    assert!(left.is_empty(), "{}: left behind: {left:?}", b.id);
}

fn last_line(s: &str) -> String {
    s.trim().lines().last().unwrap_or("").to_string()
}

/// Power loss: state.json empty, truncated, garbage, missing (create died before its first
/// save), or with values out of range. `state` must say so clearly, `list` must go on, and
/// `delete --force` must remove everything, the still-running init included.
#[test]
fn power_loss_state_files() {
    require_root!();
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("empty", Some(Vec::new())),
        ("truncated", None),
        ("garbage", Some(b"\x00\xff\x13garbage\x7f".to_vec())),
        ("null", Some(b"null".to_vec())),
        ("no id", Some(br#"{"pid": 1}"#.to_vec())),
        (
            "pid out of range",
            Some(br#"{"id":"x","pid":4294967297}"#.to_vec()),
        ),
        ("missing", Some(b"<delete>".to_vec())),
    ];
    let mut rows = Vec::new();
    for (what, content) in cases {
        let (b, tag) = tagged(&format!("power-{}", what.replace(' ', "-")));
        let o = b.create();
        assert!(o.status.success(), "create: {}", stderr(&o));
        let sf = b.root.join(&b.id).join("state.json");
        let good = std::fs::read(&sf).expect("state.json");
        match content {
            None => std::fs::write(&sf, &good[..good.len() / 2]).expect("truncate"),
            Some(c) if c == b"<delete>" => std::fs::remove_file(&sf).expect("rm"),
            Some(c) => std::fs::write(&sf, c).expect("write"),
        }
        let st = b.reno(&["state", &b.id]);
        let list = b.reno(&["list"]);
        assert!(
            list.status.success(),
            "{what}: list failed: {}",
            stderr(&list)
        );
        let said = if st.status.success() {
            let v: Value = serde_json::from_slice(&st.stdout).expect("state json");
            format!("status {}", v["status"])
        } else {
            let e = last_line(&stderr(&st));
            assert!(e.contains("state"), "{what}: unclear error: {e}");
            e
        };
        let d = b.reno(&["delete", "--force", &b.id]);
        assert!(d.status.success(), "{what}: delete --force: {}", stderr(&d));
        assert_clean(&b, &tag);
        rows.push(format!(
            "state.json {what} | state: {said} | list: {} | delete --force: ok, nothing left",
            last_line(&stderr(&list)).trim_start_matches("reno: ")
        ));
    }
    write_rows("power-loss", &rows);
}

fn write_rows(name: &str, rows: &[String]) {
    println!("{}", rows.join("\n"));
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.txt")),
        rows.join("\n"),
    );
}

/// 200 create/start/kill/delete operations from 16 callers on 50 ids: first every id is
/// created twice at once (exactly one wins, the other gets "container with id exists"),
/// then starts (some racing), kills and deletes in random order. Errors must be the known
/// wrong-state ones, `state` must always parse, and nothing may remain at the end.
#[test]
fn concurrent_operations_on_50_ids() {
    require_root!();
    let (b, _) = tagged("conc");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let ids: Vec<String> = (0..50).map(|i| format!("{}-{i}", b.id)).collect();
    let mut ops: Vec<(String, String)> = Vec::new();
    for id in &ids {
        ops.push(("create".into(), id.clone()));
        ops.push(("create".into(), id.clone()));
    }
    let mut seed = 0x1234_5678u64;
    let mut rnd = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut second: Vec<(String, String)> = Vec::new();
    for _ in 0..100 {
        let op = ["start", "start", "kill", "delete"][rnd(4)];
        second.push((op.into(), ids[rnd(ids.len())].clone()));
    }
    let run_phase = |ops: Vec<(String, String)>| -> Vec<(String, String, bool, String)> {
        let queue = Arc::new(Mutex::new(ops));
        let results = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (q, res, root, bundle) = (
                    queue.clone(),
                    results.clone(),
                    b.root.clone(),
                    bundle.clone(),
                );
                std::thread::spawn(move || loop {
                    let Some((op, id)) = q.lock().expect("queue").pop() else {
                        break;
                    };
                    let args: Vec<&str> = match op.as_str() {
                        "create" => vec!["create", "--bundle", &bundle, &id],
                        "kill" => vec!["kill", &id, "KILL"],
                        o => vec![o, &id],
                    };
                    let out = reno_with_files(&root, &args);
                    res.lock().expect("results").push((
                        op.clone(),
                        id.clone(),
                        out.status.success(),
                        stderr(&out),
                    ));
                })
            })
            .collect();
        for t in threads {
            t.join().expect("caller thread");
        }
        let all = results.lock().expect("results").clone();
        all
    };
    let t0 = Instant::now();
    let first = run_phase(ops);
    for id in &ids {
        let wins = first.iter().filter(|(_, i, ok, _)| i == id && *ok).count();
        assert_eq!(wins, 1, "{id}: {wins} creates won: {first:?}");
        let lose = first
            .iter()
            .find(|(_, i, ok, _)| i == id && !*ok)
            .expect("a loser");
        assert!(
            lose.3.contains(&format!("container with id exists: {id}")),
            "{id}: loser said {}",
            lose.3
        );
    }
    let rest = run_phase(second);
    let known = [
        "cannot start an already running container",
        "cannot start a container that has stopped",
        "container not running",
        "container does not exist",
        "that is not stopped",
    ];
    for (op, id, ok, err) in &rest {
        assert!(
            *ok || known.iter().any(|k| err.contains(k)),
            "{op} {id}: unexpected error: {err}"
        );
        assert!(!err.contains("panicked"), "{op} {id} panicked: {err}");
    }
    for id in &ids {
        let st = reno_with_files(&b.root, &["state", id]);
        if st.status.success() {
            let v: Value = serde_json::from_slice(&st.stdout).expect("state parses");
            assert!(
                ["created", "running", "stopped"].contains(&v["status"].as_str().unwrap_or("")),
                "{id}: {v}"
            );
        } else {
            assert!(
                stderr(&st).contains("container does not exist"),
                "{id}: {}",
                stderr(&st)
            );
        }
    }
    let list = reno_with_files(&b.root, &["list", "--format", "json"]);
    assert!(
        list.status.success() && stderr(&list).is_empty(),
        "list: {}",
        stderr(&list)
    );
    for id in &ids {
        let d = reno_with_files(&b.root, &["delete", "--force", id]);
        assert!(d.status.success(), "{id}: {}", stderr(&d));
    }
    let tag = format!("RENO_ROBUST_TAG={}", b.id);
    for id in &ids {
        let left = leftovers::settle(3000, || {
            leftovers::leftovers(&b.root, id, &b.rootfs(), "\u{0}never")
        });
        assert!(left.is_empty(), "{id}: {left:?}");
    }
    let procs = leftovers::settle(3000, || {
        leftovers::tagged_pids(&tag)
            .iter()
            .map(|p| p.to_string())
            .collect()
    });
    assert!(procs.is_empty(), "processes left: {procs:?}");
    let count = |ok: bool, op: &str| {
        first
            .iter()
            .chain(&rest)
            .filter(|r| r.0 == op && r.2 == ok)
            .count()
    };
    println!(
        "concurrency: 200 ops, 16 callers, 50 ids in {:.1} s: create {} won / {} lost; start {} ok / {} refused; kill {} / {}; delete {} / {}",
        t0.elapsed().as_secs_f64(),
        count(true, "create"), count(false, "create"), count(true, "start"), count(false, "start"),
        count(true, "kill"), count(false, "kill"), count(true, "delete"), count(false, "delete"),
    );
}

/// Two `start`s of one created container at once: exactly one starts it.
#[test]
fn concurrent_starts() {
    require_root!();
    for round in 0..10 {
        let (b, tag) = tagged(&format!("start2-{round}"));
        let o = b.create();
        assert!(o.status.success(), "create: {}", stderr(&o));
        let outs: Vec<_> = (0..2)
            .map(|_| {
                let (root, id) = (b.root.clone(), b.id.clone());
                std::thread::spawn(move || reno_with_files(&root, &["start", &id]))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let ok = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(ok, 1, "round {round}: {ok} starts succeeded");
        let loser = outs.iter().find(|o| !o.status.success()).expect("loser");
        assert!(
            stderr(loser).contains("cannot start an already running container"),
            "{}",
            stderr(loser)
        );
        assert_eq!(b.status(), "running");
        let d = b.reno(&["delete", "--force", &b.id]);
        assert!(d.status.success(), "{}", stderr(&d));
        assert_clean(&b, &tag);
    }
}

/// A container that runs out of pids: its forks fail, reno is unaffected, delete cleans.
#[test]
fn exhaustion_pids_limit() {
    require_root!();
    let (mut b, tag) = tagged("pids");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 4}});
    b.sh("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo forked");
    let (code, out, err) = b.run();
    let all = format!("{out}{err}");
    assert!(
        all.contains("can't fork") || all.contains("Resource temporarily unavailable"),
        "code {code}: {all}"
    );
    assert_clean(&b, &tag);
    write_rows(
        "exhaustion-pids",
        &[format!(
            "pids.limit 4, 8 forks | exit {code}: {}",
            last_line(&all)
        )],
    );
}

/// A container that runs out of memory is OOM-killed: run reports 137, nothing remains.
#[test]
fn exhaustion_memory_limit() {
    require_root!();
    let (mut b, tag) = tagged("oom");
    b.config["linux"]["resources"] =
        json!({"memory": {"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024}});
    b.args(&["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]);
    let (code, out, err) = b.run();
    assert_eq!(code, 137, "OOM kill expected\n{out}{err}");
    assert_clean(&b, &tag);
    write_rows(
        "exhaustion-memory",
        &[format!("memory.limit 16 MiB, dd bs=256M | exit {code}")],
    );
}

/// The state root on a full 64 KiB tmpfs: create fails with ENOSPC and leaves nothing.
#[test]
fn exhaustion_full_state_filesystem() {
    require_root!();
    let (b, tag) = tagged("enospc");
    b.write_config();
    let root = b.dir.parent().expect("base").join("tiny");
    std::fs::create_dir_all(&root).expect("mkdir");
    let m = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,nr_inodes=64", "tmpfs"])
        .arg(&root)
        .status();
    if !matches!(m, Ok(s) if s.success()) {
        skip!("exhaustion_full_state_filesystem: cannot mount a tmpfs");
        return;
    }
    // Fill it, leaving room for less than the state files need.
    let _ = std::fs::write(root.join("fill"), vec![0u8; 60 * 1024]);
    let _ = Command::new("dd")
        .arg(format!("of={}", root.join("fill2").display()))
        .args(["if=/dev/zero", "bs=4k"])
        .stderr(Stdio::null())
        .status();
    let bundle = b.dir.to_string_lossy().into_owned();
    let o = reno_with_files(&root, &["create", "--bundle", &bundle, &b.id]);
    let err = stderr(&o);
    let left = leftovers::settle(3000, || {
        leftovers::leftovers(&root, &b.id, &b.rootfs(), &tag)
    });
    let _ = reno_with_files(&root, &["delete", "--force", &b.id]);
    let _ = Command::new("umount").arg(&root).status();
    assert!(!o.status.success(), "create on a full fs succeeded");
    assert!(err.contains("No space left on device"), "unclear: {err}");
    assert!(left.is_empty(), "left behind: {left:?}");
    write_rows(
        "exhaustion-enospc",
        &[format!("state root on a full tmpfs | {}", last_line(&err))],
    );
}

/// reno itself with few fds (ulimit -n N for N = 4..24): each create either works or fails
/// with a clear error, and nothing is half-made.
#[test]
fn exhaustion_emfile() {
    require_root!();
    let (mut b, tag) = tagged("emfile");
    // Only reno's own fds are short here: no container rlimit to raise (raising the hard
    // limit needs CAP_SYS_RESOURCE, which this test's caller may not have).
    b.config["process"]["rlimits"] = json!([]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut rows = Vec::new();
    for n in 4..=24 {
        let script =
            format!("ulimit -n {n} && exec \"$0\" --root \"$1\" create --bundle \"$2\" \"$3\"");
        // stderr through a file: the created init inherits it and would hold a pipe.
        let errf = b.dir.join("emfile.err");
        let status = Command::new("/bin/sh")
            .args(["-c", &script])
            .arg(reno_bin())
            .arg(&b.root)
            .arg(&bundle)
            .arg(&b.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&errf).expect("err file"))
            .status()
            .expect("sh");
        let o = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&errf).unwrap_or_default(),
        };
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "ulimit -n {n}: {err}");
        if o.status.success() {
            let s = b.reno(&["start", &b.id]);
            assert!(s.status.success(), "ulimit -n {n}: start: {}", stderr(&s));
            let d = b.reno(&["delete", "--force", &b.id]);
            assert!(d.status.success(), "{}", stderr(&d));
            rows.push(format!("ulimit -n {n} | create ok"));
        } else {
            let left = leftovers::settle(3000, || {
                leftovers::leftovers(&b.root, &b.id, &b.rootfs(), &tag)
            });
            assert!(
                left.is_empty(),
                "ulimit -n {n}: failed create left {left:?}; error: {err}"
            );
            assert!(
                err.contains("Too many open files") || err.contains("EMFILE"),
                "ulimit -n {n}: unclear: {err}"
            );
            rows.push(format!("ulimit -n {n} | {}", last_line(&err)));
        }
        assert_clean(&b, &tag);
    }
    write_rows("exhaustion-emfile", &rows);
}

fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn vm_rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    common::status_field(&s, "VmRSS")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Host mounts under this test process's temp dirs (others may mount elsewhere meanwhile).
fn host_mounts() -> usize {
    let mine = format!("/reno-it-{}-", std::process::id());
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| s.lines().filter(|l| l.contains(&mine)).count())
        .unwrap_or(0)
}

/// Our cgroups (ids of this test process) in every hierarchy: other users of the machine
/// may add and remove their own meanwhile.
/// reno's cgroups of the long-run test's own containers (other tests of this binary run in
/// parallel threads of the same process and make cgroups of their own).
fn reno_cgroups() -> usize {
    let mine = format!("it-long-{}-", std::process::id());
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|h| {
            std::fs::read_dir(h.path().join("reno"))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy().contains(&mine))
                        .count()
                })
                .unwrap_or(0)
        })
        .sum()
}

/// RENO_CYCLES (default 300; `tests/robustness/long-run.sh` does 10,000) sequential
/// `run`/delete cycles. Every 50th, while the container sleeps, reno's own fd count and
/// RSS are read from /proc, with the host's mount count and reno cgroup count: all flat.
#[test]
fn long_run_cycles() {
    require_root!();
    let cycles: usize = std::env::var("RENO_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let (mut b, tag) = tagged("long");
    let bundle = b.dir.to_string_lossy().into_owned();
    let (mounts0, cgroups0) = (host_mounts(), reno_cgroups());
    let mut samples: Vec<(usize, usize, u64, usize, usize, String)> = Vec::new();
    let t0 = Instant::now();
    for i in 0..cycles {
        let sample = i % 50 == 0 || i + 1 == cycles;
        if sample {
            b.sh("ls /proc/self/fd | wc -l; sleep 0.3");
        } else {
            b.args(&["true"]);
        }
        b.write_config();
        let outf = b.dir.join("run.out");
        let mut child = Command::new(reno_bin())
            .arg("--root")
            .arg(&b.root)
            .args(["run", "--bundle", &bundle, &b.id])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&outf).expect("out"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn reno run");
        let mut probe = (0, 0);
        if sample {
            // Measure once the program has printed and reno settled in its wait loop
            // (earlier, create/start fds come and go).
            let deadline = Instant::now() + Duration::from_secs(3);
            while std::fs::metadata(&outf)
                .map(|m| m.len() == 0)
                .unwrap_or(true)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            // The program can print before reno has closed the fifo and dropped its lock.
            std::thread::sleep(Duration::from_millis(100));
            probe = (proc_fds(child.id()), vm_rss_kb(child.id()) as usize);
        }
        let st = child.wait().expect("wait");
        assert!(st.success(), "cycle {i}: run failed");
        if sample {
            let seen = std::fs::read_to_string(&outf)
                .unwrap_or_default()
                .trim()
                .to_string();
            samples.push((
                i,
                probe.0,
                probe.1 as u64,
                host_mounts(),
                reno_cgroups(),
                seen,
            ));
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "cycle | reno fds | reno RSS kB | our host mounts | our cgroups | fds the container sees"
    );
    for s in &samples {
        println!(
            "{:>5} | {:>8} | {:>11} | {:>11} | {:>12} | {}",
            s.0, s.1, s.2, s.3, s.4, s.5
        );
    }
    println!(
        "long run: {cycles} run/delete cycles in {secs:.1} s ({:.1} ms each)",
        secs * 1000.0 / cycles as f64
    );
    let fds: Vec<usize> = samples.iter().map(|s| s.1).collect();
    let rss: Vec<u64> = samples.iter().map(|s| s.2).collect();
    assert!(
        fds.iter().all(|f| *f == fds[0]),
        "reno's fd count drifts: {fds:?}"
    );
    let (lo, hi) = (
        rss.iter().min().copied().unwrap_or(0),
        rss.iter().max().copied().unwrap_or(0),
    );
    assert!(hi - lo < 1024, "reno's RSS drifts: {rss:?}");
    assert!(
        samples.iter().all(|s| s.5 == samples[0].5),
        "fds inside drift"
    );
    assert_eq!(host_mounts(), mounts0, "host mounts changed");
    assert_eq!(reno_cgroups(), cgroups0, "reno cgroups changed");
    assert_clean(&b, &tag);
    let _ = stdout;
}

/// `create` racing `delete --force` on the same id (20 ids, both at once): whichever wins,
/// the id ends either fully created or absent, and after a final delete nothing remains.
#[test]
fn create_races_delete_force() {
    require_root!();
    let (b, tag) = tagged("race");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut outcomes = std::collections::BTreeMap::new();
    for i in 0..20 {
        let id = format!("{}-{i}", b.id);
        let t: Vec<_> = [true, false]
            .into_iter()
            .map(|create| {
                let (root, bundle, id) = (b.root.clone(), bundle.clone(), id.clone());
                std::thread::spawn(move || {
                    // Stagger one side or the other by 0-40 ms to land in every window.
                    if create == (i % 2 == 1) {
                        std::thread::sleep(Duration::from_millis(i * 2));
                    }
                    if create {
                        reno_with_files(&root, &["create", "--bundle", &bundle, &id])
                    } else {
                        reno_with_files(&root, &["delete", "--force", &id])
                    }
                })
            })
            .collect();
        let outs: Vec<_> = t.into_iter().map(|t| t.join().expect("thread")).collect();
        let st = reno_with_files(&b.root, &["state", &id]);
        let end = if st.status.success() {
            let v: Value = serde_json::from_slice(&st.stdout).expect("state parses");
            v["status"].as_str().unwrap_or("?").to_string()
        } else {
            let e = stderr(&st);
            assert!(e.contains("container does not exist"), "{id}: {e}");
            "absent".to_string()
        };
        let create_err = stderr(&outs[0]);
        assert!(!create_err.contains("panicked"), "{create_err}");
        *outcomes
            .entry(format!(
                "create {} → {end}",
                if outs[0].status.success() {
                    "ok"
                } else {
                    "failed"
                }
            ))
            .or_insert(0) += 1;
        let d = reno_with_files(&b.root, &["delete", "--force", &id]);
        assert!(d.status.success(), "{id}: {}", stderr(&d));
        let left = leftovers::settle(3000, || {
            leftovers::leftovers(&b.root, &id, &b.rootfs(), "\u{0}never")
        });
        assert!(left.is_empty(), "{id}: {left:?}");
    }
    let procs = leftovers::settle(3000, || {
        leftovers::tagged_pids(&tag)
            .iter()
            .map(|p| p.to_string())
            .collect()
    });
    assert!(procs.is_empty(), "processes left: {procs:?}");
    println!("create vs delete --force, 20 ids: {outcomes:?}");
}
