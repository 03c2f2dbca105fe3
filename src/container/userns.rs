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
        _ => *AUTO.get_or_init(|| {
            !rustix::process::geteuid().is_root()
                || crate::linux::fs::read_small("/proc/self/uid_map")
                    .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
                    .unwrap_or(false)
        }),
    }
}

/// `auto`'s answer, worked out once per process: init works it out before forking its
/// runtimes, which share its credentials and user namespace (and skip reading uid_map).
static AUTO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

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

/// The container's cgroup. Rootless, as runc's cgroupfs manager: the hierarchies where we
/// may create it (delegated to this user, e.g. a directory chowned to it, with
/// `linux.cgroupsPath` inside) are used, the others left out; a limit whose controller was
/// left out is an error naming it, and with no hierarchy at all (nothing delegated) the
/// container runs without a cgroup. Unlike runc, an explicit cgroupsPath that is not
/// writable everywhere is not an error: the rule is to say so and carry on.
/// On cgroup v2 a controller is delegated when the container's new directory offers it
/// (its `cgroup.controllers`, after `create_where_allowed` enabled what it could down the
/// path): the user may enable in its own subtree only what root enabled above it.
pub fn create_cgroup(
    path: &str,
    rootless: bool,
    linux_cfg: Option<&oci_spec::runtime::Linux>,
) -> Result<Option<Cgroup>> {
    if !rootless {
        return Cgroup::create(path).map(Some);
    }
    let (cg, refused) = Cgroup::create_where_allowed(path)?;
    let v2_dir = cg.dirs.iter().find(|(h, _)| h.v2).map(|(_, d)| d.clone());
    let v2_offers = v2_dir
        .as_ref()
        .and_then(|d| linux::fs::read_small(d.join("cgroup.controllers")).ok())
        .unwrap_or_default();
    let v2_name = |c: &str| if c == "blkio" { "io" } else { c }.to_string();
    // A controller is served by a v1 hierarchy that has it, or by the v2 directory.
    let served = |c: &str| {
        cg.dirs
            .iter()
            .any(|(h, _)| !h.v2 && h.controllers.iter().any(|x| x == c))
            || v2_offers.split_whitespace().any(|x| x == v2_name(c))
    };
    let wanted = linux_cfg
        .and_then(|l| l.resources().as_ref())
        .map(crate::cgroups::knob::requested)
        .unwrap_or_default();
    if let Some(c) = wanted.into_iter().find(|c| !served(c)) {
        let v1_refusal = refused
            .iter()
            .find(|(h, _)| h.controllers.iter().any(|x| x == c));
        let err = match (v1_refusal, &v2_dir) {
            (None, Some(dir)) => {
                // v2 enables a controller for children only of a cgroup without processes.
                let parent = dir.parent().unwrap_or(dir);
                let busy = linux::fs::read_small(parent.join("cgroup.procs"))
                    .is_ok_and(|p| !p.trim().is_empty());
                let why = if busy {
                    format!(
                        "{} has processes of its own, so cgroup v2 enables no controller \
                         below it (the no-internal-process rule): start reno from a child \
                         cgroup of it, or point linux.cgroupsPath elsewhere",
                        parent.display()
                    )
                } else {
                    "not delegated to this user: root must enable it in the delegated \
                     cgroup's parent (cgroup.subtree_control)"
                        .to_string()
                };
                Some(Error::invalid(
                    "linux.resources",
                    format!(
                        "rootless: cannot set {c} limits: no cgroup v2 {} controller in {} \
                         (its cgroup.controllers: {:?}): {why}",
                        v2_name(c),
                        dir.display(),
                        v2_offers.trim()
                    ),
                ))
            }
            (r, _) => r.or(refused.first()).map(|(_, e)| {
                e.clone().detail(format!(
                    "rootless: cannot set {c} limits without a {c} cgroup; delegate one to \
                     this user (and point linux.cgroupsPath at it) or drop linux.resources"
                ))
            }),
        };
        if let Some(e) = err {
            let _ = cg.destroy();
            return Err(e);
        }
    }
    for (h, e) in &refused {
        log::debug!(
            "rootless: no cgroup in {} ({e}): not delegated; carrying on without it",
            h.mount_point.display()
        );
    }
    Ok((!cg.dirs.is_empty()).then_some(cg))
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
        // What create_cgroup asks a delegated hierarchy for: devices never (runc ignores
        // them rootless), empty groups neither.
        let req = |v| {
            let l = linux(v);
            crate::cgroups::knob::requested(l.resources().as_ref().unwrap())
        };
        assert!(
            req(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})).is_empty()
        );
        assert!(req(serde_json::json!({"memory": {}, "cpu": {"shares": null}})).is_empty());
        assert_eq!(
            req(serde_json::json!({"memory": {"limit": 1048576}, "pids": {"limit": 5}})),
            ["memory", "pids"]
        );
    }
}
