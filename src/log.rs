//! The `log` backend: plain lines to stderr, and to `--log FILE` as text or as the JSON lines
//! (`level`, `msg`, `time`) that containerd's go-runc reads the last error from.

use std::io::Write;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

pub struct Logger {
    file: Option<Mutex<std::fs::File>>,
    json: bool,
    level: LevelFilter,
}

static LOGGER: std::sync::OnceLock<Logger> = std::sync::OnceLock::new();

/// Install the logger once; a log file that can't be opened is reported and skipped.
pub fn init(path: Option<&std::path::Path>, json: bool, debug: bool) {
    let file = path.and_then(|p| {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("reno: open log file {}: {e}", p.display());
                None
            }
        }
    });
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    };
    let logger = LOGGER.get_or_init(|| Logger { file, json, level });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// The raw fd of the `--log` file, if one is open: what code that closes every other fd
/// must keep (the logger writes to it until execve).
pub fn file_fd() -> Option<i32> {
    let f = LOGGER.get()?.file.as_ref()?;
    let g = f.lock().ok()?;
    Some(std::os::fd::AsRawFd::as_raw_fd(&*g))
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let level = match r.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        if let Some(f) = &self.file {
            let line = if self.json {
                let v = serde_json::json!({"level": level, "msg": msg, "time": crate::state::rfc3339_now()});
                v.to_string() + "\n"
            } else {
                format!("{} {level}: {msg}\n", crate::state::rfc3339_now())
            };
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        // Errors always reach stderr too (engines show it; people read it).
        if r.level() == Level::Error {
            eprintln!("reno: {msg}");
        } else if self.file.is_none() {
            eprintln!("reno: {level}: {msg}");
        }
    }

    fn flush(&self) {}
}
