//! One error type for every layer: which container, which step, which path, which errno.
//!
//! Rendered as one line for people (`reno: container c1: mount /proc: /run/x/rootfs/proc:
//! Permission denied (os error 13)`) and as the `msg` of a JSON log line for engines.
//! Some messages keep runc's exact wording because containerd's go-runc matches on it.

use std::fmt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

/// What kind of failure this is, where callers must react differently (and where engines
/// recognise runc's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "container does not exist"
    NotFound,
    /// "container with id exists"
    Exists,
    /// "container not running"
    NotRunning,
    /// The operation is not allowed in the container's current state.
    WrongState,
    /// Invalid user input: flags, ids, config.json fields.
    Invalid,
    /// Anything else: a failing syscall, a hook, I/O.
    Failed,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub container: Option<String>,
    pub step: String,
    pub path: Option<PathBuf>,
    pub errno: Option<Errno>,
    pub detail: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, step: impl Into<String>) -> Self {
        Error { kind, container: None, step: step.into(), path: None, errno: None, detail: None }
    }
    /// A failed step with its errno.
    pub fn sys(step: impl Into<String>, errno: Errno) -> Self {
        Error::new(Kind::Failed, step).errno(errno)
    }
    /// Invalid input, with an explanation.
    pub fn invalid(step: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, step).detail(detail)
    }
    pub fn failed(step: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::new(Kind::Failed, step).detail(detail)
    }
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }
    pub fn errno(mut self, errno: Errno) -> Self {
        self.errno = Some(errno);
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    /// Name the container, unless an inner layer already did.
    pub fn container(mut self, id: &str) -> Self {
        if self.container.is_none() {
            self.container = Some(id.to_string());
        }
        self
    }
    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.container {
            write!(f, "container {c}: ")?;
        }
        f.write_str(&self.step)?;
        if let Some(p) = &self.path {
            write!(f, ": {}", p.display())?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(e) = self.errno {
            write!(f, ": {} (errno {})", errno_text(e), e.raw_os_error())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The C library's wording for an errno ("No such file or directory").
pub fn errno_text(e: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(e.raw_os_error()).to_string();
    // std appends " (os error N)"; we print the number ourselves.
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Attach a step and path to a failing syscall or I/O result.
pub trait Context<T> {
    fn ctx(self, step: &str) -> Result<T>;
    fn ctx_path(self, step: &str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn ctx(self, step: &str) -> Result<T> {
        self.map_err(|e| Error::sys(step, e))
    }
    fn ctx_path(self, step: &str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::sys(step, e).path(path))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx(self, step: &str) -> Result<T> {
        self.map_err(|e| io_error(step, e))
    }
    fn ctx_path(self, step: &str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| io_error(step, e).path(path))
    }
}

fn io_error(step: &str, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(n) => Error::sys(step, Errno::from_raw_os_error(n)),
        None => Error::failed(step, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_container_step_path_errno() {
        let e = Error::sys("mount /proc", Errno::ACCESS).path("/b/rootfs/proc").container("c1");
        assert_eq!(
            e.to_string(),
            "container c1: mount /proc: /b/rootfs/proc: Permission denied (errno 13)"
        );
    }

    #[test]
    fn inner_container_name_wins() {
        let e = Error::invalid("id", "bad").container("a").container("b");
        assert_eq!(e.container.as_deref(), Some("a"));
    }
}
