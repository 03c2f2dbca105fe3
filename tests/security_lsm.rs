//! AppArmor profiles and SELinux labels. Where the host has the LSM, a container gets the
//! profile/label (checked through /proc/self/attr/current inside). Where it doesn't (this
//! project's CI machines have neither), a config asking for one is refused before anything
//! is created, and `features` says the LSM is disabled. The formatting and the attribute
//! paths are unit-tested in src/container/lsm.rs.

mod common;

use std::path::Path;

use common::Bundle;
use serde_json::{json, Value};

fn apparmor_on() -> bool {
    reno::container::lsm::apparmor_enabled()
}

fn selinux_on() -> bool {
    reno::container::lsm::selinux_enabled()
}

fn refused(b: &Bundle, what: &str) {
    let out = b.create();
    let err = common::stderr(&out);
    assert!(!out.status.success(), "create should fail");
    assert!(err.contains(what), "{err}");
    b.assert_no_leftovers();
}

#[test]
fn features_tell_the_truth() {
    require_root!();
    let out = common::reno_with_files(Path::new("/tmp"), &["features"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("features json");
    assert_eq!(v["linux"]["apparmor"]["enabled"], json!(apparmor_on()));
    assert_eq!(v["linux"]["selinux"]["enabled"], json!(selinux_on()));
    assert_eq!(
        v["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
}

#[test]
fn apparmor_profile() {
    require_root!();
    let mut b = Bundle::new("apparmor");
    b.sh("cat /proc/self/attr/current");
    if !apparmor_on() {
        skip!(
            "{}: AppArmor is not enabled on this host (no /sys/module/apparmor): \
             checking that a profile is refused instead",
            module_path!()
        );
        b.config["process"]["apparmorProfile"] = json!("reno-test");
        refused(&b, "AppArmor is not enabled");
        return;
    }
    // "unconfined" always exists: the write path is what is tested here.
    b.config["process"]["apparmorProfile"] = json!("unconfined");
    let out = b.run_ok();
    assert!(out.trim().starts_with("unconfined"), "{out}");
}

#[test]
fn selinux_process_label() {
    require_root!();
    let mut b = Bundle::new("selinux");
    b.sh("cat /proc/self/attr/current");
    if !selinux_on() {
        skip!(
            "{}: SELinux is not enabled on this host (no /sys/fs/selinux): \
             checking that labels are refused instead",
            module_path!()
        );
        b.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        refused(&b, "selinux is disabled");
        let mut b = Bundle::new("selinux-mount");
        b.sh("true");
        b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
        refused(&b, "SELinux is disabled");
        return;
    }
    // Our own label: a transition we are surely allowed.
    let own = std::fs::read_to_string("/proc/self/attr/current").unwrap_or_default();
    let own = own.trim_end_matches(['\0', '\n']).to_string();
    b.config["process"]["selinuxLabel"] = json!(own);
    let out = b.run_ok();
    assert_eq!(out.trim_end_matches(['\0', '\n']), own);
}

#[test]
fn exec_with_apparmor_or_label_on_a_host_without() {
    require_root!();
    if apparmor_on() || selinux_on() {
        skip!("{}: the host has an LSM", module_path!());
        return;
    }
    let mut b = Bundle::new("lsm-exec");
    b.sh("sleep 30");
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    for (flag, what) in [
        ("--apparmor", "AppArmor is not enabled"),
        ("--process-label", "selinux is disabled"),
    ] {
        let out = b.reno(&["exec", flag, "x", &b.id, "true"]);
        let err = common::stderr(&out);
        assert!(!out.status.success(), "{flag}");
        assert!(err.contains(what), "{flag}: {err}");
    }
    let _ = b.reno(&["kill", &b.id, "KILL"]);
}
