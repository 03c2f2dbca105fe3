//! config.json → the spec model, validated once, with errors that name the field.
//!
//! The only module that knows which crate models the runtime spec (oci-spec today); the
//! binary-size decision of the static-builds issue stays local to this file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use oci_spec::runtime::{
    Hook, Hooks, LinuxDevice, LinuxDeviceType, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType,
    LinuxResources, Mount, PosixRlimitType, Process, Spec,
};

use crate::error::{Context, Error, Kind, Result};

mod decode;
mod default;
pub use default::default_config;

/// Parse any other JSON document reno reads (state files, board configs) into a `Value`.
/// Every caller goes through here, from bytes: serde_json's parser is generic over its input
/// (`from_str`, `from_slice`, `from_reader` each instantiate their own copy), so one entry
/// point keeps one copy in the binary (targets/README.md, "Size").
pub fn json_value(bytes: &[u8]) -> std::result::Result<serde_json::Value, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// A JSON value as text, compact or pretty (`to_string_pretty`'s layout). Through `Display`
/// only, so the serializer exists once per layout and not once per output type too
/// (`to_vec`, `to_string`, `to_writer` each instantiate their own).
pub fn json_text(v: &serde_json::Value, pretty: bool) -> String {
    if pretty {
        format!("{v:#}")
    } else {
        v.to_string()
    }
}

/// Parse config.json bytes; JSON syntax errors carry serde_json's line and column, errors in
/// the content name the field (`linux.resources.memory.limit: ...`). Through `decode`, not
/// oci-spec's derived `Deserialize` (the size of the static binary; see decode.rs). Boxed: a
/// `Spec` is ~3 KB, and every by-value move of it costs its callers' stack frames that much
/// again (touched stack pages are resident memory, which the runtime tree's budget counts).
pub fn parse(bytes: &[u8]) -> Result<Box<Spec>> {
    decode::spec(&value(bytes, "parse config")?).map(Box::new)
}

/// Parse a process.json (for `exec --process`).
pub fn parse_process(bytes: &[u8]) -> Result<Process> {
    decode::process_doc(&value(bytes, "parse process")?)
}

/// Parse a `LinuxResources` document (for `update --resources`).
pub fn parse_resources(bytes: &[u8]) -> Result<LinuxResources> {
    decode::resources_doc(&value(bytes, "parse resources")?)
}

fn value(bytes: &[u8], step: &str) -> Result<serde_json::Value> {
    json_value(bytes).map_err(|e| Error::new(Kind::Invalid, step).detail(e.to_string()))
}

/// The rootfs directory: `root.path`, relative to the bundle unless absolute.
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("config", "root: missing"))?;
    let p = root.path();
    if p.as_os_str().is_empty() {
        return Err(Error::invalid("config", "root.path: empty"));
    }
    Ok(if p.is_absolute() {
        p.clone()
    } else {
        bundle.join(p)
    })
}

fn invalid(field: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid("config", format!("{field}: {msg}"))
}

/// Check everything that can be checked before any resource is made, so a bad config never
/// leaves a half-made container behind.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<()> {
    let version = spec.version();
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(invalid(
            "ociVersion",
            format!("{version:?} is not supported (reno implements 1.x)"),
        ));
    }
    let rootfs = rootfs(spec, bundle)?;
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(invalid(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ))
        }
        Err(e) => {
            return Err(Err::<(), _>(e)
                .ctx_path("config: root.path", &rootfs)
                .unwrap_err())
        }
    }
    // `process` is optional at create (runtime-spec); `start` refuses a container without one.
    if let Some(process) = spec.process() {
        validate_process(process)?;
    }

    let linux = spec.linux().as_ref();
    let mut seen = HashSet::new();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(invalid(
                "linux.namespaces",
                format!("duplicate namespace {}", ns.typ()),
            ));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(invalid(
                    "linux.namespaces",
                    format!("path {} must be absolute", p.display()),
                ));
            }
            if ns.typ() == LinuxNamespaceType::Time
                && linux.and_then(|l| l.time_offsets().as_ref()).is_some()
            {
                return Err(invalid(
                    "linux.timeOffsets",
                    "cannot be set when joining an existing time namespace",
                ));
            }
        }
    }
    let new_ns = |t: LinuxNamespaceType| namespaces.into_iter().flatten().any(|n| n.typ() == t);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !new_ns(LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            "unable to set hostname without a private UTS namespace",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !new_ns(LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "domainname",
            "unable to set domainname without a private UTS namespace",
        ));
    }
    if let Some(l) = linux {
        if l.time_offsets().is_some() && !new_ns(LinuxNamespaceType::Time) {
            return Err(invalid("linux.timeOffsets", "requires a time namespace"));
        }
        for (clock, _) in l.time_offsets().iter().flatten() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(invalid(
                    "linux.timeOffsets",
                    format!("unknown clock {clock:?}"),
                ));
            }
        }
        for key in l.sysctl().iter().flat_map(|m| m.keys()) {
            validate_sysctl(key, &new_ns)?;
        }
        if let Some(p) = l.rootfs_propagation() {
            if ![
                "",
                "private",
                "rprivate",
                "slave",
                "rslave",
                "shared",
                "rshared",
                "unbindable",
                "runbindable",
            ]
            .contains(&p.as_str())
            {
                return Err(invalid(
                    "linux.rootfsPropagation",
                    format!("unknown value {p:?}"),
                ));
            }
        }
        let restricts = l.masked_paths().as_ref().is_some_and(|v| !v.is_empty())
            || l.readonly_paths().as_ref().is_some_and(|v| !v.is_empty());
        if restricts && !new_ns(LinuxNamespaceType::Mount) {
            return Err(invalid(
                "linux.maskedPaths",
                "unable to restrict sys entries without a private MNT namespace",
            ));
        }
        if (l.uid_mappings().is_some() || l.gid_mappings().is_some())
            && !new_ns(LinuxNamespaceType::User)
        {
            return Err(invalid("linux.uidMappings", "requires a user namespace"));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(invalid(&format!("mounts[{i}].destination"), "empty"));
        }
    }
    if let Some(hooks) = spec.hooks() {
        for (name, list) in hook_lists(hooks) {
            for (i, h) in list.iter().enumerate() {
                if !h.path().is_absolute() {
                    return Err(invalid(
                        &format!("hooks.{name}[{i}].path"),
                        format!("{} is not absolute", h.path().display()),
                    ));
                }
                if h.timeout().is_some_and(|t| t <= 0) {
                    return Err(invalid(
                        &format!("hooks.{name}[{i}].timeout"),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every hook list with its spec name, in lifecycle order.
/// Whether the runtime runs hooks of its own between the init's mounts and its `go`
/// (prestart, createRuntime): only then does the init report its mounts done and wait.
#[allow(deprecated)]
pub fn has_runtime_hooks(spec: &Spec) -> bool {
    spec.hooks()
        .as_ref()
        .is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some())
}

pub fn hook_lists(h: &Hooks) -> Vec<(&'static str, &Vec<Hook>)> {
    #[allow(deprecated)]
    let all = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    all.into_iter()
        .filter_map(|(n, l)| l.as_ref().map(|l| (n, l)))
        .collect()
}

pub fn validate_process(p: &Process) -> Result<()> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(invalid("process.args", "must not be empty"));
    }
    if !p.cwd().is_absolute() {
        return Err(invalid(
            "process.cwd",
            format!("{:?} must be an absolute path", p.cwd()),
        ));
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(invalid(
                &format!("process.env[{i}]"),
                format!("{e:?} is not KEY=value"),
            ));
        }
    }
    Ok(())
}

/// Only namespaced sysctls may be set, as runc allows: writing a host-wide one from inside
/// the container's setup would change the host.
fn validate_sysctl(key: &str, new_ns: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let ok = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        new_ns(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        new_ns(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        new_ns(LinuxNamespaceType::Uts)
    } else {
        return Err(invalid(
            "linux.sysctl",
            format!("{key:?} is not namespaced and would change the host"),
        ));
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "linux.sysctl",
            format!("{key:?} requires a new namespace of its kind"),
        ))
    }
}

/// Namespaces of the config as (clone flag, optional path to join).
pub fn namespaces(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n.typ(), n.path().clone()))
        .collect()
}

pub fn ns_flag(t: LinuxNamespaceType) -> u64 {
    t as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_have_line_and_column() {
        let e = parse(b"{\n \"ociVersion\": \"1.0.2\",\n oops }").unwrap_err();
        assert!(e.to_string().contains("line 3 column"), "{e}");
    }

    #[test]
    fn unknown_namespace_is_an_error() {
        let e = parse(br#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"bogus"}]}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn default_config_parses_and_validates_fields() {
        let spec = parse(default_config(false).as_bytes()).unwrap();
        assert!(spec.process().is_some());
        let rootless = parse(default_config(true).as_bytes()).unwrap();
        assert!(rootless.linux().as_ref().unwrap().uid_mappings().is_some());
    }

    #[test]
    fn exec_cpu_affinity_is_still_validated() {
        // oci-spec checks this field with `regex`, served by the regex-lite shim.
        let ok = br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"execCPUAffinity":{"initial":"0-3,5"}}}"#;
        assert!(parse(ok).is_ok());
        let bad = br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"execCPUAffinity":{"initial":"0-a"}}}"#;
        assert!(parse(bad).is_err());
    }

    #[test]
    fn sysctl_rules() {
        let all = |_t: LinuxNamespaceType| true;
        let none = |_t: LinuxNamespaceType| false;
        assert!(validate_sysctl("net.ipv4.ip_forward", &all).is_ok());
        assert!(validate_sysctl("net.ipv4.ip_forward", &none).is_err());
        assert!(validate_sysctl("vm.swappiness", &all).is_err());
        assert!(validate_sysctl("kernel.shmmax", &all).is_ok());
    }
}
