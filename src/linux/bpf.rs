//! The raw `bpf(2)` calls for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE
//! program and attach it to a cgroup directory (no libbpf). The program itself is built by
//! `crate::cgroups::devices`.

use std::os::fd::AsRawFd;

use rustix::fd::{AsFd, FromRawFd, OwnedFd};
use rustix::io::Errno;
use syscalls::{syscall, Sysno};

/// `struct bpf_insn` from <linux/bpf.h>: one eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg:4` (low nibble) and `src_reg:4` (high nibble).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: u64 = 5;
const BPF_PROG_ATTACH: u64 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: keep programs attached by others (and by ancestors) in force.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD member of `union bpf_attr`, up to `expected_attach_type`; the kernel
/// accepts a shorter attr and zero-fills the rest.
#[repr(C, align(8))]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH member of `union bpf_attr`.
#[repr(C, align(8))]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: u32,
}

/// `bpf(BPF_PROG_LOAD, {.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE, .insns, .license = "GPL"})`.
/// On failure the verifier's log (if any) is returned with the errno. The first try runs
/// without a log: a verifier that writes one works through it line by line (its cost
/// showed in every container start under TCG); only a refused program is loaded a second
/// time to learn why.
pub fn load_cgroup_device_prog(insns: &[Insn]) -> Result<OwnedFd, (Errno, String)> {
    match prog_load(insns, None) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; 16 * 1024];
            match prog_load(insns, Some(&mut log)) {
                Ok(fd) => Ok(fd),
                Err(e) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
                    Err((if e == Errno::NOSPC { first } else { e }, text))
                }
            }
        }
    }
}

/// One BPF_PROG_LOAD, with the verifier's log (level 1) written to `log` if given.
fn prog_load(insns: &[Insn], log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    let license = b"GPL\0";
    let mut name = [0u8; 16];
    name[..4].copy_from_slice(b"reno");
    let (log_level, log_size, log_buf) = match log {
        Some(l) => (1, l.len() as u32, l.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        prog_name: name,
        ..Default::default()
    };
    let size = std::mem::size_of::<ProgLoadAttr>();
    // SAFETY: attr points at a live, initialised ProgLoadAttr of `size` bytes whose pointers
    // (insns, license, the log buffer of log_size bytes when given) stay valid for the whole
    // call.
    let ret = unsafe { syscall!(Sysno::bpf, BPF_PROG_LOAD, &attr as *const _ as usize, size) };
    match ret {
        // SAFETY: BPF_PROG_LOAD returns a new fd that nobody else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => Err(Errno::from_raw_os_error(e.into_raw())),
    }
}

/// `bpf(BPF_PROG_ATTACH, {.target_fd = cgroup, .attach_bpf_fd = prog,
/// .attach_type = BPF_CGROUP_DEVICE, .attach_flags = BPF_F_ALLOW_MULTI})`.
pub fn attach_cgroup_device(cgroup_dir: impl AsFd, prog: impl AsFd) -> Result<(), Errno> {
    let attr = AttachAttr {
        target_fd: cgroup_dir.as_fd().as_raw_fd() as u32,
        attach_bpf_fd: prog.as_fd().as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    let size = std::mem::size_of::<AttachAttr>();
    // SAFETY: attr is a live, initialised AttachAttr of `size` bytes; both fds are open.
    unsafe {
        syscall!(
            Sysno::bpf,
            BPF_PROG_ATTACH,
            &attr as *const _ as usize,
            size
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}
