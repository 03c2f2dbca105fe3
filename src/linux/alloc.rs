//! The binary's global allocator: a bump arena in `.bss` in front of musl's malloc.
//!
//! A `reno create` lives a few milliseconds and allocates a few hundred small blocks. musl's
//! mallocng gives each size class its own mmap'd group and unmaps it again when it empties:
//! ~80 mmap/munmap calls and as many first-touch page faults per `run`, ~5 % of its CPU time.
//! Bumping a pointer through a static arena costs none of that, and its untouched pages cost
//! no memory (`.bss` is mapped on demand).
//!
//! Freed blocks are not reused (except the newest, which is rolled back, so a growing `Vec`
//! or `String` at the top is extended in place), which is right for a short-lived process
//! only. Long-lived modes (PID 1, `events`) call [`stop_bumping`] first; from then on every
//! allocation goes to malloc, and what the arena already holds stays (bounded by its size).
//! The CLI children PID 1 forks call [`resume_bumping`].
//! When the arena is full, allocations go to malloc too. Blocks are told apart by address.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Enough for the create path's allocations (about 90 KiB measured) with room for big configs.
const ARENA_BYTES: usize = 512 * 1024;

#[repr(C, align(4096))]
struct Storage(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the bytes are handed out in disjoint blocks by `Arena`, which claims each range with
// an atomic compare-exchange before anyone writes to it.
unsafe impl Sync for Storage {}

static STORAGE: Storage = Storage(UnsafeCell::new([0; ARENA_BYTES]));
/// Offset of the first free byte in `STORAGE`.
static NEXT: AtomicUsize = AtomicUsize::new(0);
static BUMPING: AtomicBool = AtomicBool::new(true);

/// Send every later allocation to malloc (for processes that live long and churn memory).
pub fn stop_bumping() {
    BUMPING.store(false, Relaxed);
}

/// Bump again, in a child forked from a process that stopped (init's runtime children, which
/// run the CLI): the arena is the child's own copy, and init stopped before using it. Under
/// malloc the create path's mmap/munmap calls and first-touch faults each cost tens of µs
/// in a booted VM under TCG.
pub fn resume_bumping() {
    BUMPING.store(true, Relaxed);
}

pub struct Arena;

impl Arena {
    fn base() -> usize {
        STORAGE.0.get() as usize
    }

    /// The arena offset of `ptr`, if it points into the arena.
    fn offset_of(ptr: *mut u8) -> Option<usize> {
        (ptr as usize)
            .checked_sub(Self::base())
            .filter(|&o| o < ARENA_BYTES)
    }

    /// Claim `size` bytes aligned to `align`; None when the arena is off or full.
    fn bump(size: usize, align: usize) -> Option<*mut u8> {
        if !BUMPING.load(Relaxed) {
            return None;
        }
        let base = Self::base();
        let mut next = NEXT.load(Relaxed);
        loop {
            let start = (base + next).checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(size)?;
            if end > base + ARENA_BYTES {
                return None;
            }
            match NEXT.compare_exchange_weak(next, end - base, Relaxed, Relaxed) {
                // SAFETY: start..end lies inside STORAGE and was claimed by us alone.
                Ok(_) => return Some(unsafe { STORAGE.0.get().cast::<u8>().add(start - base) }),
                Err(now) => next = now,
            }
        }
    }
}

// SAFETY: blocks from `bump` are disjoint, inside the arena and aligned as asked; every other
// request is passed to `System` with the same arguments, and `System` only ever sees its own
// pointers (arena pointers are recognised by address and never given to it).
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match Self::bump(layout.size(), layout.align()) {
            Some(p) => p,
            // SAFETY: the caller's layout contract is passed on unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match Self::bump(layout.size(), layout.align()) {
            Some(p) => {
                // Rolled-back blocks may have been written: zero explicitly.
                // SAFETY: p..p+size was just claimed by us.
                unsafe { p.write_bytes(0, layout.size()) };
                p
            }
            // SAFETY: as in `alloc`.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match Self::offset_of(ptr) {
            // The newest block: give its bytes back. Any other arena block stays.
            Some(o) => {
                let _ = NEXT.compare_exchange(o + layout.size(), o, Relaxed, Relaxed);
            }
            // SAFETY: not an arena pointer, so `System` allocated it with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(o) = Self::offset_of(ptr) else {
            // SAFETY: a `System` block, passed back to it with its own layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // The newest block grows or shrinks in place while it fits.
        if BUMPING.load(Relaxed)
            && o + new_size <= ARENA_BYTES
            && NEXT
                .compare_exchange(o + layout.size(), o + new_size, Relaxed, Relaxed)
                .is_ok()
        {
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr; // an older block shrinks in place (its tail is simply not reused)
        }
        // SAFETY: `layout.align()` is a valid alignment and new_size is non-zero and doesn't
        // overflow when rounded (GlobalAlloc::realloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for min(old, new) bytes and don't overlap.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test: the arena is a process-wide static (the test binary's own allocator is
    /// System, so nothing else touches it).
    #[test]
    fn bumps_rolls_back_grows_in_place_and_falls_back() {
        let a = Arena;
        let l = |n| Layout::from_size_align(n, 8).unwrap();
        // SAFETY: layouts are non-zero; every pointer goes back with the layout it has.
        unsafe {
            let p = a.alloc(l(24));
            assert!(Arena::offset_of(p).is_some());
            let q = a.alloc(l(8));
            assert_eq!(q as usize, p as usize + 24);
            // The newest block grows in place; an older one moves and keeps its bytes.
            assert_eq!(a.realloc(q, l(8), 64), q);
            p.write_bytes(7, 24);
            let p2 = a.realloc(p, l(24), 48);
            assert_ne!(p2, p);
            assert_eq!(*p2.add(23), 7);
            // Freeing the newest block gives its bytes back to the next allocation.
            let next = a.alloc(l(16));
            a.dealloc(next, l(16));
            assert_eq!(a.alloc(l(16)), next);
            // Zeroed memory is zero even where a rolled-back block wrote.
            next.write_bytes(0xff, 16);
            a.dealloc(next, l(16));
            let z = a.alloc_zeroed(l(16));
            assert!((0..16).all(|i| *z.add(i) == 0));
            // Too big for the arena: malloc's, and freed there.
            let big = a.alloc(l(ARENA_BYTES + 1));
            assert!(!big.is_null() && Arena::offset_of(big).is_none());
            a.dealloc(big, l(ARENA_BYTES + 1));
            // Once stopped, everything is malloc's; old arena blocks are still freed safely.
            stop_bumping();
            let m = a.alloc(l(16));
            assert!(Arena::offset_of(m).is_none());
            a.dealloc(m, l(16));
            a.dealloc(z, l(16));
            // A child forked from a stopped process bumps again.
            resume_bumping();
            let r = a.alloc(l(16));
            assert!(Arena::offset_of(r).is_some());
            a.dealloc(r, l(16));
        }
    }
}
