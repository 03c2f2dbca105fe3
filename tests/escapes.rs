//! Known container escapes, each attempted for real against reno; every one must fail.
//! tests/ESCAPES.md lists them with the test names and what each attack got. The attack
//! program (tests/escapes/attack.c) is built static with gcc and copied into the rootfs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Bundle;
use serde_json::{json, Value};

/// The attack program, built once per test run; None (SKIP printed) without gcc/static libc.
fn attack_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escapes/attack.c");
        // Under cargo's per-target scratch dir, not /tmp: one copy, replaced each run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let built = dir.join(format!("attack.{}", std::process::id()));
        let out = dir.join("attack");
        match Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&built)
            .arg(&src)
            .output()
        {
            Ok(o) if o.status.success() => {
                std::fs::rename(&built, &out).expect("rename the attack program");
                Some(out)
            }
            Ok(o) => {
                skip!("escapes: gcc -static failed: {}", common::stderr(&o));
                None
            }
            Err(e) => {
                skip!("escapes: gcc not found: {e}");
                None
            }
        }
    })
    .as_deref()
}

macro_rules! require {
    () => {{
        if let Some(why) = common::skip_reason() {
            skip!("{}: {why}", module_path!());
            return;
        }
        match attack_bin() {
            Some(b) => b,
            None => return,
        }
    }};
}

/// Copy the attack program into the rootfs as /attack.
fn plant_attack(b: &Bundle, bin: &Path) {
    let dst = b.rootfs().join("attack");
    std::fs::copy(bin, &dst).expect("copy attack");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `reno` run from a given binary (a private copy an attack may target).
fn reno_at(bin: &Path, root: &Path, args: &[&str]) -> Output {
    reno_env(bin, root, args, &[])
}

/// `reno_at` with extra environment variables.
fn reno_env(bin: &Path, root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "reno-esc-out-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let (o, e) = (dir.with_extension("out"), dir.with_extension("err"));
    // A copy just written may be ETXTBSY for a moment: another test thread's fork can
    // hold our write fd until its exec.
    let mut tries = 0;
    let status = loop {
        let r = Command::new(bin)
            .arg("--root")
            .arg(root)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).expect("stdout file"))
            .stderr(std::fs::File::create(&e).expect("stderr file"))
            .status();
        match r {
            Err(err) if err.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(err) => {
                // The binary may be what an attack just broke: report, don't panic here.
                use std::os::unix::process::ExitStatusExt;
                return Output {
                    status: std::process::ExitStatus::from_raw(127 << 8),
                    stdout: Vec::new(),
                    stderr: format!("spawn {}: {err}", bin.display()).into_bytes(),
                };
            }
            Ok(s) => break s,
        }
    };
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    out
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A private copy of reno in its own directory next to the bundle (as /usr/bin is for
/// the real one): the binary the container attacks. A dynamically linked (test) build also
/// gets its loader and libraries copied into the rootfs, so that the container can really
/// execute it, as it could a static reno.
fn reno_copy(b: &Bundle) -> PathBuf {
    reno_copy_in(b, &b.dir.parent().expect("base").join("host-bin"))
}

fn reno_copy_in(b: &Bundle, dir: &Path) -> PathBuf {
    copy_libs(b);
    std::fs::create_dir_all(dir).expect("mkdir host-bin");
    let p = dir.join("reno-host-binary");
    std::fs::copy(common::reno_bin(), &p).expect("copy reno");
    p
}

/// Can reno protect itself with a private overlayfs here (root, overlayfs in the kernel)?
/// If not it falls back to a read-only bind or a sealed memfd copy; the tests say so loudly.
fn overlay_protection_expected() -> bool {
    let ok = std::fs::read_to_string("/proc/filesystems")
        .is_ok_and(|f| f.lines().any(|l| l.ends_with("\toverlay")));
    if !ok {
        eprintln!("NOTE: no overlayfs in this kernel: expecting a fallback (bind or memfd)");
    }
    ok
}

/// How reno is expected to have protected its binary.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// By default: its image remapped in place from a read-only bind of itself.
    InPlace,
    /// With RENO_REEXEC=1: re-executed through the private overlayfs (or its fallbacks).
    Reexec,
}

impl Expect {
    fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Expect::InPlace => &[],
            Expect::Reexec => &[("RENO_REEXEC", "1")],
        }
    }
}

/// With `Expect::InPlace`, reno really took the in-place remap and no re-exec (whose
/// read-only bind fallback the attack would report the same way): its debug log says so.
/// The container may be gone by now; the protection comes before that check.
fn assert_remapped(reno: &Path, b: &Bundle, how: Expect) {
    if how != Expect::InPlace {
        return;
    }
    let out = reno_at(reno, &b.root, &["--debug", "exec", &b.id, "/bin/true"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("maps a read-only bind of itself (no re-exec)"),
        "no in-place remap: {err}"
    );
}

/// The attack's report says it held the runtime's exe, and how it was refused: through the
/// read-only bind remapped in place or, when re-executing, through the private overlayfs
/// (the path is the binary's name at the root of a mount that is attached nowhere; every
/// write EROFS), or, where overlayfs is unavailable, the read-only bind (`/`, EROFS) or the
/// sealed memfd (EPERM).
fn assert_protected_exe(r: &str, how: Expect) {
    assert!(!r.contains("ESCAPED"), "{r}");
    assert!(
        r.starts_with("handle-but-no-write"),
        "the attack got no handle: {r}"
    );
    if how == Expect::InPlace {
        assert!(
            r.contains("target=/ ") && r.contains("last_error=EROFS"),
            "expected reno's image remapped from a read-only bind of itself, writes EROFS: {r}"
        );
    } else if overlay_protection_expected() {
        assert!(
            r.contains("target=/reno-host-binary ") && r.contains("last_error=EROFS"),
            "expected reno's exe inside its private overlayfs, writes EROFS: {r}"
        );
    } else {
        assert!(
            (r.contains("target=/ ") && r.contains("last_error=EROFS"))
                || (r.contains("target=/memfd:reno") && r.contains("last_error=EPERM")),
            "expected the read-only bind (EROFS) or the sealed memfd copy (EPERM): {r}"
        );
    }
}

fn copy_libs(b: &Bundle) {
    let ldd = Command::new("ldd").arg(common::reno_bin()).output();
    for line in ldd.iter().flat_map(|o| {
        common::stdout(o)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    }) {
        let lib = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = lib {
            let dst = b.rootfs().join(lib.strip_prefix("/").unwrap_or(&lib));
            if let Some(parent) = dst.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::copy(&lib, &dst);
        }
    }
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    std::fs::read(a).ok() == std::fs::read(b).ok()
}

/// Wait for the attack's report file in the rootfs.
fn report(b: &Bundle, secs: u64) -> String {
    let f = b.rootfs().join("tmp/report");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(&f) {
            if s.ends_with('\n') {
                return s.trim().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no report from the attack in {}", f.display());
}

/// Start the CVE-2019-5736 attacker as a container's init (detached); returns its pid.
fn start_exe_attacker(b: &mut Bundle, reno: &Path, secs: u32, how: Expect) -> i32 {
    b.args(&["/attack", "exe", &secs.to_string(), "/tmp/report"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = reno_env(
        reno,
        &b.root,
        &["create", "--bundle", &bundle, &b.id],
        how.env(),
    );
    assert!(out.status.success(), "create: {}", common::stderr(&out));
    let out = reno_at(reno, &b.root, &["start", &b.id]);
    assert!(out.status.success(), "start: {}", common::stderr(&out));
    let st = reno_at(reno, &b.root, &["state", &b.id]);
    let v: Value = serde_json::from_slice(&st.stdout).unwrap_or(Value::Null);
    v["pid"].as_i64().unwrap_or(0) as i32
}

/// CVE-2019-5736 through `reno exec`: the image's program is `#!/proc/self/exe`, so the
/// exec'd process runs the runtime's own binary inside the container; the attacker in the
/// container freezes every new process, grabs /proc/PID/exe and waits for the runtime to
/// exit to write into it.
#[test]
fn cve_2019_5736_exec_cannot_overwrite_runtime() {
    exec_cannot_overwrite_runtime("5736-exec", Expect::InPlace);
}

/// The same with RENO_REEXEC=1: reno re-executes from its private overlayfs instead.
#[test]
fn cve_2019_5736_exec_cannot_overwrite_runtime_reexecuted() {
    exec_cannot_overwrite_runtime("5736-exec-re", Expect::Reexec);
}

fn exec_cannot_overwrite_runtime(name: &str, how: Expect) {
    let attack = require!();
    let mut b = Bundle::new(name);
    plant_attack(&b, attack);
    let reno = reno_copy(&b);
    let r = exec_attack(&mut b, &reno, how);
    eprintln!("cve_2019_5736_exec ({name}): {r}");
    assert_protected_exe(&r, how);
    assert_remapped(&reno, &b, how);
    assert!(
        same_bytes(&reno, &common::reno_bin()),
        "the host's reno binary changed: {r}"
    );
}

/// The exec attack: start the attacker, then `reno exec` three programs that run the
/// runtime inside the container; returns the attacker's report.
fn exec_attack(b: &mut Bundle, reno: &Path, how: Expect) -> String {
    std::fs::write(b.rootfs().join("bin/evil"), "#!/proc/self/exe\n").expect("evil");
    std::fs::set_permissions(
        b.rootfs().join("bin/evil"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    start_exe_attacker(b, reno, 4, how);
    std::thread::sleep(Duration::from_millis(200));
    for argv in [
        &["/proc/self/exe", "--log", "/tmp/hold", "list"][..],
        &["/bin/evil"][..],
        &["/proc/self/exe", "--version"][..],
    ] {
        let mut args = vec!["exec", b.id.as_str()];
        args.extend_from_slice(argv);
        let out = reno_env(reno, &b.root, &args, how.env());
        eprintln!(
            "exec {argv:?}: {}{}",
            common::stdout(&out),
            common::stderr(&out)
        );
    }
    report(b, 15)
}

/// When re-executing (RENO_REEXEC=1), the overlayfs needs a second layer that neither
/// contains nor is inside the binary's directory; here the state root is inside it (reno
/// next to its state dir), so reno takes an empty detached tmpfs instead (kernels that
/// refuse detached layers: the read-only bind, `/`, also EROFS).
#[test]
fn cve_2019_5736_exec_state_root_inside_binary_dir() {
    let attack = require!();
    let mut b = Bundle::new("5736-exec-nested");
    plant_attack(&b, attack);
    let reno = reno_copy_in(&b, b.dir.parent().expect("base"));
    assert!(b.root.starts_with(reno.parent().expect("dir")));
    let r = exec_attack(&mut b, &reno, Expect::Reexec);
    eprintln!("cve_2019_5736_exec_nested: {r}");
    assert!(!r.contains("ESCAPED"), "{r}");
    assert!(
        (r.contains("target=/reno-host-binary ") || r.contains("target=/ "))
            && r.contains("last_error=EROFS"),
        "expected the private overlayfs or the read-only bind (EROFS): {r}"
    );
    assert!(
        same_bytes(&reno, &common::reno_bin()),
        "the host's reno binary changed: {r}"
    );
}

/// When re-executing (RENO_REEXEC=1) where the private overlayfs is refused, the read-only
/// bind of the binary protects: reno lives on an overlayfs stacked two deep (a third level
/// exceeds the kernel's stacking depth). The attacker's handle is the bind's root, the file
/// itself (`/`).
#[test]
fn cve_2019_5736_exec_overlayfs_refused_read_only_bind() {
    exec_attack_on_stacked_overlayfs("5736-exec-bind", Expect::Reexec);
}

/// The same binary on an overlayfs stacked two deep, by default: its mappings are of the
/// file under the overlayfs, so nothing maps the exe file's own path and the kernel swaps
/// the exe file for the read-only bind at once, without a remap (the first prctl, meant as
/// a probe, succeeds). The attacker's handle is again the bind's root (`/`), EROFS.
#[test]
fn cve_2019_5736_exec_runtime_on_overlayfs_in_place() {
    exec_attack_on_stacked_overlayfs("5736-exec-ovl", Expect::InPlace);
}

fn exec_attack_on_stacked_overlayfs(name: &str, how: Expect) {
    let attack = require!();
    if !overlay_protection_expected() {
        skip!("{name}: no overlayfs to stack here");
        return;
    }
    let mut b = Bundle::new(name);
    plant_attack(&b, attack);
    let base = b.dir.parent().expect("base").to_path_buf();
    let mut guards = Vec::new();
    let mut lower = base.join("l0");
    std::fs::create_dir_all(&lower).expect("mkdir l0");
    for level in 1..=2 {
        let (up, work, merged) = (
            base.join(format!("u{level}")),
            base.join(format!("w{level}")),
            base.join(format!("m{level}")),
        );
        for d in [&up, &work, &merged] {
            std::fs::create_dir_all(d).expect("mkdir overlay dirs");
        }
        let st = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.display(),
                up.display(),
                work.display()
            ))
            .arg(&merged)
            .status()
            .expect("mount overlay");
        assert!(st.success(), "mount overlay level {level}");
        guards.push(MountGuard(merged.clone()));
        lower = merged;
    }
    let reno = reno_copy_in(&b, &lower.join("bin"));
    let r = exec_attack(&mut b, &reno, how);
    eprintln!("cve_2019_5736 ({name}): {r}");
    assert_remapped(&reno, &b, how);
    assert!(!r.contains("ESCAPED"), "{r}");
    assert!(
        r.contains("target=/ ") && r.contains("last_error=EROFS"),
        "expected the read-only bind of the binary, writes EROFS: {r}"
    );
    assert!(
        same_bytes(&reno, &common::reno_bin()),
        "the host's reno binary changed: {r}"
    );
    // Kill the attacker's container before the overlays go (they are busy until then).
    let _ = reno_at(&reno, &b.root, &["delete", "--force", &b.id]);
    drop(guards.into_iter().rev().collect::<Vec<_>>());
}

/// CVE-2019-5736 during `create`: a second container joins the attacker's pid namespace and
/// its program is /proc/self/exe (the runtime's init would run itself); the attacker sees
/// the new init from the start of its life.
#[test]
fn cve_2019_5736_create_cannot_overwrite_runtime() {
    let attack = require!();
    let mut a = Bundle::new("5736-create-a");
    plant_attack(&a, attack);
    let reno = reno_copy(&a);
    let pid = start_exe_attacker(&mut a, &reno, 4, Expect::InPlace);
    std::thread::sleep(Duration::from_millis(200));
    for n in 0..3 {
        let mut v = Bundle::new(&format!("5736-create-v{n}"));
        copy_libs(&v);
        // A volume shared with the attacker: its /tmp, where the FIFO that holds the
        // re-executed runtime is.
        v.config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(json!({
                "destination": "/tmp", "type": "bind",
                "source": a.rootfs().join("tmp").to_string_lossy(), "options": ["rbind"]
            }));
        v.args(&["/proc/self/exe", "--log", "/tmp/hold", "list"]);
        let ns = v.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        for entry in ns.iter_mut() {
            if entry["type"] == "pid" {
                *entry = json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")});
            }
        }
        v.write_config();
        let bundle = v.dir.to_string_lossy().into_owned();
        let out = reno_at(&reno, &v.root, &["run", "--bundle", &bundle, &v.id]);
        eprintln!("run: {}{}", common::stdout(&out), common::stderr(&out));
    }
    let r = report(&a, 15);
    eprintln!("cve_2019_5736_create: {r}");
    assert_protected_exe(&r, Expect::InPlace);
    assert!(
        same_bytes(&reno, &common::reno_bin()),
        "the host's reno binary changed: {r}"
    );
}

const MARKER: &str = "HOST-MARKER-21626";

/// Plant a marker in the host directories around the bundle and the state root: a
/// container whose cwd leaked to the host would find it with relative paths.
fn plant_host_markers(b: &Bundle) {
    let base = b.dir.parent().expect("base");
    std::fs::create_dir_all(&b.root).expect("state root");
    for d in [base, b.root.as_path(), b.dir.as_path()] {
        std::fs::write(d.join("MARKER"), MARKER).expect("marker");
    }
}

const LOOK_AROUND: &str = "pwd; for p in MARKER ../MARKER ../../MARKER ../../../MARKER; do \
                           cat $p 2>/dev/null && echo; done; echo done";

/// CVE-2024-21626: process.cwd is /proc/self/fd/N, hoping N is one of the runtime's own
/// fds on a host directory at the time of the chdir. Either the container is refused or its
/// cwd is inside its root; never a host directory.
#[test]
fn cve_2024_21626_leaked_fd_as_cwd_in_create() {
    let _attack = require!();
    let mut results = Vec::new();
    for n in 3..=12 {
        let mut b = Bundle::new(&format!("21626-create-{n}"));
        plant_host_markers(&b);
        b.sh(LOOK_AROUND);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let (code, out, err) = b.run();
        assert!(
            !out.contains(MARKER),
            "fd {n}: the container reached the host: {out}"
        );
        results.push(format!("fd {n}: exit {code} {}", err.trim()));
        b.assert_no_leftovers();
    }
    eprintln!("cve_2024_21626_create:\n{}", results.join("\n"));
}

/// The same through `reno exec --cwd /proc/self/fd/N` (runc's exec was the worse case: its
/// fds on the host's cgroup and state directories were open at the chdir).
#[test]
fn cve_2024_21626_leaked_fd_as_cwd_in_exec() {
    let _attack = require!();
    let mut b = Bundle::new("21626-exec");
    plant_host_markers(&b);
    b.args(&["sleep", "60"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "run -d: {}", common::stderr(&out));
    let mut results = Vec::new();
    for n in 3..=12 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = b.reno(&["exec", "--cwd", &cwd, &b.id, "sh", "-c", LOOK_AROUND]);
        let text = common::stdout(&out);
        assert!(
            !text.contains(MARKER),
            "fd {n}: exec reached the host: {text}"
        );
        results.push(format!(
            "fd {n}: exit {:?} {}",
            out.status.code(),
            common::stderr(&out).trim()
        ));
    }
    eprintln!("cve_2024_21626_exec:\n{}", results.join("\n"));
}

/// Unmounts a test mount (lazily) when dropped.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Mount lines of the host (this test's mount namespace) that mention `needle`.
fn host_mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// CVE-2021-30465 class: while reno creates containers with a bind mount on /data, a host
/// process swaps (renameat2 RENAME_EXCHANGE) rootfs/data with a symlink pointing out of the
/// rootfs. The target is resolved with RESOLVE_IN_ROOT and mounted by fd, so the mount
/// never lands outside. Made observable: the symlink points at a directory on a *shared*
/// tmpfs and the container asks for rshared propagation, so a mount that escaped would
/// propagate back to the host (a symlink to the host's / itself is tried too; / is private
/// on most hosts, the test then checks that nothing of the mount shows outside).
#[test]
fn symlink_exchange_race_on_mount_destination() {
    let _attack = require!();
    let mut b = Bundle::new("race");
    let base = b.dir.parent().expect("base").to_path_buf();
    let shared = base.join("shared");
    let src = base.join("src");
    std::fs::create_dir_all(shared.join("victim")).expect("victim");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::write(src.join("SRC-MARKER"), "x").expect("marker");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "reno-race", "--make-shared"])
        .arg(&shared)
        .status()
        .expect("mount");
    assert!(st.success(), "mount the shared tmpfs");
    let _guard = MountGuard(shared.clone());
    let _ = Command::new("mount")
        .args(["--make-shared"])
        .arg(&shared)
        .status();
    std::fs::create_dir_all(shared.join("victim")).expect("victim");

    let rootfs = b.rootfs();
    std::fs::create_dir_all(rootfs.join("data")).expect("data");
    b.config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({"destination": "/data", "type": "bind",
                     "source": src.to_string_lossy(), "options": ["bind"]}));
    b.config["linux"]["rootfsPropagation"] = json!("rshared");
    b.sh("ls /data");
    let src_s = src.to_string_lossy().into_owned();
    let before = host_mounts_with(&src_s);
    assert!(before.is_empty());

    let (mut ok, mut failed) = (0, 0);
    let mut failures: Vec<String> = Vec::new();
    for target in [shared.join("victim"), PathBuf::from("/")] {
        let link = rootfs.join("evil");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let racer = {
            let stop = stop.clone();
            let (a, l) = (rootfs.join("data"), link.clone());
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        &a,
                        rustix::fs::CWD,
                        &l,
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .is_ok()
                    {
                        swaps += 1;
                    }
                }
                swaps
            })
        };
        for n in 0..25 {
            b.id = format!("race-{}-{n}-{}", std::process::id(), ok + failed);
            let (code, _out, err) = b.run();
            if code == 0 {
                ok += 1;
            } else {
                failed += 1;
                // What the losing side of the race looked like (first one of each kind).
                let why = err.split(": ").skip(2).collect::<Vec<_>>().join(": ");
                if !failures.contains(&why) {
                    failures.push(why);
                }
            }
            let leaked = host_mounts_with(&src_s);
            assert!(
                leaked.is_empty(),
                "the bind mount reached the host: {leaked:?}"
            );
            assert!(
                !shared.join("victim/SRC-MARKER").exists(),
                "the bind mount landed on the host's victim directory"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = racer.join().unwrap_or(0);
        eprintln!(
            "symlink_exchange_race: target {}: {swaps} swaps, containers ok {ok} failed {failed}",
            target.display()
        );
        // Put data back as the directory.
        if std::fs::symlink_metadata(rootfs.join("data"))
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
        {
            let _ = rustix::fs::renameat_with(
                rustix::fs::CWD,
                rootfs.join("data"),
                rustix::fs::CWD,
                &link,
                rustix::fs::RenameFlags::EXCHANGE,
            );
        }
    }
    eprintln!("symlink_exchange_race: failures: {failures:?}");
    assert!(ok > 0, "no container started at all during the race");
    assert!(host_mounts_with(&src_s).is_empty());
    b.assert_no_leftovers();
}

/// Run a shell script in a default-config container (`reno spec`'s masks, read-only paths
/// and capabilities), return its stdout.
fn run_sh(name: &str, script: &str) -> String {
    let mut b = Bundle::new(name);
    b.sh(script);
    let out = b.run_ok();
    b.assert_no_leftovers();
    out
}

/// `reno spec`'s default maskedPaths and readonlyPaths hold against a root process with
/// the default capabilities: nothing readable, nothing writable, no remount or unmount.
/// (Writes are attempted as `true > FILE`, an open for writing that writes nothing, so a
/// failure of the test can't trigger sysrq or change a sysctl.)
#[test]
fn proc_and_sys_masked_and_read_only() {
    let _attack = require!();
    let out = run_sh(
        "procmask",
        r#"
        for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
            [ -e $f ] || { echo "$f absent"; continue; }
            echo "$f bytes=$(head -c 64 $f 2>/dev/null | wc -c)"
        done
        for d in /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do
            [ -e $d ] || { echo "$d absent"; continue; }
            echo "$d entries=$(ls -A $d | wc -l)"
            (true > $d/x) 2>/dev/null && echo "$d WRITABLE"
        done
        for f in /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches \
                 /proc/irq/default_smp_affinity /sys/kernel/uevent_helper; do
            [ -e $f ] || { echo "$f absent"; continue; }
            if (true > $f) 2>/dev/null; then echo "$f WRITABLE"; else echo "$f denied"; fi
        done
        mount -o remount,rw /proc/sys 2>/dev/null && echo "REMOUNTED /proc/sys"
        mount -o remount,rw /sys 2>/dev/null && echo "REMOUNTED /sys"
        umount /proc/kcore 2>/dev/null && echo "UNMASKED /proc/kcore"
        umount /sys/firmware 2>/dev/null && echo "UNMASKED /sys/firmware"
        mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null && echo "NEW PROC"
        mount --bind /proc/sys /tmp/p 2>/dev/null && echo "REBOUND"
        echo end
        "#,
    );
    eprintln!("proc_and_sys_masked_and_read_only:\n{out}");
    for bad in ["WRITABLE", "REMOUNTED", "UNMASKED", "NEW PROC", "REBOUND"] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
    for line in out.lines() {
        if let Some(n) = line.split("bytes=").nth(1) {
            assert_eq!(n, "0", "{line}");
        }
        if let Some(n) = line.split("entries=").nth(1) {
            assert_eq!(n, "0", "{line}");
        }
    }
    assert!(
        out.contains("/proc/kcore bytes=0") || out.contains("/proc/kcore absent"),
        "{out}"
    );
    assert!(
        out.contains("/proc/sysrq-trigger denied") || out.contains("/proc/sysrq-trigger absent"),
        "{out}"
    );
    assert!(
        out.contains("/proc/sys/kernel/core_pattern denied"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("end"));
}

/// An image whose /proc (or /sys) is a symlink, to its own root or to a decoy tree: runc
/// refuses to mount procfs/sysfs through it, and so does reno (before, proc landed over the
/// container's root or on the decoy, the masks following the links).
#[test]
fn proc_and_sys_mount_over_symlink_refused() {
    let _attack = require!();
    for (dir, target) in [("proc", "/"), ("proc", "/tmp/fake"), ("sys", "../../..")] {
        let mut b = Bundle::new(&format!("procsym-{dir}"));
        let p = b.rootfs().join(dir);
        std::fs::remove_dir(&p).expect("rmdir");
        std::fs::create_dir_all(b.rootfs().join("tmp/fake")).expect("fake");
        std::os::unix::fs::symlink(target, &p).expect("symlink");
        b.sh("ls /tmp/fake; echo started");
        let (code, out, err) = b.run();
        eprintln!(
            "proc_over_symlink /{dir} -> {target}: exit {code}: {}",
            err.trim()
        );
        assert_ne!(code, 0, "/{dir} -> {target}: started anyway: {out}");
        assert!(err.contains("ordinary directory"), "{err}");
        b.assert_no_leftovers();
    }
}

/// The device cgroup: with CAP_MKNOD a container can make any node (runc's default allows
/// mknod), but not open one the config doesn't allow: the host's disk, /dev/mem, /dev/kmsg.
/// Only the default devices exist in /dev. (tests/cgroups_resources.rs checks the rule
/// files; this is the attack.)
#[test]
fn device_cgroup_denies_unlisted_devices() {
    let _attack = require!();
    let mut b = Bundle::new("devices");
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] =
            json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE", "CAP_SYS_RAWIO"]);
    }
    b.sh(
        "cd /tmp; mknod sda b 8 0 && mknod mem c 1 1 && mknod kmsg c 1 11 && mknod port c 1 4 \
         && echo made; for d in sda mem kmsg port; do \
         head -c 1 $d >/dev/null 2>&1 && echo \"$d OPENED\" || echo \"$d denied\"; done; \
         : > /dev/null && echo null-ok; ls /dev | tr '\\n' ' '",
    );
    let out = b.run_ok();
    eprintln!("device_cgroup: {out}");
    assert!(out.contains("made"), "{out}");
    assert!(!out.contains("OPENED"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
    let listed: std::collections::BTreeSet<&str> = out
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let allowed = [
        "console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
        "stderr", "stdin", "stdout", "tty", "urandom", "zero",
    ];
    for d in &listed {
        assert!(allowed.contains(d), "unexpected /dev/{d}: {out}");
    }
}

/// The container's cgroup, mounted read-only as `reno spec` asks (/sys/fs/cgroup `ro`):
/// container root must not raise its own limits through it, with or without a cgroup
/// namespace. (Before: on v1 each hierarchy was a bind or a cgroup mount without `ro`, so
/// `echo max > /sys/fs/cgroup/pids/pids.max` lifted the limit.)
#[test]
fn cgroup_limits_not_writable_from_inside() {
    let _attack = require!();
    for cgroupns in [false, true] {
        let mut b = Bundle::new(&format!("cglimits-{cgroupns}"));
        b.config["linux"]["resources"] =
            json!({"pids": {"limit": 17}, "memory": {"limit": 67108864}});
        let ns = b.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        ns.retain(|n| n["type"] != "cgroup");
        if cgroupns {
            ns.push(json!({"type": "cgroup"}));
        }
        b.sh(
            "for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max \
                      /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do \
                [ -e $f ] || continue; \
                if (echo max > $f) 2>/dev/null; then echo \"$f WRITTEN\"; else echo \"$f denied\"; fi; \
             done; \
             echo rw-mounts=$(grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ /sys/fs/cgroup[^ ]* rw' \
                /proc/self/mountinfo | wc -l)",
        );
        let out = b.run_ok();
        eprintln!("cgroup_limits (cgroupns {cgroupns}):\n{out}");
        assert!(!out.contains("WRITTEN"), "{out}");
        assert!(out.contains("pids.max denied"), "{out}");
        assert!(out.contains("rw-mounts=0"), "{out}");
        b.assert_no_leftovers();
    }
}

/// Capabilities exactly as configured (all five sets, for root and for a user with
/// ambient caps), and no_new_privs: a setuid-root binary in the image gains nothing with
/// noNewPrivileges, while without it (the control) it does become root.
#[test]
fn capabilities_exact_and_no_new_privs_blocks_setuid() {
    let attack = require!();
    let caps_of = |out: &str| -> Vec<String> {
        [
            "CapInh",
            "CapPrm",
            "CapEff",
            "CapBnd",
            "CapAmb",
            "NoNewPrivs",
        ]
        .iter()
        .map(|k| format!("{k}={}", common::status_field(out, k).unwrap_or("?")))
        .collect()
    };
    // The default: root with AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10), nnp.
    let out = run_sh("caps-default", "cat /proc/self/status");
    assert_eq!(
        caps_of(&out),
        [
            "CapInh=0000000000000000",
            "CapPrm=0000000020000420",
            "CapEff=0000000020000420",
            "CapBnd=0000000020000420",
            "CapAmb=0000000000000000",
            "NoNewPrivs=1"
        ]
    );
    // A user with CHOWN(0) effective only and NET_RAW(13) inheritable + ambient.
    let mut b = Bundle::new("caps-ambient");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_NET_RAW"], "permitted": ["CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN"], "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]
    });
    b.sh("cat /proc/self/status");
    let out = b.run_ok();
    assert_eq!(
        caps_of(&out),
        [
            "CapInh=0000000000002000",
            "CapPrm=0000000000002000",
            "CapEff=0000000000002000",
            "CapBnd=0000000000002001",
            "CapAmb=0000000000002000",
            "NoNewPrivs=1"
        ]
    );
    // setuid root binary, run by uid 1000: with and without no_new_privs.
    let mut results = Vec::new();
    for nnp in [true, false] {
        let mut b = Bundle::new(&format!("nnp-{nnp}"));
        let suid = b.rootfs().join("suid");
        std::fs::copy(attack, &suid).expect("copy");
        std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.args(&["/suid", "ids"]);
        let out = b.run_ok();
        results.push(format!("noNewPrivileges={nnp}: {}", out.trim()));
        if nnp {
            assert_eq!(
                out.trim(),
                "ruid=1000 euid=1000 nnp=1 capeff=0000000000000000"
            );
        } else {
            // The control: setuid works here, bounded by the bounding set.
            assert_eq!(out.trim(), "ruid=1000 euid=0 nnp=0 capeff=0000000020000420");
        }
    }
    eprintln!("no_new_privs: {}", results.join("; "));
}

/// The same CVE-2019-5736 attack when reno runs from a read-only mount (an embedded
/// device's read-only root): reno does not re-execute there, and the write is EROFS.
#[test]
fn cve_2019_5736_exec_runtime_on_read_only_mount() {
    let attack = require!();
    let mut b = Bundle::new("5736-ro");
    plant_attack(&b, attack);
    let reno = reno_copy(&b);
    let ro = b.dir.parent().expect("base").join("ro-bin");
    std::fs::create_dir_all(&ro).expect("ro dir");
    let st = Command::new("mount")
        .arg("--bind")
        .arg(reno.parent().expect("dir"))
        .arg(&ro)
        .status()
        .expect("mount");
    assert!(st.success());
    let _guard = MountGuard(ro.clone());
    let st = Command::new("mount")
        .args(["-o", "remount,bind,ro"])
        .arg(&ro)
        .status()
        .expect("remount");
    assert!(st.success());
    let ro_reno = ro.join("reno-host-binary");
    start_exe_attacker(&mut b, &ro_reno, 4, Expect::InPlace);
    std::thread::sleep(Duration::from_millis(200));
    let out = reno_at(
        &ro_reno,
        &b.root,
        &[
            "exec",
            &b.id,
            "/proc/self/exe",
            "--log",
            "/tmp/hold",
            "list",
        ],
    );
    eprintln!("exec: {}{}", common::stdout(&out), common::stderr(&out));
    let r = report(&b, 15);
    eprintln!("cve_2019_5736_read_only: {r}");
    assert!(!r.contains("ESCAPED"), "{r}");
    assert!(
        r.contains("EROFS"),
        "the attack never got as far as a write: {r}"
    );
    assert!(
        same_bytes(&reno, &common::reno_bin()),
        "the host's reno binary changed: {r}"
    );
}

/// The other half of CVE-2024-21626: no fd of reno's (state dir, lock, pipes, namespace
/// files) reaches the container's process, in `run` or in `exec`: only stdio (and what ls
/// itself opens to list the directory).
#[test]
fn cve_2024_21626_no_runtime_fds_inside() {
    let _attack = require!();
    // fd 3 is the directory ls is reading.
    let script = "for f in /proc/self/fd/*; do echo \"${f##*/} $(readlink $f)\"; done";
    let mut b = Bundle::new("fds");
    b.sh(script);
    let out = b.run_ok();
    let check = |what: &str, out: &str| {
        for line in out.lines() {
            let fd: u32 = line
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(99);
            assert!(
                fd <= 3,
                "{what}: fd leaked into the container: {line}\n{out}"
            );
        }
    };
    check("run", &out);
    b.args(&["sleep", "60"]);
    b.write_config();
    let bundle = b.dir.to_string_lossy().into_owned();
    b.id = format!("{}-exec", b.id);
    let out = b.reno(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(out.status.success(), "run -d: {}", common::stderr(&out));
    let out = b.reno(&["exec", &b.id, "sh", "-c", script]);
    assert!(out.status.success(), "exec: {}", common::stderr(&out));
    check("exec", &common::stdout(&out));
    eprintln!("cve_2024_21626_fds: exec sees\n{}", common::stdout(&out));
}
