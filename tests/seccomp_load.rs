//! seccomp filters built by reno, loaded into the real kernel in forked children.
//!
//! No container is needed: each child sets no_new_privs, calls `reno::seccomp::install`,
//! makes its probe syscalls and sends one line per probe ("name result", result = 0 or the
//! errno) through a pipe. One #[test] runs everything in order, because the children are
//! forked with a raw clone and must not inherit a lock held by another test thread.

#[path = "common/podman_profile.rs"]
mod podman_profile;

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;

use oci_spec::runtime::LinuxSeccomp;
use reno::linux::process::{exit_now, fork, wait_exit_code, Forked};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use serde_json::json;

type Probes = fn(Option<&OwnedFd>) -> Vec<(&'static str, i32)>;

fn code<T>(r: Result<T, Errno>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error(),
    }
}

/// A raw syscall with integer arguments, for calls rustix has no wrapper for.
fn raw(nr: usize, a0: usize, a1: usize, a2: usize) -> i32 {
    // SAFETY: only integer arguments (no pointers) are passed; the probed calls either fail
    // on them or, for keyctl with an unknown operation, do nothing.
    match unsafe { syscalls::syscall3(syscalls::Sysno::from(nr as u32), a0, a1, a2) } {
        Ok(_) => 0,
        Err(e) => e.into_raw(),
    }
}

/// Fork, load `profile` in the child, run `probes` there; the child's exit code and answers.
fn in_child(profile: &LinuxSeccomp, probes: Probes) -> (i32, HashMap<String, i32>) {
    let (rd, wr) = rustix::pipe::pipe().expect("pipe");
    match fork().expect("fork") {
        Forked::Child => {
            drop(rd);
            let mut out = String::new();
            let code = match rustix::thread::set_no_new_privs(true) {
                Err(e) => {
                    let _ = writeln!(out, "no_new_privs {}", e.raw_os_error());
                    2
                }
                Ok(()) => match reno::seccomp::install(profile) {
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "install_error {}",
                            e.errno.map_or(-1, |e| e.raw_os_error())
                        );
                        3
                    }
                    Ok(fd) => {
                        for (name, result) in probes(fd.as_ref()) {
                            let _ = writeln!(out, "{name} {result}");
                        }
                        0
                    }
                },
            };
            let _ = rustix::io::write(&wr, out.as_bytes());
            exit_now(code)
        }
        Forked::Parent(pid) => {
            drop(wr);
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match rustix::io::read(&rd, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => text.extend_from_slice(&buf[..n]),
                    Err(Errno::INTR) => continue,
                    Err(e) => panic!("read from child: {e}"),
                }
            }
            let status = wait_exit_code(pid).expect("wait");
            let text = String::from_utf8_lossy(&text);
            let answers = text
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect();
            (status, answers)
        }
    }
}

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("profile")
}

fn small_probes(notify: Option<&OwnedFd>) -> Vec<(&'static str, i32)> {
    use rustix::fs::{Mode, OFlags, SeekFrom, CWD};
    let null = rustix::fs::open("/dev/null", OFlags::RDWR, Mode::empty());
    let Ok(null) = null else {
        return vec![("open", code(null))];
    };
    let mut other = match rustix::io::dup(&null) {
        Ok(fd) => fd,
        Err(e) => return vec![("dup", e.raw_os_error())],
    };
    let me = rustix::process::getpid();
    vec![
        ("notify_fd", notify.is_some() as i32),
        (
            "mkdirat",
            code(rustix::fs::mkdirat(CWD, "/", Mode::empty())),
        ),
        (
            "symlinkat",
            code(rustix::fs::symlinkat("/x", CWD, "/nonexistent/y")),
        ),
        ("seek_5", code(rustix::fs::seek(&null, SeekFrom::Start(5)))),
        (
            "seek_4g",
            code(rustix::fs::seek(&null, SeekFrom::Start(0x1_0000_0000))),
        ),
        (
            "seek_8g",
            code(rustix::fs::seek(&null, SeekFrom::Start(0x2_0000_0000))),
        ),
        (
            "dup3_cloexec",
            code(rustix::io::dup3(
                &null,
                &mut other,
                rustix::io::DupFlags::CLOEXEC,
            )),
        ),
        (
            "dup3_plain",
            code(rustix::io::dup3(
                &null,
                &mut other,
                rustix::io::DupFlags::empty(),
            )),
        ),
        ("kill_self_0", code(rustix::process::test_kill_process(me))),
        (
            "getpid",
            (rustix::process::getpid().as_raw_nonzero().get() <= 0) as i32,
        ),
        ("newest", raw(469, usize::MAX, 0, 0)),
        ("chroot_nr", raw(syscalls::Sysno::chroot as usize, 0, 0, 0)),
    ]
    .into_iter()
    .chain(notify.map(|fd| ("notify_fstat", code(rustix::fs::fstat(fd.as_fd())))))
    .collect()
}

fn small_profile(default: serde_json::Value) -> LinuxSeccomp {
    let mut p = json!({
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 27,
             "args": [{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_GT"}]},
            {"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43,
             "args": [{"index": 2, "value": 0x80000, "valueTwo": 0x80000, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 1, "op": "SCMP_CMP_NE"}]},
            {"names": ["acct"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
        ]
    });
    for (k, v) in default.as_object().into_iter().flatten() {
        p[k] = v.clone();
    }
    // With an ERRNO default, everything else the probes need must be allowed. (Not lseek,
    // dup3, kill unconditionally: an unconditional rule would override their conditions;
    // they get conditional ALLOW rules for the other cases instead.)
    if p["defaultAction"] == "SCMP_ACT_ERRNO" {
        let rules = p["syscalls"].as_array_mut().unwrap();
        rules.insert(
            0,
            json!({"action": "SCMP_ACT_ALLOW", "names": [
            "read", "write", "open", "openat", "close", "dup", "fcntl", "getpid",
            "fstat", "newfstatat", "statx", "mmap", "munmap", "mremap", "brk", "madvise", "futex",
            "rt_sigprocmask", "rt_sigaction", "sigaltstack", "exit", "exit_group", "getrandom"]}),
        );
        rules.extend([
            json!({"names": ["lseek"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_LE"}]}),
            json!({"names": ["dup3"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 2, "value": 0x80000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}),
            json!({"names": ["kill"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_GT"}]}),
            json!({"names": ["kill"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}),
        ]);
    }
    profile(p)
}

fn check_small(default: serde_json::Value, default_errno: i32) {
    let (status, a) = in_child(&small_profile(default.clone()), small_probes);
    assert_eq!(status, 0, "child failed: {a:?}");
    let want: &[(&str, i32)] = &[
        ("notify_fd", 1),
        ("notify_fstat", 0),
        ("mkdirat", 1),    // EPERM: ERRNO without errnoRet
        ("symlinkat", 38), // errnoRet 38
        ("seek_5", 0),
        ("seek_4g", 0), // GT 0x1_0000_0000 is false: the high word matters
        ("seek_8g", 27),
        ("dup3_cloexec", 43),
        ("dup3_plain", 0),
        ("kill_self_0", 42),
        ("getpid", 0),
    ];
    for (k, v) in want {
        assert_eq!(a.get(*k), Some(v), "{k} with default {default}: {a:?}");
    }
    // Numbers the profile does not name: the default, or ENOSYS above the newest it names.
    if default_errno == 0 {
        // Allowed: the kernel's own answers (chroot(NULL) → EFAULT; file_setattr → not ENOSYS).
        assert_eq!(a["chroot_nr"], 14, "{a:?}");
        assert_ne!(a["newest"], 38, "{a:?}");
    } else {
        assert_eq!(a["chroot_nr"], default_errno, "{a:?}");
        assert_eq!(a["newest"], 38, "{a:?}");
    }
}

fn podman_probes(_: Option<&OwnedFd>) -> Vec<(&'static str, i32)> {
    use rustix::fs::{Mode, CWD};
    use rustix::net::{AddressFamily, Protocol, SocketFlags, SocketType};
    use syscalls::Sysno;
    let sock = |af, ty, proto| {
        code(rustix::net::socket_with(
            af,
            ty,
            SocketFlags::CLOEXEC,
            proto,
        ))
    };
    vec![
        (
            "getpid",
            (rustix::process::getpid().as_raw_nonzero().get() <= 0) as i32,
        ),
        (
            "mkdirat",
            code(rustix::fs::mkdirat(CWD, "/", Mode::empty())),
        ),
        ("keyctl", raw(Sysno::keyctl as usize, 9999, 0, 0)),
        ("bpf", raw(Sysno::bpf as usize, 9999, 0, 0)),
        (
            "userfaultfd",
            raw(Sysno::userfaultfd as usize, 0xffff_ffff, 0, 0),
        ),
        ("add_key", raw(Sysno::add_key as usize, 0, 0, 0)),
        ("setns", raw(Sysno::setns as usize, usize::MAX, 0, 0)),
        (
            "personality_query",
            code(reno::linux::process::personality(0xffff_ffff)),
        ),
        (
            "personality_1234",
            code(reno::linux::process::personality(0x1234)),
        ),
        (
            "socket_audit",
            sock(
                AddressFamily::NETLINK,
                SocketType::RAW,
                Some(Protocol::from_raw(9.try_into().unwrap())),
            ),
        ),
        (
            "socket_route",
            sock(AddressFamily::NETLINK, SocketType::RAW, None),
        ),
        (
            "socket_inet",
            sock(AddressFamily::INET, SocketType::STREAM, None),
        ),
        ("newest", raw(469, usize::MAX, 0, 0)),
    ]
}

#[test]
fn seccomp_in_the_kernel() {
    if !std::path::Path::new("/proc/self/status").exists()
        || !std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .contains("Seccomp:")
    {
        skip!("the kernel has no seccomp (no Seccomp: line in /proc/self/status)");
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        skip!("the probes use x86_64 syscall numbers");
        return;
    }

    // Default ALLOW, then default ERRNO(EPERM) with the ENOSYS rule for new syscalls.
    check_small(json!({"defaultAction": "SCMP_ACT_ALLOW"}), 0);
    check_small(json!({"defaultAction": "SCMP_ACT_ERRNO"}), 1);

    // KILL_PROCESS: the child dies of SIGSYS.
    let (status, a) = in_child(
        &small_profile(json!({"defaultAction": "SCMP_ACT_ALLOW"})),
        |_| {
            vec![(
                "getppid",
                rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get()),
            )]
        },
    );
    assert_eq!(status, 128 + 31, "killed by SIGSYS: {a:?}");

    // WAIT_KILLABLE_RECV without a NOTIFY rule is dropped rather than refused by the kernel.
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}));
    let (status, a) = in_child(&p, |fd| {
        vec![
            ("notify_fd", fd.is_some() as i32),
            (
                "mkdirat",
                code(rustix::fs::mkdirat(
                    rustix::fs::CWD,
                    "/",
                    rustix::fs::Mode::empty(),
                )),
            ),
        ]
    });
    assert_eq!(
        (status, a.get("notify_fd"), a.get("mkdirat")),
        (0, Some(&0), Some(&1)),
        "{a:?}"
    );

    // A malformed profile loads nothing and says which field is wrong.
    let bad = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]}));
    let e = reno::seccomp::compile(&bad, reno::seccomp::Arch::X86_64).unwrap_err();
    assert!(
        e.to_string()
            .contains("linux.seccomp.syscalls[0].args[0].index"),
        "{e}"
    );

    // podman's default profile, as podman 4 passes it for its default capabilities.
    let json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/podman-seccomp.json"
    ))
    .expect("vendored profile");
    let p = podman_profile::podman_profile(&json, "amd64", podman_profile::PODMAN_CAPS);
    let (status, a) = in_child(&p, podman_probes);
    assert_eq!(status, 0, "child failed: {a:?}");
    let want: &[(&str, i32)] = &[
        ("getpid", 0),
        ("mkdirat", 17),    // allowed: EEXIST from the kernel
        ("keyctl", 95),     // allowed: EOPNOTSUPP for an unknown operation
        ("bpf", 1),         // denied: EPERM
        ("userfaultfd", 1), // denied: EPERM
        ("add_key", 38),    // not in the profile: defaultErrnoRet ENOSYS
        ("setns", 9),       // allowed (listed unconditionally first): EBADF
        ("personality_query", 0),
        ("personality_1234", 38), // persona not in the allowed list: default
        ("socket_audit", 22),     // NETLINK_AUDIT without CAP_AUDIT_WRITE: EINVAL
        ("socket_route", 0),
        ("socket_inet", 0),
        ("newest", 38),
    ];
    for (k, v) in want {
        assert_eq!(a.get(*k), Some(v), "{k}: {a:?}");
    }
}
