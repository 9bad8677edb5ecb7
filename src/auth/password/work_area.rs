//! Argon2's memory for one hash with the pinned parameters (19 MiB), mapped once per hashing thread
//! and reused by every later hash, so that hashing neither allocates nor faults pages in.
//!
//! The blocks start on a huge-page boundary and the kernel is asked to back them with transparent
//! huge pages (`MADV_HUGEPAGE`). Argon2 reads its blocks in an order that depends on the data, all
//! over the 19 MiB: with 4 KiB pages nearly every read misses the TLB, with 2 MiB pages ten entries
//! map the whole area. Where the kernel declines (THP set to `never`, no huge page free), the area
//! works the same on ordinary pages.

use std::ptr::NonNull;

use argon2::{Argon2, Block};

use super::argon2id::PARAMS;

/// The transparent huge page size on x86-64, and on arm64 with 4 KiB pages.
const HUGE_PAGE: usize = 2 << 20;

/// One hashing thread's Argon2 memory: an anonymous mapping of its own, unmapped when dropped.
/// Argon2 overwrites every block it reads, so what a previous hash left there does not matter.
pub(super) struct WorkArea {
    /// The whole mapping, as `mmap` returned it.
    mapping: NonNull<libc::c_void>,
    mapped_bytes: usize,
    /// The blocks: the first huge-page boundary in the mapping, `len` blocks from there.
    blocks: NonNull<Block>,
    len: usize,
}

impl std::fmt::Debug for WorkArea {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "WorkArea({} KiB)", self.len)
    }
}

impl WorkArea {
    /// Maps room for one hash with the pinned parameters. Like any allocation, aborts the process
    /// if the memory cannot be had.
    pub(super) fn new() -> Self {
        let len = PARAMS.block_count();
        let used_bytes = (len * size_of::<Block>()).next_multiple_of(HUGE_PAGE);
        // One huge page more than is used, so the blocks can start on a boundary.
        let mapped_bytes = used_bytes + HUGE_PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
        // existing memory.
        let mapped = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let Some(mapping) = NonNull::new(mapped).filter(|_| mapped != libc::MAP_FAILED) else {
            std::alloc::handle_alloc_error(std::alloc::Layout::array::<Block>(len).expect("19 MiB is a valid size"));
        };
        let offset = mapping.as_ptr().addr().next_multiple_of(HUGE_PAGE) - mapping.as_ptr().addr();
        // SAFETY: `offset` < HUGE_PAGE, so the blocks and the `used_bytes` after them lie inside the
        // mapping; a page-aligned address is aligned for `Block`.
        let blocks = unsafe { mapping.byte_add(offset) }.cast::<Block>();
        #[cfg(target_os = "linux")]
        // SAFETY: advice on a range of our own mapping changes how it is backed, not its contents.
        // Refused advice (THP compiled out) leaves ordinary pages, which work the same.
        unsafe {
            libc::madvise(blocks.as_ptr().cast(), used_bytes, libc::MADV_HUGEPAGE);
        }
        Self {
            mapping,
            mapped_bytes,
            blocks,
            len,
        }
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the blocks lie inside the mapping this area owns until it is dropped, anonymous
        // mappings start zeroed, and every bit pattern is a valid `Block` (128 `u64`s).
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_ptr(), self.len) }
    }

    /// Runs `argon2` into `out`, in this area when it is large enough (imhotep's own hashes, and
    /// any with m ≤ 19456 KiB), else in memory allocated for this one call.
    pub(super) fn hash_into(
        &mut self,
        argon2: &Argon2,
        password: &str,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        if argon2.params().block_count() <= self.len {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, self.blocks())
        } else {
            argon2.hash_password_into(password.as_bytes(), salt, out)
        }
    }
}

impl Drop for WorkArea {
    fn drop(&mut self) {
        // SAFETY: the mapping is this area's own, and no slice of it outlives `&mut self`.
        unsafe {
            libc::munmap(self.mapping.as_ptr(), self.mapped_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocks_start_on_a_huge_page_boundary_inside_the_mapping() {
        let mut area = WorkArea::new();
        let start = area.blocks.as_ptr().addr();
        let mapping = area.mapping.as_ptr().addr();
        assert_eq!(start % HUGE_PAGE, 0);
        assert!(start >= mapping);
        assert!(start + area.len * size_of::<Block>() <= mapping + area.mapped_bytes);
        assert_eq!(area.blocks().len(), 19_456);
    }
}
