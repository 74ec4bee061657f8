//! `describe`: count, NaN count, min, max, compensated sum, mean, variance and stddev in one
//! read of memory.
//!
//! The array is cut into blocks small enough to stay in cache. Each block is summed with a
//! Neumaier-compensated sum kept in independent lanes (so the loop is not one long dependency
//! chain), then read a second time, from cache, for the sum of squared deviations from the
//! block's own mean (the corrected two-pass algorithm). Blocks are merged with Chan et al.'s
//! pairwise update, which keeps the variance accurate for data far from zero.
//!
//! Most blocks hold neither NaN nor an infinity, so each is first read by a loop without a
//! per-element NaN test (compiled for AVX2 and AVX-512 where the CPU has them, 32 lanes); a
//! block whose sum comes out non-finite is read again by the NaN-aware loop. Both compute the
//! same exact rounding error per addition, so the compensated sum is the same either way
//! (where the CPU has FMA, some of the wide loop's subtractions run on the FMA units as
//! `fma(b, -1, a)`, which rounds as `a - b` does).

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::Element;
use crate::error::KernelError;
use crate::simd::Level;

const LANES: usize = 8;
/// Elements per block: 32 KiB of f64, inside L1/L2 for the second read.
const BLOCK: usize = 4096;
/// Elements per rayon task (a fraction of a millisecond each): the cancel-poll granularity.
const TASK: usize = BLOCK * 64;

/// What `describe` resolves to. Fields that have no value for the data are NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: f64,
    pub nan_count: f64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub mean: f64,
    pub variance: f64,
    pub stddev: f64,
}

/// A running summary of some of the values, mergeable in any grouping.
#[derive(Clone, Copy, Debug)]
struct Partial {
    count: u64,
    nan_count: u64,
    min: f64,
    max: f64,
    /// Neumaier sum: `sum + comp` is the compensated total.
    sum: f64,
    comp: f64,
    mean: f64,
    m2: f64,
}

impl Partial {
    const EMPTY: Partial = Partial {
        count: 0,
        nan_count: 0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        sum: 0.0,
        comp: 0.0,
        mean: 0.0,
        m2: 0.0,
    };

    fn total(&self) -> f64 {
        // With an infinity in the data the compensation is NaN; the plain sum is the answer.
        if self.sum.is_finite() {
            self.sum + self.comp
        } else {
            self.sum
        }
    }

    fn merge(self, b: Partial) -> Partial {
        let a = self;
        if a.count == 0 {
            return Partial {
                nan_count: a.nan_count + b.nan_count,
                ..b
            };
        }
        if b.count == 0 {
            return Partial {
                nan_count: a.nan_count + b.nan_count,
                ..a
            };
        }
        let (sum, comp) = neumaier(a.sum, a.comp + b.comp, b.sum);
        let (na, nb) = (a.count as f64, b.count as f64);
        let n = na + nb;
        let delta = b.mean - a.mean;
        Partial {
            count: a.count + b.count,
            nan_count: a.nan_count + b.nan_count,
            min: if b.min < a.min { b.min } else { a.min },
            max: if b.max > a.max { b.max } else { a.max },
            sum,
            comp,
            mean: a.mean + delta * (nb / n),
            m2: a.m2 + b.m2 + delta * delta * (na * nb / n),
        }
    }
}

/// Adds `x` to the running sum `s` with compensation `c`: Knuth's TwoSum, the same exact error
/// as `neumaier` without its magnitude test, so it vectorises with no blend.
#[inline(always)]
fn two_sum(s: f64, c: f64, x: f64) -> (f64, f64) {
    let t = s + x;
    let back = t - s;
    (t, c + ((s - (t - back)) + (x - back)))
}

/// `two_sum` with three of its subtractions done as `fma(b, -1, a)`, which rounds exactly as
/// `a - b` does: the same results, but the work is shared between the CPU's FMA units and its
/// adders (AMD's Zen cores have separate ones, and the loop is bound by the adders otherwise).
/// `minus_one` must be -1.0, passed in opaque so that the compiler keeps the FMAs.
#[inline(always)]
fn two_sum_fused(s: f64, c: f64, x: f64, minus_one: f64) -> (f64, f64) {
    let t = s + x;
    let back = s.mul_add(minus_one, t); // t - s
    let kept = back.mul_add(minus_one, t); // t - back
    (t, c + (kept.mul_add(minus_one, s) + (x - back)))
}

/// Adds `x` to the running sum `s` with compensation `c` (Neumaier's variant of Kahan).
#[inline(always)]
fn neumaier(s: f64, c: f64, x: f64) -> (f64, f64) {
    let t = s + x;
    let lost = if s.abs() >= x.abs() {
        (s - t) + x
    } else {
        (x - t) + s
    };
    (t, c + lost)
}

/// Lanes of the loops compiled for AVX2 and AVX-512.
#[cfg(target_arch = "x86_64")]
const WIDE_LANES: usize = 32;

/// `block` for a block without NaN or infinity (the common case): no per-element NaN test, and
/// the deviations read without one. Falls back to `block` when the sum is not finite.
/// With `FMA` (only where the CPU has it) the sum's subtractions use the FMA units too.
#[inline(always)]
fn block_finite<T: Element, const L: usize, const FMA: bool>(values: &[T]) -> Partial {
    let minus_one = std::hint::black_box(-1.0f64);
    let add = |s: f64, c: f64, x: f64| {
        if FMA {
            two_sum_fused(s, c, x, minus_one)
        } else {
            two_sum(s, c, x)
        }
    };
    let mut sum = [0.0f64; L];
    let mut comp = [0.0f64; L];
    let mut min = [f64::INFINITY; L];
    let mut max = [f64::NEG_INFINITY; L];
    let mut chunks = values.chunks_exact(L);
    for c in &mut chunks {
        for l in 0..L {
            let x = c[l].to_f64();
            min[l] = if x < min[l] { x } else { min[l] };
            max[l] = if x > max[l] { x } else { max[l] };
            (sum[l], comp[l]) = add(sum[l], comp[l], x);
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        let x = v.to_f64();
        min[l] = if x < min[l] { x } else { min[l] };
        max[l] = if x > max[l] { x } else { max[l] };
        (sum[l], comp[l]) = add(sum[l], comp[l], x);
    }
    let (mut s, mut c) = (0.0, comp.iter().sum::<f64>());
    for x in sum {
        (s, c) = neumaier(s, c, x);
    }
    // A NaN or an infinity anywhere makes the sum or its compensation non-finite.
    if values.is_empty() || !(s.is_finite() && c.is_finite()) {
        return block(values);
    }
    let count = values.len() as u64;
    let mean = (s + c) / count as f64;
    let mut sq = [0.0f64; L];
    let mut dev = [0.0f64; L];
    let mut chunks = values.chunks_exact(L);
    for ch in &mut chunks {
        for l in 0..L {
            let d = ch[l].to_f64() - mean;
            sq[l] += d * d;
            dev[l] += d;
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        let d = v.to_f64() - mean;
        sq[l] += d * d;
        dev[l] += d;
    }
    let dev: f64 = dev.iter().sum();
    Partial {
        count,
        nan_count: 0,
        min: min.iter().copied().fold(f64::INFINITY, f64::min),
        max: max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        sum: s,
        comp: c,
        mean,
        m2: sq.iter().sum::<f64>() - dev * dev / count as f64,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_avx2<T: Element>(values: &[T]) -> Partial {
    block_finite::<T, WIDE_LANES, false>(values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2_fma<T: Element>(values: &[T]) -> Partial {
    block_finite::<T, WIDE_LANES, true>(values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<T: Element>(values: &[T]) -> Partial {
    block_finite::<T, WIDE_LANES, false>(values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn block_avx512_fma<T: Element>(values: &[T]) -> Partial {
    block_finite::<T, WIDE_LANES, true>(values)
}

/// The block summary compiled for `level`, which the CPU must support.
fn block_for<T: Element>(level: Level) -> fn(&[T]) -> Partial {
    match level {
        // SAFETY (both): `Level::detect` saw the feature on this CPU.
        // (and FMA where the CPU has it: every AVX-512 CPU, nearly every AVX2 one)
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 if std::arch::is_x86_feature_detected!("fma") => {
            |v| unsafe { block_avx512_fma(v) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => |v| unsafe { block_avx512(v) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 if std::arch::is_x86_feature_detected!("fma") => {
            |v| unsafe { block_avx2_fma(v) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => |v| unsafe { block_avx2(v) },
        // NEON's 32 registers hold the finite loop's 8 lanes (4 vectors per accumulator);
        // its FMA and add share pipes, so the plain subtractions.
        #[cfg(target_arch = "aarch64")]
        _ => block_finite::<T, 8, false>,
        // With 16 SSE2 registers the wide loop spills; the 8-lane one is faster there.
        #[cfg(not(target_arch = "aarch64"))]
        _ => block,
    }
}

fn block<T: Element>(values: &[T]) -> Partial {
    let mut sum = [0.0f64; LANES];
    let mut comp = [0.0f64; LANES];
    let mut min = [f64::INFINITY; LANES];
    let mut max = [f64::NEG_INFINITY; LANES];
    let mut nans = [0u64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            let x = c[l].to_f64();
            let is_nan = x.is_nan();
            let v = if is_nan { 0.0 } else { x };
            nans[l] += is_nan as u64;
            min[l] = if x < min[l] { x } else { min[l] };
            max[l] = if x > max[l] { x } else { max[l] };
            (sum[l], comp[l]) = neumaier(sum[l], comp[l], v);
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        let x = v.to_f64();
        if x.is_nan() {
            nans[l] += 1;
        } else {
            min[l] = min[l].min(x);
            max[l] = max[l].max(x);
            (sum[l], comp[l]) = neumaier(sum[l], comp[l], x);
        }
    }
    let nan_count: u64 = nans.iter().sum();
    let count = values.len() as u64 - nan_count;
    let (mut s, mut c) = (0.0, comp.iter().sum::<f64>());
    for x in sum {
        (s, c) = neumaier(s, c, x);
    }
    let mut p = Partial {
        count,
        nan_count,
        min: min.iter().copied().fold(f64::INFINITY, f64::min),
        max: max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        sum: s,
        comp: c,
        mean: 0.0,
        m2: 0.0,
    };
    if count == 0 {
        return p;
    }
    // The second read, from cache: squared deviations from this block's mean, with the
    // correction term that removes the error of the mean itself.
    let mean = p.total() / count as f64;
    let mut sq = [0.0f64; LANES];
    let mut dev = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for ch in &mut chunks {
        for l in 0..LANES {
            let x = ch[l].to_f64();
            let d = if x.is_nan() { 0.0 } else { x - mean };
            sq[l] += d * d;
            dev[l] += d;
        }
    }
    for (l, v) in chunks.remainder().iter().enumerate() {
        let x = v.to_f64();
        if !x.is_nan() {
            let d = x - mean;
            sq[l] += d * d;
            dev[l] += d;
        }
    }
    let dev: f64 = dev.iter().sum();
    p.mean = mean;
    p.m2 = sq.iter().sum::<f64>() - dev * dev / count as f64;
    p
}

/// Summarises `values` (NaN skipped and counted), dividing the variance by `count - ddof`
/// (clamped at 0, as numpy does: a divisor of 0 gives Infinity or NaN).
pub fn describe<T: Element>(
    values: &[T],
    ddof: f64,
    cancel: &Cancel,
) -> Result<Summary, KernelError> {
    describe_with(values, ddof, cancel, Level::detect())
}

fn describe_with<T: Element>(
    values: &[T],
    ddof: f64,
    cancel: &Cancel,
    level: Level,
) -> Result<Summary, KernelError> {
    let block = block_for::<T>(level);
    let p = values
        .par_chunks(TASK)
        .map(|task| {
            cancel.check()?;
            Ok(task
                .chunks(BLOCK)
                .map(block)
                .fold(Partial::EMPTY, Partial::merge))
        })
        .try_reduce(|| Partial::EMPTY, |a, b| Ok(a.merge(b)))?;
    Ok(summarize(&p, ddof))
}

fn summarize(p: &Partial, ddof: f64) -> Summary {
    let count = p.count as f64;
    if p.count == 0 {
        return Summary {
            count: 0.0,
            nan_count: p.nan_count as f64,
            min: f64::NAN,
            max: f64::NAN,
            sum: 0.0,
            mean: f64::NAN,
            variance: f64::NAN,
            stddev: f64::NAN,
        };
    }
    let sum = p.total();
    let mean = sum / count;
    // With infinities the deviations are NaN; numpy reports NaN there too.
    let variance = if mean.is_finite() {
        p.m2.max(0.0) / (count - ddof).max(0.0)
    } else {
        f64::NAN
    };
    Summary {
        count,
        nan_count: p.nan_count as f64,
        min: p.min,
        max: p.max,
        sum,
        mean,
        variance,
        stddev: variance.sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d<T: Element>(v: &[T]) -> Summary {
        let s = describe(v, 0.0, &Cancel::new()).unwrap();
        // Every instruction level this CPU has gives the same counts, extremes and compensated
        // sum; the variance may differ in its last bits (lanes group the deviations differently).
        let close = |a: f64, b: f64| {
            a == b || (a - b).abs() <= 1e-12 * a.abs() || (a.is_nan() && b.is_nan())
        };
        for level in Level::available() {
            let o = describe_with(v, 0.0, &Cancel::new(), level).unwrap();
            let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
            assert!(
                same(s.count, o.count)
                    && same(s.nan_count, o.nan_count)
                    && same(s.min, o.min)
                    && same(s.max, o.max)
                    && same(s.sum, o.sum)
                    && close(s.mean, o.mean)
                    && close(s.variance, o.variance),
                "{level:?}: {s:?} vs {o:?}"
            );
        }
        s
    }

    #[test]
    fn fused_two_sum_rounds_as_two_sum() {
        // Values over 30 orders of magnitude, both signs: every sum and compensation bit-equal.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.3;
            unit * 10f64.powi(((seed >> 3) % 30) as i32 - 15)
        };
        let v: Vec<f64> = (0..40_000).map(|_| next()).collect();
        let (mut a, mut b) = ((0.0, 0.0), (0.0, 0.0));
        for &x in &v {
            a = two_sum(a.0, a.1, x);
            b = two_sum_fused(b.0, b.1, x, -1.0);
            assert_eq!(
                (a.0.to_bits(), a.1.to_bits()),
                (b.0.to_bits(), b.1.to_bits())
            );
        }
        // The block loops with and without FMA, where this CPU has both.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            for block in v.chunks(4096 + 37) {
                // SAFETY: the CPU has AVX2 and FMA.
                let (p, q) = unsafe { (block_avx2(block), block_avx2_fma(block)) };
                assert_eq!((p.sum, p.comp, p.min, p.max), (q.sum, q.comp, q.min, q.max));
                assert_eq!((p.mean, p.m2), (q.mean, q.m2));
            }
        }
    }

    #[test]
    fn levels_agree_on_mixed_blocks() {
        // Blocks with and without NaN and infinities, in every position within a block.
        let mut v: Vec<f64> = (0..100_003)
            .map(|i| ((i * 7919) % 1000) as f64 * 0.37 - 150.0)
            .collect();
        v[5] = f64::NAN;
        v[4096 * 3 + 31] = f64::NAN;
        let s = d(&v);
        assert_eq!(s.nan_count, 2.0);
        let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        d(&f);
        let i: Vec<i32> = (0..70_001).map(|i| (i * 31) % 1001 - 500).collect();
        let s = d(&i);
        assert_eq!(s.sum, i.iter().map(|&x| x as f64).sum::<f64>());
        v[77_777] = f64::INFINITY;
        assert_eq!(d(&v).sum, f64::INFINITY);
    }

    #[test]
    fn compensated_sum_survives_cancellation() {
        let v: Vec<f64> = (0..3_000_000).map(|i| [1e16, 1.0, -1e16][i % 3]).collect();
        let s = d(&v);
        assert_eq!(s.sum, 1e6);
        assert_eq!(s.count, 3e6);
    }

    #[test]
    fn variance_is_stable_far_from_zero() {
        // 1e9 + {0, 1, 2, 3}: mean 1e9 + 1.5, population variance 1.25
        let v: Vec<f64> = (0..1_000_003).map(|i| 1e9 + (i % 4) as f64).collect();
        let s = describe(&v, 0.0, &Cancel::new()).unwrap();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let exact = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        assert!(
            (s.variance - exact).abs() < 1e-9,
            "{} vs {}",
            s.variance,
            exact
        );
        assert!((s.mean - mean).abs() < 1e-6);
    }

    #[test]
    fn edges() {
        let e = d::<f64>(&[]);
        assert_eq!((e.count, e.sum), (0.0, 0.0));
        assert!(e.mean.is_nan() && e.min.is_nan() && e.variance.is_nan());

        let s = d(&[f64::NAN, 2.0, f64::NAN]);
        assert_eq!(
            (s.count, s.nan_count, s.min, s.max, s.mean, s.variance),
            (1.0, 2.0, 2.0, 2.0, 2.0, 0.0)
        );
        let s = describe(&[2.0f64], 1.0, &Cancel::new()).unwrap();
        assert!(s.variance.is_nan()); // 0 / 0, as numpy

        let s = d(&[1.0, f64::INFINITY]);
        assert_eq!(s.sum, f64::INFINITY);
        assert!(s.variance.is_nan());
        let s = d(&[f64::INFINITY, f64::NEG_INFINITY]);
        assert!(s.sum.is_nan());

        let s = d(&[-3i8, 5, 7]);
        assert_eq!((s.min, s.max, s.sum), (-3.0, 7.0, 9.0));
        let s = d(&[u64::MAX, 0]);
        assert_eq!(s.max, u64::MAX as f64);
    }

    #[test]
    fn aborts() {
        let c = Cancel::new();
        c.cancel();
        assert!(matches!(
            describe(&[1.0f64; 10], 0.0, &c),
            Err(KernelError::Aborted)
        ));
    }
}
