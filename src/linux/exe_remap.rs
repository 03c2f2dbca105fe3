//! Make another open file with the same bytes this process's executable, without an exec:
//! map every file-backed page of the running image from it again, then point
//! /proc/self/exe at it (`prctl(PR_SET_MM, PR_SET_MM_EXE_FILE)`).
//!
//! Why: `container::sealed` needs /proc/self/exe on a read-only mount before a container
//! process starts. Re-executing the binary from such a mount costs a second exec and a second
//! start-up (~0.2 ms of a ~3 ms `run` here); this costs a few mmap/mremap calls and the page
//! faults of the code that runs afterwards.
//!
//! The kernel only swaps the exe file once no mapping of the old one is left (EBUSY), so each
//! PT_LOAD segment's file-backed pages are mapped from the new file at a free address first,
//! given the current bytes where the segment is writable (relocated pointers, globals), and
//! then moved over the old mapping by mremap(MREMAP_FIXED), which replaces it in one step:
//! at no instant is any running code or data missing or stale. The process must be single-
//! threaded (reno is): another thread writing a global between the copy and the move would
//! lose its write.
//!
//! The swap itself takes CAP_SYS_RESOURCE in the initial user namespace (PR_SET_MM_EXE_FILE),
//! or else CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in our own (PR_SET_MM_MAP, kernels with
//! CONFIG_CHECKPOINT_RESTORE): container hosts often drop CAP_SYS_RESOURCE from root, and
//! rootless engines run us as root of a user namespace.

use std::ffi::{c_ulong, c_void};

use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;
use rustix::mm::{MapFlags, MremapFlags, ProtFlags};
use syscalls::{syscall, Sysno};

const PT_LOAD: u32 = 1;
const PT_PHDR: u32 = 6;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const AT_PHDR: c_ulong = 3;
const AT_PHNUM: c_ulong = 5;
/// Static binaries have four PT_LOAD segments; more than this and we decline.
const MAX_SEGMENTS: usize = 8;

extern "C" {
    /// From the C library (musl and glibc alike).
    fn getauxval(kind: c_ulong) -> c_ulong;
}

/// One program header, as the kernel left it in memory (ELF64 or ELF32 layout; every field
/// is declared to get the layout, not all are read).
#[cfg(target_pointer_width = "64")]
#[allow(dead_code)]
#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

#[cfg(target_pointer_width = "32")]
#[allow(dead_code)]
#[repr(C)]
struct Phdr {
    p_type: u32,
    p_offset: u32,
    p_vaddr: u32,
    p_paddr: u32,
    p_filesz: u32,
    p_memsz: u32,
    p_flags: u32,
    p_align: u32,
}

/// The page-aligned, file-backed part of one PT_LOAD segment, where it is mapped now.
#[derive(Clone, Copy, Default)]
struct Segment {
    start: usize,
    len: usize,
    offset: u64,
    flags: u32,
}

/// The running image's segments, read from the program headers the kernel passed in the
/// auxiliary vector. Protections are the headers' own: a static musl binary never makes its
/// RELRO part read-only, and a dynamic loader that did would find it writable again.
fn layout(page: usize) -> Result<([Segment; MAX_SEGMENTS], usize), Errno> {
    // SAFETY: getauxval only reads the auxiliary vector.
    let (phdr, phnum) = unsafe { (getauxval(AT_PHDR) as usize, getauxval(AT_PHNUM) as usize) };
    if phdr == 0 || phnum == 0 || phdr % std::mem::align_of::<Phdr>() != 0 {
        return Err(Errno::NOTSUP);
    }
    // SAFETY: AT_PHDR/AT_PHNUM describe the program headers mapped in our own first segment,
    // which stays mapped (and unchanged) for the life of the process.
    let headers = unsafe { std::slice::from_raw_parts(phdr as *const Phdr, phnum) };
    let bias = headers
        .iter()
        .find(|h| h.p_type == PT_PHDR)
        .map(|h| phdr.wrapping_sub(h.p_vaddr as usize))
        .ok_or(Errno::NOTSUP)?;
    let down = |a: usize| a & !(page - 1);
    let up = |a: usize| (a + page - 1) & !(page - 1);
    let mut segments = [Segment::default(); MAX_SEGMENTS];
    let mut count = 0;
    for h in headers {
        let (vaddr, offset) = (h.p_vaddr as usize, h.p_offset as usize);
        match h.p_type {
            PT_LOAD if h.p_filesz > 0 => {
                if count == MAX_SEGMENTS || vaddr % page != offset % page {
                    return Err(Errno::NOTSUP);
                }
                let start = down(bias.wrapping_add(vaddr));
                let end = up(bias.wrapping_add(vaddr) + h.p_filesz as usize);
                // Segments sharing a page can't be moved one by one.
                if count > 0 && start < segments[count - 1].start + segments[count - 1].len {
                    return Err(Errno::NOTSUP);
                }
                segments[count] = Segment {
                    start,
                    len: end - start,
                    offset: down(offset) as u64,
                    flags: h.p_flags,
                };
                count += 1;
            }
            _ => {}
        }
    }
    Ok((segments, count))
}

fn prot(flags: u32) -> ProtFlags {
    let mut p = ProtFlags::empty();
    if flags & PF_R != 0 {
        p |= ProtFlags::READ;
    }
    if flags & PF_W != 0 {
        p |= ProtFlags::WRITE;
    }
    if flags & PF_X != 0 {
        p |= ProtFlags::EXEC;
    }
    p
}

/// Map the running image from `file` (readable, the same bytes as /proc/self/exe) and make
/// it /proc/self/exe. The swap is tried first while the old file is still mapped: EBUSY
/// then says it is allowed, and nothing is remapped where it is not (no privilege, no
/// CONFIG_CHECKPOINT_RESTORE, an emulator's prctl). On an error after that the image may be
/// partly mapped from `file` already, which is harmless (same bytes); the caller falls back
/// to a re-exec.
pub fn remap_self(file: impl AsFd) -> Result<(), Errno> {
    let file = file.as_fd();
    let page = rustix::param::page_size();
    let (segments, count) = layout(page)?;
    if count == 0 {
        return Err(Errno::NOTSUP);
    }
    let swap = match Swap::probe(file) {
        // Nothing maps the old file by its own path (a binary on overlayfs, whose mappings
        // are of the file under it): swapped already.
        Ok(None) => return Ok(()),
        Ok(Some(swap)) => swap,
        Err(e) => return Err(e),
    };
    for s in &segments[..count] {
        move_segment(s, file)?;
    }
    swap.apply(file)
}

/// Map one segment from `file` at a free address, with the current bytes if it is
/// writable, and move that over the segment.
fn move_segment(s: &Segment, file: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: a fresh private mapping at an address the kernel picks; nothing else uses it.
    let fresh = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            s.len,
            prot(s.flags) | ProtFlags::READ,
            MapFlags::PRIVATE,
            file,
            s.offset,
        )
    }?;
    // SAFETY: `s` lies in our own image (program headers), mapped and readable; `fresh` is
    // `s.len` writable bytes when the segment is writable. Nothing runs between the copy
    // and the move that could write a global (single thread, no allocation, raw syscalls
    // without errno); the move replaces the old pages with `fresh` atomically (mmap_lock),
    // so code keeps running from identical bytes at identical addresses.
    let moved = unsafe {
        if s.flags & PF_W != 0 {
            std::ptr::copy_nonoverlapping(s.start as *const u8, fresh.cast::<u8>(), s.len);
        }
        rustix::mm::mremap_fixed(
            fresh,
            s.len,
            s.len,
            MremapFlags::MAYMOVE,
            s.start as *mut c_void,
        )
    };
    if let Err(e) = moved {
        // SAFETY: `fresh` is ours and unused.
        let _ = unsafe { rustix::mm::munmap(fresh, s.len) };
        return Err(e);
    }
    Ok(())
}

/// Which prctl may swap the exe file here.
enum Swap {
    /// PR_SET_MM_EXE_FILE (CAP_SYS_RESOURCE in the initial user namespace).
    ExeFile,
    /// PR_SET_MM_MAP with these prctl_mm_map fields (CAP_SYS_ADMIN or
    /// CAP_CHECKPOINT_RESTORE in our user namespace, CONFIG_CHECKPOINT_RESTORE).
    Map([u64; 11]),
}

impl Swap {
    /// Ask for the swap while the old file is mapped: the kernel checks permission first
    /// and then refuses with EBUSY. `None`: it swapped (nothing maps the old file).
    fn probe(file: BorrowedFd<'_>) -> Result<Option<Swap>, Errno> {
        match rustix::process::set_executable_file(file) {
            Err(Errno::BUSY) => return Ok(Some(Swap::ExeFile)),
            Err(Errno::PERM) => {}
            Ok(()) => return Ok(None),
            Err(e) => return Err(e),
        }
        let fields = mm_fields_now()?;
        match set_exe_file_by_map(file, fields) {
            Err(Errno::BUSY) => Ok(Some(Swap::Map(fields))),
            Ok(()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn apply(self, file: BorrowedFd<'_>) -> Result<(), Errno> {
        match self {
            Swap::ExeFile => rustix::process::set_executable_file(file),
            Swap::Map(mut fields) => {
                fields[5] = brk_now()?;
                set_exe_file_by_map(file, fields)
            }
        }
    }
}

const PR_SET_MM: usize = 35;
const PR_SET_MM_MAP: usize = 14;

/// The kernel's `struct prctl_mm_map`.
#[repr(C)]
struct MmMap {
    /// start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start,
    /// arg_end, env_start, env_end, in that order.
    fields: [u64; 11],
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// The prctl_mm_map fields as they are now (/proc/self/stat, brk(0)). PR_SET_MM_MAP sets
/// them all along with the exe file; handed their current values (and no auxv), only the
/// exe file changes.
fn mm_fields_now() -> Result<[u64; 11], Errno> {
    let stat = super::fs::read_small("/proc/self/stat")
        .map_err(|e| e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error))?;
    let mut fields = mm_fields(&stat).ok_or(Errno::NOTSUP)?;
    fields[5] = brk_now()?;
    Ok(fields)
}

/// The current program break. Nothing between this and the prctl may allocate (the bump
/// arena doesn't move it, but musl's malloc may).
fn brk_now() -> Result<u64, Errno> {
    // SAFETY: brk(0) only reports the current break.
    unsafe { syscall!(Sysno::brk, 0) }
        .map(|b| b as u64)
        .map_err(|_| Errno::NOTSUP)
}

fn set_exe_file_by_map(file: BorrowedFd<'_>, fields: [u64; 11]) -> Result<(), Errno> {
    let map = MmMap {
        fields,
        auxv: 0,
        auxv_size: 0,
        exe_fd: file.as_raw_fd() as u32,
    };
    // SAFETY: `map` is a live prctl_mm_map of the size passed; the kernel only reads it.
    unsafe {
        syscall!(
            Sysno::prctl,
            PR_SET_MM,
            PR_SET_MM_MAP,
            &map as *const MmMap as usize,
            std::mem::size_of::<MmMap>(),
            0
        )
    }
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e.into_raw()))
}

/// The prctl_mm_map fields /proc/PID/stat shows (brk left 0): startcode, endcode and
/// startstack are its fields 26-28, start_data .. env_end its fields 45-51.
fn mm_fields(stat: &str) -> Option<[u64; 11]> {
    // Field 3 on come after the last ')' (field 2, the name, may hold anything).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let at = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some([
        at(26)?,
        at(27)?,
        at(45)?,
        at(46)?,
        at(47)?,
        0,
        at(28)?,
        at(48)?,
        at(49)?,
        at(50)?,
        at(51)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm_fields_from_a_real_stat_line() {
        // A process named with a space and a parenthesis, as /proc shows it.
        let stat = "4242 (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
                    5000 1000000 50 18446744073709551615 94000000 94500000 140720000000000 \
                    0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94600000 94610000 94700000 140720000001000 \
                    140720000001020 140720000001020 140720000002000 0";
        assert_eq!(
            mm_fields(stat),
            Some([
                94000000,
                94500000,
                94600000,
                94610000,
                94700000,
                0,
                140720000000000,
                140720000001000,
                140720000001020,
                140720000001020,
                140720000002000
            ])
        );
        assert_eq!(mm_fields("4242 (x) S 1"), None);
        assert_eq!(mm_fields("no parenthesis"), None);
    }

    #[test]
    fn mm_fields_of_this_process_are_ordered() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f = mm_fields(&stat).unwrap();
        assert!(f[0] < f[1], "code {:x}..{:x}", f[0], f[1]);
        assert!(f[2] <= f[3] && f[7] <= f[8] && f[9] <= f[10], "{f:x?}");
    }
}
