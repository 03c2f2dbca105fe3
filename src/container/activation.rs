//! systemd socket activation through the runtime, as runc does it: when reno itself was
//! activated (LISTEN_FDS set and LISTEN_PID is our pid), the listening fds 3..3+N are passed
//! on to the container's process with LISTEN_FDS=N and LISTEN_PID=1 (it will be pid 1, or
//! at least the process the fds are meant for); `--preserve-fds` counts after them.

use crate::spec::Spec;

/// The number of activation fds to keep, after adding the two variables to process.env.
pub fn apply(spec: &mut Spec) -> u32 {
    let n = match listen_fds(
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::process::id(),
    ) {
        Some(n) => n,
        None => return 0,
    };
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
    n
}

/// go-systemd's activation.Files: only when LISTEN_PID names us; N > 0.
fn listen_fds(fds: Option<&str>, pid: Option<&str>, me: u32) -> Option<u32> {
    let n: u32 = fds?.trim().parse().ok()?;
    let p: u32 = pid?.trim().parse().ok()?;
    (p == me && n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::listen_fds;

    #[test]
    fn only_for_us() {
        assert_eq!(listen_fds(Some("2"), Some("42"), 42), Some(2));
        assert_eq!(listen_fds(Some("2"), Some("41"), 42), None);
        assert_eq!(listen_fds(Some("0"), Some("42"), 42), None);
        assert_eq!(listen_fds(None, Some("42"), 42), None);
        assert_eq!(listen_fds(Some("x"), Some("42"), 42), None);
    }
}
