//! Stable, in-process mutation fuzzing of the four input surfaces (config.json, argv,
//! linux.seccomp, state.json), for machines without cargo-fuzz: seeded (RENO_FUZZ_SEED),
//! time-bounded (RENO_FUZZ_SECS per target, default 10: ~40 s in CI). It first replays every
//! file under tests/fuzz/regressions/<target>/ (each crash ever found), then mutates seeds
//! structurally (JSON tree edits with hostile values) and byte-wise, keeping mutants that
//! still parse as new seeds. A panic saves the input under tests/fuzz/crashes/ and fails.
//! The libFuzzer targets in tests/fuzz/ run the same functions with coverage guidance.
//!
//! Longer: `tests/robustness/fuzz.sh 600` (or RENO_FUZZ_SECS=600 cargo test --test
//! robustness_fuzz -- --nocapture).

#[path = "fuzz/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// splitmix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const STRINGS: &[&str] = &[
    "",
    ".",
    "..",
    "/",
    "../../../../etc",
    "/proc/self/fd/0",
    "/dev/null",
    "a\0b",
    "\n",
    "é∂☃",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_ARM",
    "read",
    "socket",
    "not_a_syscall",
    "pid",
    "user",
    "mount",
    "bind",
    "rbind",
    "ro",
    "nosuid",
    "rprivate",
    "tmpfs",
    "/sys/fs/cgroup",
    "net.ipv4.ip_forward",
    "kernel.shmmax",
    "RLIMIT_NOFILE",
    "RLIMIT_BOGUS",
    "CAP_SYS_ADMIN",
    "CAP_NOPE",
    "1.0.2",
    "0.1.0",
    "created",
    "running",
    "%s%s%s%n",
];

fn hostile_value(r: &mut Rng) -> Value {
    match r.below(12) {
        0 => Value::Null,
        1 => json!(r.chance(50)),
        2 => json!(*r.pick(&[
            0i64,
            -1,
            1,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN
        ])),
        3 => json!(*r.pick(&[u64::MAX, u32::MAX as u64 + 1, 4_294_967_297, 1 << 53])),
        4 => json!(*r.pick(&[0.5f64, -1e300, 1e300])),
        5 => json!(r.pick(STRINGS)),
        6 => json!("x".repeat(r.below(5000))),
        7 => json!([]),
        8 => json!({}),
        9 => json!([r.pick(STRINGS), r.pick(STRINGS)]),
        10 => json!({ *r.pick(STRINGS): r.pick(STRINGS) }),
        _ => json!(r.next() as i64),
    }
}

/// Walk to a random node and replace, delete, duplicate or retype it.
fn mutate_tree(v: &mut Value, r: &mut Rng, depth: usize) {
    let stop = depth > 0 && r.chance(30);
    match v {
        Value::Object(m) if !m.is_empty() && !stop => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = r.pick(&keys).clone();
            match r.below(10) {
                0 => {
                    m.remove(&k);
                }
                1 => {
                    m.insert(r.pick(STRINGS).to_string(), hostile_value(r));
                }
                _ => mutate_tree(m.get_mut(&k).expect("key"), r, depth + 1),
            }
        }
        Value::Array(a) if !a.is_empty() && !stop => match r.below(10) {
            0 => {
                let i = r.below(a.len());
                a.remove(i);
            }
            1 => {
                let i = r.below(a.len());
                let dup = a[i].clone();
                a.push(dup);
            }
            2 => a.push(hostile_value(r)),
            _ => {
                let i = r.below(a.len());
                mutate_tree(&mut a[i], r, depth + 1)
            }
        },
        _ => *v = hostile_value(r),
    }
}

fn mutate_bytes(b: &mut Vec<u8>, r: &mut Rng) {
    if b.is_empty() {
        b.push(r.next() as u8);
        return;
    }
    let i = r.below(b.len());
    match r.below(6) {
        0 => b[i] ^= 1 << r.below(8),
        1 => b[i] = *r.pick(b"{}[]\",:0-9eE\\\0 "),
        2 => b.truncate(i),
        3 => {
            let j = r.below(b.len());
            let chunk = b[i.min(j)..i.max(j)].to_vec();
            b.splice(i..i, chunk);
        }
        4 => {
            b.remove(i);
        }
        _ => b.insert(i, r.next() as u8),
    }
}

fn mutate_json(seed: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut out = match serde_json::from_slice::<Value>(seed) {
        Ok(mut v) if r.chance(80) => {
            for _ in 0..1 + r.below(4) {
                mutate_tree(&mut v, r, 0);
            }
            serde_json::to_vec(&v).expect("json")
        }
        _ => seed.to_vec(),
    };
    if r.chance(25) {
        for _ in 0..1 + r.below(4) {
            mutate_bytes(&mut out, r);
        }
    }
    out
}

const CLI_WORDS: &[&str] = &[
    "state",
    "list",
    "kill",
    "delete",
    "start",
    "features",
    "--force",
    "-f",
    "--all",
    "-a",
    "--format",
    "json",
    "table",
    "--quiet",
    "-q",
    "KILL",
    "SIGTERM",
    "9",
    "0",
    "-1",
    "99999",
    "SIGRTMAX+1",
    "--help",
    "-h",
    "--version",
    "--debug",
    "--systemd-cgroup",
    "--rootless",
    "maybe",
    "--log-format",
    "xml",
    "--",
    "-",
    "c1",
    "..",
    ".",
    "a/b",
    "",
    "--bogus",
    "-xyz",
    "--force=true",
    "--all=",
    "--format=",
    "é",
    "\u{7f}",
];

fn mutate_argv(seed: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut words: Vec<Vec<u8>> = seed.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    for _ in 0..1 + r.below(3) {
        match r.below(5) {
            0 if !words.is_empty() => {
                let i = r.below(words.len());
                words.remove(i);
            }
            1 => {
                let i = r.below(words.len() + 1);
                words.insert(i, r.pick(CLI_WORDS).as_bytes().to_vec());
            }
            2 if !words.is_empty() => {
                let i = r.below(words.len());
                mutate_bytes(&mut words[i], r);
            }
            _ => words.push(r.pick(CLI_WORDS).as_bytes().to_vec()),
        }
    }
    words.join(&0u8)
}

struct Target {
    name: &'static str,
    run: fn(&[u8]),
    mutate: fn(&[u8], &mut Rng) -> Vec<u8>,
    seeds: Vec<Vec<u8>>,
    /// Keep mutants that pass this as further seeds.
    interesting: fn(&[u8]) -> bool,
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

fn rich_config() -> Vec<u8> {
    let mut v: Value = serde_json::from_str(&reno::spec::default_config(false)).expect("default");
    let profile: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/podman-seccomp.json"),
        )
        .expect("podman profile"),
    )
    .expect("profile json");
    v["linux"]["seccomp"] = profile;
    v["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}],
        "createRuntime": [{"path": "/bin/true"}], "poststop": [{"path": "/bin/true", "env": ["A=1"]}]});
    v["linux"]["resources"] = json!({"memory": {"limit": 1048576}, "pids": {"limit": 10},
        "cpu": {"shares": 2, "quota": 1000, "period": 100000}, "devices": [{"allow": false, "access": "rwm"}]});
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    v["linux"]["cgroupsPath"] = json!("/a/b");
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}]);
    v["process"]["user"]["additionalGids"] = json!([1, 2]);
    v["mounts"].as_array_mut().expect("mounts").push(json!(
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]}));
    serde_json::to_vec(&v).expect("json")
}

fn targets() -> Vec<Target> {
    let profile =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/podman-seccomp.json"))
            .expect("podman profile");
    vec![
        Target {
            name: "spec",
            run: targets::spec,
            mutate: mutate_json,
            seeds: vec![reno::spec::default_config(false).into_bytes(), reno::spec::default_config(true).into_bytes(), rich_config()],
            interesting: |b| reno::spec::parse(b).is_ok(),
        },
        Target {
            name: "seccomp",
            run: targets::seccomp,
            mutate: mutate_json,
            seeds: vec![
                profile,
                br#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":3,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#.to_vec(),
            ],
            interesting: |b| serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(b).is_ok(),
        },
        Target {
            name: "state",
            run: targets::state,
            mutate: mutate_json,
            seeds: vec![
                br#"{"ociVersion":"1.2.0","id":"c","pid":1,"status":"created","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":"","annotations":{"a":"b"},"reno":{"startTime":5,"cgroup":"/reno/c","sharedPidns":false}}"#.to_vec(),
                b"".to_vec(),
            ],
            interesting: |b| serde_json::from_slice::<Value>(b).is_ok(),
        },
        Target {
            name: "cli",
            run: |b| {
                let _ = targets::cli(b);
            },
            mutate: mutate_argv,
            seeds: vec![b"state\0c1".to_vec(), b"kill\0--all\0c1\0KILL".to_vec(), b"delete\0--force\0c1".to_vec(), b"list\0--format\0json".to_vec(), b"features".to_vec(), b"--debug\0list\0-q".to_vec()],
            interesting: |_| false,
        },
    ]
}

fn replay_regressions(t: &Target, crashes: &mut Vec<String>) -> usize {
    let dir = fuzz_dir().join("regressions").join(t.name);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let input = std::fs::read(e.path()).expect("read regression");
        n += 1;
        if catch_unwind(AssertUnwindSafe(|| (t.run)(&input))).is_err() {
            crashes.push(format!("regression {} panics again", e.path().display()));
        }
    }
    n
}

#[test]
fn fuzz_all_targets() {
    let secs: u64 = std::env::var("RENO_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("RENO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut crashes = Vec::new();
    for mut t in targets() {
        let replayed = replay_regressions(&t, &mut crashes);
        let mut r = Rng(seed ^ t.name.len() as u64);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let quiet = (t.name == "cli").then(Quiet::new);
        let (mut iters, mut kept) = (0u64, 0usize);
        while Instant::now() < deadline {
            for _ in 0..64 {
                let base = r.pick(&t.seeds).clone();
                let input = (t.mutate)(&base, &mut r);
                iters += 1;
                if catch_unwind(AssertUnwindSafe(|| (t.run)(&input))).is_err() {
                    crashes.push(save_crash(t.name, &input));
                } else if t.seeds.len() < 512
                    && input != base
                    && (t.interesting)(&input)
                    && r.chance(10)
                {
                    t.seeds.push(input);
                    kept += 1;
                }
            }
        }
        drop(quiet);
        println!(
            "fuzz {}: {iters} inputs in {secs} s (seed {seed:#x}), {replayed} regressions replayed, {kept} mutants kept as seeds",
            t.name
        );
    }
    let _ = std::fs::remove_dir_all(targets::scratch("state"));
    let _ = std::fs::remove_dir_all(targets::scratch("cli-root"));
    assert!(
        crashes.is_empty(),
        "fuzzing found panics:\n{}",
        crashes.join("\n")
    );
}

fn save_crash(target: &str, input: &[u8]) -> String {
    let h = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let dir = fuzz_dir().join("crashes").join(target);
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!("crash-{h:016x}"));
    let _ = std::fs::write(&p, input);
    format!("{target}: panic on input saved to {} (move it to tests/fuzz/regressions/{target}/ once fixed)", p.display())
}

/// stdout/stderr to /dev/null while the CLI target prints usage and errors by the million
/// (matters with --nocapture; libtest's capture holds the rest).
struct Quiet(Option<(rustix::fd::OwnedFd, rustix::fd::OwnedFd)>);

impl Quiet {
    fn new() -> Quiet {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let saved = (|| {
            let out = rustix::io::dup(rustix::stdio::stdout()).ok()?;
            let err = rustix::io::dup(rustix::stdio::stderr()).ok()?;
            let null = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok()?;
            rustix::stdio::dup2_stdout(&null).ok()?;
            rustix::stdio::dup2_stderr(&null).ok()?;
            Some((out, err))
        })();
        Quiet(saved)
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if let Some((out, err)) = self.0.take() {
            let _ = rustix::stdio::dup2_stdout(&out);
            let _ = rustix::stdio::dup2_stderr(&err);
        }
    }
}
