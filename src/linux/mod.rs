//! Thin, safe wrappers over the kernel: the only module with `unsafe`.
//!
//! Everything goes through rustix where it has the call; the few it lacks (clone with
//! namespace flags, setns by fd type, prctl for capability sets, personality, ioprio,
//! mount_setattr, signal masks, the seccomp notify ioctls) go through `syscalls`.

pub mod alloc;
pub mod bpf;
pub mod caps;
pub mod exe_remap;
pub mod fdpass;
pub mod fds;
pub mod fs;
pub mod idmap;
pub mod kmod;
pub mod mount;
pub mod netif;
pub mod process;
pub mod pty;
pub mod seccomp;
pub mod signal;
pub mod signalfd;
pub mod spawn;
pub mod watchdog;
