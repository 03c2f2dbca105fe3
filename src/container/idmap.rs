//! Idmapped bind mounts (`idmap`/`ridmap` options, a mount's `uidMappings`/`gidMappings`),
//! prepared by `create` before the clone: still in the host's user namespace, where the
//! privilege to idmap a host filesystem is. Each becomes a detached, idmapped copy of the
//! source that the init inherits and attaches at the destination (`rootfs::mount_entry`).
//!
//! Mappings: the mount's own, else the container's (runtime-spec: `idmap` without mappings
//! uses the container's user namespace mappings). The mapping reads as for a user
//! namespace: on-disk id `containerID + n` is seen as `hostID + n` through the mount.

use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::linux::{idmap, mount as m};
use crate::spec::{LinuxIdMapping, Spec};

/// "inside outside count" lines, as written to /proc/PID/uid_map.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// One detached idmapped tree per mount that asks for one (None for the others), indexed
/// like `spec.mounts`.
pub fn prepare(spec: &Spec, bundle: &Path, new_userns: bool) -> Result<Vec<Option<OwnedFd>>> {
    let mut out = Vec::new();
    // Mounts with the same mappings share one user namespace.
    let mut userns: Vec<((String, String), OwnedFd)> = Vec::new();
    for (i, mnt) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        let opts = m::parse_options(mnt.options().as_deref().unwrap_or(&[]));
        let (own_uid, own_gid) = (mnt.uid_mappings().as_ref(), mnt.gid_mappings().as_ref());
        if !opts.idmap && own_uid.is_none() && own_gid.is_none() {
            out.push(None);
            continue;
        }
        let is_bind = opts.flags & m::MS_BIND != 0 || mnt.typ().as_deref() == Some("bind");
        if !is_bind {
            return Err(Error::invalid(
                &field,
                "idmapped mounts are only supported for bind mounts",
            ));
        }
        let maps = match (own_uid, own_gid) {
            (Some(u), Some(g)) => (map_text(u), map_text(g)),
            (None, None) => {
                let l = spec.linux().as_ref();
                let (u, g) = (
                    l.and_then(|l| l.uid_mappings().as_ref()),
                    l.and_then(|l| l.gid_mappings().as_ref()),
                );
                match (u, g) {
                    (Some(u), Some(g)) if new_userns => (map_text(u), map_text(g)),
                    _ => {
                        return Err(Error::invalid(
                            &field,
                            "idmap: no uidMappings/gidMappings on the mount and no user namespace mappings of the container to use",
                        ))
                    }
                }
            }
            _ => {
                return Err(Error::invalid(
                    &field,
                    "uidMappings and gidMappings must be given together",
                ))
            }
        };
        if !rustix::process::geteuid().is_root() {
            // As runc: idmapping a host filesystem needs CAP_SYS_ADMIN where it was mounted.
            return Err(Error::invalid(
                &field,
                "idmapped mounts need reno to run as root (CAP_SYS_ADMIN in the initial user namespace)",
            ));
        }
        if maps.0.is_empty() || maps.1.is_empty() {
            return Err(Error::invalid(
                &field,
                "idmap: empty uidMappings/gidMappings",
            ));
        }
        let src = mnt.source().clone().unwrap_or_default();
        let src: PathBuf = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let step = format!("{field}: idmapped mount of {}", src.display());
        let ns = match userns.iter().position(|(k, _)| *k == maps) {
            Some(n) => n,
            None => {
                let fd = idmap::userns_with_maps(&maps.0, &maps.1).map_err(|e| {
                    Error::sys(format!("{step}: user namespace for the mapping"), e)
                        .detail(format!("uid_map {:?} gid_map {:?}", maps.0, maps.1))
                })?;
                userns.push((maps, fd));
                userns.len() - 1
            }
        };
        let tree = idmap::clone_tree(&src, opts.flags & m::MS_REC != 0).map_err(|e| {
            let err = Error::sys(format!("{step}: open_tree"), e).path(&src);
            if e == Errno::NOSYS {
                err.detail("the kernel has no open_tree(2) (Linux < 5.2)")
            } else {
                err
            }
        })?;
        idmap::set_idmap(&tree, &userns[ns].1, opts.ridmap).map_err(|e| {
            let err = Error::sys(format!("{step}: mount_setattr(MOUNT_ATTR_IDMAP)"), e).path(&src);
            match e {
                Errno::NOSYS => err.detail("the kernel has no mount_setattr(2) (Linux < 5.12)"),
                Errno::INVAL => err.detail(
                    "the filesystem does not support idmapped mounts here (or the kernel is older than 5.12)",
                ),
                _ => err,
            }
        })?;
        out.push(Some(tree));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_proc_lines() {
        let v: Vec<LinuxIdMapping> = serde_json::from_value(serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536}
        ]))
        .unwrap();
        assert_eq!(map_text(&v), "0 1000 1\n1 100000 65536\n");
    }
}
