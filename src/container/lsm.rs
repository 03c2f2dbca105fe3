//! AppArmor profiles and SELinux labels, applied as runc applies them: by writing the
//! process's own LSM attributes under /proc, so they take effect at the next execve, and
//! with `context="…"` on the mounts that take a label.
//!
//! A config asking for one on a host without it is refused before anything is created
//! (runc refuses a SELinux label in its validation and fails at init on an AppArmor profile:
//! the write to /proc/self/attr/exec gives EINVAL; reno says why up front).

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::spec::{Process, Spec};

/// runc's test: securityfs has an apparmor directory and the module says it is enabled.
pub fn apparmor_enabled() -> bool {
    apparmor_enabled_at(Path::new("/"))
}

fn apparmor_enabled_at(root: &Path) -> bool {
    root.join("sys/kernel/security/apparmor").exists()
        && std::fs::read(root.join("sys/module/apparmor/parameters/enabled"))
            .is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// go-selinux's test, simplified: selinuxfs is mounted and we have a label of our own.
pub fn selinux_enabled() -> bool {
    let fs = ["/sys/fs/selinux", "/selinux"]
        .iter()
        .any(|d| Path::new(d).join("enforce").exists());
    fs && crate::linux::fs::read_small(proc_attr("current")).is_ok_and(|s| is_label(&s))
}

/// Whether attr/current holds a label: before a policy is loaded the kernel answers
/// `kernel\0` (with the NUL), which is no label.
fn is_label(current: &str) -> bool {
    let s = current.trim_end_matches(['\0', '\n']);
    !s.is_empty() && s != "kernel"
}

/// `/proc/thread-self/attr/<name>` (our own, the only one an LSM lets us change), or
/// /proc/self on kernels before 3.17.
fn proc_attr(name: &str) -> PathBuf {
    let ts = Path::new("/proc/thread-self");
    let base = if ts.exists() {
        ts
    } else {
        Path::new("/proc/self")
    };
    base.join("attr").join(name)
}

/// Where AppArmor's exec attribute is: the per-LSM directory (Linux ≥ 5.8, where several
/// LSMs can be stacked), else the shared file.
pub fn apparmor_exec_path(attr_dir: &Path) -> PathBuf {
    let own = attr_dir.join("apparmor/exec");
    if own.exists() {
        own
    } else {
        attr_dir.join("exec")
    }
}

/// What aa_change_onexec writes.
pub fn apparmor_exec_value(profile: &str) -> String {
    format!("exec {profile}")
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Refuse what this host can't apply (called before anything is created).
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        validate_process(p)?;
    }
    if let Some(l) = mount_label(spec) {
        if !selinux_enabled() {
            return Err(Error::invalid(
                "linux.mountLabel",
                format!("{l:?} is set, but SELinux is disabled or not supported on this host"),
            ));
        }
    }
    Ok(())
}

/// The process part of `validate`, also for `exec`.
pub fn validate_process(p: &Process) -> Result<()> {
    if nonempty(p.apparmor_profile()).is_some() && !apparmor_enabled() {
        return Err(Error::invalid(
            "process.apparmorProfile",
            "an AppArmor profile is set, but AppArmor is not enabled on this host",
        ));
    }
    if nonempty(p.selinux_label()).is_some() && !selinux_enabled() {
        return Err(Error::invalid(
            "process.selinuxLabel",
            "selinux label is specified in config, but selinux is disabled or not supported",
        ));
    }
    Ok(())
}

pub fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .filter(|s| !s.is_empty())
}

/// Set the AppArmor profile and the SELinux label the process gets at its next execve.
/// Call last before execve (runc: after the user switch).
pub fn apply_exec_attrs(p: &Process) -> Result<()> {
    if let Some(profile) = nonempty(p.apparmor_profile()) {
        let attr_dir = proc_attr("");
        let f = apparmor_exec_path(&attr_dir);
        crate::linux::fs::write_file(&f, apparmor_exec_value(profile).as_bytes())
            .ctx_path(&format!("apply AppArmor profile {profile:?}"), &f)
            .map_err(|e| {
                if e.errno == Some(rustix::io::Errno::NOENT) && f.exists() {
                    // The file is there: ENOENT is the kernel's answer to the profile name.
                    e.detail("the kernel has no AppArmor profile of that name (load it first)")
                } else {
                    e
                }
            })?;
    }
    if let Some(label) = nonempty(p.selinux_label()) {
        let f = proc_attr("exec");
        crate::linux::fs::write_file(&f, label.as_bytes())
            .ctx_path(&format!("set SELinux exec label {label:?}"), &f)
            .map_err(unknown_context)?;
    }
    Ok(())
}

/// EINVAL from a write of a label: the kernel's answer to a context the loaded policy
/// doesn't define (an unknown type, role or user, a level outside the user's range).
fn unknown_context(e: Error) -> Error {
    if e.errno == Some(rustix::io::Errno::INVAL) {
        e.detail("not a valid context in the loaded SELinux policy")
    } else {
        e
    }
}

/// The label new keys get (the session keyring joined next), as runc's SetKeyLabel;
/// `""` resets it. Only with SELinux enabled and a label set.
pub fn set_key_label(label: &str) -> Result<()> {
    let f = proc_attr("keycreate");
    crate::linux::fs::write_file(&f, label.as_bytes())
        .ctx_path(&format!("set SELinux key label {label:?}"), &f)
        .map_err(unknown_context)
}

/// Filesystem types runc mounts without the mount label: proc and sysfs have their own,
/// mqueue is labelled by xattr instead, cgroups take none.
const UNLABELLED: &[&str] = &["proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind"];

/// The data string of a mount of type `typ` with the SELinux mount label added, as
/// go-selinux's FormatMountLabel: `data,context="label"`.
pub fn with_mount_label(data: &str, typ: &str, label: Option<&str>) -> String {
    match label {
        Some(l) if !UNLABELLED.contains(&typ) => {
            if data.is_empty() {
                format!("context=\"{l}\"")
            } else {
                format!("{data},context=\"{l}\"")
            }
        }
        _ => data.to_string(),
    }
}

/// mqueue: the label goes on the mount's root as the security.selinux xattr (`path` may be
/// a /proc/self/fd link: followed).
pub fn label_file(path: &Path, label: &str) -> Result<()> {
    rustix::fs::setxattr(
        path,
        "security.selinux",
        label.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(|e| {
        let err = Error::sys(format!("set SELinux label {label:?}"), e).path(path);
        if e == rustix::io::Errno::INVAL {
            // Also what a policy without the object's class answers (validatetrans).
            err.detail(
                "the loaded SELinux policy rejects it (an undefined context, or no `dir` class)",
            )
        } else {
            err
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_value_is_aa_change_onexec() {
        assert_eq!(apparmor_exec_value("docker-default"), "exec docker-default");
    }

    #[test]
    fn apparmor_attr_prefers_the_per_lsm_file() {
        let d = std::env::temp_dir().join(format!("reno-lsm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(apparmor_exec_path(&d), d.join("exec"));
        std::fs::create_dir_all(d.join("apparmor")).unwrap();
        std::fs::write(d.join("apparmor/exec"), "").unwrap();
        assert_eq!(apparmor_exec_path(&d), d.join("apparmor/exec"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn apparmor_enabled_reads_the_module_parameter() {
        let d = std::env::temp_dir().join(format!("reno-aa-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        assert!(!apparmor_enabled_at(&d));
        std::fs::create_dir_all(d.join("sys/kernel/security/apparmor")).unwrap();
        std::fs::create_dir_all(d.join("sys/module/apparmor/parameters")).unwrap();
        std::fs::write(d.join("sys/module/apparmor/parameters/enabled"), "N\n").unwrap();
        assert!(!apparmor_enabled_at(&d));
        std::fs::write(d.join("sys/module/apparmor/parameters/enabled"), "Y\n").unwrap();
        assert!(apparmor_enabled_at(&d));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn no_policy_is_no_label() {
        // What Debian's 6.1 kernel answers before and after a policy load.
        assert!(!is_label("kernel\0"));
        assert!(!is_label("kernel"));
        assert!(!is_label(""));
        assert!(is_label("system_u:system_r:kernel_t:s0\0"));
    }

    #[test]
    fn mount_label_goes_on_the_right_mounts() {
        let l = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            with_mount_label("mode=755,size=65536k", "tmpfs", l),
            "mode=755,size=65536k,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            with_mount_label("", "devpts", l),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        for t in ["proc", "sysfs", "mqueue", "cgroup"] {
            assert_eq!(with_mount_label("x", t, l), "x");
        }
        assert_eq!(with_mount_label("x", "tmpfs", None), "x");
    }
}
