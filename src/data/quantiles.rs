//! `quantiles`: numpy's default ("linear", R type 7) quantiles by radix selection.
//!
//! No full sort and no copy of the whole array: one parallel pass finds the key range, one
//! counts a 16-bit digit of every key (the bits just below the prefix all keys share), and one
//! gathers only the values in the buckets that hold the wanted ranks. Those few values are
//! then selected with `select_nth_unstable`. In the worst case (one bucket holding nearly
//! everything) the gathered set is the whole array, and this is a copy plus a selection: still
//! linear time.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::Element;
use crate::error::{try_zeroed_vec, KernelError};

const TASK: usize = 1 << 18;
const DIGIT_BITS: u32 = 16;
const BUCKETS: usize = 1 << DIGIT_BITS;

#[inline(always)]
fn key_of<T: Element>(v: T) -> Option<u64> {
    let x = v.to_f64();
    if x.is_nan() {
        None
    } else {
        Some(x.key(false))
    }
}

/// One quantile per probability in `probs` (each in [0, 1]), over the non-NaN values of
/// `values`; NaN for each when there are none.
pub fn quantiles<T: Element>(
    values: &[T],
    probs: &[f64],
    cancel: &Cancel,
) -> Result<Vec<f64>, KernelError> {
    if let Some(p) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(KernelError::OutOfRange(format!(
            "probabilities must be in [0, 1]; received {p}"
        )));
    }
    // Pass 1: how many values, and the smallest and largest key.
    let (n, lo, hi) = values
        .par_chunks(TASK)
        .map(|c| {
            cancel.check()?;
            Ok(c.iter()
                .filter_map(|v| key_of(*v))
                .fold((0usize, u64::MAX, 0u64), |(n, lo, hi), k| {
                    (n + 1, lo.min(k), hi.max(k))
                }))
        })
        .try_reduce(
            || (0, u64::MAX, 0),
            |a, b| Ok((a.0 + b.0, a.1.min(b.1), a.2.max(b.2))),
        )?;
    if n == 0 {
        return Ok(vec![f64::NAN; probs.len()]);
    }
    if lo == hi {
        return Ok(vec![f64::from_key(lo, false); probs.len()]);
    }

    // The ranks each probability needs: floor(h) and the one after it, h = (n - 1) p.
    let positions: Vec<(usize, usize, f64)> = probs
        .iter()
        .map(|&p| {
            let h = (n - 1) as f64 * p;
            let below = (h.floor() as usize).min(n - 1);
            (below, (below + 1).min(n - 1), h - below as f64)
        })
        .collect();
    let mut ranks: Vec<usize> = positions.iter().flat_map(|&(a, b, _)| [a, b]).collect();
    ranks.sort_unstable();
    ranks.dedup();

    // Pass 2: a histogram of the 16 bits below the shared prefix.
    let top = 63 - (lo ^ hi).leading_zeros(); // highest bit that differs
    let shift = (top + 1).saturating_sub(DIGIT_BITS);
    // Bits above `top` are the same in every key, so these 16 bits order the buckets.
    let digit = move |k: u64| (k >> shift) as usize & (BUCKETS - 1);
    let counts = values
        .par_chunks(TASK)
        .map(|c| {
            cancel.check()?;
            let mut h = vec![0u32; BUCKETS];
            for k in c.iter().filter_map(|v| key_of(*v)) {
                h[digit(k)] += 1;
            }
            Ok(h)
        })
        .try_reduce(
            || vec![0u32; BUCKETS],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )
        .map(|h| h.into_iter().map(|c| c as usize).collect::<Vec<_>>())?;
    // A task is at most TASK values, so u32 counts per task cannot overflow; the merged
    // counts are widened above before they are summed across buckets.
    let mut start = vec![0usize; BUCKETS + 1];
    for b in 0..BUCKETS {
        start[b + 1] = start[b] + counts[b];
    }
    let bucket_of = |r: usize| start.partition_point(|&s| s <= r) - 1;
    let mut wanted = vec![false; BUCKETS];
    for &r in &ranks {
        wanted[bucket_of(r)] = true;
    }
    // Where each wanted bucket starts inside the gathered values.
    let mut gathered_start = vec![0usize; BUCKETS];
    let mut total = 0;
    for b in 0..BUCKETS {
        gathered_start[b] = total;
        if wanted[b] {
            total += counts[b];
        }
    }

    // Pass 3: gather the values of the wanted buckets.
    let parts: Vec<Vec<u64>> = values
        .par_chunks(TASK)
        .map(|c| {
            cancel.check()?;
            Ok(c.iter()
                .filter_map(|v| key_of(*v))
                .filter(|k| wanted[digit(*k)])
                .collect())
        })
        .collect::<Result<_, KernelError>>()?;
    // Place each value at its bucket's slot (counting placement, linear time): grouping by
    // bucket this way never sorts, even when one bucket holds nearly everything.
    let mut gathered = try_zeroed_vec::<u64>(total, "the quantile candidates")?;
    let mut next = gathered_start.clone();
    for part in parts {
        cancel.check()?;
        for k in part {
            let b = digit(k);
            gathered[next[b]] = k;
            next[b] += 1;
        }
    }
    let local: Vec<usize> = ranks
        .iter()
        .map(|&r| {
            let b = bucket_of(r);
            gathered_start[b] + (r - start[b])
        })
        .collect();
    multi_select(&mut gathered, &local, cancel)?;
    let value_at = |r: usize| {
        let i = ranks.binary_search(&r).expect("rank was selected");
        f64::from_key(gathered[local[i]], false)
    };

    Ok(positions
        .iter()
        .map(|&(a, b, t)| lerp(value_at(a), value_at(b), t))
        .collect())
}

/// numpy's `_lerp`: `a + (b - a) t`, computed from the nearer end for accuracy. Equal ends give
/// that value even when it is infinite (numpy's formula would give NaN there).
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b {
        return a;
    }
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Puts the element of each (sorted, distinct) rank in `ranks` at that index, as a full sort
/// would, by recursive selection.
fn multi_select(v: &mut [u64], ranks: &[usize], cancel: &Cancel) -> Result<(), KernelError> {
    fn go(v: &mut [u64], offset: usize, ranks: &[usize]) {
        if ranks.is_empty() || v.len() < 2 {
            return;
        }
        let mid = ranks.len() / 2;
        let at = ranks[mid] - offset;
        let (left, _, right) = v.select_nth_unstable(at);
        go(left, offset, &ranks[..mid]);
        go(right, offset + at + 1, &ranks[mid + 1..]);
    }
    cancel.check()?;
    go(v, 0, ranks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Definition: sort, then interpolate.
    fn reference(values: &[f64], probs: &[f64]) -> Vec<f64> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        probs
            .iter()
            .map(|&p| {
                if v.is_empty() {
                    return f64::NAN;
                }
                let h = (v.len() - 1) as f64 * p;
                let i = h.floor() as usize;
                lerp(v[i], v[(i + 1).min(v.len() - 1)], h - i as f64)
            })
            .collect()
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    #[test]
    fn matches_sort_and_interpolate() {
        let probs = [0.0, 0.001, 0.1, 0.25, 0.5, 0.5, 0.75, 0.999, 1.0];
        let mut seed = 11;
        for n in [1usize, 2, 3, 10, 1000, 300_000] {
            // wide data, clustered data, and data with NaN, all-equal runs and infinities
            let wide: Vec<f64> = (0..n)
                .map(|_| (lcg(&mut seed) as f64).sqrt() - 5e7)
                .collect();
            let clustered: Vec<f64> = (0..n)
                .map(|_| 1.0 + (lcg(&mut seed) % 3) as f64 * 1e-12)
                .collect();
            let mixed: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => -0.0,
                    _ => (lcg(&mut seed) % 100) as f64,
                })
                .collect();
            for data in [wide, clustered, mixed] {
                let got = quantiles(&data, &probs, &Cancel::new()).unwrap();
                let want = reference(&data, &probs);
                for (g, w) in got.iter().zip(&want) {
                    assert!(g == w || (g.is_nan() && w.is_nan()), "n={n}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn integer_and_empty_inputs() {
        let v: Vec<u8> = (0..=255).collect();
        assert_eq!(quantiles(&v, &[0.5], &Cancel::new()).unwrap(), vec![127.5]);
        assert!(quantiles::<f64>(&[], &[0.5], &Cancel::new()).unwrap()[0].is_nan());
        assert!(quantiles(&[f64::NAN], &[0.5], &Cancel::new()).unwrap()[0].is_nan());
        assert!(quantiles(&[1.0f64], &[1.5], &Cancel::new()).is_err());
    }
}
