//! Bundle configs parsed ahead of time by init (PID 1), for the runtimes it forks.
//!
//! Each container start from init is a fork running `reno run`, which would read and parse
//! the bundle's config.json (~0.9 ms under TCG, the biggest piece of the runtime's own work
//! before the clone). Init parses each of its bundles once, while idle, and keeps the result;
//! the fork inherits it. `create::Config::load` takes it only when config.json is still the
//! very file parsed (device, inode, size, mtime and ctime to the nanosecond; a stat instead
//! of the read), else it reads and parses the file as any other command does. A process
//! that never called `preparse` (every CLI command) has an empty cache and pays nothing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::create::Config;

/// What identifies one version of a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, u64),
    ctime: (i64, u64),
}

fn key_of(path: &Path) -> Option<FileKey> {
    let st = rustix::fs::stat(path).ok()?;
    Some(FileKey {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        size: st.st_size as i64,
        mtime: (st.st_mtime as i64, st.st_mtime_nsec as u64),
        ctime: (st.st_ctime as i64, st.st_ctime_nsec as u64),
    })
}

struct Entry {
    /// The bundle path as init names it (its board config's).
    given: PathBuf,
    key: FileKey,
    config: Config,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn cache() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `bundle` lies on a filesystem init may read from its own loop: not a network or
/// FUSE one, where a hung server would stall PID 1 (the runtime reads those itself). Told
/// from `mountinfo`'s text by the longest mount point above the path as given, so nothing
/// on the bundle's filesystem is touched.
pub fn on_local_fs(bundle: &Path, mountinfo: &str) -> bool {
    let mut best: Option<(usize, &str)> = None;
    for line in mountinfo.lines() {
        let (Some(point), Some(fstype)) = (
            line.split(' ').nth(4),
            line.split_once(" - ")
                .and_then(|(_, post)| post.split(' ').next()),
        ) else {
            continue;
        };
        let point = crate::linux::mount::unescape_mountinfo(point);
        if bundle.starts_with(&point) && best.is_none_or(|(len, _)| point.len() >= len) {
            best = Some((point.len(), fstype));
        }
    }
    let remote = |t: &str| {
        matches!(
            t,
            "nfs" | "nfs4" | "cifs" | "smb3" | "9p" | "ceph" | "afs" | "glusterfs"
        ) || t.starts_with("fuse")
    };
    !best.is_some_and(|(_, t)| remote(t))
}

/// Whether the cache holds the config of `bundle` (as `preparse` was given it).
pub fn holds(bundle: &Path) -> bool {
    cache().iter().any(|e| e.given == bundle)
}

/// How many configs the cache holds.
pub fn len() -> usize {
    cache().len()
}

/// Drop the config of `bundle` (as `preparse` was given it).
pub fn forget(bundle: &Path) {
    cache().retain(|e| e.given != bundle);
}

/// Read and parse `bundle`'s config.json into the cache (replacing an older entry). Errors
/// are left for the runtime to report when it parses the file itself.
pub fn preparse(bundle: &Path) {
    let Ok(dir) = std::fs::canonicalize(bundle) else {
        return;
    };
    let path = dir.join("config.json");
    // The key before the read: a write racing the read leaves a key that no longer matches.
    let Some(key) = key_of(&path) else { return };
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let Ok(spec) = crate::spec::parse(&bytes) else {
        return;
    };
    let mut cache = cache();
    cache.retain(|e| e.given != bundle && e.config.bundle != dir);
    cache.push(Entry {
        given: bundle.to_path_buf(),
        key,
        config: Config {
            bundle: dir,
            path,
            bytes,
            spec,
        },
    });
}

/// The config parsed ahead for the canonical bundle `dir`, if config.json is unchanged since;
/// taken out of this process's copy of the cache (a runtime loads its config once).
pub fn take(dir: &Path) -> Option<Config> {
    let mut cache = cache();
    let i = cache.iter().position(|e| e.config.bundle == dir)?;
    if key_of(&cache[i].config.path) != Some(cache[i].key) {
        return None;
    }
    Some(cache.swap_remove(i).config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}"#;

    fn bundle(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("reno-preparsed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config.json"), CONFIG).unwrap();
        d
    }

    #[test]
    fn an_unchanged_config_is_taken_once() {
        let b = bundle("same");
        preparse(&b);
        assert!(holds(&b));
        let dir = std::fs::canonicalize(&b).unwrap();
        let c = take(&dir).expect("parsed ahead");
        assert_eq!(c.bytes, CONFIG.as_bytes());
        assert_eq!(
            c.spec.process().as_ref().unwrap().args().as_ref().unwrap()[0],
            "/bin/true"
        );
        assert!(take(&dir).is_none(), "taken out");
        std::fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn a_config_changed_since_is_read_again() {
        let b = bundle("changed");
        preparse(&b);
        // Same size, new content: the ctime/mtime (nanoseconds) tell.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(b.join("config.json"), CONFIG.replace("true", "echo")).unwrap();
        assert!(take(&std::fs::canonicalize(&b).unwrap()).is_none());
        forget(&b);
        assert!(!holds(&b));
        std::fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn bundles_on_network_or_fuse_filesystems_are_left_to_the_runtime() {
        let info = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    2 1 0:40 / /srv/nfs rw - nfs4 host:/x rw\n\
                    3 2 0:41 / /srv/nfs/local rw - tmpfs tmpfs rw\n\
                    4 1 0:42 / /mnt/f\\040s rw - fuse.sshfs a:b rw\n";
        assert!(on_local_fs(Path::new("/containers/app"), info));
        assert!(!on_local_fs(Path::new("/srv/nfs/app"), info));
        assert!(on_local_fs(Path::new("/srv/nfs/local/app"), info));
        assert!(!on_local_fs(Path::new("/mnt/f s/app"), info));
        assert!(
            on_local_fs(Path::new("/srv/nfsx/app"), info),
            "not under /srv/nfs"
        );
    }

    #[test]
    fn an_unparsable_config_is_not_held() {
        let b = bundle("broken");
        std::fs::write(b.join("config.json"), "{").unwrap();
        preparse(&b);
        assert!(!holds(&b));
        std::fs::remove_dir_all(&b).unwrap();
    }
}
