//! Compiler tests through the interpreter, for every architecture reno supports.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use super::arch::{Arch, X32_SYSCALL_BIT};
use super::bpf::{ret, SockFilter};
use super::compile::compile;
use super::interp::{run, SeccompData};

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

fn errno(e: u32) -> u32 {
    ret::ERRNO | e
}

fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("test profile deserialises")
}

fn eval(prog: &[SockFilter], arch: Arch, nr: u32, args: [u64; 6]) -> u32 {
    run(prog, &SeccompData::new(arch.audit(), nr, args))
        .expect("program runs")
        .action
}

fn call(prog: &[SockFilter], arch: Arch, name: &str, args: [u64; 6]) -> u32 {
    let nr = arch
        .syscall_nr(name)
        .unwrap_or_else(|| panic!("{name} on {arch:?}"));
    eval(prog, arch, nr, args)
}

fn a1(x: u64) -> [u64; 6] {
    [0, x, 0, 0, 0, 0]
}

/// One operator per syscall (all of them exist on every supported arch), on argument 1.
const OPS: &[(&str, &str)] = &[
    ("SCMP_CMP_EQ", "dup3"),
    ("SCMP_CMP_NE", "pipe2"),
    ("SCMP_CMP_LT", "unlinkat"),
    ("SCMP_CMP_LE", "linkat"),
    ("SCMP_CMP_GE", "symlinkat"),
    ("SCMP_CMP_GT", "readlinkat"),
    ("SCMP_CMP_MASKED_EQ", "faccessat"),
];
/// hi word 1, lo word 5: only a 64-bit comparison tells 0x1_0000_0005 from 5.
const V: u64 = 0x1_0000_0005;
const MASK: u64 = 0xff00_0000_00ff;
const MASKED: u64 = 0x1200_0000_0005;

fn holds(op: &str, x: u64, wide: bool) -> bool {
    let (x, v, m, e) = if wide {
        (x, V, MASK, MASKED)
    } else {
        (
            x as u32 as u64,
            V as u32 as u64,
            MASK as u32 as u64,
            MASKED as u32 as u64,
        )
    };
    match op {
        "SCMP_CMP_EQ" => x == v,
        "SCMP_CMP_NE" => x != v,
        "SCMP_CMP_LT" => x < v,
        "SCMP_CMP_LE" => x <= v,
        "SCMP_CMP_GE" => x >= v,
        "SCMP_CMP_GT" => x > v,
        "SCMP_CMP_MASKED_EQ" => x & m == e,
        _ => unreachable!(),
    }
}

/// A profile touching every action, operator, AND, OR and ordering rule.
fn suite_profile(arch: Arch) -> LinuxSeccomp {
    let mut syscalls = vec![
        json!({"names": ["read", "write", "close", "exit_group", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"}),
        json!({"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}),
        json!({"names": ["openat"], "action": "SCMP_ACT_ERRNO"}),
        json!({"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"}),
        json!({"names": ["gettid"], "action": "SCMP_ACT_KILL_THREAD"}),
        json!({"names": ["getppid"], "action": "SCMP_ACT_KILL"}),
        json!({"names": ["getuid"], "action": "SCMP_ACT_TRAP"}),
        json!({"names": ["getgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}),
        json!({"names": ["geteuid"], "action": "SCMP_ACT_LOG"}),
        json!({"names": ["getegid"], "action": "SCMP_ACT_NOTIFY"}),
        // AND: arg0 == 3 and arg2 > 10.
        json!({"names": ["fchownat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 50,
               "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"},
                        {"index": 2, "value": 10, "op": "SCMP_CMP_GT"}]}),
        // OR, first match in profile order.
        json!({"names": ["mknodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 21,
               "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["mknodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}),
        // An unconditional rule beats conditional ones, whatever the order.
        json!({"names": ["eventfd2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 31,
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["eventfd2"], "action": "SCMP_ACT_ALLOW"}),
        // The first unconditional rule wins.
        json!({"names": ["epoll_create1"], "action": "SCMP_ACT_ERRNO", "errnoRet": 41}),
        json!({"names": ["epoll_create1"], "action": "SCMP_ACT_ALLOW"}),
        // Same as the default action: dropped, so it does not shadow what follows.
        json!({"names": ["getrandom"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["getrandom"], "action": "SCMP_ACT_LOG",
               "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}),
    ];
    for (i, (op, name)) in OPS.iter().enumerate() {
        let arg = if *op == "SCMP_CMP_MASKED_EQ" {
            json!({"index": 1, "value": MASK, "valueTwo": MASKED, "op": op})
        } else {
            json!({"index": 1, "value": V, "op": op})
        };
        syscalls.push(json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 100 + i, "args": [arg]}));
    }
    profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": [arch.spec_name()],
        "syscalls": syscalls,
    }))
}

fn suite(arch: Arch) {
    let p = compile(&suite_profile(arch), arch).unwrap();
    assert!(p.notify);
    let prog = &p.insns;
    let c = |name: &str, args: [u64; 6]| call(prog, arch, name, args);
    let z = [0u64; 6];

    assert_eq!(c("read", z), ret::ALLOW, "{arch:?}");
    assert_eq!(c("exit_group", z), ret::ALLOW);
    assert_eq!(c("mkdirat", z), errno(13));
    assert_eq!(
        c("openat", z),
        errno(EPERM),
        "ERRNO without errnoRet is EPERM"
    );
    assert_eq!(c("getpid", z), ret::KILL_PROCESS);
    assert_eq!(c("gettid", z), ret::KILL_THREAD);
    assert_eq!(c("getppid", z), ret::KILL_THREAD);
    assert_eq!(c("getuid", z), ret::TRAP);
    assert_eq!(c("getgid", z), ret::TRACE | 5);
    assert_eq!(c("geteuid", z), ret::LOG);
    assert_eq!(c("getegid", z), ret::USER_NOTIF);
    // Not named, below the newest named syscall: the default.
    assert_eq!(c("chdir", z), errno(EPERM));

    // AND.
    assert_eq!(c("fchownat", [3, 0, 11, 0, 0, 0]), errno(50));
    assert_eq!(c("fchownat", [3, 0, 10, 0, 0, 0]), errno(EPERM));
    assert_eq!(c("fchownat", [4, 0, 11, 0, 0, 0]), errno(EPERM));
    // OR in order.
    assert_eq!(c("mknodat", [1, 7, 0, 0, 0, 0]), errno(21));
    assert_eq!(c("mknodat", [1, 8, 0, 0, 0, 0]), errno(22));
    assert_eq!(c("mknodat", [2, 7, 0, 0, 0, 0]), errno(21));
    assert_eq!(c("mknodat", [2, 8, 0, 0, 0, 0]), errno(EPERM));
    // Unconditional beats conditional; first unconditional wins.
    assert_eq!(c("eventfd2", [1, 0, 0, 0, 0, 0]), ret::ALLOW);
    assert_eq!(c("epoll_create1", z), errno(41));
    // Rule equal to the default was dropped.
    assert_eq!(c("getrandom", [0, 0, 0, 0, 0, 0]), ret::LOG);
    assert_eq!(c("getrandom", [0, 1, 0, 0, 0, 0]), errno(EPERM));

    // Every operator, around V, with values where only the high word differs.
    let probes = [
        0,
        5,
        4,
        6,
        V - 1,
        V,
        V + 1,
        0x2_0000_0000,
        0x2_0000_0005,
        0xffff_ffff,
        0xffff_ffff_ffff_ffff,
        MASKED,
        MASKED | 0x00ff_ffff_ff00,
        0x1300_0000_0005,
    ];
    for (i, (op, name)) in OPS.iter().enumerate() {
        for x in probes {
            let want = if holds(op, x, arch.wide_args()) {
                errno(100 + i as u32)
            } else {
                errno(EPERM)
            };
            assert_eq!(c(name, a1(x)), want, "{arch:?} {op} arg {x:#x}");
        }
    }

    // Newer than anything the profile names: ENOSYS.
    let top = if arch == Arch::X32 {
        X32_SYSCALL_BIT + 1000
    } else {
        1000
    };
    assert_eq!(eval(prog, arch, top, z), errno(ENOSYS));
    assert_eq!(
        eval(
            prog,
            arch,
            if arch == Arch::X32 {
                u32::MAX
            } else {
                0x3fff_ffff
            },
            z
        ),
        errno(ENOSYS)
    );
    // An architecture not in the filter, and a made-up one.
    let other = if arch == Arch::Aarch64 {
        Arch::Riscv64
    } else {
        Arch::Aarch64
    };
    assert_eq!(
        run(prog, &SeccompData::new(other.audit(), 0, z))
            .unwrap()
            .action,
        ret::KILL_PROCESS
    );
    assert_eq!(
        run(prog, &SeccompData::new(0x1234_5678, 0, z))
            .unwrap()
            .action,
        ret::KILL_PROCESS
    );
}

#[test]
fn x86_64() {
    suite(Arch::X86_64);
}
#[test]
fn x86() {
    suite(Arch::X86);
}
#[test]
fn x32() {
    suite(Arch::X32);
}
#[test]
fn aarch64() {
    suite(Arch::Aarch64);
}
#[test]
fn arm() {
    suite(Arch::Arm);
}
#[test]
fn riscv64() {
    suite(Arch::Riscv64);
}

#[test]
fn x32_split_on_x86_64() {
    let allow_read = |archs: Value| {
        profile(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": archs,
            "syscalls": [{"names": ["read", "close", "execve"], "action": "SCMP_ACT_ALLOW"}]}),
        )
    };
    let z = [0; 6];
    // Without x32 in the list, x32 syscalls are a bad arch (libseccomp kills them).
    let p = compile(&allow_read(json!(["SCMP_ARCH_X86_64"])), Arch::X86_64)
        .unwrap()
        .insns;
    assert_eq!(call(&p, Arch::X86_64, "read", z), ret::ALLOW);
    assert_eq!(
        eval(&p, Arch::X86_64, X32_SYSCALL_BIT, z),
        ret::KILL_PROCESS
    );
    // With x32: x32 numbers get their own section.
    let p = compile(
        &allow_read(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"])),
        Arch::X86_64,
    )
    .unwrap()
    .insns;
    assert_eq!(call(&p, Arch::X86_64, "read", z), ret::ALLOW);
    assert_eq!(call(&p, Arch::X32, "read", z), ret::ALLOW);
    assert_eq!(
        eval(&p, Arch::X32, X32_SYSCALL_BIT + 520, z),
        ret::ALLOW,
        "x32 execve"
    );
    // Above close (3): newer than the profile. x32's compat block (execve) does not count.
    assert_eq!(
        eval(&p, Arch::X32, X32_SYSCALL_BIT + 59, z),
        errno(ENOSYS),
        "x86_64's execve nr"
    );
    assert_eq!(
        eval(&p, Arch::X32, X32_SYSCALL_BIT + 521, z),
        errno(EPERM),
        "x32 ptrace"
    );
    assert_eq!(call(&p, Arch::X32, "write", z), errno(EPERM));
    // x32 alone on an x86_64 host: the native arch is always filtered too.
    let p = compile(&allow_read(json!(["SCMP_ARCH_X32"])), Arch::X86_64)
        .unwrap()
        .insns;
    assert_eq!(call(&p, Arch::X86_64, "read", z), ret::ALLOW);
    assert_eq!(call(&p, Arch::X32, "read", z), ret::ALLOW);
    // x32 alone, as the native arch: x86_64 numbers are a bad arch.
    let p = compile(&allow_read(json!([])), Arch::X32).unwrap().insns;
    assert_eq!(call(&p, Arch::X32, "read", z), ret::ALLOW);
    assert_eq!(eval(&p, Arch::X86_64, 0, z), ret::KILL_PROCESS);
}

#[test]
fn no_architectures_means_native_only() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}));
    let prog = compile(&p, Arch::Aarch64).unwrap().insns;
    assert_eq!(call(&prog, Arch::Aarch64, "mkdirat", [0; 6]), errno(EPERM));
    assert_eq!(call(&prog, Arch::Aarch64, "read", [0; 6]), ret::ALLOW);
    // Default ALLOW: no ENOSYS rule.
    assert_eq!(eval(&prog, Arch::Aarch64, 1000, [0; 6]), ret::ALLOW);
    assert_eq!(call(&prog, Arch::Arm, "read", [0; 6]), ret::KILL_PROCESS);
}

#[test]
fn default_errno_ret() {
    let p = profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let prog = compile(&p, Arch::X86_64).unwrap().insns;
    assert_eq!(call(&prog, Arch::X86_64, "read", [0; 6]), ret::ALLOW);
    // Below read (nr 0) there is nothing; everything above it is newer than the profile.
    assert_eq!(call(&prog, Arch::X86_64, "write", [0; 6]), errno(ENOSYS));
    let p = profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95,
        "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let prog = compile(&p, Arch::X86_64).unwrap().insns;
    assert_eq!(call(&prog, Arch::X86_64, "read", [0; 6]), errno(95));
    // Default KILL_PROCESS, TRAP: no ENOSYS either.
    for (act, val) in [
        ("SCMP_ACT_KILL_PROCESS", ret::KILL_PROCESS),
        ("SCMP_ACT_TRAP", ret::TRAP),
    ] {
        let p = profile(json!({"defaultAction": act,
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}));
        let prog = compile(&p, Arch::X86_64).unwrap().insns;
        assert_eq!(eval(&prog, Arch::X86_64, 1000, [0; 6]), val);
    }
}

#[test]
fn arm_private_syscalls() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "cacheflush", "set_tls"], "action": "SCMP_ACT_ALLOW"}]}));
    let prog = compile(&p, Arch::Arm).unwrap().insns;
    assert_eq!(call(&prog, Arch::Arm, "set_tls", [0; 6]), ret::ALLOW);
    assert_eq!(call(&prog, Arch::Arm, "cacheflush", [0; 6]), ret::ALLOW);
    // Not named, but an old private syscall: default, not ENOSYS.
    assert_eq!(call(&prog, Arch::Arm, "get_tls", [0; 6]), errno(EPERM));
    // The private block does not raise the "newest known" mark: write (4) is below read (3)?
    // No: read is 3, so 4 and up are newer → ENOSYS.
    assert_eq!(call(&prog, Arch::Arm, "write", [0; 6]), errno(ENOSYS));
}

#[test]
fn malformed_profiles_are_refused() {
    let err = |v: Value| compile(&profile(v), Arch::X86_64).unwrap_err().to_string();
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
    assert!(e.contains("linux.seccomp.syscalls[1].args[0].index"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert!(e.contains("linux.seccomp.defaultAction"), "{e}");
    let e = err(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_PPC64LE"]}),
    );
    assert!(
        e.contains("linux.seccomp.architectures[1]") && e.contains("SCMP_ARCH_PPC64LE"),
        "{e}"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}));
    assert!(e.contains("linux.seccomp.syscalls[0].action"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
    assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}));
    assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
    // What the spec types already refuse while parsing (config.json fails to load).
    for bad in [
        json!({"defaultAction": "SCMP_ACT_FOO"}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_FOO"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}),
    ] {
        assert!(
            serde_json::from_value::<LinuxSeccomp>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn action_values_match_oci_spec() {
    use oci_spec::runtime::LinuxSeccompAction as Act;
    for act in [
        Act::ScmpActKill,
        Act::ScmpActKillThread,
        Act::ScmpActKillProcess,
        Act::ScmpActTrap,
        Act::ScmpActErrno,
        Act::ScmpActTrace,
        Act::ScmpActLog,
        Act::ScmpActNotify,
    ] {
        for errno in [None, Some(13)] {
            if errno.is_some() && !matches!(act, Act::ScmpActErrno | Act::ScmpActTrace) {
                continue;
            }
            let mut rule = json!({"names": ["read"], "action": act});
            if let Some(e) = errno {
                rule["errnoRet"] = json!(e);
            }
            let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}));
            let prog = compile(&p, Arch::X86_64).unwrap().insns;
            assert_eq!(
                call(&prog, Arch::X86_64, "read", [0; 6]),
                act.as_u32(errno),
                "{act}"
            );
        }
    }
}

#[test]
fn flags_are_passed_through() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
    let p = compile(&p, Arch::X86_64).unwrap();
    assert_eq!(p.flags, 1 | 2 | 4 | 32);
    assert!(!p.notify);
}

// ---- podman's default profile (containers-common, vendored in tests/data) ----

#[path = "../../tests/common/podman_profile.rs"]
mod podman_profile;
use podman_profile::{podman_profile as podman, PODMAN_CAPS};
const PODMAN_JSON: &str = include_str!("../../tests/data/podman-seccomp.json");

fn podman_profile(goarch: &str, caps: &[&str]) -> LinuxSeccomp {
    podman(PODMAN_JSON, goarch, caps)
}

fn podman_checks(prog: &[SockFilter], arch: Arch) {
    let c = |name: &str, args: [u64; 6]| call(prog, arch, name, args);
    let z = [0; 6];
    for name in [
        "read",
        "write",
        "close",
        "mkdirat",
        "getpid",
        "keyctl",
        "mount",
        "clone",
        "setns",
        "exit_group",
    ] {
        assert_eq!(c(name, z), ret::ALLOW, "{arch:?} {name}");
    }
    // Denied with EPERM by their own rules.
    for name in [
        "bpf",
        "perf_event_open",
        "kexec_load",
        "userfaultfd",
        "init_module",
        "acct",
    ] {
        assert_eq!(c(name, z), errno(EPERM), "{arch:?} {name}");
    }
    // personality: a few personas only, the rest gets the default (ENOSYS here).
    assert_eq!(c("personality", [0; 6]), ret::ALLOW);
    assert_eq!(c("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ret::ALLOW);
    assert_eq!(c("personality", [1, 0, 0, 0, 0, 0]), errno(ENOSYS));
    // socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) → EINVAL without CAP_AUDIT_WRITE.
    assert_eq!(c("socket", [16, 3, 9, 0, 0, 0]), errno(22), "{arch:?}");
    assert_eq!(c("socket", [16, 3, 0, 0, 0, 0]), ret::ALLOW);
    assert_eq!(c("socket", [2, 1, 0, 0, 0, 0]), ret::ALLOW);
    // Not in the profile: the default, ENOSYS.
    assert_eq!(c("add_key", z), errno(ENOSYS));
    assert_eq!(eval(prog, arch, 0x7fff, z), errno(ENOSYS));
}

#[test]
fn podman_default_profile_on_every_arch() {
    for (goarch, native, others) in [
        ("amd64", Arch::X86_64, &[Arch::X86, Arch::X32][..]),
        ("386", Arch::X86, &[]),
        ("arm64", Arch::Aarch64, &[Arch::Arm]),
        ("arm", Arch::Arm, &[]),
        ("riscv64", Arch::Riscv64, &[]),
    ] {
        let p = compile(&podman_profile(goarch, PODMAN_CAPS), native).unwrap();
        podman_checks(&p.insns, native);
        for a in others {
            podman_checks(&p.insns, *a);
        }
        assert_eq!(
            run(&p.insns, &SeccompData::new(0x1234, 0, [0; 6]))
                .unwrap()
                .action,
            ret::KILL_PROCESS
        );
    }
    // Arch-specific rules.
    let p = compile(&podman_profile("amd64", PODMAN_CAPS), Arch::X86_64)
        .unwrap()
        .insns;
    assert_eq!(call(&p, Arch::X86_64, "arch_prctl", [0; 6]), ret::ALLOW);
    assert_eq!(call(&p, Arch::X86, "modify_ldt", [0; 6]), ret::ALLOW);
    let p = compile(&podman_profile("arm", PODMAN_CAPS), Arch::Arm)
        .unwrap()
        .insns;
    assert_eq!(call(&p, Arch::Arm, "set_tls", [0; 6]), ret::ALLOW);
    assert_eq!(call(&p, Arch::Arm, "cacheflush", [0; 6]), ret::ALLOW);
    // With CAP_SYS_ADMIN, bpf is allowed.
    let mut caps = PODMAN_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let p = compile(&podman_profile("amd64", &caps), Arch::X86_64)
        .unwrap()
        .insns;
    assert_eq!(call(&p, Arch::X86_64, "bpf", [0; 6]), ret::ALLOW);
}

/// A libseccomp-1-style linear filter (one compare per syscall, in profile order) for the
/// same unconditional rules, to compare lookup cost.
fn linear(seccomp: &LinuxSeccomp, arch: Arch) -> Vec<SockFilter> {
    use super::bpf::{Asm, Target, JEQ, OFF_ARCH, OFF_NR};
    let mut a = Asm::new();
    let bad = a.label();
    a.load(OFF_ARCH);
    a.jump(JEQ, arch.audit(), Target::Next, Target::Label(bad));
    a.load(OFF_NR);
    let allow = a.label();
    for s in seccomp.syscalls().iter().flatten() {
        if s.args().as_ref().is_some_and(|a| !a.is_empty()) {
            continue;
        }
        for n in s.names() {
            if let Some(nr) = arch.syscall_nr(n) {
                // A miss costs one step (the far jt goes through a trampoline it skips).
                a.jump(JEQ, nr, Target::Label(allow), Target::Next);
            }
        }
    }
    a.ret(ret::ERRNO | ENOSYS);
    a.bind(allow);
    a.ret(ret::ALLOW);
    a.bind(bad);
    a.ret(ret::KILL_PROCESS);
    a.finish().unwrap()
}

#[test]
fn podman_profile_cost() {
    let sc = podman_profile("amd64", PODMAN_CAPS);
    let t = std::time::Instant::now();
    let p = compile(&sc, Arch::X86_64).unwrap().insns;
    println!("compile time: {:?}", t.elapsed());
    let lin = linear(&sc, Arch::X86_64);
    println!(
        "podman amd64 profile (x86_64 + x86 + x32): {} instructions",
        p.len()
    );
    let x64only = {
        let mut s = sc.clone();
        s.set_architectures(None);
        compile(&s, Arch::X86_64).unwrap().insns.len()
    };
    println!("  x86_64 section alone: {x64only} instructions");
    let ja = p
        .iter()
        .filter(|i| i.code == super::bpf::JMP | super::bpf::JA)
        .count();
    println!("  JA instructions (section entries and trampolines): {ja}");
    let mut worst = 0;
    for n in [
        "read",
        "write",
        "openat",
        "futex",
        "epoll_wait",
        "mmap",
        "close",
        "getpid",
        "write",
        "exit_group",
    ] {
        let nr = Arch::X86_64.syscall_nr(n).unwrap();
        let d = SeccompData::new(Arch::X86_64.audit(), nr, [0; 6]);
        let ours = run(&p, &d).unwrap();
        let theirs = run(&lin, &d).unwrap();
        println!(
            "  {n:12} {} steps (linear chain: {})",
            ours.steps, theirs.steps
        );
        worst = worst.max(ours.steps);
    }
    // Every x86_64 syscall number: worst case of the tree.
    let max_steps = (0..500)
        .map(|nr| {
            run(&p, &SeccompData::new(Arch::X86_64.audit(), nr, [0; 6]))
                .unwrap()
                .steps
        })
        .max()
        .unwrap();
    println!("  worst over nr 0..500: {max_steps} steps");
    assert!(p.len() < 4096);
    assert!(worst <= 16, "a lookup must stay logarithmic");
}

#[test]
fn notify_on_write_is_refused() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "write"], "action": "SCMP_ACT_NOTIFY"}],
    }));
    let e = compile(&p, Arch::X86_64).unwrap_err();
    assert!(e.to_string().contains("write"), "{e}");
}
