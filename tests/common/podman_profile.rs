//! podman's default seccomp profile as podman would put it into config.json: the
//! containers/common conversion of the vendored tests/data/podman-seccomp.json (rules kept or
//! dropped by their `includes`/`excludes` on capabilities and arches; `archMap` gives the
//! architectures). Shared by the unit tests and tests/seccomp_load.rs.
#![allow(dead_code)]

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

/// podman 4's default capabilities.
pub const PODMAN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The OCI profile podman writes into config.json for `arch` (Go's name) and `caps`: the
/// containers/common conversion (includes/excludes on caps and arches, archMap).
pub fn podman_profile(json: &str, goarch: &str, caps: &[&str]) -> LinuxSeccomp {
    let src: Value = serde_json::from_str(json).expect("vendored profile parses");
    let scmp = match goarch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => unreachable!(),
    };
    let mut archs = vec![];
    for m in src["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == scmp {
            archs.push(m["architecture"].clone());
            archs.extend(
                m["subArchitectures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
    }
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let mut syscalls = vec![];
    for s in src["syscalls"].as_array().into_iter().flatten() {
        let (inc, exc) = (&s["includes"], &s["excludes"]);
        let inc_arches = strs(&inc["arches"]);
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == goarch) {
            continue;
        }
        if !strs(&inc["caps"])
            .iter()
            .all(|c| caps.contains(&c.as_str()))
        {
            continue;
        }
        if strs(&exc["arches"]).iter().any(|a| a == goarch) {
            continue;
        }
        if strs(&exc["caps"])
            .iter()
            .any(|c| caps.contains(&c.as_str()))
        {
            continue;
        }
        let mut out = json!({"names": s["names"], "action": s["action"]});
        if !s["errnoRet"].is_null() {
            out["errnoRet"] = s["errnoRet"].clone();
        }
        if s["args"].as_array().is_some_and(|a| !a.is_empty()) {
            out["args"] = s["args"].clone();
        }
        syscalls.push(out);
    }
    serde_json::from_value(json!({
        "defaultAction": src["defaultAction"],
        "defaultErrnoRet": src["defaultErrnoRet"],
        "architectures": archs,
        "syscalls": syscalls,
    }))
    .expect("converted profile deserialises")
}
