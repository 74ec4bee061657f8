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
    /// The widest level this CPU supports.
    pub fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
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
