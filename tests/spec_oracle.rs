//! reno decodes config.json by hand (src/spec/decode.rs, for the size of the static binary);
//! oci-spec's derived `Deserialize` is the oracle. Every config the repo has (the `reno spec`
//! defaults, rootless too, podman's seccomp profile raw and converted, the fuzz corpus, a
//! config that sets every field) and thousands of mutants of them (each field removed, `null`,
//! and of every wrong type and out-of-range number) must give the same `Spec` both ways, or
//! an error both ways.
//!
//! Deliberate differences, checked below rather than hidden:
//! - `windows`, `solaris`, `vm` and `zos` are not read: always `None` (reno runs Linux
//!   containers), so they are cleared from the oracle's result before comparing, and bad
//!   content there is not an error for reno.
//! - A struct given as a JSON array (serde's positional form, `"root": ["rootfs", true]`) is
//!   an error for reno; no runtime writes that.
//! - A duplicate key takes the last value (as runc's Go decoder does); the derive says
//!   "duplicate field".

#[path = "common/podman_profile.rs"]
mod podman_profile;

use std::path::Path;

use oci_spec::runtime::{LinuxResources, Process, Spec};
use serde_json::{json, Value};

fn oracle(bytes: &[u8]) -> Result<Spec, String> {
    let mut s: Spec = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    s.set_windows(None)
        .set_solaris(None)
        .set_vm(None)
        .set_zos(None);
    Ok(s)
}

/// Both ways agree on `bytes`; returns whether it parsed.
fn check(what: &str, bytes: &[u8]) -> bool {
    let want = oracle(bytes);
    let got = reno::spec::parse(bytes);
    match (&want, &got) {
        (Ok(w), Ok(g)) => assert!(*w == **g, "{what}: decoded differently\n{}", text(bytes)),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!(
            "{what}: reno rejects what oci-spec takes: {e}\n{}",
            text(bytes)
        ),
        (Err(e), Ok(_)) => panic!(
            "{what}: reno takes what oci-spec rejects: {e}\n{}",
            text(bytes)
        ),
    }
    want.is_ok()
}

fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.chars().take(2000).collect()
}

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Sets every field reno's decoder knows, none to its default.
fn everything() -> Value {
    json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "h", "domainname": "d",
        "annotations": {"a": "b", "c": ""},
        "uidMappings": [{"containerID": 1, "hostID": 2, "size": 3}],
        "gidMappings": [{"containerID": 4, "hostID": 5, "size": 6}],
        "mounts": [
            {"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind", "ro"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]},
            {"destination": "/proc"}
        ],
        "process": {
            "terminal": true,
            "consoleSize": {"height": 24, "width": 80},
            "user": {"uid": 1, "gid": 2, "umask": 18, "additionalGids": [3, 4], "username": "u"},
            "args": ["sh", "-c", "true"],
            "commandLine": "sh -c true",
            "env": ["A=1", "PATH=/bin"],
            "cwd": "/w",
            "capabilities": {
                "bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                "inheritable": ["SYS_ADMIN", "cap_net_raw"], "permitted": ["CAP_CAP_BPF"],
                "ambient": []
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}, {"type": "RLIMIT_CORE"}],
            "noNewPrivileges": true,
            "apparmorProfile": "p",
            "oomScoreAdj": -17,
            "selinuxLabel": "l",
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "scheduler": {"policy": "SCHED_DEADLINE", "nice": -1, "priority": 2,
                          "flags": ["SCHED_RESET_ON_FORK", "SCHED_FLAG_RECLAIM"],
                          "runtime": 10, "deadline": 20, "period": 30},
            "execCPUAffinity": {"initial": "0-3,5", "final": "7"}
        },
        "hooks": {
            "prestart": [{"path": "/a", "args": ["a", "b"], "env": ["X=1"], "timeout": 5}],
            "createRuntime": [{"path": "/b"}],
            "createContainer": [{"path": "/c"}],
            "startContainer": [{"path": "/d"}],
            "poststart": [{"path": "/e"}],
            "poststop": [{"path": "/f", "timeout": -1}]
        },
        "linux": {
            "netDevices": {"eth0": {"name": "ceth0"}, "eth1": {}},
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "sysctl": {"net.ipv4.ip_forward": "1"},
            "resources": {
                "devices": [{"allow": false, "access": "rwm"},
                            {"allow": true, "type": "c", "major": 1, "minor": -3, "access": "r"}],
                "memory": {"limit": 1, "reservation": 2, "swap": 3, "kernel": 4, "kernelTCP": 5,
                           "swappiness": 6, "disableOOMKiller": true, "useHierarchy": false,
                           "checkBeforeUpdate": true},
                "cpu": {"shares": 1, "quota": -1, "idle": 1, "burst": 2, "period": 3,
                        "realtimeRuntime": 4, "realtimePeriod": 5, "cpus": "0-1", "mems": "0"},
                "pids": {"limit": 7},
                "blockIO": {"weight": 10, "leafWeight": 11,
                            "weightDevice": [{"major": 8, "minor": 0, "weight": 1, "leafWeight": 2},
                                             {"major": 8, "minor": 16}],
                            "throttleReadBpsDevice": [{"major": 1, "minor": 2, "rate": 3}],
                            "throttleWriteBpsDevice": [{"major": 4, "minor": 5, "rate": 6}],
                            "throttleReadIOPSDevice": [{"major": 7, "minor": 8, "rate": 9}],
                            "throttleWriteIOPSDevice": [{"major": 10, "minor": 11, "rate": 12}]},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
                "network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 2}]},
                "rdma": {"mlx": {"hcaHandles": 1, "hcaObjects": 2}, "x": {}},
                "unified": {"memory.max": "max"}
            },
            "cgroupsPath": "/a/b",
            "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
                           {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"},
                           {"type": "cgroup"}, {"type": "time"}],
            "devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 2, "fileMode": 438,
                         "uid": 0, "gid": 0},
                        {"type": "b"}, {"type": "p"}, {"type": "u"}],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "listenerPath": "/run/l.sock", "listenerMetadata": "m",
                "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                     "args": [{"index": 0, "value": 8, "valueTwo": 9, "op": "SCMP_CMP_MASKED_EQ"},
                              {"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]}
                ]
            },
            "rootfsPropagation": "rslave",
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "mountLabel": "ml",
            "intelRdt": {"closID": "c", "schemata": ["L3:0=f"], "l3CacheSchema": "L3:0=ff",
                         "memBwSchema": "MB:0=50", "enableCmt": true, "enableMbm": false,
                         "enableMonitoring": true},
            "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-1",
                             "flags": ["MPOL_F_STATIC_NODES"]},
            "personality": {"domain": "LINUX32", "flags": ["x"]},
            "timeOffsets": {"monotonic": {"secs": -1, "nanosecs": 2}, "boottime": {}}
        }
    })
}

/// Every config file in the repo, plus the generated ones.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut c = vec![
        (
            "reno spec".into(),
            reno::spec::default_config(false).into_bytes(),
        ),
        (
            "reno spec --rootless".into(),
            reno::spec::default_config(true).into_bytes(),
        ),
        (
            "everything".into(),
            serde_json::to_vec(&everything()).unwrap(),
        ),
    ];
    let profile = std::fs::read_to_string(repo("tests/data/podman-seccomp.json")).unwrap();
    let raw: Value = serde_json::from_str(&profile).unwrap();
    let converted = podman_profile::podman_profile(&profile, "amd64", podman_profile::PODMAN_CAPS);
    for (name, seccomp) in [
        ("podman profile, raw", raw),
        (
            "podman profile, converted",
            serde_json::to_value(converted).unwrap(),
        ),
    ] {
        let mut v: Value = serde_json::from_str(&reno::spec::default_config(false)).unwrap();
        v["linux"]["seccomp"] = seccomp;
        c.push((name.into(), serde_json::to_vec(&v).unwrap()));
    }
    for dir in [
        "tests/fuzz/regressions/spec",
        "tests/fuzz/corpus/spec",
        "board-configs",
    ] {
        let Ok(rd) = std::fs::read_dir(repo(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "json") || dir.contains("fuzz") {
                if let Ok(b) = std::fs::read(e.path()) {
                    c.push((e.path().display().to_string(), b));
                }
            }
        }
    }
    c
}

#[test]
fn every_config_in_the_repo() {
    let corpus = corpus();
    for (name, bytes) in &corpus {
        check(name, bytes);
    }
    assert!(
        check("everything", &serde_json::to_vec(&everything()).unwrap()),
        "the full config must parse"
    );
    println!("{} configs agree", corpus.len());
}

/// Replace the value at `path` (None: remove the key).
fn mutate(v: &Value, path: &[Step], new: Option<&Value>) -> Value {
    let mut out = v.clone();
    let mut cur = &mut out;
    for (i, s) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match s {
            Step::Key(k) => {
                let o = cur.as_object_mut().unwrap();
                if last {
                    match new {
                        Some(n) => drop(o.insert(k.clone(), n.clone())),
                        None => drop(o.remove(k)),
                    }
                    return out;
                }
                cur = o.get_mut(k).unwrap();
            }
            Step::Idx(j) => {
                let a = cur.as_array_mut().unwrap();
                if last {
                    match new {
                        Some(n) => a[*j] = n.clone(),
                        None => drop(a.remove(*j)),
                    }
                    return out;
                }
                cur = &mut a[*j];
            }
        }
    }
    out
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Idx(usize),
}

fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                at.push(Step::Key(k.clone()));
                out.push((at.clone(), x.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Step::Idx(i));
                out.push((at.clone(), x.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// Every field of the full config removed, `null`, and replaced by each wrong kind of value
/// and by the integers at the edges of every width.
#[test]
fn mutants_of_every_field() {
    let base = everything();
    let mut all = Vec::new();
    paths(&base, &mut Vec::new(), &mut all);
    let replacements = [
        json!(null),
        json!("x"),
        json!(""),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e3),
        json!(255),
        json!(65535),
        json!(65536),
        json!(2147483647),
        json!(2147483648u64),
        json!(-2147483648i64),
        json!(-2147483649i64),
        json!(4294967295u64),
        json!(4294967296u64),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(i64::MIN),
        json!({}),
        json!([]),
        json!(["x"]),
        json!([1]),
        json!("0-3"),
        json!("0-"),
        json!("a"),
        json!("CAP_SYS_ADMIN"),
        json!("c"),
    ];
    let (mut n, mut ok) = (0, 0);
    for (path, orig) in &all {
        let mut cases: Vec<Option<&Value>> = vec![None];
        cases.extend(replacements.iter().map(Some));
        for new in cases {
            // serde's positional form of a struct: a documented difference (module doc).
            if orig.is_object() && new.is_some_and(|x| x.is_array()) {
                continue;
            }
            let m = mutate(&base, path, new);
            n += 1;
            ok += check(
                &format!("{path:?} = {new:?}"),
                &serde_json::to_vec(&m).unwrap(),
            ) as usize;
        }
    }
    println!(
        "{n} mutants agree ({ok} parse, {} rejected both ways)",
        n - ok
    );
}

#[test]
fn crafted_documents() {
    for doc in [
        "", "null", "1", "\"x\"", "{}", "{\"ociVersion\": null}", "{\"ociVersion\": 1}",
        "{\"process\": {}}", "{\"process\": {\"cwd\": \"/\"}}", "{\"process\": {\"user\": {}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}}}", "{\"linux\": {}}", "{\"linux\": null}",
        "{\"mounts\": [{}]}", "{\"mounts\": [null]}", "{\"hooks\": {\"prestart\": [{}]}}",
        "{\"linux\": {\"resources\": {\"pids\": {}}}}", "{\"linux\": {\"resources\": {\"pids\": {\"limit\": null}}}}",
        "{\"linux\": {\"seccomp\": {}}}", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": []}]}}}",
        "{\"linux\": {\"devices\": [{}]}}", "{\"linux\": {\"namespaces\": [{}]}}",
        "{\"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}", "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"initial\": \"1,2-3,4\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"initial\": \"\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"final\": \"1,\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"final\": \"-1\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"final\": \"1--2\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"final\": \"01-002\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {}, \"execCPUAffinity\": {\"final\": \"\u{0661}\"}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {\"uid\": -0}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 1.0}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 1e0}}}",
        "{\"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 18446744073709551616}}}",
        "{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_KILL\", \"kill\", \"CAP_CAP_KILL\"]}, \"cwd\": \"/\", \"user\": {}}}",
        "{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_NOPE\"]}, \"cwd\": \"/\", \"user\": {}}}",
        "{\"unknown\": {\"deep\": [1, 2]}, \"linux\": {\"unknown\": 1}}",
        "{\"windows\": {\"layerFolders\": []}, \"solaris\": {}, \"vm\": {\"hypervisor\": {\"path\": \"/h\"}, \"kernel\": {\"path\": \"/k\"}}}",
    ] {
        check(doc, doc.as_bytes());
    }
}

/// The deliberate differences of the module doc, so a change in either side shows here.
#[test]
fn documented_differences() {
    let dup = br#"{"ociVersion": "1.0.0", "ociVersion": "1.2.0"}"#;
    assert!(oracle(dup).is_err());
    assert_eq!(reno::spec::parse(dup).unwrap().version(), "1.2.0");

    for positional in [&br#"{"root": ["rootfs", true]}"#[..], b"[]"] {
        assert!(oracle(positional).is_ok());
        assert!(reno::spec::parse(positional).is_err());
    }

    let bad_windows = br#"{"windows": {"layerFolders": 1}}"#;
    assert!(oracle(bad_windows).is_err());
    let s = reno::spec::parse(bad_windows).unwrap();
    assert!(s.windows().is_none());
}

/// process.json (`exec --process`) and `update --resources` go through the same walk.
#[test]
fn process_and_resources_documents() {
    let v = everything();
    let p = serde_json::to_vec(&v["process"]).unwrap();
    let want: Process = serde_json::from_slice(&p).unwrap();
    assert!(reno::spec::parse_process(&p).unwrap() == want);
    assert!(reno::spec::parse_process(b"{\"cwd\": \"/\"}").is_err());
    let r = serde_json::to_vec(&v["linux"]["resources"]).unwrap();
    let want: LinuxResources = serde_json::from_slice(&r).unwrap();
    assert!(reno::spec::parse_resources(&r).unwrap() == want);
    let e = reno::spec::parse_resources(b"{\"memory\": {\"limit\": \"x\"}}").unwrap_err();
    assert!(e.to_string().contains("resources.memory.limit"), "{e}");
}

/// Errors name the field (serde's only gave a line and column).
#[test]
fn errors_name_the_field() {
    let mut v = everything();
    v["linux"]["resources"]["devices"][1]["major"] = json!("x");
    let e = reno::spec::parse(&serde_json::to_vec(&v).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("linux.resources.devices[1].major"), "{e}");
    let e = reno::spec::parse(b"{\"process\": {\"user\": {}}}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("process.cwd: missing field"), "{e}");
    let e = reno::spec::parse(b"{\"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("linux.namespaces[0].type") && e.contains("bogus"),
        "{e}"
    );
}
