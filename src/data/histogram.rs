//! `histogram` with `numpy.histogram`'s semantics for equal-width bins.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::Element;
use crate::error::KernelError;
use crate::simd::{compiled_per_level, Level};

/// The most bins a histogram may have (each parallel task keeps its own counts).
pub const MAX_BINS: usize = 1 << 20;
const MIN_TASK: usize = 1 << 20;
/// At most this many elements per task, so a task's `u32` counters cannot overflow.
const MAX_TASK: usize = 1 << 30;
/// Elements between two polls of the cancel flag inside a task (well under a millisecond).
const POLL_EVERY: usize = 1 << 18;

pub struct Histogram {
    pub counts: Vec<f64>,
    pub edges: Vec<f64>,
}

/// The bin edges numpy's `linspace(lo, hi, bins + 1)` gives, bit for bit.
pub fn edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let delta = hi - lo;
    let step = delta / bins as f64;
    let mut e: Vec<f64> = (0..=bins)
        .map(|i| {
            let i = i as f64;
            if step == 0.0 {
                i / bins as f64 * delta + lo
            } else {
                i * step + lo
            }
        })
        .collect();
    e[bins] = hi;
    e
}

/// Smallest and largest finite value of `values` folded into `(lo, hi)`.
#[inline(always)]
fn fold_finite_range<T: Element>(values: &[T], range: (f64, f64)) -> (f64, f64) {
    const LANES: usize = 16;
    // Independent lanes and plain compares (not NaN-aware min/max) let this vectorise;
    // `|x| < inf` is false for NaN and both infinities.
    let mut lo = [range.0; LANES];
    let mut hi = [range.1; LANES];
    let mut groups = values.chunks_exact(LANES);
    for g in &mut groups {
        for l in 0..LANES {
            let x = g[l].to_f64();
            let finite = x.abs() < f64::INFINITY;
            lo[l] = if finite && x < lo[l] { x } else { lo[l] };
            hi[l] = if finite && x > hi[l] { x } else { hi[l] };
        }
    }
    for v in groups.remainder() {
        let x = v.to_f64();
        if x.is_finite() {
            lo[0] = lo[0].min(x);
            hi[0] = hi[0].max(x);
        }
    }
    (
        lo.into_iter().fold(f64::INFINITY, f64::min),
        hi.into_iter().fold(f64::NEG_INFINITY, f64::max),
    )
}

compiled_per_level! {
    /// [`fold_finite_range`] for the CPU's widest vectors.
    fn fold_finite_range_for<T: Element>(
        values: &[T],
        range: (f64, f64)) -> (f64,
        f64,
    ) => fold_finite_range
}

/// Smallest and largest finite value, or `None` when there is none.
fn finite_range<T: Element>(
    values: &[T],
    task: usize,
    cancel: &Cancel,
    level: Level,
) -> Result<Option<(f64, f64)>, KernelError> {
    let fold = fold_finite_range_for::<T>(level);
    let (lo, hi) = values
        .par_chunks(task)
        .map(|c| {
            let mut range = (f64::INFINITY, f64::NEG_INFINITY);
            for c in c.chunks(POLL_EVERY) {
                cancel.check()?;
                range = fold(c, range);
            }
            Ok(range)
        })
        .try_reduce(
            || (f64::INFINITY, f64::NEG_INFINITY),
            |a, b| Ok((a.0.min(b.0), a.1.max(b.1))),
        )?;
    Ok((lo <= hi).then_some((lo, hi)))
}

/// Equal-width bins whose edges are `i * step + lo` (the last one `hi`), resolved finely enough
/// that a bin estimated from `(x - lo) * scale` is off by at most one: then one comparison with
/// each neighbouring edge, computed rather than loaded, decides the bin exactly, and the whole
/// loop vectorises.
#[derive(Clone, Copy)]
struct Grid {
    lo: f64,
    hi: f64,
    step: f64,
    scale: f64,
    bins: usize,
    /// Sub-histograms minus one (0 or 3); each has `bins + 1` counters, the last for values
    /// outside the range.
    sub_mask: usize,
}

impl Grid {
    /// `None` when the edges are too close together for the one-step correction (each edge is
    /// within half an ulp of `max(|lo|, |hi|)` of its exact value; that must be far below a
    /// bin width) or `step` is 0 (numpy then computes the edges another way).
    fn new(lo: f64, hi: f64, bins: usize, sub_mask: usize) -> Option<Grid> {
        let step = (hi - lo) / bins as f64;
        let magnitude = lo.abs().max(hi.abs());
        (step > magnitude * f64::EPSILON * 4096.0 && bins < 1 << 30).then_some(Grid {
            lo,
            hi,
            step,
            scale: bins as f64 / (hi - lo),
            bins,
            sub_mask,
        })
    }
}

/// Elements whose bins are computed in one vectorised pass before they are counted.
const BATCH: usize = 64;

#[inline(always)]
fn count_grid<T: Element>(values: &[T], g: &Grid, counts: &mut [u32]) {
    let last = (g.bins - 1) as f64;
    let outside = g.bins as f64;
    let stride = g.bins + 1;
    assert!(counts.len() >= (g.sub_mask + 1) * stride);
    let bin = |x: f64| -> f64 {
        let inside = x >= g.lo && x <= g.hi;
        let y = if inside { (x - g.lo) * g.scale } else { 0.0 };
        let mut i = y.trunc().min(last);
        // Exact: bin i holds edges[i] <= x < edges[i + 1] (the last bin also x == hi).
        i = if x < i * g.step + g.lo { i - 1.0 } else { i };
        i = if i < last && x >= (i + 1.0) * g.step + g.lo {
            i + 1.0
        } else {
            i
        };
        if inside {
            i
        } else {
            outside
        }
    };
    let mut index = [0u32; BATCH];
    let mut batches = values.chunks_exact(BATCH);
    for b in &mut batches {
        for k in 0..BATCH {
            // SAFETY: the bin is an integer in [0, bins], well inside i32.
            index[k] = unsafe { bin(b[k].to_f64()).to_int_unchecked::<i32>() } as u32;
        }
        for (k, &i) in index.iter().enumerate() {
            // SAFETY: (k & sub_mask) * stride + i < (sub_mask + 1) * stride <= counts.len().
            unsafe { *counts.get_unchecked_mut((k & g.sub_mask) * stride + i as usize) += 1 };
        }
    }
    for v in batches.remainder() {
        counts[bin(v.to_f64()) as usize] += 1;
    }
}

compiled_per_level! {
    /// [`count_grid`] for the CPU's widest vectors.
    fn count_grid_for<T: Element>(values: &[T], g: &Grid, counts: &mut [u32]) => count_grid
}

/// Counts `values` into `bins` equal-width bins over `range`, or over the finite values'
/// [min, max] ([0, 1] when there are none; [v - 0.5, v + 0.5] when all equal v). Bin `i` holds
/// `edges[i] <= x < edges[i + 1]`, the last bin also `x == edges[bins]`; values outside the
/// range and NaN are not counted.
pub fn histogram<T: Element>(
    values: &[T],
    bins: usize,
    range: Option<(f64, f64)>,
    cancel: &Cancel,
) -> Result<Histogram, KernelError> {
    if !(1..=MAX_BINS).contains(&bins) {
        return Err(KernelError::OutOfRange(format!(
            "bins must be from 1 to {MAX_BINS}; received {bins}"
        )));
    }
    histogram_with(values, bins, range, cancel, Level::detect())
}

fn histogram_with<T: Element>(
    values: &[T],
    bins: usize,
    range: Option<(f64, f64)>,
    cancel: &Cancel,
    level: Level,
) -> Result<Histogram, KernelError> {
    let task = MIN_TASK
        .max(values.len().div_ceil(rayon::current_num_threads() * 4))
        .min(MAX_TASK);
    let (mut lo, mut hi) = match range {
        Some((lo, hi)) => {
            if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                return Err(KernelError::OutOfRange(format!(
                    "range must be two finite numbers [min, max] with min <= max; received [{lo}, {hi}]"
                )));
            }
            (lo, hi)
        }
        None => finite_range(values, task, cancel, level)?.unwrap_or((0.0, 1.0)),
    };
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    if !(hi - lo).is_finite() {
        return Err(KernelError::OutOfRange(format!(
            "the range [{lo:e}, {hi:e}] is wider than the largest float64; give a narrower range"
        )));
    }
    let edges = edges(lo, hi, bins);
    // Four interleaved sub-histograms when bins are few, so runs of equal values do not
    // serialise on one counter.
    const SUBS: usize = 4;
    let subs = if bins <= 4096 { SUBS } else { 1 };

    let grid = Grid::new(lo, hi, bins, subs - 1);
    let count = count_grid_for::<T>(level);
    let counts = if let Some(grid) = grid {
        values
            .par_chunks(task)
            .map(|c| {
                let stride = bins + 1;
                let mut h = vec![0u32; stride * subs];
                for c in c.chunks(POLL_EVERY) {
                    cancel.check()?;
                    count(c, &grid, &mut h);
                }
                Ok(merge_subs(&h, stride, bins))
            })
            .try_reduce(|| vec![0u64; bins], |a, b| Ok(add_counts(a, b)))?
    } else {
        histogram_by_edges(values, &edges, lo, hi, task, subs, cancel)?
    };
    Ok(Histogram {
        counts: counts.into_iter().map(|c| c as f64).collect(),
        edges,
    })
}

/// The general path: edges read from the table, and as many steps as the estimate is off.
fn histogram_by_edges<T: Element>(
    values: &[T],
    edges: &[f64],
    lo: f64,
    hi: f64,
    task: usize,
    subs: usize,
    cancel: &Cancel,
) -> Result<Vec<u64>, KernelError> {
    const SUBS: usize = 4;
    let bins = edges.len() - 1;
    let scale = bins as f64 / (hi - lo);
    let last = bins - 1;
    let bin = |x: f64| -> Option<usize> {
        if !(x >= lo && x <= hi) {
            return None;
        }
        // SAFETY: lo <= x <= hi, so the product is finite and within [0, bins + 1): a plain
        // truncating conversion (one instruction) is exact, the saturating `as` is not needed.
        let mut i = (unsafe { ((x - lo) * scale).to_int_unchecked::<i64>() } as usize).min(last);
        while i > 0 && x < edges[i] {
            i -= 1;
        }
        while i < last && x >= edges[i + 1] {
            i += 1;
        }
        Some(i)
    };
    let counts = values
        .par_chunks(task)
        .map(|c| {
            cancel.check()?;
            let mut h = vec![0u32; bins * subs];
            for c in c.chunks(POLL_EVERY) {
                cancel.check()?;
                if subs == SUBS {
                    let mut groups = c.chunks_exact(SUBS);
                    for g in &mut groups {
                        for (s, v) in g.iter().enumerate() {
                            if let Some(i) = bin(v.to_f64()) {
                                h[s * bins + i] += 1;
                            }
                        }
                    }
                    for v in groups.remainder() {
                        if let Some(i) = bin(v.to_f64()) {
                            h[i] += 1;
                        }
                    }
                } else {
                    for v in c {
                        if let Some(i) = bin(v.to_f64()) {
                            h[i] += 1;
                        }
                    }
                }
            }
            Ok(merge_subs(&h, bins, bins))
        })
        .try_reduce(|| vec![0u64; bins], |a, b| Ok(add_counts(a, b)))?;
    Ok(counts)
}

/// One task's counts: the sum of its sub-histograms, each `stride` counters long, of which the
/// first `bins` are bins (a grid's last counter collects the values outside the range).
fn merge_subs(h: &[u32], stride: usize, bins: usize) -> Vec<u64> {
    let mut merged = vec![0u64; bins];
    for part in h.chunks_exact(stride) {
        merged
            .iter_mut()
            .zip(part)
            .for_each(|(m, c)| *m += *c as u64);
    }
    merged
}

fn add_counts(mut a: Vec<u64>, b: Vec<u64>) -> Vec<u64> {
    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[f64], bins: usize, range: Option<(f64, f64)>) -> Histogram {
        let r = histogram(v, bins, range, &Cancel::new()).unwrap();
        for level in Level::available() {
            let o = histogram_with(v, bins, range, &Cancel::new(), level).unwrap();
            assert_eq!((&r.counts, &r.edges), (&o.counts, &o.edges), "{level:?}");
        }
        // The table-driven path agrees with the computed-edge one wherever both apply.
        let (lo, hi) = (r.edges[0], r.edges[bins]);
        let task = 1 << 20;
        let by_edges = histogram_by_edges(v, &r.edges, lo, hi, task, 4, &Cancel::new()).unwrap();
        let by_edges: Vec<f64> = by_edges.into_iter().map(|c| c as f64).collect();
        assert_eq!(r.counts, by_edges);
        r
    }

    #[test]
    fn computed_edges_agree_with_the_table_on_random_grids() {
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let scale = [1e-300, 1e-9, 1.0, 3.7, 1e6, 1e15, 1e300][(next() % 7) as usize];
            let a = (next() as i64 as f64) / 2f64.powi(63) * scale;
            let b = (next() as i64 as f64) / 2f64.powi(63) * scale;
            let (lo, hi) = (a.min(b), a.max(b));
            let bins = 1 + (next() % 5000) as usize;
            // Values on and next to the edges, and random ones around the range.
            let e = edges(lo, hi, bins);
            let mut v: Vec<f64> = Vec::new();
            for &x in e.iter().step_by(1 + bins / 300) {
                v.extend([x, x.next_up(), x.next_down()]);
            }
            for _ in 0..3000 {
                let t = (next() >> 11) as f64 / (1u64 << 53) as f64 * 1.2 - 0.1;
                v.push(lo + t * (hi - lo));
            }
            if hi - lo > 0.0 && (hi - lo).is_finite() {
                h(&v, bins, Some((lo, hi)));
            }
        }
    }

    #[test]
    fn edges_that_collapse_use_the_table() {
        // Bins narrower than the spacing of floats near 1e15: many edges are equal, the
        // one-step correction would not be exact, so the table path decides.
        let lo = 1e15;
        let v: Vec<f64> = (0..10_000).map(|i| lo + (i % 64) as f64 * 0.125).collect();
        let r = h(&v, 1000, Some((lo, lo + 8.0)));
        assert!(Grid::new(lo, lo + 8.0, 1000, 3).is_none());
        assert_eq!(r.counts.iter().sum::<f64>(), 10_000.0);
        for (i, &c) in r.counts.iter().enumerate() {
            let expected = v
                .iter()
                .filter(|&&x| {
                    r.edges[i] <= x && (x < r.edges[i + 1] || (i == 999 && x == r.edges[1000]))
                })
                .count();
            assert_eq!(c, expected as f64, "bin {i}");
        }
    }

    #[test]
    fn numpy_examples() {
        // np.histogram([1, 2, 1], bins=[0, 1, 2, 3]) style: equal bins over [0, 3]
        let r = h(&[1.0, 2.0, 1.0], 3, Some((0.0, 3.0)));
        assert_eq!(r.counts, vec![0.0, 2.0, 1.0]);
        assert_eq!(r.edges, vec![0.0, 1.0, 2.0, 3.0]);
        // the last bin is closed
        let r = h(&[0.0, 1.0, 1.0, 0.5], 2, None);
        assert_eq!(r.counts, vec![1.0, 3.0]);
        // all equal: [v - 0.5, v + 0.5]
        let r = h(&[5.0, 5.0], 2, None);
        assert_eq!(r.edges, vec![4.5, 5.0, 5.5]);
        assert_eq!(r.counts, vec![0.0, 2.0]);
        // NaN, infinities and out-of-range values are not counted
        let r = h(
            &[f64::NAN, f64::INFINITY, -1.0, 0.5, 9.0],
            1,
            Some((0.0, 1.0)),
        );
        assert_eq!(r.counts, vec![1.0]);
        // no finite values: [0, 1]
        let r = h(&[f64::NAN], 4, None);
        assert_eq!(r.edges[0], 0.0);
        assert_eq!(r.counts.iter().sum::<f64>(), 0.0);
    }

    #[test]
    fn every_value_lands_between_its_edges() {
        let v: Vec<f64> = (0..200_000)
            .map(|i| ((i * 7919) % 100_003) as f64 * 0.1 - 3.3)
            .collect();
        for bins in [1, 3, 10, 256, 1000] {
            let r = h(&v, bins, None);
            let mut expected = vec![0.0; bins];
            for &x in &v {
                let i = (0..bins)
                    .find(|&i| {
                        r.edges[i] <= x
                            && (x < r.edges[i + 1] || (i == bins - 1 && x == r.edges[bins]))
                    })
                    .unwrap();
                expected[i] += 1.0;
            }
            assert_eq!(r.counts, expected, "bins={bins}");
        }
    }

    #[test]
    fn bad_arguments() {
        assert!(histogram(&[1.0f64], 0, None, &Cancel::new()).is_err());
        assert!(histogram(&[1.0f64], 2, Some((1.0, 0.0)), &Cancel::new()).is_err());
        assert!(histogram(&[1.0f64], 2, Some((f64::NEG_INFINITY, 0.0)), &Cancel::new()).is_err());
        assert!(histogram(&[1.0f64], 2, Some((-f64::MAX, f64::MAX)), &Cancel::new()).is_err());
    }
}
