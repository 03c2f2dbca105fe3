//! `<root>/<id>/`: the container's state directory, its lock, the atomic state.json, and the
//! status derived from the init's pid *and start time* plus the exec fifo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{FlockOperation, Mode, OFlags};
use serde_json::{json, Value};

use crate::error::{Context, Error, Kind, Result};
use crate::linux;

mod time;
pub use time::rfc3339_now;

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
/// A frozen copy of config.json taken at create: later edits of the bundle must not affect
/// the container (runtime-spec), and delete needs the poststop hooks.
pub const CONFIG_COPY: &str = "config.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What reno remembers about a container.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    pub id: String,
    pub oci_version: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// 0 while creating.
    pub pid: i32,
    /// The init's start time in clock ticks since boot (pid-reuse guard).
    pub start_time: u64,
    pub created: String,
    pub owner: String,
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup path (same in every hierarchy).
    pub cgroup: String,
    /// The pid namespace is the host's (or joined): delete --force must kill every process
    /// in the cgroup, not only the init.
    pub shared_pidns: bool,
}

/// Reject ids that could escape the state root or confuse a reader, before any path is built.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = id.is_empty()
        || id.len() > 1024
        || id == "."
        || id == ".."
        || id.contains('/')
        || id.chars().any(|c| c.is_control() || c.is_whitespace());
    if bad {
        return Err(
            Error::new(Kind::Invalid, "invalid container id").detail(format!(
                "{id:?}: must be 1-1024 characters, no '/', '..', spaces or control characters"
            )),
        );
    }
    Ok(())
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Make `<root>/<id>`; the mkdir is the atomic claim on the id.
pub fn claim(root: &Path, id: &str) -> Result<PathBuf> {
    validate_id(id)?;
    let d = dir(root, id);
    let mkdir = || rustix::fs::mkdir(&d, Mode::from_raw_mode(0o711));
    // The root is there but for the first container: make it only when missing.
    let made = match mkdir() {
        Err(rustix::io::Errno::NOENT) => {
            std::fs::create_dir_all(root).ctx_path("create state root", root)?;
            mkdir()
        }
        r => r,
    };
    match made {
        Ok(()) => Ok(d),
        Err(rustix::io::Errno::EXIST) => Err(Error::new(
            Kind::Exists,
            format!("container with id exists: {id}"),
        )),
        Err(e) => Err(Error::sys("create state dir", e).path(&d)),
    }
}

/// An exclusive flock on the state dir, held for the length of one operation so concurrent
/// commands on one id are serialised.
pub struct Lock(#[allow(dead_code)] OwnedFd);

pub fn lock(dir: &Path) -> Result<Lock> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => not_found(dir),
        e => Error::sys("lock state dir", e).path(dir),
    })?;
    rustix::fs::flock(&fd, FlockOperation::LockExclusive).ctx_path("lock state dir", dir)?;
    Ok(Lock(fd))
}

fn not_found(dir: &Path) -> Error {
    let id = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::new(Kind::NotFound, format!("container does not exist: {id}"))
}

/// Is another process holding the lock (a create in progress)? Only for callers that do not
/// hold it themselves (`state`, `list`).
fn is_locked(dir: &Path) -> bool {
    let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    matches!(
        rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared),
        Err(rustix::io::Errno::WOULDBLOCK)
    )
}

/// Lock and load an existing container.
pub fn open(root: &Path, id: &str) -> Result<(Lock, Saved)> {
    validate_id(id)?;
    let d = dir(root, id);
    let lock = lock(&d)?;
    let saved = load(&d)?;
    Ok((lock, saved))
}

pub fn load(dir: &Path) -> Result<Saved> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Claimed but never written: a create that died before its first save.
            let id = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Saved {
                id,
                ..Saved::default()
            });
        }
        Err(e) => return Err(e).ctx_path("read state", &path),
    };
    from_json(&bytes).map_err(|e| e.path(&path))
}

fn from_json(bytes: &[u8]) -> Result<Saved> {
    let v: Value = crate::spec::json_value(bytes).map_err(|e| {
        Error::new(Kind::Failed, "read state").detail(format!("corrupt state file: {e}"))
    })?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let r = v.get("reno").cloned().unwrap_or(Value::Null);
    // A pid that does not fit would wrap (4294967297 → 1) and `delete --force` would
    // SIGKILL that process: refuse it like any other corruption.
    let pid = match v.get("pid").map(Value::as_i64) {
        None => 0,
        Some(Some(p)) if (0..=i32::MAX as i64).contains(&p) => p as i32,
        Some(_) => {
            return Err(Error::new(Kind::Failed, "read state")
                .detail("corrupt state file: pid is not a valid process id"))
        }
    };
    let id = s("id");
    if id.is_empty() {
        return Err(Error::new(Kind::Failed, "read state").detail("corrupt state file: no id"));
    }
    Ok(Saved {
        id,
        oci_version: s("ociVersion"),
        bundle: PathBuf::from(s("bundle")),
        rootfs: PathBuf::from(s("rootfs")),
        pid,
        start_time: r.get("startTime").and_then(Value::as_u64).unwrap_or(0),
        created: s("created"),
        owner: s("owner"),
        annotations: v
            .get("annotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        cgroup: r
            .get("cgroup")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        shared_pidns: r
            .get("sharedPidns")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// The state as runtime-spec (plus runc's `rootfs`, `created`, `owner`) shows it.
pub fn to_json(s: &Saved, status: Status) -> Value {
    let mut v = json!({
        "ociVersion": s.oci_version,
        "id": s.id,
        "pid": if matches!(status, Status::Stopped) { 0 } else { s.pid },
        "status": status.as_str(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "owner": s.owner,
    });
    if !s.annotations.is_empty() {
        v["annotations"] = json!(s.annotations);
    }
    v
}

/// Persist atomically (temp + rename; no fsync: see `write_replace`).
pub fn save(dir: &Path, s: &Saved, status: Status) -> Result<()> {
    let mut v = to_json(s, status);
    v["pid"] = json!(s.pid);
    v["reno"] =
        json!({"startTime": s.start_time, "cgroup": s.cgroup, "sharedPidns": s.shared_pidns});
    let path = dir.join(STATE_FILE);
    let text = crate::spec::json_text(&v, false);
    linux::fs::write_replace(&path, text.as_bytes()).ctx_path("write state", &path)
}

/// The live status: init alive (same start time) → created while the fifo exists, else
/// running (or paused when frozen); otherwise stopped.
pub fn status(dir: &Path, s: &Saved) -> Status {
    if s.pid <= 0 {
        // No init recorded: a create still under way (it holds the lock) or one that died.
        return if is_locked(dir) {
            Status::Creating
        } else {
            Status::Stopped
        };
    }
    if !linux::process::is_alive(s.pid, s.start_time) {
        return Status::Stopped;
    }
    // Frozen first, as runc: a created container can be paused too, and then reads "paused".
    if crate::cgroups::Cgroup::open(&s.cgroup).is_frozen() {
        return Status::Paused;
    }
    if dir.join(FIFO).exists() {
        return Status::Created;
    }
    Status::Running
}

/// Every id under the root (directories only), sorted.
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

/// Remove the state dir and everything in it.
pub fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx_path("remove state dir", dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-123_x.y").is_ok());
        for bad in ["", ".", "..", "a/b", "a\nb", "a b", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trip() {
        let s = Saved {
            id: "c".into(),
            pid: 42,
            start_time: 7,
            cgroup: "/reno/c".into(),
            created: "t".into(),
            ..Saved::default()
        };
        let d = std::env::temp_dir().join(format!("reno-state-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        save(&d, &s, Status::Created).unwrap();
        let l = load(&d).unwrap();
        assert_eq!((l.pid, l.start_time, l.cgroup.as_str()), (42, 7, "/reno/c"));
        std::fs::write(d.join(STATE_FILE), b"{garbage").unwrap();
        assert!(load(&d)
            .unwrap_err()
            .to_string()
            .contains("corrupt state file"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
