//! `histogram` with `numpy.histogram`'s semantics for equal-width bins.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::Element;
use crate::error::KernelError;

/// The most bins a histogram may have (each parallel task keeps its own counts).
pub const MAX_BINS: usize = 1 << 20;
const MIN_TASK: usize = 1 << 20;
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

/// Smallest and largest finite value, or `None` when there is none.
fn finite_range<T: Element>(
    values: &[T],
    task: usize,
    cancel: &Cancel,
) -> Result<Option<(f64, f64)>, KernelError> {
    const LANES: usize = 8;
    let (lo, hi) = values
        .par_chunks(task)
        .map(|c| {
            cancel.check()?;
            // Independent lanes and plain compares (not NaN-aware min/max) let this vectorise;
            // `|x| < inf` is false for NaN and both infinities.
            let mut lo = [f64::INFINITY; LANES];
            let mut hi = [f64::NEG_INFINITY; LANES];
            for c in c.chunks(POLL_EVERY) {
                cancel.check()?;
                let mut groups = c.chunks_exact(LANES);
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
            }
            Ok((
                lo.into_iter().fold(f64::INFINITY, f64::min),
                hi.into_iter().fold(f64::NEG_INFINITY, f64::max),
            ))
        })
        .try_reduce(
            || (f64::INFINITY, f64::NEG_INFINITY),
            |a, b| Ok((a.0.min(b.0), a.1.max(b.1))),
        )?;
    Ok((lo <= hi).then_some((lo, hi)))
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
    let task = MIN_TASK.max(values.len().div_ceil(rayon::current_num_threads() * 4));
    let (mut lo, mut hi) = match range {
        Some((lo, hi)) => {
            if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                return Err(KernelError::OutOfRange(format!(
                    "range must be two finite numbers [min, max] with min <= max; received [{lo}, {hi}]"
                )));
            }
            (lo, hi)
        }
        None => finite_range(values, task, cancel)?.unwrap_or((0.0, 1.0)),
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
    let scale = bins as f64 / (hi - lo);
    let last = bins - 1;
    // The bin of x, or None outside [lo, hi] (NaN included): an estimate, then the exact edge
    // test, so bins are decided by the edges alone (the estimate is rarely off, and then by one).
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
    // Four interleaved sub-histograms when bins are few, so runs of equal values do not
    // serialise on one counter.
    const SUBS: usize = 4;
    let subs = if bins <= 4096 { SUBS } else { 1 };

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
            let mut merged = vec![0u64; bins];
            for part in h.chunks_exact(bins) {
                merged
                    .iter_mut()
                    .zip(part)
                    .for_each(|(m, c)| *m += *c as u64);
            }
            Ok(merged)
        })
        .try_reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    Ok(Histogram {
        counts: counts.into_iter().map(|c| c as f64).collect(),
        edges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[f64], bins: usize, range: Option<(f64, f64)>) -> Histogram {
        histogram(v, bins, range, &Cancel::new()).unwrap()
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
