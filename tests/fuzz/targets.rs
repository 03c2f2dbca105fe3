//! The four fuzz targets, shared by the libFuzzer binaries (`tests/fuzz/fuzz_targets/*.rs`,
//! nightly) and the stable in-process driver (`tests/robustness_fuzz.rs`). Each takes
//! arbitrary bytes and must return without panicking; the invariants they assert are the
//! ones a caller relies on (a loaded state never carries a pid the file didn't say, a
//! compiled seccomp program always runs to a return).
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// config.json: parse, then everything create checks before it makes anything.
pub fn spec(data: &[u8]) {
    let Ok(spec) = reno::spec::parse(data) else {
        return;
    };
    let bundle = Path::new("/nonexistent/reno-fuzz-bundle");
    let _ = reno::spec::validate(&spec, bundle);
    let _ = reno::spec::rootfs(&spec, bundle);
    let _ = reno::spec::namespaces(&spec);
    if let Some(p) = spec.process() {
        let _ = reno::spec::validate_process(p);
    }
    if let Some(l) = spec.linux() {
        let _ = reno::cgroups::container_path(l.cgroups_path().as_deref(), "fuzz");
        if let Some(s) = l.seccomp() {
            let _ = reno::seccomp::prepare(s);
        }
    }
    if let Some(h) = spec.hooks() {
        let _ = reno::spec::hook_lists(h);
    }
}

/// linux.seccomp: compile for every architecture and run the program on a few syscalls.
pub fn seccomp(data: &[u8]) {
    let Ok(s) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    use reno::seccomp::Arch;
    for arch in [
        Arch::X86_64,
        Arch::X86,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Riscv64,
    ] {
        let Ok(prog) = reno::seccomp::compile(&s, arch) else {
            continue;
        };
        assert!(!prog.insns.is_empty(), "empty program for {arch:?}");
        assert!(prog.insns.len() <= 4096, "program over BPF_MAXINSNS");
        for nr in [0u32, 1, 2, 59, 60, 231, 435, 0x4000_0000, u32::MAX] {
            for args in [[0u64; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6]] {
                let d = reno::seccomp::interp::SeccompData::new(arch.audit(), nr, args);
                let r = reno::seccomp::interp::run(&prog.insns, &d);
                assert!(r.is_ok(), "program does not run to a return: {r:?}");
            }
        }
    }
}

/// state.json: arbitrary bytes in a temp state dir; load, status, render.
pub fn state(data: &[u8]) {
    let dir = scratch("state").join("c");
    let _ = std::fs::create_dir_all(&dir);
    if std::fs::write(dir.join(reno::state::STATE_FILE), data).is_err() {
        return;
    }
    let Ok(saved) = reno::state::load(&dir) else {
        return;
    };
    // The pid a later `delete --force` would SIGKILL must be the one the file holds.
    if saved.pid != 0 {
        let v: serde_json::Value = serde_json::from_slice(data).expect("loaded, so JSON");
        assert_eq!(
            v.get("pid").and_then(serde_json::Value::as_i64),
            Some(saved.pid as i64),
            "state pid changed on load"
        );
    }
    assert!(!saved.id.is_empty(), "state loaded without an id");
    let st = reno::state::status(&dir, &saved);
    let _ = reno::state::to_json(&saved, st).to_string();
}

/// Only argv that can't make or touch a real container: no create/run/spec (they write into
/// the bundle or make containers), no second --root, no --log (writes a file anywhere).
pub fn cli_argv_ok(argv: &[String]) -> bool {
    !argv.iter().any(|a| {
        let a = a.trim_start_matches('-');
        a.starts_with("root")
            || a.starts_with("log")
            || a.starts_with('r') && a.len() == 1 // no single-dash cluster reaching --root
            || ["create", "run", "spec", "exec", "restore", "checkpoint"].contains(&a)
    })
}

/// The command line: NUL-separated argv after a throwaway --root. Must never panic.
pub fn cli(data: &[u8]) -> Option<i32> {
    let argv: Vec<String> = data
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    if argv.len() > 64 || !cli_argv_ok(&argv) {
        return None;
    }
    let root = scratch("cli-root");
    let mut args: Vec<OsString> = vec!["--root".into(), root.into_os_string()];
    args.extend(argv.into_iter().map(OsString::from));
    Some(reno::cli::main_with_args(args))
}

/// A per-process scratch dir under /tmp.
pub fn scratch(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("reno-fuzz-{}-{what}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}
