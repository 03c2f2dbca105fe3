//! seccomp without libseccomp: `linux.seccomp` is compiled here into a classic BPF program
//! (see `compile` for the layout and the rule semantics) and loaded with seccomp(2).
//!
//! Syscall numbers come from the `syscalls` crate's per-architecture tables, so one reno
//! binary can filter x86_64, x86 and x32, aarch64 and arm, riscv64 alike. `interp` runs a
//! program on a made-up `seccomp_data`, which is how the unit tests check every arch.

pub mod arch;
pub mod bpf;
pub mod compile;
pub mod interp;
#[cfg(test)]
mod tests;

use oci_spec::runtime::LinuxSeccomp;
use rustix::fd::OwnedFd;

pub use arch::Arch;
pub use compile::{compile, Program};

use crate::error::{Context, Error, Result};
use crate::linux::seccomp as sys;

/// Actions reno implements, spelled as in the runtime spec (for `reno features`).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Argument operators reno implements.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Architectures reno has syscall tables for.
pub const ARCHS: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// `linux.seccomp.flags` reno passes to seccomp(2).
pub const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Compile `seccomp` for the running architecture and load it into this process.
///
/// Call last before execve, after no_new_privs is set (or with CAP_SYS_ADMIN). With a
/// SCMP_ACT_NOTIFY rule the filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER and the
/// listener fd is returned, for the caller to send to `listenerPath`. Nothing is loaded if
/// the profile is invalid.
pub fn install(seccomp: &LinuxSeccomp) -> Result<Option<OwnedFd>> {
    load(&prepare(seccomp)?)
}

/// Compile for the running architecture and settle the load flags: done by `create` before
/// anything is made, so a bad profile fails early and the init only has to load it.
pub fn prepare(seccomp: &LinuxSeccomp) -> Result<Program> {
    let native = Arch::native().ok_or_else(|| {
        Error::invalid(
            "linux.seccomp",
            "seccomp is not supported on this architecture",
        )
    })?;
    let mut prog = compile(seccomp, native)?;
    if !prog.notify && prog.flags & sys::FLAG_WAIT_KILLABLE_RECV != 0 {
        // Only meaningful with a listener; the kernel refuses it alone (EINVAL).
        log::debug!(
            "seccomp: no SCMP_ACT_NOTIFY rule, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV dropped"
        );
        prog.flags &= !sys::FLAG_WAIT_KILLABLE_RECV;
    }
    if prog.notify {
        prog.flags |= sys::FLAG_NEW_LISTENER;
        // TSYNC and NEW_LISTENER together need TSYNC_ESRCH (kernel ≥ 5.7), else EINVAL.
        if prog.flags & sys::FLAG_TSYNC != 0 {
            prog.flags |= sys::FLAG_TSYNC_ESRCH;
        }
    }
    Ok(prog)
}

/// Load a prepared program into this process; the listener fd when it has NOTIFY rules.
pub fn load(prog: &Program) -> Result<Option<OwnedFd>> {
    log::debug!(
        "seccomp: loading {} instructions, flags {:#x}",
        prog.insns.len(),
        prog.flags
    );
    sys::set_mode_filter(prog.flags, &prog.insns).ctx("seccomp(SECCOMP_SET_MODE_FILTER)")
}
