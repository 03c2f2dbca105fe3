//! Idmapped bind mounts: a host directory whose files belong to uid/gid 1000 is bound into
//! the container through an idmapped mount, and the container sees the mapped owner.

mod common;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use common::Bundle;
use serde_json::{json, Value};

/// A host directory next to the bundle holding `f`, owned by 1000:1000.
fn host_dir(b: &Bundle, name: &str) -> PathBuf {
    let d = b.dir.parent().expect("bundle base").join(name);
    std::fs::create_dir_all(&d).expect("mkdir source");
    let f = d.join("f");
    std::fs::write(&f, "x").expect("write f");
    chown(&f, Some(1000), Some(1000)).expect("chown f");
    d
}

fn maps(c: u32, h: u32, n: u32) -> Value {
    json!([{"containerID": c, "hostID": h, "size": n}])
}

fn add_mount(b: &mut Bundle, m: Value) {
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts array")
        .push(m);
}

fn with_userns(b: &mut Bundle) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = maps(0, 100000, 65536);
    b.config["linux"]["gidMappings"] = maps(0, 100000, 65536);
    // The busybox rootfs must be readable by the container's root (host uid 100000).
    let _ = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status();
}

/// Why this kernel can't idmap here, if it can't: probe mount_setattr on a real tree.
fn idmap_unsupported(dir: &Path) -> Option<String> {
    let ns = match reno::linux::idmap::userns_with_maps("0 1000 1\n", "0 1000 1\n") {
        Ok(ns) => ns,
        Err(e) => return Some(format!("user namespace for the probe: {e}")),
    };
    let tree = match reno::linux::idmap::clone_tree(dir, false) {
        Ok(t) => t,
        Err(e) => return Some(format!("open_tree: {e}")),
    };
    reno::linux::idmap::set_idmap(&tree, &ns, false)
        .err()
        .map(|e| format!("mount_setattr(MOUNT_ATTR_IDMAP) on {}: {e}", dir.display()))
}

macro_rules! require_idmap {
    ($dir:expr) => {
        if let Some(why) = idmap_unsupported($dir) {
            skip!("{}: idmapped mounts unavailable: {why}", module_path!());
            return;
        }
    };
}

#[test]
fn explicit_mapping_without_userns() {
    require_root!();
    let mut b = Bundle::new("idmap-plain");
    let src = host_dir(&b, "src");
    require_idmap!(&src);
    add_mount(
        &mut b,
        json!({"source": src, "destination": "/mnt", "type": "bind", "options": ["bind", "ro"],
               "uidMappings": maps(1000, 2000, 1), "gidMappings": maps(1000, 3000, 1)}),
    );
    // `ro` still applies on top of the idmapping.
    b.sh("stat -c %u:%g /mnt/f; grep ' /mnt ' /proc/self/mountinfo");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"2000:3000"), "{out}");
    // mountinfo field 6: the per-mount options, with the idmapping flag.
    let opts = lines.get(1).and_then(|l| l.split(' ').nth(5)).unwrap_or("");
    assert!(opts.starts_with("ro,"), "{out}");
    assert!(opts.contains("idmapped"), "{out}");
    // The host's view is unchanged.
    let meta = std::fs::metadata(src.join("f")).expect("stat");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 1000);
    b.assert_no_leftovers();
}

#[test]
fn idmap_option_uses_container_mappings() {
    require_root!();
    let mut b = Bundle::new("idmap-implied");
    let src = host_dir(&b, "src");
    require_idmap!(&src);
    with_userns(&mut b);
    add_mount(
        &mut b,
        json!({"source": src, "destination": "/mapped", "type": "bind", "options": ["bind", "idmap"]}),
    );
    add_mount(
        &mut b,
        json!({"source": src, "destination": "/plain", "type": "bind", "options": ["bind"]}),
    );
    b.sh("stat -c %u:%g /mapped/f /plain/f; id -u");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    // Through the idmapped mount host uid 1000 shows as 1000 inside; unmapped it is nobody.
    assert_eq!(lines, ["1000:1000", "65534:65534", "0"], "{out}");
    b.assert_no_leftovers();
}

#[test]
fn explicit_mapping_in_userns() {
    require_root!();
    let mut b = Bundle::new("idmap-userns");
    let src = host_dir(&b, "src");
    require_idmap!(&src);
    with_userns(&mut b);
    add_mount(
        &mut b,
        json!({"source": src, "destination": "/mnt", "type": "bind", "options": ["rbind"],
               "uidMappings": maps(1000, 100005, 1), "gidMappings": maps(1000, 100007, 1)}),
    );
    // Container uid 5 owns the file through the mount: it can write it.
    b.config["process"]["user"] = json!({"uid": 5, "gid": 7});
    b.sh("stat -c %u:%g /mnt/f && echo y > /mnt/f && cat /mnt/f");
    let out = b.run_ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["5:7", "y"], "{out}");
    // On disk the file still belongs to host uid 1000, with the new content.
    let meta = std::fs::metadata(src.join("f")).expect("stat");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 1000);
    assert_eq!(std::fs::read_to_string(src.join("f")).expect("read"), "y\n");
    b.assert_no_leftovers();
}

#[test]
fn ridmap_maps_submounts_idmap_does_not() {
    require_root!();
    let mut b = Bundle::new("idmap-rec");
    let src = host_dir(&b, "src");
    require_idmap!(&src);
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir sub");
    // A submount: a second bind of the source tree onto src/sub.
    let other = host_dir(&b, "other");
    reno::linux::mount::mount(
        &other.to_string_lossy(),
        &sub,
        "",
        reno::linux::mount::MS_BIND,
        None,
    )
    .expect("bind submount");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = reno::linux::mount::unmount_detach(&self.0);
        }
    }
    let _guard = Unmount(sub.clone());
    for (dest, opt) in [("/r", "ridmap"), ("/n", "idmap")] {
        add_mount(
            &mut b,
            json!({"source": src, "destination": dest, "type": "bind", "options": ["rbind", opt],
                   "uidMappings": maps(1000, 2000, 1), "gidMappings": maps(1000, 2000, 1)}),
        );
    }
    b.sh("stat -c %u /r/f /r/sub/f /n/f /n/sub/f");
    let out = b.run_ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["2000", "2000", "2000", "1000"],
        "{out}"
    );
    b.assert_no_leftovers();
}

#[test]
fn idmap_on_non_bind_mount_is_refused() {
    require_root!();
    let mut b = Bundle::new("idmap-tmpfs");
    add_mount(
        &mut b,
        json!({"source": "tmpfs", "destination": "/t", "type": "tmpfs", "options": ["idmap"],
               "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}),
    );
    b.sh("true");
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("only supported for bind mounts"), "{err}");
    b.assert_no_leftovers();
}

#[test]
fn idmap_without_any_mapping_is_refused() {
    require_root!();
    let mut b = Bundle::new("idmap-nomap");
    let src = host_dir(&b, "src");
    add_mount(
        &mut b,
        json!({"source": src, "destination": "/mnt", "type": "bind", "options": ["bind", "idmap"]}),
    );
    b.sh("true");
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("no uidMappings/gidMappings"), "{err}");
    b.assert_no_leftovers();
}
