//! Large zeroed working buffers straight from the operating system, in 2 MiB pages where the
//! kernel offers them (Linux's transparent huge pages in `madvise` mode, the common default).
//!
//! A password hash takes tens or hundreds of MiB for a few milliseconds and gives it back:
//! with 4 KiB pages, faulting them in and unmapping them took as long as the hash itself
//! (argon2id at OWASP's 19 MiB: 27 ms instead of 14). Asking for huge pages before the first
//! touch makes that a few dozen faults.

use std::ops::{Deref, DerefMut};

use crate::error::{check_allocation, try_zeroed_vec, KernelError, Zeroable};

/// A zeroed `[T]` of a fixed length, freed when dropped (or, made by
/// [`ZeroedBuffer::reusable`], kept for the next such buffer).
pub struct ZeroedBuffer<T: Zeroable> {
    inner: Inner<T>,
}

enum Inner<T: Zeroable> {
    Vec(Vec<T>),
    #[cfg(target_os = "linux")]
    Mapped {
        base: *mut libc::c_void,
        mapped: usize,
        data: *mut T,
        len: usize,
        /// Goes back to [`CACHE`] when dropped.
        reuse: bool,
    },
}

/// Mappings kept for the next hash or sort, as an allocator keeps freed memory: a server
/// hashing passwords back to back then neither faults nor zeroes pages (argon2id at 19 MiB:
/// 14 ms on fresh pages, ~9 reusing them). At most `CACHE_BYTES` in all.
#[cfg(target_os = "linux")]
static CACHE: std::sync::Mutex<Vec<(usize, usize)>> = std::sync::Mutex::new(Vec::new());
#[cfg(target_os = "linux")]
const CACHE_BYTES: usize = 96 << 20;

// SAFETY: the buffer owns its memory exclusively, as a Vec<T> would.
unsafe impl<T: Zeroable + Send> Send for ZeroedBuffer<T> {}
unsafe impl<T: Zeroable + Sync> Sync for ZeroedBuffer<T> {}

/// Buffers at least this large are mapped with huge pages; smaller ones come from the heap.
#[cfg(target_os = "linux")]
const MAP_FROM: usize = 4 << 20;
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

impl<T: Zeroable> ZeroedBuffer<T> {
    /// `len` zeroed elements, under the allocation limit; `Err(OutOfMemory)` rather than an
    /// abort when the memory is not there.
    pub fn new(len: usize, what: &str) -> Result<Self, KernelError> {
        let bytes = (len as u128) * (std::mem::size_of::<T>() as u128);
        check_allocation(bytes, what)?;
        #[cfg(target_os = "linux")]
        if bytes >= MAP_FROM as u128 && std::mem::align_of::<T>() <= 4096 {
            return Self::mapped(len, bytes as usize, what, false, true);
        }
        Ok(ZeroedBuffer {
            inner: Inner::Vec(try_zeroed_vec(len, what)?),
        })
    }

    /// `len` elements holding zeros or what an earlier such buffer left (any bits are a valid
    /// `T`): for work that writes every element before reading it. Its memory may be kept
    /// for the next one instead of going back to the system.
    pub fn reusable(len: usize, what: &str) -> Result<Self, KernelError> {
        Self::reusable_with(len, what, true)
    }

    /// [`ZeroedBuffer::reusable`] in the kernel's ordinary 4 KiB pages: for buffers that live
    /// long enough that a stall in the kernel's direct compaction (which a first touch of
    /// huge-page-advised memory can hit under `defrag=madvise`) would cost more than the faults
    /// saved; a kept mapping still saves every fault the second time.
    pub fn reusable_in_small_pages(len: usize, what: &str) -> Result<Self, KernelError> {
        Self::reusable_with(len, what, false)
    }

    fn reusable_with(len: usize, what: &str, huge: bool) -> Result<Self, KernelError> {
        let bytes = (len as u128) * (std::mem::size_of::<T>() as u128);
        check_allocation(bytes, what)?;
        #[cfg(target_os = "linux")]
        if bytes >= MAP_FROM as u128 && std::mem::align_of::<T>() <= 4096 {
            let bytes = bytes as usize;
            let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
            // A kept mapping that fits without wasting more than half of it.
            if let Some(at) = cache.iter().position(|&(_, mapped)| {
                mapped >= bytes + HUGE_PAGE && mapped <= 2 * bytes + HUGE_PAGE
            }) {
                let (base, mapped) = cache.swap_remove(at);
                return Ok(ZeroedBuffer {
                    inner: Inner::Mapped {
                        base: base as *mut libc::c_void,
                        mapped,
                        data: (base.next_multiple_of(HUGE_PAGE)) as *mut T,
                        len,
                        reuse: true,
                    },
                });
            }
            drop(cache);
            return Self::mapped(len, bytes, what, true, huge);
        }
        let _ = huge;
        Self::new(len, what)
    }

    #[cfg(target_os = "linux")]
    fn mapped(
        len: usize,
        bytes: usize,
        what: &str,
        reuse: bool,
        huge: bool,
    ) -> Result<Self, KernelError> {
        // One huge page more than asked, so that the data can start on a 2 MiB boundary.
        let mapped = bytes
            .checked_add(HUGE_PAGE)
            .ok_or_else(|| KernelError::OutOfMemory(format!("Cannot allocate {what}")))?;
        // SAFETY: an anonymous private mapping; the kernel returns zeroed pages.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(KernelError::OutOfMemory(format!(
                "Cannot allocate {what}: {bytes} bytes do not fit in memory"
            )));
        }
        let start = (base as usize).next_multiple_of(HUGE_PAGE);
        if huge {
            // SAFETY: the range lies inside the mapping; the advice only changes page sizes.
            unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    bytes.next_multiple_of(HUGE_PAGE),
                    libc::MADV_HUGEPAGE,
                );
            }
        }
        Ok(ZeroedBuffer {
            inner: Inner::Mapped {
                base,
                mapped,
                data: start as *mut T,
                len,
                reuse,
            },
        })
    }
}

/// Asks Linux to back a fresh buffer (at least 4 MiB) with 2 MiB pages where it can, as numpy
/// does for every large array: one fault then maps 512 times as much memory, and stores spread
/// over the buffer miss the TLB less. Under the usual `madvise` setting of transparent huge
/// pages a buffer gets them only when asked. A 2048 x 64 x 2048 float64 product (32 MiB
/// result, populated first): 18-20 ms with 4 KiB pages, 8-13 ms with 2 MiB ones (Zen 4).
/// Only for buffers that are written whole (a half-used huge page wastes the rest); blur's
/// 33 MB output, not populated first, measured no different. Elsewhere, or when the system
/// says no, nothing changes.
pub fn prefer_huge_pages<T: Zeroable>(buf: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(buf);
        if bytes < MAP_FROM {
            return;
        }
        // Only the 2 MiB blocks wholly inside `buf`: the advice covers whole pages of the
        // mapping, and memory outside `buf` is not this call's to change.
        let start = (buf.as_mut_ptr() as usize).next_multiple_of(HUGE);
        let end = (buf.as_mut_ptr() as usize + bytes) & !(HUGE - 1);
        if end > start {
            // SAFETY: whole pages inside `buf`, which this call borrows mutably; the advice
            // changes no byte of their contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Faults in the pages of a fresh buffer (at least 4 MiB) before a kernel fills it, from every
/// thread of the current rayon pool, with Linux's `MADV_POPULATE_WRITE` (5.14 and later): the
/// kernel maps each 4 KiB page in a loop instead of taking a fault per page while the kernel's
/// stores run. A 2048 x 64 x 2048 float64 product, whose result is 32 MiB: 15.9 ms with the
/// faults inside the multiply, 9.0 ms populated first. (Kernels that stream their output in
/// order gain nothing: a sorted copy, blur, grayscale and resize were 2-8% slower with it.)
/// Elsewhere, on an older kernel, or when the memory is not there to map, nothing is done
/// (the pages fault in as they are written).
pub fn populate<T: Zeroable>(buf: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        const PAGE: usize = 4096;
        const PIECE: usize = 2 << 20;
        static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
        let bytes = std::mem::size_of_val(buf);
        if bytes < MAP_FROM || UNSUPPORTED.load(Ordering::Relaxed) {
            return;
        }
        prefer_huge_pages(buf);
        let start = (buf.as_mut_ptr() as usize).next_multiple_of(PAGE);
        let end = (buf.as_mut_ptr() as usize + bytes) & !(PAGE - 1);
        let pieces = (end - start).div_ceil(PIECE);
        use rayon::prelude::*;
        (0..pieces).into_par_iter().for_each(|i| {
            let from = start + i * PIECE;
            let len = PIECE.min(end - from);
            // SAFETY: whole pages inside `buf`, which this call borrows mutably; populating
            // maps them writable and changes no byte of their contents.
            let r =
                unsafe { libc::madvise(from as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
            if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                UNSUPPORTED.store(true, Ordering::Relaxed); // a kernel before 5.14
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Whether the memory of `buf` is likely in place already (pages faulted in earlier), judged
/// from a few pages spread over it. Streaming stores into pages that are not pay twice: the
/// kernel zeroes each page through the cache on its first touch, and the stores then push
/// those lines out again. `false` where this cannot be told.
pub fn likely_resident<T>(buf: &[T]) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        const SAMPLES: usize = 16;
        let start = buf.as_ptr() as usize;
        let bytes = std::mem::size_of_val(buf);
        if bytes == 0 {
            return false;
        }
        (0..SAMPLES).all(|s| {
            let at = (start + bytes / SAMPLES * s) & !(PAGE - 1);
            let mut in_core = 0u8;
            // SAFETY: one page-aligned page that holds part of `buf`; `in_core` has room for
            // the one byte mincore writes.
            let r = unsafe { libc::mincore(at as *mut libc::c_void, PAGE, &mut in_core) };
            r == 0 && in_core & 1 == 1
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = buf;
        false
    }
}

impl<T: Zeroable> Drop for ZeroedBuffer<T> {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Inner::Mapped {
            base,
            mapped,
            reuse,
            ..
        } = self.inner
        {
            if reuse {
                let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
                let kept: usize = cache.iter().map(|&(_, m)| m).sum();
                if kept + mapped <= CACHE_BYTES {
                    cache.push((base as usize, mapped));
                    return;
                }
            }
            // SAFETY: the mapping made in `mapped`, unmapped once (never both kept and unmapped).
            unsafe { libc::munmap(base, mapped) };
        }
    }
}

impl<T: Zeroable> Deref for ZeroedBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.inner {
            Inner::Vec(v) => v,
            // SAFETY: `len` zeroed (valid, as T is Zeroable) elements inside the mapping.
            #[cfg(target_os = "linux")]
            Inner::Mapped { data, len, .. } => unsafe { std::slice::from_raw_parts(*data, *len) },
        }
    }
}

impl<T: Zeroable> DerefMut for ZeroedBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.inner {
            Inner::Vec(v) => v,
            // SAFETY: as in `deref`, and `&mut self` is exclusive.
            #[cfg(target_os = "linux")]
            Inner::Mapped { data, len, .. } => unsafe {
                std::slice::from_raw_parts_mut(*data, *len)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn resident_memory_is_told_from_fresh_memory() {
        let mut fresh = ZeroedBuffer::<u64>::new(4 << 20, "a test buffer").unwrap();
        assert!(!likely_resident(&fresh));
        fresh.iter_mut().for_each(|x| *x = 1);
        assert!(likely_resident(&fresh));
        assert!(!likely_resident::<u64>(&[]));
    }

    #[test]
    fn huge_pages_are_asked_for_and_change_no_byte() {
        // An offset start and an odd length: the advice covers 2 MiB blocks inside the buffer.
        let mut written: Vec<u32> = (0..(9 << 20) / 4 + 5).collect();
        prefer_huge_pages(&mut written[3..]);
        assert!(written.iter().enumerate().all(|(i, &x)| x == i as u32));
        prefer_huge_pages::<u8>(&mut []);
        prefer_huge_pages(&mut [0u8; 4096]);
        #[cfg(target_os = "linux")]
        {
            // The kernel marks the mapping eligible (whether it then finds free huge pages is
            // up to it), unless transparent huge pages are off, not built in, or turned off
            // for this process (prctl), or the kernel does not say (before Linux 5.0).
            let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                .unwrap_or_default();
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
            if (mode.contains("[always]") || mode.contains("[madvise]"))
                && !status
                    .lines()
                    .any(|l| l.split_whitespace().eq(["THP_enabled:", "0"]))
                && smaps.contains("THPeligible:")
            {
                let middle = written.as_ptr() as usize + std::mem::size_of_val(&written[..]) / 2;
                let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
                let mut inside = false;
                let mut eligible = None;
                for line in smaps.lines() {
                    if let Some((range, _)) = line.split_once(' ') {
                        if let Some((from, to)) = range.split_once('-') {
                            if let (Ok(from), Ok(to)) = (
                                usize::from_str_radix(from, 16),
                                usize::from_str_radix(to, 16),
                            ) {
                                inside = from <= middle && middle < to;
                                continue;
                            }
                        }
                    }
                    if inside {
                        if let Some(v) = line.strip_prefix("THPeligible:") {
                            eligible = Some(v.trim() == "1");
                        }
                    }
                }
                assert_eq!(eligible, Some(true), "THP mode {mode}");
            }
        }
    }

    #[test]
    fn populating_maps_fresh_pages_and_changes_no_byte() {
        // Odd lengths and an offset start: whole pages inside the buffer only.
        let mut fresh = try_zeroed_vec::<u64>((6 << 20) / 8 + 3, "a test buffer").unwrap();
        populate(&mut fresh[1..]);
        assert!(fresh.iter().all(|&x| x == 0));
        #[cfg(target_os = "linux")]
        {
            let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            let mut version = kernel
                .split(['.', '-'])
                .map(|p| p.parse::<u32>().unwrap_or(0));
            if (version.next().unwrap_or(0), version.next().unwrap_or(0)) >= (5, 14) {
                assert!(likely_resident(&fresh[1..]), "populated on Linux {kernel}");
            }
        }
        let mut written: Vec<u32> = (0..(5 << 20) / 4 + 1).collect();
        populate(&mut written);
        assert!(written.iter().enumerate().all(|(i, &x)| x == i as u32));
        populate::<u8>(&mut []);
    }

    #[test]
    fn small_and_large_buffers_are_zeroed_and_writable() {
        for len in [0usize, 1, 1000, 3 << 20, (5 << 20) + 3] {
            let mut b = ZeroedBuffer::<u32>::new(len, "a test buffer").unwrap();
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0));
            for (i, x) in b.iter_mut().enumerate() {
                *x = i as u32;
            }
            assert!(b.iter().enumerate().all(|(i, &x)| x == i as u32));
        }
    }

    #[test]
    fn reusable_buffers_come_back() {
        let first = ZeroedBuffer::<u64>::reusable(1 << 20, "a test buffer").unwrap();
        let address = first.as_ptr() as usize;
        drop(first);
        let mut again = ZeroedBuffer::<u64>::reusable((1 << 20) - 5, "a test buffer").unwrap();
        assert_eq!(again.len(), (1 << 20) - 5);
        again.iter_mut().for_each(|x| *x = 7);
        // The cache is process-wide (other tests run beside this one): the same mapping is
        // likely, not certain; either way the buffer is whole and writable.
        let _ = address;
        assert!(again.iter().all(|&x| x == 7));
    }

    #[test]
    fn the_allocation_limit_applies() {
        assert!(ZeroedBuffer::<u64>::new(usize::MAX / 8, "too much").is_err());
    }
}
