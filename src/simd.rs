//! Which vector instructions the kernels may use, chosen once at run time.
//!
//! The addon is built for the x86-64 baseline (SSE2) so that one binary runs everywhere; the
//! hottest loops are compiled a second and third time with AVX2 and AVX-512 enabled
//! (`#[target_feature]`) and picked by what the CPU reports. Elsewhere only `Base` exists.

/// A set of vector instructions a kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The build's baseline (SSE2 on x86-64, NEON on aarch64).
    Base,
    /// AVX2 (4 float64 per register).
    Avx2,
    /// AVX-512F (8 float64 per register).
    Avx512,
}

impl Level {
    /// The widest level this CPU supports. `Avx512` needs the F, BW, DQ and VL subsets that
    /// every AVX-512 CPU since Skylake-SP (and AMD's Zen 4) has, and that
    /// [`compiled_per_level!`] enables; a CPU with F alone (Xeon Phi) gets `Avx2`.
    pub fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
        }
        Level::Base
    }

    /// Every level this CPU can run, narrowest first (tests run each one).
    pub fn available() -> Vec<Level> {
        [Level::Base, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| l.rank() <= Level::detect().rank())
            .collect()
    }

    fn rank(self) -> u8 {
        self as u8
    }
}

/// Defines `$name::<T>(level)`, which returns `$kernel` (an `#[inline(always)]` function,
/// generic over one type) compiled for that [`Level`]: the baseline build, and on x86-64 a
/// copy with AVX2 enabled and one with AVX-512 (F, BW, DQ, VL), so that the compiler vectorises
/// its loops with the wider registers and the instructions the baseline lacks (unsigned 64-bit
/// compares, masked loads). The one place that says which features each level enables.
///
/// ```ignore
/// compiled_per_level! {
///     /// [`count`] for the CPU's widest vectors.
///     fn count_for<T: Element>(values: &[T], counts: &mut [u32]) => count
/// }
/// let count = count_for::<f64>(Level::detect());
/// ```
macro_rules! compiled_per_level {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident<$T:ident: $Bound:path>($($arg:ident: $ty:ty),* $(,)?)
            $(-> $ret:ty)? => $kernel:ident
    ) => {
        $(#[$attr])*
        $vis fn $name<$T: $Bound>(level: $crate::simd::Level) -> fn($($ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2<$T: $Bound>($($arg: $ty),*) $(-> $ret)? {
                $kernel($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
            unsafe fn avx512<$T: $Bound>($($arg: $ty),*) $(-> $ret)? {
                $kernel($($arg),*)
            }
            match level {
                // SAFETY (both): `Level::detect` saw these features on this CPU, and a level is
                // only ever one it returned or one below it.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx512 => |$($arg),*| unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx2 => |$($arg),*| unsafe { avx2($($arg),*) },
                _ => $kernel,
            }
        }
    };
}
pub(crate) use compiled_per_level;

/// How far ahead of a streaming read [`prefetch`] asks for memory. The hardware prefetchers
/// stop at 4 KiB page boundaries; on a 2-vCPU Xeon VM a scan that asked 12 KiB ahead read
/// 1M x 384 float32 at 25 GB/s, against 22 GB/s without.
pub const PREFETCH_AHEAD: usize = 12 << 10;

/// Asks for the cache lines of `bytes` bytes from `start` to be brought towards the core: a
/// hint, which never faults, so the range may run past the end of the data.
#[inline(always)]
pub fn prefetch(start: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch is only a hint; it reads nothing and never faults.
            unsafe { _mm_prefetch(start.wrapping_add(offset) as *const i8, _MM_HINT_T0) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, bytes);
}

/// Clears the upper halves of the vector registers (`vzeroupper`) on every thread of the
/// current rayon pool, each when it next looks for work (no waiting here).
///
/// faer's GEMM kernels return with the AVX-512 upper state dirty. Measured here (AMD Zen 4):
/// every loop compiled for the x86-64 baseline that later ran on such a thread, the scalar
/// float math of any kernel included, ran about 3x slower for the rest of the process (a
/// 48 ms topK scan took 151 ms after one 512 x 512 matmul; 47 ms again after this). Call it
/// after any faer product ([`CleanUpperState`] does it on every way out).
pub fn clean_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if Level::detect() != Level::Base {
        rayon::spawn_broadcast(|_| {
            // SAFETY: AVX2 or AVX-512 was detected, so the CPU has AVX.
            unsafe { zero_upper() }
        });
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}

/// Calls [`clean_upper_state`] when dropped: held across faer products, so that an early
/// return (an abort, an error) cleans up too.
pub struct CleanUpperState;

impl Drop for CleanUpperState {
    fn drop(&mut self) {
        clean_upper_state();
    }
}

/// Whether this thread's upper vector state (the high halves of ymm/zmm 0-15) is in use, as the
/// CPU reports it (XINUSE, `xgetbv` with ECX = 1); `None` where the CPU cannot say. Tests use it
/// to prove that no kernel leaves the pool's threads dirty.
#[cfg(test)]
pub fn upper_state_in_use() -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid_count;
        // SAFETY: cpuid is always available on x86-64 (newer Rust calls it safe).
        #[allow(unused_unsafe)]
        let xsave = unsafe { __cpuid_count(1, 0) }.ecx & (1 << 26) != 0;
        #[allow(unused_unsafe)]
        let xgetbv1 = xsave && unsafe { __cpuid_count(0xD, 1) }.eax & (1 << 2) != 0;
        if !xgetbv1 || Level::detect() == Level::Base {
            return None;
        }
        // SAFETY: XSAVE and XGETBV with ECX = 1 are supported (checked above).
        let in_use = unsafe { xinuse() };
        // Bit 2: YMM_Hi128 (upper halves of ymm0-15); bit 6: ZMM_Hi256 (upper halves of zmm0-15).
        Some(in_use & ((1 << 2) | (1 << 6)) != 0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "xsave")]
unsafe fn xinuse() -> u64 {
    std::arch::x86_64::_xgetbv(1)
}
