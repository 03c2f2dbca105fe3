//! The architectures reno compiles filters for: their AUDIT_ARCH value, argument width and
//! syscall numbers (from the `syscalls` crate, plus the two ABIs it has no table for: x32
//! and ARM's private syscalls).

use std::sync::OnceLock;

use oci_spec::runtime::Arch as SpecArch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    X86,
    X32,
    Aarch64,
    Arm,
    Riscv64,
}

/// Bit set in x32 syscall numbers (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `__ARM_NR_BASE`: ARM's private syscalls are numbered from here.
const ARM_NR_BASE: u32 = 0x000f_0000;

/// ARM private syscalls, as libseccomp names them (arch/arm/include/uapi/asm/unistd.h).
const ARM_PRIVATE: &[(&str, u32)] = &[
    ("breakpoint", ARM_NR_BASE + 1),
    ("cacheflush", ARM_NR_BASE + 2),
    ("usr26", ARM_NR_BASE + 3),
    ("usr32", ARM_NR_BASE + 4),
    ("set_tls", ARM_NR_BASE + 5),
    ("get_tls", ARM_NR_BASE + 6),
];

/// x86_64 syscalls that x32 does not have (the "64" rows of syscall_64.tbl, other than the
/// ones x32 gets a compat number for in X32_COMPAT).
const X86_64_ONLY: &[&str] = &[
    "uselib",
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "nfsservctl",
    "set_thread_area",
    "get_thread_area",
    "epoll_ctl_old",
    "epoll_wait_old",
    "vserver",
    "uretprobe",
    "uprobe",
];

/// x32's own numbers (512..=547, plus the x32 bit) for syscalls whose x86_64 version takes
/// 64-bit structures; every other x32 syscall is the x86_64 number with the x32 bit set.
const X32_COMPAT: &[&str] = &[
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];
const X32_COMPAT_BASE: u32 = 512;

/// Every (name, number) of one of the `syscalls` crate's tables. Walking `new`/`name`
/// (compiled to lookup tables) instead of the crate's `FromStr` (a string match worth
/// ~25 KB of code per table in a release build).
macro_rules! entries {
    ($table:ident) => {{
        use syscalls::$table::Sysno as S;
        (S::first().id()..=S::last().id())
            .filter_map(|id| S::new(id as usize))
            .filter_map(|s| Some((s.name(), u32::try_from(s.id()).ok()?)))
            .collect::<Vec<(&'static str, u32)>>()
    }};
}

/// (name, number), sorted by name for binary search (no hashing code in the binary).
type Table = Vec<(&'static str, u32)>;

impl Arch {
    pub const ALL: [Arch; 6] = [
        Arch::X86_64,
        Arch::X86,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Riscv64,
    ];

    /// The architecture reno runs on, if it can filter it.
    pub fn native() -> Option<Arch> {
        if cfg!(all(target_arch = "x86_64", target_pointer_width = "64")) {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "x86_64") {
            Some(Arch::X32)
        } else if cfg!(target_arch = "x86") {
            Some(Arch::X86)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "arm") {
            Some(Arch::Arm)
        } else if cfg!(target_arch = "riscv64") {
            Some(Arch::Riscv64)
        } else {
            None
        }
    }

    /// From the spec's `SCMP_ARCH_*`; `None` for one reno has no table for.
    pub fn from_spec(a: SpecArch, native: Arch) -> Option<Arch> {
        match a {
            SpecArch::ScmpArchNative => Some(native),
            SpecArch::ScmpArchX86_64 => Some(Arch::X86_64),
            SpecArch::ScmpArchX86 => Some(Arch::X86),
            SpecArch::ScmpArchX32 => Some(Arch::X32),
            SpecArch::ScmpArchAarch64 => Some(Arch::Aarch64),
            SpecArch::ScmpArchArm => Some(Arch::Arm),
            SpecArch::ScmpArchRiscv64 => Some(Arch::Riscv64),
            _ => None,
        }
    }

    pub fn spec_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
            Arch::Riscv64 => "SCMP_ARCH_RISCV64",
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch`. x32 tasks report
    /// x86_64 and are told apart by the x32 bit in the syscall number.
    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => 0xc000_003e,
            Arch::X86 => 0x4000_0003,
            Arch::Aarch64 => 0xc000_00b7,
            Arch::Arm => 0x4000_0028,
            Arch::Riscv64 => 0xc000_00f3,
        }
    }

    /// Whether argument comparisons use both 32-bit halves. On 32-bit ABIs the kernel
    /// zero-extends arguments, and libseccomp compares the low word only (x32 included).
    pub fn wide_args(self) -> bool {
        matches!(self, Arch::X86_64 | Arch::Aarch64 | Arch::Riscv64)
    }

    /// The syscall number of `name` on this architecture.
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        let t = self.table();
        t.binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| t[i].1)
    }

    /// Name → number for this architecture, built once per process.
    fn table(self) -> &'static Table {
        static TABLES: [OnceLock<Table>; 6] = [const { OnceLock::new() }; 6];
        TABLES[self as usize].get_or_init(|| {
            let mut t: Table = match self {
                Arch::X86_64 => entries!(x86_64),
                Arch::X86 => entries!(x86),
                Arch::Aarch64 => entries!(aarch64),
                Arch::Riscv64 => entries!(riscv64),
                Arch::Arm => entries!(arm)
                    .into_iter()
                    .chain(ARM_PRIVATE.iter().copied())
                    .collect(),
                Arch::X32 => x32_table(),
            };
            t.sort_unstable();
            t
        })
    }

    /// Numbers outside the architecture's regular, dense table (x32's compat block, ARM's
    /// private block). They do not count when finding the profile's newest syscall, and
    /// keep the default action instead of ENOSYS when the profile does not name them.
    pub fn out_of_sequence(self, nr: u32) -> bool {
        match self {
            Arch::X32 => (X32_SYSCALL_BIT + X32_COMPAT_BASE
                ..X32_SYSCALL_BIT + X32_COMPAT_BASE + X32_COMPAT.len() as u32)
                .contains(&nr),
            Arch::Arm => (ARM_NR_BASE..=ARM_NR_BASE + 6).contains(&nr),
            _ => false,
        }
    }
}

/// x32: x86_64's numbers with the x32 bit, minus the 64-bit-only calls, plus x32's own
/// compat block.
fn x32_table() -> Table {
    entries!(x86_64)
        .into_iter()
        .filter(|(n, _)| !X86_64_ONLY.contains(n) && !X32_COMPAT.contains(n))
        .map(|(n, nr)| (n, nr | X32_SYSCALL_BIT))
        .chain(
            X32_COMPAT
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, X32_SYSCALL_BIT + X32_COMPAT_BASE + i as u32)),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_per_arch() {
        assert_eq!(Arch::X86_64.syscall_nr("mkdirat"), Some(258));
        assert_eq!(Arch::X86.syscall_nr("mkdirat"), Some(296));
        assert_eq!(Arch::Aarch64.syscall_nr("mkdirat"), Some(34));
        assert_eq!(Arch::Riscv64.syscall_nr("mkdirat"), Some(34));
        assert_eq!(Arch::Arm.syscall_nr("mkdirat"), Some(323));
        assert_eq!(Arch::X32.syscall_nr("mkdirat"), Some(0x4000_0000 + 258));
        assert_eq!(Arch::X32.syscall_nr("execve"), Some(0x4000_0000 + 520));
        assert_eq!(Arch::X32.syscall_nr("pwritev2"), Some(0x4000_0000 + 547));
        assert_eq!(Arch::X32.syscall_nr("uselib"), None);
        assert_eq!(Arch::Arm.syscall_nr("cacheflush"), Some(0xf0002));
        assert_eq!(Arch::Aarch64.syscall_nr("open"), None);
        assert_eq!(Arch::X86_64.syscall_nr("no_such_call"), None);
    }
}
