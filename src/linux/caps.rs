//! Capabilities by name and number, and applying the five sets of `process.capabilities`.

use rustix::io::Errno;
use rustix::thread::{CapabilitySet, CapabilitySets};
use syscalls::{syscall, Sysno};

/// Index = capability number.
pub const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub fn number(name: &str) -> Option<u32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap), read
/// once per process (the bounding set and the final sets both need it).
pub fn last_cap() -> u32 {
    static ONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        super::fs::read_small("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(NAMES.len() as u32 - 1)
    })
}

/// Capability masks, one bit per capability number.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

const PR_CAPBSET_DROP: u64 = 24;
const PR_CAP_AMBIENT: u64 = 47;
const PR_CAP_AMBIENT_RAISE: u64 = 2;

fn prctl(op: u64, a: u64, b: u64) -> Result<(), Errno> {
    // SAFETY: these prctl operations take integers only.
    unsafe { syscall!(Sysno::prctl, op, a, b, 0, 0) }
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// Drop from the bounding set every capability not in `bounding` (needs CAP_SETPCAP, so
/// before the user switch).
pub fn apply_bounding(bounding: u64) -> Result<(), Errno> {
    for cap in 0..=last_cap().min(63) {
        if bounding & (1 << cap) == 0 {
            match prctl(PR_CAPBSET_DROP, cap as u64, 0) {
                Ok(()) | Err(Errno::INVAL) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Set effective, permitted, inheritable, then raise the ambient ones (after the user switch).
pub fn apply_sets(sets: &CapSets) -> Result<(), Errno> {
    let last = last_cap().min(63);
    let known = if last == 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::from_bits_retain(sets.effective & known),
            permitted: CapabilitySet::from_bits_retain(sets.permitted & known),
            inheritable: CapabilitySet::from_bits_retain(sets.inheritable & known),
        },
    )?;
    for cap in 0..=last {
        if sets.ambient & known & (1 << cap) != 0 {
            // Ambient needs the cap in permitted and inheritable; runc ignores failures here.
            let _ = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap as u64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_NOPE"), None);
    }
}
