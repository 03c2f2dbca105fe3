//! reno: a minimal static OCI runtime and device init.
//!
//! Data flows one way: `cli` parses → `container` runs the lifecycle using `spec` (the
//! config model), `state` (the on-disk record), `cgroups`, `seccomp` and `linux` (the only
//! `unsafe`); `init` is the PID-1 mode, which runs its containers through `cli`.
pub mod cgroups;
pub mod cli;
pub mod container;
pub mod error;
pub mod init;
pub mod linux;
pub mod log;
pub mod seccomp;
pub mod spec;
pub mod state;
