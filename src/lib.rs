//! reno: a minimal static OCI runtime and device init.
pub mod error;
pub mod linux;
pub mod cgroups;
pub mod cli;
pub mod init;
