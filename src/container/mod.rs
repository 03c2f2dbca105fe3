//! The container lifecycle: create (parent side, `create.rs`), the init stages (child side,
//! `init.rs`), start, kill, delete, state; parent and child talk over pipes (`channel.rs`).

mod activation;
pub mod channel;
pub mod create;
pub mod exec;
pub mod hooks;
mod idmap;
pub mod init;
pub mod lsm;
mod notify;
pub mod ops;
pub mod preparsed;
mod relay;
pub mod rootfs;
pub mod sealed;
pub mod terminal;
pub mod userns;

use std::path::PathBuf;

/// Flags every command shares.
#[derive(Debug, Clone)]
pub struct Globals {
    pub root: PathBuf,
    /// `--rootless` resolved (`auto`: not root, or root only in a partial user namespace).
    pub rootless: bool,
}

/// What `create` and `run` are asked to do.
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

pub use create::create;
pub use ops::{delete, kill, list, run, start, state};
