//! What "nothing leaks" means, checked from outside: shared by the robustness tests.
#![allow(dead_code)]

use std::path::Path;

/// Everything of container `id` (rootfs `rootfs`, tagged `tag` in its environment) that is
/// still on the host; empty when clean.
pub fn leftovers(root: &Path, id: &str, rootfs: &Path, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let state_dir = root.join(id);
    if state_dir.exists() {
        out.push(format!("state dir {}", state_dir.display()));
    }
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let d = h.path().join("reno").join(id);
        if d.exists() {
            out.push(format!("cgroup {}", d.display()));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let r = rootfs.to_string_lossy();
    for l in mounts.lines().filter(|l| l.contains(r.as_ref())) {
        out.push(format!("mount {l}"));
    }
    for pid in tagged_pids(tag) {
        out.push(format!("process {pid} ({})", comm(pid)));
    }
    out
}

/// Live (non-zombie) processes whose environment holds `tag`.
pub fn tagged_pids(tag: &str) -> Vec<i32> {
    let needle = tag.as_bytes();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            env.windows(needle.len()).any(|w| w == needle) && !is_zombie(*pid)
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    s.rsplit_once(") ")
        .map(|(_, r)| r.starts_with('Z') || r.starts_with('X'))
        .unwrap_or(true)
}

pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Poll `f` until it returns empty or `ms` pass (SIGKILLed processes take a moment to go).
pub fn settle(ms: u64, mut f: impl FnMut() -> Vec<String>) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    loop {
        let v = f();
        if v.is_empty() || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
