//! The board config (`board-configs/*.json`): what a device boots and keeps running.
//!
//! Parsed by walking `serde_json::Value` by hand so that every error names the field path
//! (`containers[1].backoff.factor: must be ≥ 1`) and unknown fields are errors, not silently
//! ignored typos. Every field is documented in board-configs/README.md.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The only version this reno understands.
pub const VERSION: u64 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub version: u64,
    /// Informational: the Rust target triple of the reno binary built for this board.
    pub target: Option<String>,
    pub hostname: Option<String>,
    pub cgroup: CgroupMode,
    /// Mount /tmp as tmpfs during early boot.
    pub tmp: bool,
    /// Bring `lo` up during early boot.
    pub loopback: bool,
    pub mounts: Vec<MountEntry>,
    /// Kernel modules loaded in early boot, in this order (before switchRoot and the mounts).
    pub modules: Vec<Module>,
    /// Remount `/` read-only once the early mounts are done.
    pub root_read_only: bool,
    pub switch_root: Option<SwitchRoot>,
    pub log: LogConfig,
    pub watchdog: Watchdog,
    pub state_root: PathBuf,
    pub on_fatal: OnFatal,
    /// Time for everything left after the containers stop to exit on SIGTERM before SIGKILL.
    pub final_kill_seconds: u64,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    Auto,
    V2,
    V1,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub destination: PathBuf,
    pub fstype: String,
    pub source: String,
    pub options: Vec<String>,
    /// Keep booting when this mount fails (logged as a warning).
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: PathBuf,
    pub params: String,
    /// Keep booting when it fails to load (logged as a warning).
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchRoot {
    pub device: String,
    pub fstype: String,
    pub options: Vec<String>,
    /// Seconds to wait for `device` to appear (it may be probed asynchronously).
    pub wait_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Console,
    Kmsg,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub target: LogTarget,
    pub path: Option<PathBuf>,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogMode {
    Off,
    /// Armed from early boot until every container has started, then closed with 'V'.
    Boot,
    /// Fed for the whole life of the device while it is healthy.
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    pub device: PathBuf,
    pub timeout_seconds: u64,
    pub mode: WatchdogMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reboot,
    Poweroff,
    Halt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnFatal {
    pub action: Action,
    pub delay_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs to completion; dependents start only after it exited 0.
    Oneshot,
    /// Runs for the life of the device; dependents start once it is running (or ready).
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Never,
    OnFailure,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExhausted {
    GiveUp,
    Reboot,
    Poweroff,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial_ms: u64,
    pub max_ms: u64,
    pub factor: f64,
    pub reset_after_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub file: PathBuf,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub kind: Kind,
    pub depends_on: Vec<String>,
    pub restart: Restart,
    pub backoff: Backoff,
    /// None: retry forever.
    pub max_retries: Option<u32>,
    pub on_exhausted: OnExhausted,
    pub stop_timeout_seconds: u64,
    pub ready: Option<Ready>,
}

/// Field-path-aware reader over one JSON object: every field it is asked for is marked, and
/// `finish` rejects the rest.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

fn err(path: &str, detail: impl Into<String>) -> Error {
    Error::invalid(format!("board config: {path}"), detail)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    fn new(path: String, v: &'a Value) -> Result<Self> {
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                seen: Vec::new(),
            }),
            other => Err(err(
                if path.is_empty() {
                    "(top level)"
                } else {
                    &path
                },
                format!("must be an object, not {}", type_name(other)),
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(err(
                &self.at(key),
                format!("must be a string, not {}", type_name(v)),
            )),
        }
    }

    fn req_string(&mut self, key: &'static str) -> Result<String> {
        let s = self
            .string(key)?
            .ok_or_else(|| err(&self.at(key), "is required"))?;
        if s.is_empty() {
            return Err(err(&self.at(key), "must not be empty"));
        }
        Ok(s)
    }

    fn uint(&mut self, key: &'static str, default: u64) -> Result<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                err(
                    &self.at(key),
                    format!("must be a non-negative integer, not {v}"),
                )
            }),
        }
    }

    fn float(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| {
                err(
                    &self.at(key),
                    format!("must be a number, not {}", type_name(v)),
                )
            }),
        }
    }

    fn boolean(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(err(
                &self.at(key),
                format!("must be true or false, not {}", type_name(v)),
            )),
        }
    }

    fn strings(&mut self, key: &'static str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(err(
                        &format!("{}[{i}]", self.at(key)),
                        format!("must be a string, not {}", type_name(v)),
                    )),
                })
                .collect(),
            Some(v) => Err(err(
                &self.at(key),
                format!("must be an array of strings, not {}", type_name(v)),
            )),
        }
    }

    /// One of a fixed set of words.
    fn choice<T: Copy>(&mut self, key: &'static str, default: T, words: &[(&str, T)]) -> Result<T> {
        match self.string(key)? {
            None => Ok(default),
            Some(s) => words
                .iter()
                .find(|(w, _)| *w == s)
                .map(|(_, t)| *t)
                .ok_or_else(|| {
                    let list: Vec<String> = words.iter().map(|(w, _)| format!("\"{w}\"")).collect();
                    err(
                        &self.at(key),
                        format!("\"{s}\" is not one of {}", list.join(", ")),
                    )
                }),
        }
    }

    fn object(&mut self, key: &'static str) -> Result<Option<Obj<'a>>> {
        let path = self.at(key);
        self.get(key).map(|v| Obj::new(path, v)).transpose()
    }

    fn array(&mut self, key: &'static str) -> Result<Vec<(String, &'a Value)>> {
        let path = self.at(key);
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect()),
            Some(v) => Err(err(
                &path,
                format!("must be an array, not {}", type_name(v)),
            )),
        }
    }

    /// Reject every field nobody asked for (typos must not pass silently).
    fn finish(self) -> Result<()> {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            Some(k) => Err(err(&self.at(k), "unknown field")),
            None => Ok(()),
        }
    }
}

fn abs_path(path: &str, s: String) -> Result<PathBuf> {
    if !s.starts_with('/') {
        return Err(err(path, format!("\"{s}\" must be an absolute path")));
    }
    Ok(PathBuf::from(s))
}

/// Parse and validate a board config from its JSON text.
pub fn parse(text: &str) -> Result<Board> {
    let v: Value = crate::spec::json_value(text.as_bytes())
        .map_err(|e| Error::invalid("board config", format!("not valid JSON: {e}")))?;
    let mut o = Obj::new(String::new(), &v)?;
    let version = match o.get("version") {
        None => return Err(err("version", "is required (this reno reads version 1)")),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| err("version", format!("must be an integer, not {v}")))?,
    };
    if version != VERSION {
        return Err(err(
            "version",
            format!("{version} is not supported (this reno reads version {VERSION})"),
        ));
    }
    let target = o.string("target")?;
    let hostname = o.string("hostname")?;
    if let Some(h) = &hostname {
        if h.is_empty() || h.len() > 64 || h.contains(['/', ' ', '\0']) {
            return Err(err(
                "hostname",
                format!("\"{h}\" is not a valid hostname (1-64 characters, no spaces or '/')"),
            ));
        }
    }
    let cgroup = o.choice(
        "cgroup",
        CgroupMode::Auto,
        &[
            ("auto", CgroupMode::Auto),
            ("v2", CgroupMode::V2),
            ("v1", CgroupMode::V1),
            ("none", CgroupMode::None),
        ],
    )?;
    let tmp = o.boolean("tmp", true)?;
    let loopback = o.boolean("loopback", true)?;
    let mut mounts = Vec::new();
    for (path, v) in o.array("mounts")? {
        mounts.push(parse_mount(&path, v)?);
    }
    let mut modules = Vec::new();
    for (path, v) in o.array("modules")? {
        let mut m = Obj::new(path, v)?;
        let p = abs_path(&m.at("path"), m.req_string("path")?)?;
        let params = m.string("params")?.unwrap_or_default();
        let optional = m.boolean("optional", false)?;
        m.finish()?;
        modules.push(Module {
            path: p,
            params,
            optional,
        });
    }
    let root_read_only = o.boolean("rootReadOnly", false)?;
    let switch_root = match o.object("switchRoot")? {
        None => None,
        Some(mut s) => {
            let sr = SwitchRoot {
                device: s.req_string("device")?,
                fstype: s.req_string("type")?,
                options: s.strings("options")?,
                wait_seconds: s.uint("waitSeconds", 10)?,
            };
            s.finish()?;
            Some(sr)
        }
    };
    let log = match o.object("log")? {
        None => LogConfig {
            target: LogTarget::Console,
            path: None,
            max_bytes: 1 << 20,
        },
        Some(mut l) => {
            let target = l.choice(
                "target",
                LogTarget::Console,
                &[
                    ("console", LogTarget::Console),
                    ("kmsg", LogTarget::Kmsg),
                    ("file", LogTarget::File),
                ],
            )?;
            let path = l
                .string("path")?
                .map(|s| abs_path(&l.at("path"), s))
                .transpose()?;
            let max_bytes = l.uint("maxBytes", 1 << 20)?;
            if target == LogTarget::File && path.is_none() {
                return Err(err(&l.at("path"), "is required when target is \"file\""));
            }
            if max_bytes < 4096 {
                return Err(err(&l.at("maxBytes"), "must be at least 4096"));
            }
            l.finish()?;
            LogConfig {
                target,
                path,
                max_bytes,
            }
        }
    };
    let watchdog = match o.object("watchdog")? {
        None => Watchdog {
            device: PathBuf::from("/dev/watchdog"),
            timeout_seconds: 30,
            mode: WatchdogMode::Off,
        },
        Some(mut w) => {
            let device = abs_path(
                &w.at("device"),
                w.string("device")?
                    .unwrap_or_else(|| "/dev/watchdog".into()),
            )?;
            let timeout_seconds = w.uint("timeoutSeconds", 30)?;
            if !(1..=3600).contains(&timeout_seconds) {
                return Err(err(&w.at("timeoutSeconds"), "must be between 1 and 3600"));
            }
            let mode = w.choice(
                "mode",
                WatchdogMode::Always,
                &[
                    ("off", WatchdogMode::Off),
                    ("boot", WatchdogMode::Boot),
                    ("always", WatchdogMode::Always),
                ],
            )?;
            w.finish()?;
            Watchdog {
                device,
                timeout_seconds,
                mode,
            }
        }
    };
    let state_root = abs_path(
        "stateRoot",
        o.string("stateRoot")?.unwrap_or_else(|| "/run/reno".into()),
    )?;
    let on_fatal = match o.object("onFatal")? {
        None => OnFatal {
            action: Action::Reboot,
            delay_seconds: 5,
        },
        Some(mut f) => {
            let action = f.choice(
                "action",
                Action::Reboot,
                &[
                    ("reboot", Action::Reboot),
                    ("poweroff", Action::Poweroff),
                    ("halt", Action::Halt),
                ],
            )?;
            let delay_seconds = f.uint("delaySeconds", 5)?;
            f.finish()?;
            OnFatal {
                action,
                delay_seconds,
            }
        }
    };
    let final_kill_seconds = o.uint("finalKillSeconds", 2)?;
    let mut containers = Vec::new();
    for (path, v) in o.array("containers")? {
        containers.push(parse_container(&path, v)?);
    }
    o.finish()?;
    let board = Board {
        version,
        target,
        hostname,
        cgroup,
        tmp,
        loopback,
        mounts,
        modules,
        root_read_only,
        switch_root,
        log,
        watchdog,
        state_root,
        on_fatal,
        final_kill_seconds,
        containers,
    };
    start_order(&board)?;
    Ok(board)
}

fn parse_mount(path: &str, v: &Value) -> Result<MountEntry> {
    let mut m = Obj::new(path.to_string(), v)?;
    let destination = abs_path(&m.at("destination"), m.req_string("destination")?)?;
    let fstype = m.req_string("type")?;
    let source = m.string("source")?.unwrap_or_else(|| fstype.clone());
    let options = m.strings("options")?;
    let optional = m.boolean("optional", false)?;
    m.finish()?;
    Ok(MountEntry {
        destination,
        fstype,
        source,
        options,
        optional,
    })
}

fn parse_container(path: &str, v: &Value) -> Result<Container> {
    let mut c = Obj::new(path.to_string(), v)?;
    let id = c.req_string("id")?;
    if !id
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        || id.starts_with('.')
    {
        return Err(err(
            &c.at("id"),
            format!("\"{id}\" may hold only letters, digits, '-', '_' and '.'"),
        ));
    }
    let bundle = abs_path(&c.at("bundle"), c.req_string("bundle")?)?;
    let kind = c.choice(
        "kind",
        Kind::Service,
        &[("oneshot", Kind::Oneshot), ("service", Kind::Service)],
    )?;
    let depends_on = c.strings("dependsOn")?;
    let default_restart = if kind == Kind::Service {
        Restart::Always
    } else {
        Restart::Never
    };
    let restart = c.choice(
        "restart",
        default_restart,
        &[
            ("never", Restart::Never),
            ("on-failure", Restart::OnFailure),
            ("always", Restart::Always),
        ],
    )?;
    if kind == Kind::Oneshot && restart == Restart::Always {
        return Err(err(
            &c.at("restart"),
            "\"always\" makes no sense for a oneshot (use \"on-failure\")",
        ));
    }
    let backoff = match c.object("backoff")? {
        None => Backoff {
            initial_ms: 500,
            max_ms: 30_000,
            factor: 2.0,
            reset_after_seconds: 60,
        },
        Some(mut b) => {
            let initial_ms = b.uint("initialMs", 500)?;
            let max_ms = b.uint("maxMs", 30_000)?;
            let factor = b.float("factor", 2.0)?;
            let reset_after_seconds = b.uint("resetAfterSeconds", 60)?;
            if !(1.0..=100.0).contains(&factor) {
                return Err(err(
                    &b.at("factor"),
                    // As JSON writes it: serde_json's number formatting, not core's float
                    // formatting (which only this would pull in; ~10 KiB).
                    format!(
                        "{} must be between 1 and 100",
                        serde_json::Number::from_f64(factor)
                            .map_or("NaN".into(), |n| n.to_string())
                    ),
                ));
            }
            if max_ms < initial_ms {
                return Err(err(
                    &b.at("maxMs"),
                    format!("{max_ms} is smaller than initialMs {initial_ms}"),
                ));
            }
            b.finish()?;
            Backoff {
                initial_ms,
                max_ms,
                factor,
                reset_after_seconds,
            }
        }
    };
    let max_retries = match c.get("maxRetries") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    err(
                        &c.at("maxRetries"),
                        format!("must be a non-negative integer, not {v}"),
                    )
                })?,
        ),
    };
    let on_exhausted = c.choice(
        "onExhausted",
        OnExhausted::GiveUp,
        &[
            ("give-up", OnExhausted::GiveUp),
            ("reboot", OnExhausted::Reboot),
            ("poweroff", OnExhausted::Poweroff),
        ],
    )?;
    let stop_timeout_seconds = c.uint("stopTimeoutSeconds", 10)?;
    let ready = match c.object("ready")? {
        None => None,
        Some(mut r) => {
            let file = abs_path(&r.at("file"), r.req_string("file")?)?;
            let timeout_seconds = r.uint("timeoutSeconds", 30)?;
            r.finish()?;
            Some(Ready {
                file,
                timeout_seconds,
            })
        }
    };
    if ready.is_some() && kind == Kind::Oneshot {
        return Err(err(
            &c.at("ready"),
            "only a service has a ready file (a oneshot is ready when it exits 0)",
        ));
    }
    c.finish()?;
    Ok(Container {
        id,
        bundle,
        kind,
        depends_on,
        restart,
        backoff,
        max_retries,
        on_exhausted,
        stop_timeout_seconds,
        ready,
    })
}

/// Indices of `board.containers` in start order: dependencies first, otherwise file order.
/// Errors name duplicate ids, unknown dependencies and cycles.
pub fn start_order(board: &Board) -> Result<Vec<usize>> {
    let cs = &board.containers;
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, c) in cs.iter().enumerate() {
        if let Some(j) = index.insert(&c.id, i) {
            return Err(err(
                &format!("containers[{i}].id"),
                format!("\"{}\" is already used by containers[{j}]", c.id),
            ));
        }
    }
    let mut deps: Vec<Vec<usize>> = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let mut d = Vec::new();
        for (k, name) in c.depends_on.iter().enumerate() {
            match index.get(name.as_str()) {
                Some(&j) if j == i => {
                    return Err(err(
                        &format!("containers[{i}].dependsOn[{k}]"),
                        "a container cannot depend on itself",
                    ))
                }
                Some(&j) => d.push(j),
                None => {
                    return Err(err(
                        &format!("containers[{i}].dependsOn[{k}]"),
                        format!("no container has the id \"{name}\""),
                    ))
                }
            }
        }
        deps.push(d);
    }
    // Kahn's algorithm, always taking the earliest ready container in file order.
    let mut done = vec![false; cs.len()];
    let mut order = Vec::with_capacity(cs.len());
    while order.len() < cs.len() {
        let next = (0..cs.len()).find(|&i| !done[i] && deps[i].iter().all(|&j| done[j]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                let cycle = find_cycle(&deps, &done);
                let names: Vec<&str> = cycle.iter().map(|&i| cs[i].id.as_str()).collect();
                return Err(err(
                    &format!("containers[{}].dependsOn", cycle[0]),
                    format!("dependency cycle: {}", names.join(" -> ")),
                ));
            }
        }
    }
    Ok(order)
}

/// A cycle among the not-yet-ordered containers (each has an unfinished dependency), as a
/// path that ends where it starts.
fn find_cycle(deps: &[Vec<usize>], done: &[bool]) -> Vec<usize> {
    let Some(start) = (0..deps.len()).find(|&i| !done[i]) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let Some(&next) = deps[cur].iter().find(|&&j| !done[j]) else {
            return path;
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(next);
            return cycle;
        }
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> String {
        parse(text).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn minimal_board_gets_defaults() {
        let b = parse(r#"{"version": 1}"#).unwrap();
        assert_eq!(b.cgroup, CgroupMode::Auto);
        assert_eq!(b.state_root, PathBuf::from("/run/reno"));
        assert_eq!(b.log.target, LogTarget::Console);
        assert_eq!(b.watchdog.mode, WatchdogMode::Off);
        assert_eq!(
            b.on_fatal,
            OnFatal {
                action: Action::Reboot,
                delay_seconds: 5
            }
        );
        assert!(b.tmp && b.loopback);
    }

    #[test]
    fn errors_name_the_field_path() {
        assert_eq!(
            e(r#"{"version": 2}"#),
            "board config: version: 2 is not supported (this reno reads version 1)"
        );
        assert_eq!(
            e(r#"{"version": 1, "hostnme": "x"}"#),
            "board config: hostnme: unknown field"
        );
        assert_eq!(
            e(
                r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b"}, {"id": "b", "bundle": "/c", "backoff": {"factor": 0.5}}]}"#
            ),
            "board config: containers[1].backoff.factor: 0.5 must be between 1 and 100"
        );
        assert_eq!(
            e(
                r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b", "restrat": "always"}]}"#
            ),
            "board config: containers[0].restrat: unknown field"
        );
        assert_eq!(
            e(r#"{"version": 1, "log": {"target": "syslog"}}"#),
            "board config: log.target: \"syslog\" is not one of \"console\", \"kmsg\", \"file\""
        );
        assert_eq!(
            e(r#"{"version": 1, "mounts": [{"destination": "data", "type": "tmpfs"}]}"#),
            "board config: mounts[0].destination: \"data\" must be an absolute path"
        );
        assert_eq!(
            e(r#"{"version": 1, "containers": [{"id": "a"}]}"#),
            "board config: containers[0].bundle: is required"
        );
        assert_eq!(
            e(
                r#"{"version": 1, "mounts": [{"destination": "/x", "type": "tmpfs", "options": [1]}]}"#
            ),
            "board config: mounts[0].options[0]: must be a string, not a number"
        );
        assert!(e("{").starts_with("board config: not valid JSON"));
        assert_eq!(
            e("[]"),
            "board config: (top level): must be an object, not an array"
        );
    }

    #[test]
    fn start_order_puts_dependencies_first() {
        let b = parse(
            r#"{"version": 1, "containers": [
                {"id": "app", "bundle": "/b/app", "dependsOn": ["db", "setup"]},
                {"id": "db", "bundle": "/b/db", "dependsOn": ["setup"]},
                {"id": "setup", "bundle": "/b/setup", "kind": "oneshot"},
                {"id": "other", "bundle": "/b/other"}
            ]}"#,
        )
        .unwrap();
        let ids: Vec<&str> = start_order(&b)
            .unwrap()
            .iter()
            .map(|&i| b.containers[i].id.as_str())
            .collect();
        assert_eq!(ids, ["setup", "db", "app", "other"]);
    }

    #[test]
    fn dependency_errors() {
        assert_eq!(
            e(r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b", "dependsOn": ["x"]}]}"#),
            "board config: containers[0].dependsOn[0]: no container has the id \"x\""
        );
        assert_eq!(
            e(
                r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b"}, {"id": "a", "bundle": "/c"}]}"#
            ),
            "board config: containers[1].id: \"a\" is already used by containers[0]"
        );
        assert_eq!(
            e(r#"{"version": 1, "containers": [
                {"id": "a", "bundle": "/b", "dependsOn": ["b"]},
                {"id": "b", "bundle": "/b", "dependsOn": ["c"]},
                {"id": "c", "bundle": "/b", "dependsOn": ["a"]}]}"#),
            "board config: containers[0].dependsOn: dependency cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn oneshot_rules() {
        assert!(e(r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b", "kind": "oneshot", "restart": "always"}]}"#)
            .contains("containers[0].restart"));
        let b = parse(
            r#"{"version": 1, "containers": [{"id": "a", "bundle": "/b", "kind": "oneshot"}]}"#,
        )
        .unwrap();
        assert_eq!(b.containers[0].restart, Restart::Never);
    }

    #[test]
    fn shipped_board_configs_are_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/board-configs");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).unwrap();
                let b = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(b.target.is_some(), "{} names no target", p.display());
                n += 1;
            }
        }
        assert!(n >= 5, "expected the five shipped board configs, found {n}");
    }
}
