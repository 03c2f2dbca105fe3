//! Rootless containers, the parent's side: the id maps of the init's new user namespace
//! (written directly when the kernel lets us, through the setuid `newuidmap`/`newgidmap`
//! from /etc/subuid and /etc/subgid when it doesn't, as runc does) and the cgroup an
//! unprivileged caller may not be able to create.

use std::path::{Path, PathBuf};

use rustix::io::Errno;

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::linux;
use crate::spec::{self, Spec};

/// `--rootless`: `true`/`false` as given; `auto` (the default) means rootless when we are
/// not root, or are "root" only inside a user namespace that doesn't map the whole id
/// range (runc's `userns.RunningInUserNS`).
pub fn detect(flag: Option<&str>) -> bool {
    match flag {
        Some("true") => true,
        Some("false") => false,
        _ => {
            !rustix::process::geteuid().is_root()
                || crate::linux::fs::read_small("/proc/self/uid_map")
                    .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
                    .unwrap_or(false)
        }
    }
}

/// Write uid_map and gid_map of the init's new user namespace.
///
/// Each map is first written directly; the kernel allows an unprivileged writer one line
/// mapping its own id. On EPERM (several ranges, other ids) `newuidmap`/`newgidmap` write
/// it, checked against /etc/subuid and /etc/subgid. An unprivileged caller whose gid map
/// is just its own gid must deny setgroups first (the kernel requires it); with newgidmap
/// setgroups stays allowed, as runc leaves it.
pub fn write_id_maps(pid: i32, spec: &Spec, rootless: bool) -> Result<()> {
    let l = spec.linux().as_ref();
    let uids: Vec<[u32; 3]> = ranges(l.and_then(|l| l.uid_mappings().as_ref()));
    let gids: Vec<[u32; 3]> = ranges(l.and_then(|l| l.gid_mappings().as_ref()));
    let proc = PathBuf::from(format!("/proc/{pid}"));
    write_map(&proc, "uid_map", "newuidmap", pid, &uids)?;
    if !gids.is_empty() {
        let egid = rustix::process::getegid().as_raw();
        if rootless && gids.len() == 1 && gids[0][1] == egid && gids[0][2] == 1 {
            let f = proc.join("setgroups");
            linux::fs::write_file(&f, b"deny").ctx_path("deny setgroups", &f)?;
        }
    }
    write_map(&proc, "gid_map", "newgidmap", pid, &gids)
}

/// Refuse id maps the kernel would reject, before anything is created: empty ranges, ranges
/// past 2^32, overlaps on either side, more lines than the kernel takes (340).
pub fn validate_maps(spec: &Spec) -> Result<()> {
    let l = spec.linux().as_ref();
    for (field, maps) in [
        (
            "linux.uidMappings",
            l.and_then(|l| l.uid_mappings().as_ref()),
        ),
        (
            "linux.gidMappings",
            l.and_then(|l| l.gid_mappings().as_ref()),
        ),
    ] {
        let r = ranges(maps);
        if r.len() > 340 {
            return Err(Error::invalid(field, "more than 340 ranges"));
        }
        for (i, [c, h, n]) in r.iter().enumerate() {
            if *n == 0 {
                return Err(Error::invalid(field, format!("range {i}: size 0")));
            }
            if u64::from(*c) + u64::from(*n) > 1 << 32 || u64::from(*h) + u64::from(*n) > 1 << 32 {
                return Err(Error::invalid(
                    field,
                    format!("range {i}: {c}/{h} + {n} goes past 2^32"),
                ));
            }
            for (j, [c2, h2, n2]) in r.iter().enumerate().skip(i + 1) {
                let overlap = |a: u32, b: u32| {
                    u64::from(a) < u64::from(b) + u64::from(*n2)
                        && u64::from(b) < u64::from(a) + u64::from(*n)
                };
                if overlap(*c, *c2) || overlap(*h, *h2) {
                    return Err(Error::invalid(
                        field,
                        format!("ranges {i} and {j} overlap ({c} {h} {n} / {c2} {h2} {n2})"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn ranges(maps: Option<&Vec<spec::LinuxIdMapping>>) -> Vec<[u32; 3]> {
    maps.into_iter()
        .flatten()
        .map(|m| [m.container_id(), m.host_id(), m.size()])
        .collect()
}

fn write_map(proc: &Path, file: &str, tool: &str, pid: i32, map: &[[u32; 3]]) -> Result<()> {
    if map.is_empty() {
        return Ok(());
    }
    let text: String = map
        .iter()
        .map(|[c, h, s]| format!("{c} {h} {s}\n"))
        .collect();
    let f = proc.join(file);
    let errno = match linux::fs::write_file(&f, text.as_bytes()) {
        Ok(()) => return Ok(()),
        Err(e) => Errno::from_io_error(&e).unwrap_or(Errno::IO),
    };
    if errno != Errno::PERM {
        return Err(Error::sys(format!("write {file}"), errno).path(&f));
    }
    log::debug!("write {file}: EPERM, trying {tool}");
    let mut argv: Vec<std::ffi::OsString> = vec![tool.into(), pid.to_string().into()];
    for r in map {
        argv.extend(r.iter().map(|n| n.to_string().into()));
    }
    let out = linux::spawn::Cmd::new(tool.as_ref(), &argv, None).and_then(|c| c.output());
    let (status, _, stderr) = out.map_err(|e| {
        Error::failed(
            format!("write {file}"),
            format!(
                "the mapping needs {tool} (an unprivileged caller may write only its own id \
                 directly; install the uidmap package): {e}"
            ),
        )
        .path(&f)
    })?;
    if status.exit_status() != Some(0) {
        return Err(Error::failed(
            format!("{tool} {pid}"),
            format!(
                "{} ({}; are the ranges in /etc/sub{}id?)",
                String::from_utf8_lossy(&stderr).trim(),
                linux::spawn::describe(status),
                &file[..1],
            ),
        ));
    }
    Ok(())
}

/// The container's cgroup. Rootless, a cgroup we aren't allowed to create (nothing was
/// delegated to us) is skipped, as runc does, unless the config sets limits: those can't
/// be honoured without it, so that is an error saying so.
pub fn create_cgroup(
    path: &str,
    rootless: bool,
    linux_cfg: Option<&oci_spec::runtime::Linux>,
) -> Result<Option<Cgroup>> {
    let e = match Cgroup::create(path) {
        Ok(cg) => return Ok(Some(cg)),
        Err(e) => e,
    };
    let denied = matches!(e.errno, Some(Errno::ACCESS | Errno::PERM | Errno::ROFS));
    if !(rootless && denied) {
        return Err(e);
    }
    // Whatever hierarchies did let us in go again.
    let _ = Cgroup::open(path).destroy();
    if let Some(what) = limits_set(linux_cfg) {
        return Err(e.detail(format!(
            "rootless: cannot set {what} limits without a cgroup; delegate one to this user \
             (and point linux.cgroupsPath at it) or drop linux.resources"
        )));
    }
    log::debug!("rootless: no cgroup ({e}); carrying on without one");
    Ok(None)
}

/// The names of the `linux.resources` groups that set something, device rules aside (a
/// rootless container can't have those enforced, and runc ignores them there).
/// A group counts when its JSON form would hold a value: unset options, empty lists and maps
/// don't (`{"memory": {}, "cpu": {"shares": null}}` sets nothing). Checked field by field, not
/// by serialising `LinuxResources` (that code cost ~5 KiB of the static binary); the test
/// compares it with the serialising version.
pub fn limits_set(linux_cfg: Option<&oci_spec::runtime::Linux>) -> Option<String> {
    let r = linux_cfg.and_then(|l| l.resources().as_ref())?;
    let bio = r.block_io().as_ref().is_some_and(|b| {
        b.weight().is_some()
            || b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
            || [
                b.throttle_read_bps_device(),
                b.throttle_write_bps_device(),
                b.throttle_read_iops_device(),
                b.throttle_write_iops_device(),
            ]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
    });
    let net = r.network().as_ref().is_some_and(|n| {
        n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())
    });
    let rdma = r.rdma().as_ref().is_some_and(|m| {
        m.values()
            .any(|d| d.hca_handles().is_some() || d.hca_objects().is_some())
    });
    // In JSON key order (serde_json's maps are sorted), as runc's message would list them.
    let groups = [
        ("blockIO", bio),
        (
            "cpu",
            r.cpu().as_ref().is_some_and(|c| *c != Default::default()),
        ),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()),
        ),
        (
            "memory",
            r.memory()
                .as_ref()
                .is_some_and(|m| *m != Default::default()),
        ),
        ("network", net),
        ("pids", r.pids().is_some()),
        ("rdma", rdma),
        (
            "unified",
            r.unified().as_ref().is_some_and(|u| !u.is_empty()),
        ),
    ];
    let names: Vec<&str> = groups.iter().filter(|g| g.1).map(|g| g.0).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(resources: serde_json::Value) -> oci_spec::runtime::Linux {
        serde_json::from_value(serde_json::json!({ "resources": resources })).unwrap()
    }

    fn maps(uids: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {"uidMappings": uids, "namespaces": [{"type": "user"}]}
        }))
        .unwrap()
    }

    #[test]
    fn id_maps_validated() {
        let ok = serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536}
        ]);
        assert!(validate_maps(&maps(ok)).is_ok());
        for bad in [
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 0}]),
            serde_json::json!([{"containerID": 0, "hostID": 4294967295u32, "size": 2}]),
            serde_json::json!([
                {"containerID": 0, "hostID": 1000, "size": 10},
                {"containerID": 5, "hostID": 100000, "size": 10}
            ]),
            serde_json::json!([
                {"containerID": 0, "hostID": 1000, "size": 10},
                {"containerID": 10, "hostID": 1009, "size": 10}
            ]),
        ] {
            let e = validate_maps(&maps(bad.clone())).expect_err(&bad.to_string());
            assert_eq!(e.step, "linux.uidMappings", "{e}");
        }
    }

    #[test]
    fn device_rules_alone_are_no_limits() {
        let l = linux(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}));
        assert_eq!(limits_set(Some(&l)), None);
        assert_eq!(limits_set(None), None);
        let l = linux(serde_json::json!({"memory": {}, "cpu": {"shares": null}}));
        assert_eq!(limits_set(Some(&l)), None);
    }

    #[test]
    fn real_limits_are_named() {
        let l = linux(serde_json::json!({"memory": {"limit": 1048576}, "pids": {"limit": 5}}));
        assert_eq!(limits_set(Some(&l)).as_deref(), Some("memory, pids"));
    }

    /// The field-by-field check against the obvious one: serialise and look for a value.
    #[test]
    fn limits_set_matches_the_serialised_form() {
        fn is_empty(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::Null => true,
                serde_json::Value::Object(o) => o.values().all(is_empty),
                serde_json::Value::Array(a) => a.is_empty(),
                _ => false,
            }
        }
        let oracle = |l: &oci_spec::runtime::Linux| {
            let v = serde_json::to_value(l.resources().as_ref()?).ok()?;
            let names: Vec<&str> = v
                .as_object()?
                .iter()
                .filter(|(k, v)| k.as_str() != "devices" && !is_empty(v))
                .map(|(k, _)| k.as_str())
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        };
        let cases = serde_json::json!([
            {},
            {"devices": [{"allow": true}]},
            {"memory": {}, "cpu": {}, "pids": {"limit": 0}},
            {"memory": {"swappiness": 0}},
            {"memory": {"disableOOMKiller": false}},
            {"cpu": {"cpus": ""}},
            {"cpu": {"idle": 1}, "memory": {"checkBeforeUpdate": true}},
            {"blockIO": {}},
            {"blockIO": {"weightDevice": []}},
            {"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}},
            {"blockIO": {"throttleWriteIopsDevice": []}},
            {"blockIO": {"throttleWriteIopsDevice": [{"major": 8, "minor": 0, "rate": 5}]}},
            {"blockIO": {"leafWeight": 10}},
            {"hugepageLimits": []},
            {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]},
            {"network": {}},
            {"network": {"priorities": []}},
            {"network": {"classID": 1}},
            {"network": {"priorities": [{"name": "eth0", "priority": 1}]}},
            {"rdma": {}},
            {"rdma": {"mlx": {}}},
            {"rdma": {"mlx": {"hcaObjects": 3}}},
            {"unified": {}},
            {"unified": {"memory.max": "max"}},
            {"blockIO": {"weight": 1}, "cpu": {"shares": 2}, "hugepageLimits": [{"pageSize": "1GB", "limit": 1}],
             "memory": {"limit": 1}, "network": {"classID": 1}, "pids": {"limit": 1},
             "rdma": {"x": {"hcaHandles": 1}}, "unified": {"a": "b"}}
        ]);
        for c in cases.as_array().unwrap() {
            let l = linux(c.clone());
            assert_eq!(limits_set(Some(&l)), oracle(&l), "{c}");
        }
    }
}
