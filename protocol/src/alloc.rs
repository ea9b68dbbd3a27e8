//! A global allocator that makes hostile array counts cost address space instead of memory.
//!
//! `kafka-protocol` 0.18.0 decodes an array by calling `Vec::with_capacity(declared_count)`
//! before it reads any element, so an 8-byte request can ask for gigabytes, and a count whose
//! allocation the system allocator refuses aborts the process (`handle_alloc_error`). No fixed
//! release exists. [`LazyHugeAllocator`] is the guard: the `fastdata` binary (and every test or
//! fuzz binary that decodes untrusted requests) installs it with
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: fastdata_protocol::alloc::LazyHugeAllocator =
//!     fastdata_protocol::alloc::LazyHugeAllocator::new();
//! # fn main() {}
//! ```
//!
//! It passes every allocation to the system allocator, except those of at least
//! [`HUGE_ALLOCATION_BYTES`] (1 GiB, far above anything legitimate: frames are capped at
//! `socket.request.max.bytes`, 100 MiB by default) with an alignment of at most
//! [`MIN_PAGE_BYTES`]. Those are served by `mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)`
//! and freed by `munmap`: the kernel neither reserves nor touches the pages, so a hostile count
//! costs only address space, the decode fails when the frame's bytes run out (only the pages
//! of the elements the frame actually holds are ever written), and dropping the `Vec` returns
//! the mapping.
//!
//! The assumption: Linux with `vm.overcommit_memory` 0 (heuristic, the default) or 1 (always).
//! Under mode 2 (never overcommit) the kernel ignores `MAP_NORESERVE` and charges the whole
//! mapping against the commit limit, so a hostile count fails to allocate and the process
//! aborts exactly as without this allocator; [`overcommit_warning`] says so at start. A
//! virtual-memory limit (`ulimit -v`, `RLIMIT_AS`) below the largest count the protocol can
//! declare (about 2^32 elements of up to a few hundred bytes: a terabyte) has the same effect.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocations of at least this many bytes are lazy anonymous mappings (1 GiB).
pub const HUGE_ALLOCATION_BYTES: usize = 1 << 30;

/// The smallest page size of any Linux platform; `mmap` returns addresses aligned to the page
/// size, so an alignment up to this one is met by every mapping. Larger alignments go to the
/// system allocator, whatever the size.
pub const MIN_PAGE_BYTES: usize = 4096;

/// An allocator (the system's by default), with allocations of at least a threshold served as
/// lazy `MAP_NORESERVE` mappings (see the [module documentation](self)).
#[derive(Debug)]
pub struct LazyHugeAllocator<A = System> {
    inner: A,
    threshold_bytes: usize,
    mappings: AtomicU64,
}

impl LazyHugeAllocator<System> {
    /// The system allocator with the [`HUGE_ALLOCATION_BYTES`] threshold.
    pub const fn new() -> Self {
        Self::with_threshold(HUGE_ALLOCATION_BYTES)
    }

    /// The system allocator with another threshold (tests use a small one). Panics if it is 0.
    pub const fn with_threshold(threshold_bytes: usize) -> Self {
        Self::on(System, threshold_bytes)
    }
}

impl<A> LazyHugeAllocator<A> {
    /// `inner` serving every allocation below `threshold_bytes` (the `fastdata` binary puts
    /// mimalloc there, with [`HUGE_ALLOCATION_BYTES`]). Panics if the threshold is 0.
    pub const fn on(inner: A, threshold_bytes: usize) -> Self {
        assert!(
            threshold_bytes > 0,
            "a zero-size allocation cannot be mapped"
        );
        Self {
            inner,
            threshold_bytes,
            mappings: AtomicU64::new(0),
        }
    }

    /// How many allocations (and reallocations into the mapped range) have been served by
    /// `mmap` since start: a count of hostile array counts met, for a metric or a test.
    pub fn mappings(&self) -> u64 {
        self.mappings.load(Ordering::Relaxed)
    }

    /// Whether an allocation of `size` bytes at `align` is (or would be) a mapping. Depends on
    /// the layout only, so `dealloc` and `realloc` find out how a block was allocated.
    fn is_mapped(&self, size: usize, align: usize) -> bool {
        size >= self.threshold_bytes && align <= MIN_PAGE_BYTES
    }

    /// A fresh lazy mapping of `size` bytes (zeroed by the kernel), or null.
    fn map(&self, size: usize) -> *mut u8 {
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches
        // no existing memory.
        let address = unsafe {
            libc::mmap(
                ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return ptr::null_mut();
        }
        self.mappings.fetch_add(1, Ordering::Relaxed);
        address.cast()
    }

    /// Returns a mapping made by [`map`](Self::map) (or grown by `mremap`).
    ///
    /// # Safety
    /// `address` and `size` are those of a live mapping of this allocator.
    unsafe fn unmap(address: *mut u8, size: usize) {
        // SAFETY: per the contract, the range is one whole mapping nobody uses any more.
        let result = unsafe { libc::munmap(address.cast(), size) };
        // munmap of a valid mapping cannot fail; if it did, the range stays mapped (a leak of
        // address space, not of memory).
        debug_assert_eq!(result, 0, "munmap of a live mapping failed");
    }
}

impl Default for LazyHugeAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block is either the inner allocator's (and handed back to it, since the
// layout decides which path a block took and `dealloc`/`realloc` get the layout it was
// allocated with) or a fresh page-aligned mapping of at least `layout.size()` bytes with an
// alignment of at most the page size.
unsafe impl<A: GlobalAlloc> GlobalAlloc for LazyHugeAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.is_mapped(layout.size(), layout.align()) {
            self.map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { self.inner.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if self.is_mapped(layout.size(), layout.align()) {
            // Anonymous mappings are zero-filled.
            self.map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { self.inner.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.is_mapped(layout.size(), layout.align()) {
            // SAFETY: a block of this layout was mapped by `alloc`, `alloc_zeroed` or
            // `realloc`, with exactly this size.
            unsafe { Self::unmap(ptr, layout.size()) }
        } else {
            // SAFETY: a block of this layout came from the system allocator.
            unsafe { self.inner.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let old_size = layout.size();
        match (
            self.is_mapped(old_size, align),
            self.is_mapped(new_size, align),
        ) {
            // SAFETY: a system block, resized within the system allocator.
            (false, false) => unsafe { self.inner.realloc(ptr, layout, new_size) },
            (true, true) => {
                // SAFETY: `ptr`/`old_size` is one of our mappings; the kernel moves or grows
                // it, keeping its flags (MAP_NORESERVE) and contents; new pages are zero.
                let address =
                    unsafe { libc::mremap(ptr.cast(), old_size, new_size, libc::MREMAP_MAYMOVE) };
                if address == libc::MAP_FAILED {
                    // The old mapping is untouched and still the caller's.
                    return ptr::null_mut();
                }
                address.cast()
            }
            (false, true) => {
                let new = self.map(new_size);
                if !new.is_null() {
                    // SAFETY: both blocks are live and distinct; the old one holds
                    // `old_size < new_size` bytes; it is freed with its own layout.
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, new, old_size);
                        self.inner.dealloc(ptr, layout);
                    }
                }
                new
            }
            (true, false) => {
                // SAFETY: the caller guarantees `new_size` with `align` is a valid layout.
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                // SAFETY: a valid layout, and `new_size` is non-zero (the caller's contract).
                let new = unsafe { self.inner.alloc(new_layout) };
                if !new.is_null() {
                    // SAFETY: both blocks are live and distinct; the new one is the smaller.
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, new, new_size);
                        Self::unmap(ptr, old_size);
                    }
                }
                new
            }
        }
    }
}

/// The path the kernel's overcommit policy is read from.
const OVERCOMMIT_MEMORY: &str = "/proc/sys/vm/overcommit_memory";

/// A warning for the operator if `vm.overcommit_memory` is 2, where [`LazyHugeAllocator`]
/// cannot protect the process (a request with a hostile array count then aborts it); `None`
/// under modes 0 and 1, or if the setting cannot be read (not Linux, no `/proc`). The broker
/// prints it at start.
pub fn overcommit_warning() -> Option<String> {
    let mode = std::fs::read_to_string(OVERCOMMIT_MEMORY).ok()?;
    overcommit_warning_for(mode.trim())
}

fn overcommit_warning_for(mode: &str) -> Option<String> {
    (mode == "2").then(|| {
        format!(
            "{OVERCOMMIT_MEMORY} is 2 (never overcommit): a request declaring a huge array \
             count can abort the broker, since the kernel ignores MAP_NORESERVE in this mode; \
             set vm.overcommit_memory to 0 (the default) or 1 before exposing the listener to \
             untrusted clients"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: usize = 1 << 20;

    fn allocator() -> LazyHugeAllocator {
        LazyHugeAllocator::with_threshold(THRESHOLD)
    }

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    /// Fills `len` bytes from `ptr` with a pattern derived from `seed`.
    unsafe fn fill(ptr: *mut u8, len: usize, seed: u8) {
        for i in 0..len {
            unsafe { *ptr.add(i) = seed.wrapping_add(i as u8) };
        }
    }

    unsafe fn holds(ptr: *const u8, len: usize, seed: u8) -> bool {
        (0..len).all(|i| unsafe { *ptr.add(i) } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn small_allocations_go_to_the_system_allocator() {
        let allocator = allocator();
        unsafe {
            let ptr = allocator.alloc(layout(THRESHOLD - 1));
            assert!(!ptr.is_null());
            fill(ptr, 100, 1);
            allocator.dealloc(ptr, layout(THRESHOLD - 1));
        }
        assert_eq!(allocator.mappings(), 0);
    }

    #[test]
    fn allocations_at_the_threshold_are_zeroed_page_aligned_mappings() {
        let allocator = allocator();
        for zeroed in [false, true] {
            unsafe {
                let ptr = if zeroed {
                    allocator.alloc_zeroed(layout(THRESHOLD))
                } else {
                    allocator.alloc(layout(THRESHOLD))
                };
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % MIN_PAGE_BYTES, 0);
                assert!((0..THRESHOLD).step_by(4096).all(|i| *ptr.add(i) == 0));
                fill(ptr, THRESHOLD, 7);
                assert!(holds(ptr, THRESHOLD, 7));
                allocator.dealloc(ptr, layout(THRESHOLD));
            }
        }
        assert_eq!(allocator.mappings(), 2);
    }

    #[test]
    fn alignments_above_a_page_go_to_the_system_allocator() {
        let allocator = allocator();
        let big_align = Layout::from_size_align(THRESHOLD, 2 * MIN_PAGE_BYTES).unwrap();
        unsafe {
            let ptr = allocator.alloc(big_align);
            assert!(!ptr.is_null());
            assert_eq!(ptr as usize % (2 * MIN_PAGE_BYTES), 0);
            allocator.dealloc(ptr, big_align);
        }
        assert_eq!(allocator.mappings(), 0);
    }

    #[test]
    fn realloc_keeps_the_contents_across_the_threshold_both_ways() {
        let allocator = allocator();
        let small = 1000;
        unsafe {
            // system -> mapping
            let ptr = allocator.alloc(layout(small));
            fill(ptr, small, 3);
            let ptr = allocator.realloc(ptr, layout(small), THRESHOLD + 10);
            assert!(!ptr.is_null());
            assert_eq!(allocator.mappings(), 1);
            assert!(holds(ptr, small, 3));
            fill(ptr, THRESHOLD + 10, 4);

            // mapping -> larger mapping (mremap)
            let ptr = allocator.realloc(ptr, layout(THRESHOLD + 10), 3 * THRESHOLD);
            assert!(!ptr.is_null());
            assert!(holds(ptr, THRESHOLD + 10, 4));
            assert_eq!(*ptr.add(3 * THRESHOLD - 1), 0, "grown pages are zero");

            // mapping -> smaller mapping
            let ptr = allocator.realloc(ptr, layout(3 * THRESHOLD), 2 * THRESHOLD);
            assert!(!ptr.is_null());
            assert!(holds(ptr, THRESHOLD + 10, 4));

            // mapping -> system
            let ptr = allocator.realloc(ptr, layout(2 * THRESHOLD), small);
            assert!(!ptr.is_null());
            assert!(holds(ptr, small, 4));

            // system -> system
            let ptr = allocator.realloc(ptr, layout(small), 2 * small);
            assert!(holds(ptr, small, 4));
            allocator.dealloc(ptr, layout(2 * small));
        }
        assert_eq!(allocator.mappings(), 1, "mremap is no new mapping");
    }

    #[test]
    fn a_terabyte_costs_no_memory() {
        let allocator = LazyHugeAllocator::new();
        let size = 1usize << 40;
        unsafe {
            let ptr = allocator.alloc(layout(size));
            assert!(
                !ptr.is_null(),
                "1 TiB of address space (overcommit mode 0 or 1)"
            );
            // Touch the first and the last page only.
            *ptr = 1;
            *ptr.add(size - 1) = 2;
            assert_eq!((*ptr, *ptr.add(size - 1)), (1, 2));
            allocator.dealloc(ptr, layout(size));
        }
        assert_eq!(allocator.mappings(), 1);
    }

    #[test]
    fn only_mode_2_is_warned_about() {
        assert_eq!(overcommit_warning_for("0"), None);
        assert_eq!(overcommit_warning_for("1"), None);
        let warning = overcommit_warning_for("2").unwrap();
        assert!(warning.contains("overcommit_memory is 2"), "{warning}");
        assert!(warning.contains("abort"), "{warning}");
    }

    #[test]
    #[should_panic(expected = "zero-size")]
    fn a_zero_threshold_is_refused() {
        let _ = LazyHugeAllocator::with_threshold(0);
    }
}
