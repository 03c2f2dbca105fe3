//! The root switch where pivot_root can't work. On a device whose `/` is the initramfs,
//! pivot_root(2) fails with EINVAL (the root has no parent mount); reno falls back to moving
//! the rootfs onto `/` and chrooting. Here the same EINVAL is provoked by running reno
//! inside a chroot whose root directory is not a mount point, in a private mount namespace
//! (the booted-kernel tests in tests/vm exercise the real initramfs).

mod common;

use std::process::Command;

use common::{stderr, Bundle};
use serde_json::json;

#[test]
fn pivot_root_einval_falls_back_to_move_and_chroot() {
    require_root!();
    let mut b = Bundle::new("initramfs");
    b.sh("echo inside; cat /proc/self/mountinfo | wc -l; ls /");
    b.config["root"]["path"] = json!(b.rootfs());
    b.write_config();
    // The fake "initramfs" root: a plain directory (not a mount point) holding binds of what
    // reno needs to run (its libraries, /proc, /sys, /dev, /tmp with the bundle) and a copy of
    // its binary (the checkout may live anywhere, e.g. CI's /check).
    let base = b.dir.parent().expect("base").join("fakeroot");
    std::fs::create_dir_all(&base).expect("mkdir");
    std::fs::copy(common::reno_bin(), base.join("reno")).expect("copy reno");
    let script = format!(
        r#"set -e
for d in usr lib lib64 bin sbin proc sys dev tmp; do
  [ -e /$d ] || continue
  if [ -L /$d ]; then ln -s "$(readlink /$d)" {base}/$d; continue; fi
  mkdir -p {base}/$d; mount --rbind /$d {base}/$d
done
exec chroot {base} /reno --debug --root {root} run --bundle {bundle} {id}"#,
        base = base.display(),
        root = b.root.display(),
        bundle = b.dir.display(),
        id = b.id,
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = stderr(&out);
    assert!(out.status.success(), "stdout:\n{text}\nstderr:\n{err}");
    assert!(text.starts_with("inside\n"), "{text}");
    assert!(text.contains("bin\n"), "{text}");
    assert!(
        err.contains("falling back to move + chroot"),
        "the fallback was not taken: {err}"
    );
    b.assert_no_leftovers();
}

#[test]
fn json_log_carries_the_error_for_engines() {
    require_root!();
    let mut b = Bundle::new("jsonlog");
    b.config["ociVersion"] = json!("9.0.0");
    b.write_config();
    let log = b.dir.join("log.json");
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &bundle,
        &b.id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("log file");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a log line")).expect("json line");
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap_or("").contains("ociVersion"),
        "{text}"
    );
    assert!(last["time"].as_str().unwrap_or("").ends_with('Z'), "{text}");
}

#[test]
fn without_a_mount_namespace_the_root_switch_is_a_chroot() {
    require_root!();
    let mut b = Bundle::new("nomntns");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("ns")
        .retain(|n| n["type"] != "mount");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["mounts"] = json!([]);
    b.sh("ls /; readlink /proc/1/ns/mnt 2>/dev/null; echo done");
    let out = b.run_ok();
    assert!(out.contains("bin\n") && out.ends_with("done\n"), "{out}");
    b.assert_no_leftovers();
}
