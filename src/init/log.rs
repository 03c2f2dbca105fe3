//! Init's log: one line per event, stamped with CLOCK_BOOTTIME so boot timing can be read
//! straight off the console; to the console, /dev/kmsg or a size-capped file.
//!
//! Kept apart from the runtime's `log` backend because PID 1 must never block or fail on
//! logging: every write error is swallowed (there is nowhere left to report it).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use super::board::{LogConfig, LogTarget};

enum Sink {
    /// stderr (the console when reno is PID 1).
    Console,
    Kmsg(std::fs::File),
    File {
        file: std::fs::File,
        path: PathBuf,
        written: u64,
        max: u64,
    },
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Console);

/// Seconds since boot (CLOCK_BOOTTIME, counts suspend too).
pub fn boottime() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// `value` with `decimals` digits after the point (at most 9), rounded, by integer
/// arithmetic: core's float formatting (~10 KiB of code and tables) stays out of the binary.
/// Padded to the width asked for (`{:>10}`), as a float would be.
pub struct Fixed(pub f64, pub u32);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Fixed(v, d) = *self;
        let d = d.min(9);
        let scale = 10u64.pow(d);
        let sign = if v < 0.0 { "-" } else { "" };
        // `as` saturates: NaN is 0, huge values stop at u64::MAX.
        let n = (v.abs() * scale as f64 + 0.5) as u64;
        let text = match d {
            0 => format!("{sign}{n}"),
            _ => format!("{sign}{}.{:0w$}", n / scale, n % scale, w = d as usize),
        };
        f.pad_integral(true, "", &text)
    }
}

/// Switch to the board's log target. Falls back to the console (and says so) when the
/// target cannot be opened.
pub fn configure(cfg: &LogConfig) {
    let sink = match cfg.target {
        LogTarget::Console => Ok(Sink::Console),
        LogTarget::Kmsg => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .map(Sink::Kmsg),
        LogTarget::File => {
            let path = cfg
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from("/run/reno-init.log"));
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map(|file| {
                    let written = file.metadata().map(|m| m.len()).unwrap_or(0);
                    Sink::File {
                        file,
                        path,
                        written,
                        max: cfg.max_bytes,
                    }
                })
        }
    };
    match sink {
        Ok(s) => {
            if let Ok(mut g) = SINK.lock() {
                *g = s;
            }
        }
        Err(e) => warn(&format!(
            "log target {:?} unavailable ({e}), logging to the console",
            cfg.target
        )),
    }
}

/// A line from init itself.
pub fn info(msg: &str) {
    line("reno-init", msg, 6);
}

pub fn warn(msg: &str) {
    line("reno-init", &format!("warning: {msg}"), 4);
}

pub fn error(msg: &str) {
    line("reno-init", &format!("error: {msg}"), 3);
}

/// A line a container printed, prefixed with its id.
pub fn container(id: &str, text: &str) {
    line(id, text, 6);
}

fn line(tag: &str, msg: &str, level: u8) {
    let Ok(mut sink) = SINK.lock() else { return };
    match &mut *sink {
        Sink::Console => {
            let text = format!("[{:>10}] {tag}: {msg}\n", Fixed(boottime(), 6));
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        // The kernel stamps kmsg lines itself.
        Sink::Kmsg(f) => {
            let _ = f.write_all(format!("<{level}>{tag}: {msg}\n").as_bytes());
        }
        Sink::File {
            file,
            path,
            written,
            max,
        } => {
            let text = format!("[{:>10}] {tag}: {msg}\n", Fixed(boottime(), 6));
            if *written + text.len() as u64 > *max {
                // Keep one previous generation: path.1.
                let mut old = path.clone().into_os_string();
                old.push(".1");
                let _ = std::fs::rename(&*path, &old);
                if let Ok(f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&*path)
                {
                    *file = f;
                    *written = 0;
                }
            }
            if file.write_all(text.as_bytes()).is_ok() {
                *written += text.len() as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_formats_like_a_float_with_that_precision() {
        assert_eq!(format!("{}", Fixed(1.23456, 3)), "1.235");
        assert_eq!(format!("{}", Fixed(0.0, 1)), "0.0");
        assert_eq!(format!("{}", Fixed(12.05, 1)), "12.1");
        assert_eq!(format!("{}", Fixed(-0.5, 2)), "-0.50");
        assert_eq!(format!("{}", Fixed(7.0, 0)), "7");
        assert_eq!(format!("[{:>10}]", Fixed(1.5, 6)), "[  1.500000]");
        assert_eq!(format!("{}", Fixed(1749.123456789, 6)), "1749.123457");
    }

    #[test]
    fn file_target_rotates_at_max_bytes() {
        let dir = std::env::temp_dir().join(format!("reno-init-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("init.log");
        configure(&LogConfig {
            target: LogTarget::File,
            path: Some(path.clone()),
            max_bytes: 4096,
        });
        for n in 0..100 {
            container("app", &format!("line {n:03} {}", "x".repeat(40)));
        }
        configure(&LogConfig {
            target: LogTarget::Console,
            path: None,
            max_bytes: 4096,
        });
        let cur = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(dir.join("init.log.1")).unwrap();
        assert!(
            cur.len() <= 4096 && old.len() <= 4096,
            "{} {}",
            cur.len(),
            old.len()
        );
        assert!(cur.ends_with(&format!("app: line 099 {}\n", "x".repeat(40))));
        assert!(old.contains("] app: line "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
