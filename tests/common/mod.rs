//! Shared fixtures for the integration tests: a busybox-static bundle built in a temp dir,
//! the reno binary, and helpers to run it. Tests need root and /bin/busybox (Debian's
//! busybox-static); without them they print "SKIP: <reason>" and return.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

pub const BUSYBOX: &str = "/bin/busybox";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn reno_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reno"))
}

/// Why these tests can't run here, if they can't.
pub fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("integration tests need root (real namespaces, mounts, cgroups)".into());
    }
    if !Path::new(BUSYBOX).exists() {
        return Some(format!("{BUSYBOX} missing: apt-get install busybox-static"));
    }
    None
}

/// Say loudly that a test did not run. Written to the process's stderr directly (libtest
/// captures `eprintln!` of passing tests), so `tests/run` sees the line and counts the test
/// as skipped rather than passed.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {
        common::report_skip(&format!($($arg)*))
    };
}

pub fn report_skip(why: &str) {
    use std::io::Write;
    // A leading newline: libtest may have printed "test name ... " on the current line.
    let _ = std::io::stderr().write_all(format!("\nSKIP: {why}\n").as_bytes());
}

/// Return early from a test, loudly, when the machine can't run it.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(why) = common::skip_reason() {
            skip!("{}: {why}", module_path!());
            return;
        }
    };
}

/// A bundle with a busybox rootfs and a config.json we edit as JSON, plus its own state root.
pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub id: String,
    pub config: Value,
}

impl Bundle {
    pub fn new(name: &str) -> Bundle {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().join(format!("reno-it-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("bundle");
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox");
        for applet in [
            "sh",
            "ls",
            "cat",
            "echo",
            "id",
            "hostname",
            "mount",
            "sleep",
            "true",
            "false",
            "grep",
            "stat",
            "touch",
            "readlink",
            "pwd",
            "env",
            "ps",
            "kill",
            "umask",
            "ulimit",
            "test",
            "mkdir",
            "wc",
            "head",
            "tr",
            "sysctl",
            "domainname",
            "mknod",
            "rm",
            "dd",
        ] {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
        let out = Command::new(reno_bin())
            .arg("spec")
            .arg("--bundle")
            .arg(&dir)
            .output()
            .expect("reno spec");
        assert!(
            out.status.success(),
            "reno spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("read config"))
                .expect("parse config");
        config["process"]["terminal"] = json!(false);
        config["root"]["readonly"] = json!(false);
        Bundle {
            dir,
            root: base.join("state"),
            id: format!("it-{name}-{}-{n}", std::process::id()),
            config,
        }
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// A shell script as the container's program.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).expect("json"),
        )
        .expect("write config");
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// `reno --root <root> ARGS…`
    /// Output goes through files, not pipes: a created container's init inherits reno's
    /// stdio and would hold a pipe open until it exits.
    pub fn reno(&self, args: &[&str]) -> Output {
        reno_with_files(&self.root, args)
    }

    /// Write the config, `reno run` it in the foreground, return (exit code, stdout, stderr).
    pub fn run(&self) -> (i32, String, String) {
        self.write_config();
        let bundle = self.dir.to_string_lossy().into_owned();
        let out = self.reno(&["run", "--bundle", &bundle, &self.id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run and require success; stdout.
    pub fn run_ok(&self) -> String {
        let (code, out, err) = self.run();
        assert_eq!(code, 0, "reno run failed\nstdout:\n{out}\nstderr:\n{err}");
        out
    }

    pub fn create(&self) -> Output {
        self.write_config();
        let bundle = self.dir.to_string_lossy().into_owned();
        self.reno(&["create", "--bundle", &bundle, &self.id])
    }

    pub fn status(&self) -> String {
        let out = self.reno(&["state", &self.id]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["status"].as_str().unwrap_or("<none>").to_string()
    }

    /// Nothing of the container may remain: state dir, cgroup dirs.
    pub fn assert_no_leftovers(&self) {
        let state_dir = self.root.join(&self.id);
        assert!(
            !state_dir.exists(),
            "state dir left behind: {}",
            state_dir.display()
        );
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let d = h.path().join("reno").join(&self.id);
            assert!(!d.exists(), "cgroup left behind: {}", d.display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let rootfs = self.rootfs();
        assert!(
            !mounts.contains(rootfs.to_string_lossy().as_ref()),
            "mount left behind under {}",
            rootfs.display()
        );
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = self.reno(&["delete", "--force", &self.id]);
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// Run reno with stdout/stderr captured through temp files.
pub fn reno_with_files(root: &Path, args: &[&str]) -> Output {
    output_via_files(Command::new(reno_bin()).arg("--root").arg(root).args(args))
}

/// Run `cmd` (stdin null) with stdout/stderr captured through temp files, not pipes: a
/// container that keeps an inherited pipe open would hold `output()` forever.
pub fn output_via_files(cmd: &mut Command) -> Output {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("reno-it-out-{}-{n}", std::process::id()));
    let (o, e) = (base.with_extension("out"), base.with_extension("err"));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).expect("stdout file"))
        .stderr(std::fs::File::create(&e).expect("stderr file"))
        .status()
        .expect("spawn reno");
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A field of /proc/self/status as the container printed it.
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}
