//! `groupBy`: per-group count, sum, mean, min, max, standard deviation and quantiles of numeric
//! columns, keyed by a category column's codes or an integer column, on every core.
//!
//! Keys become dense group ids (a category's codes already are; integers are offset from their
//! minimum when their range is small, hashed otherwise). Each column is then one parallel pass
//! per chunk of rows into per-chunk accumulators, merged in order: count, a Neumaier-compensated
//! sum (as pandas sums), min and max. The standard deviation takes a second pass over the rows
//! with the means known (the corrected two-pass formula; no running division per value), and
//! quantiles a counting sort of the values by group followed by a selection in each group.
//! NaN values are skipped, as pandas skips them; rows whose key is missing belong to no group.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::Element;
use crate::error::{try_zeroed_vec, KernelError};

/// Rows per parallel task.
const TASK: usize = 1 << 16;
/// A key that is in no group (a missing category code).
pub const NO_GROUP: u32 = u32::MAX;

/// Which aggregations to compute.
#[derive(Clone, Debug, Default)]
pub struct Aggregations {
    pub count: bool,
    pub sum: bool,
    pub mean: bool,
    pub min: bool,
    pub max: bool,
    pub std: bool,
    /// Probabilities in [0, 1]: numpy's and pandas' default ("linear") quantiles.
    pub quantiles: Vec<f64>,
    /// Delta degrees of freedom of `std` (pandas' default 1).
    pub ddof: f64,
}

/// One value column's aggregations, one entry per group (None where not asked).
#[derive(Debug, Default, PartialEq)]
pub struct ColumnStats {
    pub count: Option<Vec<f64>>,
    pub sum: Option<Vec<f64>>,
    pub mean: Option<Vec<f64>>,
    pub min: Option<Vec<f64>>,
    pub max: Option<Vec<f64>>,
    pub std: Option<Vec<f64>>,
    pub quantiles: Vec<Vec<f64>>,
}

/// The fewest chunks of rows per parallel piece: each piece holds per-group accumulators, so
/// with many groups there are only about as many pieces as threads.
fn min_chunks(rows: usize, groups: usize) -> usize {
    let chunks = rows.div_ceil(TASK).max(1);
    let pieces = if groups > 1 << 16 {
        rayon::current_num_threads()
    } else {
        rayon::current_num_threads() * 4
    };
    (chunks / pieces.max(1)).max(1)
}

/// Dense group ids for the rows: `ids[i]` (or [`NO_GROUP`]), and per group the first row that
/// has it, groups ordered by key (category code, or integer value).
pub struct Groups<'k> {
    /// A category column's codes themselves when every category occurs (no copy).
    ids: Cow<'k, [u32]>,
    pub first_row: Vec<usize>,
    pub size: Vec<f64>,
}

impl Groups<'_> {
    pub fn len(&self) -> usize {
        self.first_row.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first_row.is_empty()
    }
}

/// Groups from a category column's codes (`categories` values; [`NO_GROUP`] is missing). Only
/// the categories that occur are groups, in code order.
pub fn groups_of_codes<'k>(
    codes: &'k [u32],
    categories: usize,
    cancel: &Cancel,
) -> Result<Groups<'k>, KernelError> {
    if let Some(bad) = codes
        .par_iter()
        .find_any(|&&c| c != NO_GROUP && c as usize >= categories)
    {
        return Err(KernelError::InvalidValue(format!(
            "keys.codes holds {bad}, past the {categories} values of keys.values"
        )));
    }
    compact(Cow::Borrowed(codes), categories, cancel)
}

/// Groups from integer keys, ordered by value.
pub fn groups_of_integers<K: Copy + Send + Sync + Into<i128>>(
    keys: &[K],
    cancel: &Cancel,
) -> Result<Groups<'static>, KernelError> {
    let (lo, hi) = keys
        .par_chunks(TASK)
        .map(|c| {
            c.iter().fold((i128::MAX, i128::MIN), |(lo, hi), &k| {
                let k: i128 = k.into();
                (lo.min(k), hi.max(k))
            })
        })
        .reduce(
            || (i128::MAX, i128::MIN),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        );
    if keys.is_empty() {
        return compact(Cow::Owned(Vec::new()), 0, cancel);
    }
    let range = (hi - lo) as u128;
    let mut ids: Vec<u32> = try_zeroed_vec(keys.len(), "the group ids")?;
    if range < (keys.len() as u128 * 4).max(1 << 20).min(u32::MAX as u128) {
        // A small range: the key minus the minimum is the id.
        ids.par_chunks_mut(TASK)
            .zip(keys.par_chunks(TASK))
            .try_for_each(|(out, k)| {
                cancel.check()?;
                for (o, &k) in out.iter_mut().zip(k) {
                    *o = (k.into() - lo) as u32;
                }
                Ok::<_, KernelError>(())
            })?;
        return compact(Cow::Owned(ids), range as usize + 1, cancel);
    }
    // A wide range: hash to ids in order of first appearance, then renumber by value.
    let mut table: hashbrown::HashMap<i128, u32> = hashbrown::HashMap::new();
    let mut distinct: Vec<i128> = Vec::new();
    for (i, (o, &k)) in ids.iter_mut().zip(keys).enumerate() {
        if i % TASK == 0 {
            cancel.check()?;
        }
        let k: i128 = k.into();
        *o = *table.entry(k).or_insert_with(|| {
            distinct.push(k);
            (distinct.len() - 1) as u32
        });
    }
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_unstable_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    ids.par_iter_mut().for_each(|id| *id = rank[*id as usize]);
    compact(Cow::Owned(ids), distinct.len(), cancel)
}

/// Drops ids no row has and renumbers the rest densely, keeping their order.
fn compact<'k>(
    ids: Cow<'k, [u32]>,
    space: usize,
    cancel: &Cancel,
) -> Result<Groups<'k>, KernelError> {
    // Per id: the first row that has it, and how many rows.
    let none = usize::MAX;
    let (first, size) = ids
        .par_chunks(TASK)
        .enumerate()
        .with_min_len(min_chunks(ids.len(), space))
        .try_fold(
            || (vec![none; space], vec![0f64; space]),
            |(mut first, mut size), (c, chunk)| {
                cancel.check()?;
                for (j, &id) in chunk.iter().enumerate() {
                    if id != NO_GROUP {
                        let f = &mut first[id as usize];
                        *f = (*f).min(c * TASK + j);
                        size[id as usize] += 1.0;
                    }
                }
                Ok::<_, KernelError>((first, size))
            },
        )
        .try_reduce(
            || (vec![none; space], vec![0f64; space]),
            |(mut f1, mut s1), (f2, s2)| {
                for i in 0..space {
                    f1[i] = f1[i].min(f2[i]);
                    s1[i] += s2[i];
                }
                Ok((f1, s1))
            },
        )?;
    let mut renumber = vec![NO_GROUP; space];
    let mut first_row = Vec::new();
    let mut sizes = Vec::new();
    for id in 0..space {
        if size[id] > 0.0 {
            renumber[id] = first_row.len() as u32;
            first_row.push(first[id]);
            sizes.push(size[id]);
        }
    }
    let renumbered = |id: &u32| match *id {
        NO_GROUP => NO_GROUP,
        id => renumber[id as usize],
    };
    let ids = match ids {
        _ if first_row.len() == space => ids,
        Cow::Owned(mut ids) => {
            ids.par_iter_mut().for_each(|id| *id = renumbered(id));
            Cow::Owned(ids)
        }
        Cow::Borrowed(codes) => {
            let mut ids = try_zeroed_vec(codes.len(), "the group ids")?;
            ids.par_iter_mut()
                .zip(codes.par_iter())
                .for_each(|(id, code)| *id = renumbered(code));
            Cow::Owned(ids)
        }
    };
    Ok(Groups {
        ids,
        first_row,
        size: sizes,
    })
}

/// Per-group partial sums of one chunk of rows.
#[derive(Clone)]
struct Partial {
    n: Vec<f64>,
    sum: Vec<f64>,
    comp: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Partial {
    fn new(groups: usize) -> Self {
        Self {
            n: vec![0.0; groups],
            sum: vec![0.0; groups],
            comp: vec![0.0; groups],
            min: vec![f64::INFINITY; groups],
            max: vec![f64::NEG_INFINITY; groups],
        }
    }

    fn merge(mut self, other: Self) -> Self {
        for g in 0..self.n.len() {
            self.n[g] += other.n[g];
            neumaier(&mut self.sum[g], &mut self.comp[g], other.sum[g]);
            self.comp[g] += other.comp[g];
            self.min[g] = self.min[g].min(other.min[g]);
            self.max[g] = self.max[g].max(other.max[g]);
        }
        self
    }
}

/// Adds `x` to the compensated sum `(sum, comp)`.
#[inline(always)]
fn neumaier(sum: &mut f64, comp: &mut f64, x: f64) {
    let t = *sum + x;
    if sum.abs() >= x.abs() {
        *comp += (*sum - t) + x;
    } else {
        *comp += (x - t) + *sum;
    }
    *sum = t;
}

/// The aggregations of `values` (one per row) by `groups`. Progress: rows, once per pass.
pub fn aggregate<V: Element>(
    groups: &Groups<'_>,
    values: &[V],
    what: &Aggregations,
    cancel: &Cancel,
) -> Result<ColumnStats, KernelError> {
    let g = groups.len();
    let ids = &groups.ids;
    let partial = ids
        .par_chunks(TASK)
        .zip(values.par_chunks(TASK))
        .with_min_len(min_chunks(ids.len(), g))
        .try_fold(
            || Partial::new(g),
            |mut p, (ids, values)| {
                cancel.check()?;
                for (&id, &v) in ids.iter().zip(values) {
                    let x = v.to_f64();
                    if id == NO_GROUP || x.is_nan() {
                        continue;
                    }
                    let i = id as usize;
                    p.n[i] += 1.0;
                    neumaier(&mut p.sum[i], &mut p.comp[i], x);
                    p.min[i] = p.min[i].min(x);
                    p.max[i] = p.max[i].max(x);
                }
                cancel.advance(ids.len() as u64);
                Ok::<_, KernelError>(p)
            },
        )
        .try_reduce(|| Partial::new(g), |a, b| Ok(a.merge(b)))?;
    let n = &partial.n;
    // An infinite sum makes the compensation NaN (inf - inf): it is the sum as it is.
    let sum: Vec<f64> = (0..g)
        .map(|i| {
            let s = partial.sum[i];
            if s.is_finite() {
                s + partial.comp[i]
            } else {
                s
            }
        })
        .collect();
    let mean: Vec<f64> = (0..g)
        .map(|i| if n[i] > 0.0 { sum[i] / n[i] } else { f64::NAN })
        .collect();
    let empty_nan = |v: &[f64]| -> Vec<f64> {
        (0..g)
            .map(|i| if n[i] > 0.0 { v[i] } else { f64::NAN })
            .collect()
    };
    let std = if what.std {
        Some(deviation(groups, values, &mean, n, what.ddof, cancel)?)
    } else {
        None
    };
    let quantiles = if what.quantiles.is_empty() {
        Vec::new()
    } else {
        group_quantiles(groups, values, n, &what.quantiles, cancel)?
    };
    Ok(ColumnStats {
        count: what.count.then(|| n.clone()),
        min: what.min.then(|| empty_nan(&partial.min)),
        max: what.max.then(|| empty_nan(&partial.max)),
        std,
        quantiles,
        mean: what.mean.then_some(mean),
        sum: what.sum.then_some(sum),
    })
}

/// Standard deviation per group: sum of squared deviations from the mean, corrected by the
/// deviations' own sum (which is zero in exact arithmetic), divided by n - ddof.
fn deviation<V: Element>(
    groups: &Groups<'_>,
    values: &[V],
    mean: &[f64],
    n: &[f64],
    ddof: f64,
    cancel: &Cancel,
) -> Result<Vec<f64>, KernelError> {
    let g = groups.len();
    let (m2, dev) = groups
        .ids
        .par_chunks(TASK)
        .zip(values.par_chunks(TASK))
        .with_min_len(min_chunks(groups.ids.len(), g))
        .try_fold(
            || (vec![0.0; g], vec![0.0; g]),
            |(mut m2, mut dev), (ids, values)| {
                cancel.check()?;
                for (&id, &v) in ids.iter().zip(values) {
                    let x = v.to_f64();
                    if id == NO_GROUP || x.is_nan() {
                        continue;
                    }
                    let d = x - mean[id as usize];
                    m2[id as usize] += d * d;
                    dev[id as usize] += d;
                }
                Ok::<_, KernelError>((m2, dev))
            },
        )
        .try_reduce(
            || (vec![0.0; g], vec![0.0; g]),
            |(mut a, mut b), (c, d)| {
                for i in 0..g {
                    a[i] += c[i];
                    b[i] += d[i];
                }
                Ok((a, b))
            },
        )?;
    Ok((0..g)
        .map(|i| {
            let dof = n[i] - ddof;
            if dof <= 0.0 {
                return f64::NAN;
            }
            if mean[i].is_infinite() || m2[i].is_nan() {
                return f64::NAN;
            }
            ((m2[i] - dev[i] * dev[i] / n[i]).max(0.0) / dof).sqrt()
        })
        .collect())
}

/// Quantiles per group: the values counting-sorted by group (NaN left out), then each group's
/// ranks selected in place.
fn group_quantiles<V: Element>(
    groups: &Groups<'_>,
    values: &[V],
    n: &[f64],
    probs: &[f64],
    cancel: &Cancel,
) -> Result<Vec<Vec<f64>>, KernelError> {
    let g = groups.len();
    let total: usize = n.iter().map(|&c| c as usize).sum();
    let mut start = Vec::with_capacity(g + 1);
    start.push(0usize);
    for &c in n {
        start.push(start.last().unwrap() + c as usize);
    }
    let mut sorted: Vec<f64> = try_zeroed_vec(total, "the values sorted by group")?;
    let mut at = start.clone();
    for (i, (&id, &v)) in groups.ids.iter().zip(values).enumerate() {
        if i % (TASK * 4) == 0 {
            cancel.check()?;
        }
        let x = v.to_f64();
        if id != NO_GROUP && !x.is_nan() {
            sorted[at[id as usize]] = x;
            at[id as usize] += 1;
        }
    }
    // Each group's slice, selected on its own.
    let mut slices: Vec<&mut [f64]> = Vec::with_capacity(g);
    let mut rest: &mut [f64] = &mut sorted;
    for i in 0..g {
        let (head, tail) = rest.split_at_mut(start[i + 1] - start[i]);
        slices.push(head);
        rest = tail;
    }
    let per_group: Vec<Vec<f64>> = slices
        .into_par_iter()
        .map(|s| {
            cancel.check()?;
            Ok(select_quantiles(s, probs))
        })
        .collect::<Result<_, KernelError>>()?;
    Ok((0..probs.len())
        .map(|q| per_group.iter().map(|v| v[q]).collect())
        .collect())
}

/// numpy's "linear" quantiles of `s` (no NaN), by selection; NaN for an empty `s`.
fn select_quantiles(s: &mut [f64], probs: &[f64]) -> Vec<f64> {
    let n = s.len();
    probs
        .iter()
        .map(|&p| {
            if n == 0 {
                return f64::NAN;
            }
            let pos = p * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let frac = pos - lo as f64;
            let (_, &mut a, right) = s.select_nth_unstable_by(lo, f64::total_cmp);
            if frac == 0.0 || right.is_empty() {
                return a;
            }
            let b = right.iter().copied().fold(f64::INFINITY, f64::min);
            // numpy's lerp: exact at both ends.
            if frac >= 0.5 {
                b - (b - a) * (1.0 - frac)
            } else {
                a + (b - a) * frac
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(keys: &[i32], values: &[f64]) -> std::collections::BTreeMap<i32, Vec<f64>> {
        let mut m: std::collections::BTreeMap<i32, Vec<f64>> = Default::default();
        for (&k, &v) in keys.iter().zip(values) {
            let e = m.entry(k).or_default();
            if !v.is_nan() {
                e.push(v);
            }
        }
        m
    }

    #[test]
    fn matches_a_plain_reference() {
        let n = 300_000;
        let mut x = 7u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for spread in [5i64, 1000, 1 << 40] {
            let keys: Vec<i64> = (0..n)
                .map(|_| (rnd() % 37) as i64 * spread - 3 * spread)
                .collect();
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 101 == 0 {
                        f64::NAN
                    } else {
                        (rnd() % 100_000) as f64 / 7.0 - 5000.0
                    }
                })
                .collect();
            let c = Cancel::new();
            let groups = groups_of_integers(&keys, &c).unwrap();
            let what = Aggregations {
                count: true,
                sum: true,
                mean: true,
                min: true,
                max: true,
                std: true,
                quantiles: vec![0.0, 0.5, 0.99, 1.0],
                ddof: 1.0,
            };
            let stats = aggregate(&groups, &values, &what, &c).unwrap();
            let small: Vec<i32> = keys.iter().map(|&k| (k / spread) as i32).collect();
            let want = reference(&small, &values);
            assert_eq!(groups.len(), want.len());
            for (gi, (k, vals)) in want.iter().enumerate() {
                assert_eq!(keys[groups.first_row[gi]] / spread, *k as i64);
                let cnt = vals.len() as f64;
                let sum: f64 = vals.iter().sum();
                let mean = sum / cnt;
                let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (cnt - 1.0);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
                let s = &stats;
                assert_eq!(s.count.as_ref().unwrap()[gi], cnt);
                assert!(close(s.sum.as_ref().unwrap()[gi], sum));
                assert!(close(s.mean.as_ref().unwrap()[gi], mean));
                assert!(close(s.std.as_ref().unwrap()[gi], var.sqrt()));
                let mut sorted = vals.clone();
                sorted.sort_by(f64::total_cmp);
                assert_eq!(s.min.as_ref().unwrap()[gi], sorted[0]);
                assert_eq!(s.max.as_ref().unwrap()[gi], *sorted.last().unwrap());
                assert_eq!(s.quantiles[0][gi], sorted[0]);
                assert_eq!(s.quantiles[3][gi], *sorted.last().unwrap());
                let pos = 0.5 * (cnt - 1.0);
                let (lo, f) = (pos.floor() as usize, pos - pos.floor());
                let med = sorted[lo] + (sorted[(lo + 1).min(sorted.len() - 1)] - sorted[lo]) * f;
                assert!(close(s.quantiles[1][gi], med));
            }
        }
    }

    #[test]
    fn codes_missing_keys_and_empty_groups() {
        let c = Cancel::new();
        let codes = [2u32, NO_GROUP, 2, 0, 2];
        let g = groups_of_codes(&codes, 4, &c).unwrap();
        assert_eq!(g.first_row, vec![3, 0]);
        assert_eq!(g.size, vec![1.0, 3.0]);
        let values = [1.0, 100.0, f64::NAN, 5.0, 3.0];
        let what = Aggregations {
            count: true,
            mean: true,
            std: true,
            ddof: 1.0,
            ..Default::default()
        };
        let s = aggregate(&g, &values, &what, &c).unwrap();
        assert_eq!(s.count.unwrap(), vec![1.0, 2.0]);
        assert_eq!(s.mean.unwrap(), vec![5.0, 2.0]);
        let std = s.std.unwrap();
        assert!(std[0].is_nan());
        assert!((std[1] - 2f64.sqrt()).abs() < 1e-15);
        assert!(groups_of_codes(&[5], 4, &c).is_err());
        let empty = groups_of_integers::<i32>(&[], &c).unwrap();
        assert!(empty.is_empty());
    }
}
