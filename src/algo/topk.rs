//! `topK`: exact nearest-neighbour search. One query (or a few) is a scan of the stored
//! vectors, split over the pool, each part keeping its own best k; many queries are a matrix
//! product in blocks of stored rows (`matmul`'s tiles of faer's GEMM), each block's scores folded into
//! every query's best k by partial selection, never a full sort.
//!
//! Order: best first (largest score for cosine and dot, smallest for l2), ties to the lower
//! row index; a NaN score ranks after every number. Cosine with a zero vector (stored or
//! query) scores NaN, so it ranks last without disturbing the others.

use std::cmp::Ordering;

use faer::{MatMut, MatRef};
use rayon::prelude::*;

use super::matmul::{product, Scalar};
use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError};
use crate::simd::{compiled_per_level, Level};

/// How vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    Dot,
    /// Squared Euclidean distance: smaller is nearer.
    L2,
}

impl Metric {
    pub fn parse(name: &str) -> Result<Self, KernelError> {
        Ok(match name {
            "cosine" => Metric::Cosine,
            "dot" => Metric::Dot,
            "l2" => Metric::L2,
            _ => {
                return Err(KernelError::InvalidValue(format!(
                    "metric must be one of cosine, dot, l2; received '{name}'"
                )))
            }
        })
    }
}

/// The float types `topK` takes, with what the kernel needs beyond `matmul`'s.
pub trait Element: Scalar + PartialOrd + std::ops::AddAssign {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}
impl Element for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}
impl Element for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

/// A candidate: score and row.
#[derive(Clone, Copy)]
struct Hit<T> {
    score: T,
    row: u32,
}

/// `a` before `b` in the result: the better score, NaN last, then the lower row.
fn better<T: Element>(a: &Hit<T>, b: &Hit<T>, larger_first: bool) -> Ordering {
    let (an, bn) = (a.score.to_f64().is_nan(), b.score.to_f64().is_nan());
    match (an, bn) {
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {
            let o = a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal);
            let o = if larger_first { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        _ => {}
    }
    a.row.cmp(&b.row)
}

/// The best k of a stream of candidates: a buffer cut back to k by selection when it fills.
struct Best<T> {
    k: usize,
    larger_first: bool,
    hits: Vec<Hit<T>>,
    /// The worst score kept at the last cut, once k are kept: a later candidate that is not
    /// strictly better cannot enter (rows arrive in increasing order, so a tie loses too).
    threshold: Option<T>,
}

impl<T: Element> Best<T> {
    /// A buffer for at most `pushes` candidates. Its room is reserved here, fallibly (a
    /// failed allocation is an error, never an abort): at most twice `k` (at least 2,048) or
    /// `pushes`, what `push` can fill before a cut, so `push` never reallocates.
    fn new(k: usize, larger_first: bool, pushes: usize) -> Result<Self, KernelError> {
        let mut hits = Vec::new();
        let room = Self::cut_at(k).min(pushes.saturating_add(1));
        crate::error::try_reserve(&mut hits, room, "the best candidates")?;
        Ok(Self {
            k,
            larger_first,
            hits,
            threshold: None,
        })
    }

    /// The buffer's length at which it is cut back to k.
    fn cut_at(k: usize) -> usize {
        2 * k.max(1024)
    }

    #[inline]
    fn push(&mut self, score: T, row: u32) {
        if let Some(t) = self.threshold {
            let worse = if t.to_f64().is_nan() {
                score.to_f64().is_nan()
            } else if self.larger_first {
                score.partial_cmp(&t) != Some(Ordering::Greater)
            } else {
                score.partial_cmp(&t) != Some(Ordering::Less)
            };
            if worse {
                return;
            }
        }
        self.hits.push(Hit { score, row });
        if self.hits.len() >= Self::cut_at(self.k) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.hits.len() > self.k {
            let lf = self.larger_first;
            self.hits
                .select_nth_unstable_by(self.k - 1, |a, b| better(a, b, lf));
            self.hits.truncate(self.k);
        }
        if self.hits.len() == self.k {
            let lf = self.larger_first;
            let worst = self
                .hits
                .iter()
                .max_by(|a, b| better(a, b, lf))
                .map(|h| h.score);
            self.threshold = worst;
        }
    }

    fn merge(mut self, other: Best<T>) -> Result<Self, KernelError> {
        crate::error::try_reserve(&mut self.hits, other.hits.len(), "the best candidates")?;
        self.hits.extend(other.hits);
        self.cut();
        Ok(self)
    }

    fn finish(mut self) -> Vec<Hit<T>> {
        self.cut();
        let lf = self.larger_first;
        self.hits.sort_unstable_by(|a, b| better(a, b, lf));
        self.hits
    }
}

/// Independent partial sums per loop: one or two vectors' worth (AVX-512, AVX2), summed in a
/// fixed order at the end, so results do not depend on the instruction set or the thread.
/// Written with `chunks_exact` and a plain sum: an indexed form with 32 lanes and a pairwise
/// sum compiled to a loop that streamed at 16 GB/s where this one reaches 22-25 (1M x 384
/// float32 on a 2-vCPU Xeon).
const LANES: usize = 16;

#[inline(always)]
fn dot<T: Element>(a: &[T], b: &[T]) -> T {
    let zero = T::from_f64(0.0);
    let mut acc = [zero; LANES];
    let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut tail = zero;
    for (&x, &y) in xs.remainder().iter().zip(ys.remainder()) {
        tail += x * y;
    }
    for (x, y) in xs.zip(ys) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().fold(zero, |s, &v| s + v) + tail
}

/// Lanes of `dot_and_norm`, whose indexed form with a pairwise sum measured faster for it
/// (cosine over 1M x 384 float32: 64 ms, against 107 ms in the form of `dot`).
const NORM_LANES: usize = 32;

/// Sums the lanes pairwise (a fixed order: results do not depend on the thread).
fn lane_sum<T: Element>(v: &[T; NORM_LANES]) -> T {
    let mut w = *v;
    let mut n = NORM_LANES;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            w[i] += w[i + n];
        }
    }
    w[0]
}

/// `(a . b, a . a)` in one pass over `a`.
#[inline(always)]
fn dot_and_norm<T: Element>(a: &[T], b: &[T]) -> (T, T) {
    let zero = T::from_f64(0.0);
    let (mut d, mut n) = ([zero; NORM_LANES], [zero; NORM_LANES]);
    let chunks = a.len() / NORM_LANES;
    for c in 0..chunks {
        let (x, y) = (
            &a[c * NORM_LANES..(c + 1) * NORM_LANES],
            &b[c * NORM_LANES..(c + 1) * NORM_LANES],
        );
        for l in 0..NORM_LANES {
            d[l] += x[l] * y[l];
            n[l] += x[l] * x[l];
        }
    }
    let (mut ds, mut ns) = (zero, zero);
    for i in chunks * NORM_LANES..a.len() {
        ds += a[i] * b[i];
        ns += a[i] * a[i];
    }
    (lane_sum(&d) + ds, lane_sum(&n) + ns)
}

/// The score of a stored row from its dot product with the query and their norms.
#[inline(always)]
fn score<T: Element>(metric: Metric, dot: T, row_norm: T, query_norm: T) -> T {
    match metric {
        Metric::Dot => dot,
        // row_norm and query_norm hold inverse norms (NaN for a zero vector).
        Metric::Cosine => dot * row_norm * query_norm,
        // row_norm and query_norm hold squared norms.
        Metric::L2 => {
            let d = row_norm + query_norm - T::from_f64(2.0) * dot;
            if d < T::from_f64(0.0) {
                T::from_f64(0.0)
            } else {
                d
            }
        }
    }
}

/// Per row: the inverse norm (cosine; NaN for a zero vector) or the squared norm (l2).
fn norms<T: Element>(data: &[T], cols: usize, metric: Metric) -> Result<Vec<T>, KernelError> {
    let rows = data.len().checked_div(cols).unwrap_or(0);
    let mut out = try_zeroed_vec::<T>(rows, "the norms")?;
    out.par_iter_mut().enumerate().for_each(|(r, n)| {
        let v = &data[r * cols..(r + 1) * cols];
        let sq = dot(v, v);
        *n = match metric {
            Metric::Cosine => {
                let norm = sq.to_f64().sqrt();
                T::from_f64(if norm == 0.0 { f64::NAN } else { 1.0 / norm })
            }
            _ => sq,
        };
    });
    Ok(out)
}

/// Stored rows `from..to` of `vectors` (`cols` wide).
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    vectors: &'a [T],
    cols: usize,
    from: usize,
    to: usize,
}

/// Scores `rows` against `query` into `best`. Compiled once per instruction set (below) and
/// picked at run time: the baseline (SSE) build of this loop ran 3x slower on a thread whose
/// AVX-512 registers another kernel (faer's GEMM) had left dirty.
#[inline(always)]
fn scan_rows<T: Element>(
    rows: Rows<'_, T>,
    query: &[T],
    metric: Metric,
    query_norm: T,
    best: &mut Best<T>,
) {
    let cols = rows.cols;
    // Rows ahead are asked for before they are read (see `simd::prefetch`).
    let row_bytes = cols * std::mem::size_of::<T>();
    let ahead = (crate::simd::PREFETCH_AHEAD / row_bytes.max(1)).max(1);
    for r in rows.from..rows.to {
        let next = rows.vectors.as_ptr().wrapping_add((r + ahead) * cols);
        crate::simd::prefetch(next as *const u8, row_bytes);
        let v = &rows.vectors[r * cols..(r + 1) * cols];
        let s = match metric {
            Metric::Dot => dot(v, query),
            // The row's norm in the same pass as its dot product: one read.
            Metric::Cosine => {
                let (d, sq) = dot_and_norm(v, query);
                let n = sq.to_f64().sqrt();
                if n == 0.0 {
                    T::from_f64(f64::NAN)
                } else {
                    d * T::from_f64(1.0 / n) * query_norm
                }
            }
            Metric::L2 => {
                let (d, sq) = dot_and_norm(v, query);
                score(metric, d, sq, query_norm)
            }
        };
        best.push(s, r as u32);
    }
}

compiled_per_level! {
    /// The scan compiled for `level`, which the CPU must support. No FMA in any of them: the
    /// products and sums round the same way at every level (and on arm64), so results are equal.
    fn scan_for<T: Element>(
        rows: Rows<'_, T>,
        query: &[T],
        metric: Metric,
        query_norm: T,
        best: &mut Best<T>,
    ) => scan_rows
}

/// The k best rows of `vectors` (rows x cols, row-major) for each of `nq` queries (nq x cols),
/// as (rows, scores), query after query, `min(k, rows)` each. Progress: stored rows scanned,
/// summed over queries.
#[allow(clippy::too_many_arguments)]
pub fn top_k<T: Element>(
    vectors: &[T],
    rows: usize,
    cols: usize,
    queries: &[T],
    nq: usize,
    k: usize,
    metric: Metric,
    cancel: &Cancel,
) -> Result<(Vec<u32>, Vec<T>), KernelError> {
    if rows.checked_mul(cols) != Some(vectors.len()) || nq.checked_mul(cols) != Some(queries.len())
    {
        return Err(KernelError::OutOfRange(
            "the shapes do not match the data".into(),
        ));
    }
    if rows > u32::MAX as usize {
        return Err(KernelError::OutOfRange(format!(
            "at most {} stored vectors",
            u32::MAX
        )));
    }
    if k == 0 {
        return Err(KernelError::OutOfRange("k must be at least 1".into()));
    }
    let k = k.min(rows);
    cancel.set_total((rows as u64).saturating_mul(nq as u64));
    let out_len = nq
        .checked_mul(k)
        .ok_or_else(|| KernelError::OutOfRange("nq * k is too large".into()))?;
    let mut indices = try_zeroed_vec::<u32>(out_len, "the indices")?;
    let mut scores = try_zeroed_vec::<T>(out_len, "the scores")?;
    if k == 0 || nq == 0 {
        return Ok((indices, scores));
    }
    let larger_first = metric != Metric::L2;
    let scan = nq < 4 || cols == 0;
    // Stored norms for the GEMM path only (the scan reads them in the same pass).
    let row_norms = if metric == Metric::Dot || scan {
        Vec::new()
    } else {
        norms(vectors, cols, metric)?
    };
    let query_norms = if metric == Metric::Dot {
        Vec::new()
    } else {
        norms(queries, cols, metric)?
    };
    let norm = |v: &Vec<T>, i: usize| if v.is_empty() { T::from_f64(0.0) } else { v[i] };
    let level = Level::detect();
    let results: Vec<Vec<Hit<T>>> = if scan {
        // A scan per query: parts of the stored rows in parallel, each with its own best k.
        let mut all = Vec::with_capacity(nq);
        for q in 0..nq {
            let query = &queries[q * cols..(q + 1) * cols];
            let qn = norm(&query_norms, q);
            const PART: usize = 16 << 10;
            let best = (0..rows.div_ceil(PART))
                .into_par_iter()
                .map(|p| {
                    cancel.check()?;
                    let (from, to) = (p * PART, ((p + 1) * PART).min(rows));
                    let mut best = Best::new(k, larger_first, to - from)?;
                    let rows = Rows {
                        vectors,
                        cols,
                        from,
                        to,
                    };
                    scan_for(level)(rows, query, metric, qn, &mut best);
                    cancel.advance((to - from) as u64);
                    Ok(best)
                })
                .try_reduce_with(|a, b| a.merge(b))
                .unwrap_or_else(|| Best::new(k, larger_first, 0))?;
            all.push(best.finish());
        }
        all
    } else {
        // Many queries: scores of a block of stored rows for all queries at once (GEMM), then
        // each query's best k updated from its row of the block, queries in parallel.
        let block_rows = ((32 << 20) / (nq * std::mem::size_of::<T>())).clamp(256, 8192);
        let mut bests: Vec<Best<T>> = (0..nq)
            .map(|_| Best::new(k, larger_first, rows))
            .collect::<Result<_, KernelError>>()?;
        let mut block = try_zeroed_vec::<T>(nq * block_rows.min(rows), "a block of scores")?;
        let q = MatRef::from_row_major_slice(queries, nq, cols);
        for start in (0..rows).step_by(block_rows) {
            cancel.check()?;
            let n = block_rows.min(rows - start);
            let v =
                MatRef::from_row_major_slice(&vectors[start * cols..(start + n) * cols], n, cols);
            let dst = MatMut::from_row_major_slice_mut(&mut block[..nq * n], nq, n);
            product(dst, q, v.transpose(), cancel, &|_, _, _| {})?;
            let block = &block[..nq * n];
            bests.par_iter_mut().enumerate().for_each(|(qi, best)| {
                let qn = norm(&query_norms, qi);
                for (j, &d) in block[qi * n..(qi + 1) * n].iter().enumerate() {
                    let r = start + j;
                    best.push(score(metric, d, norm(&row_norms, r), qn), r as u32);
                }
            });
            cancel.advance((n * nq) as u64);
        }
        bests.into_iter().map(Best::finish).collect()
    };
    for (q, hits) in results.into_iter().enumerate() {
        for (i, h) in hits.into_iter().enumerate() {
            indices[q * k + i] = h.row;
            scores[q * k + i] = h.score;
        }
    }
    Ok((indices, scores))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        v: &[f64],
        rows: usize,
        cols: usize,
        q: &[f64],
        k: usize,
        metric: Metric,
    ) -> Vec<u32> {
        let mut hits: Vec<(f64, u32)> = (0..rows)
            .map(|r| {
                let a = &v[r * cols..(r + 1) * cols];
                let d: f64 = a.iter().zip(q).map(|(x, y)| x * y).sum();
                let s = match metric {
                    Metric::Dot => d,
                    Metric::Cosine => {
                        let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
                        let nq = q.iter().map(|x| x * x).sum::<f64>().sqrt();
                        if na == 0.0 || nq == 0.0 {
                            f64::NAN
                        } else {
                            d / (na * nq)
                        }
                    }
                    Metric::L2 => a.iter().zip(q).map(|(x, y)| (x - y) * (x - y)).sum(),
                };
                (s, r as u32)
            })
            .collect();
        let lf = metric != Metric::L2;
        hits.sort_by(|a, b| {
            better(
                &Hit {
                    score: a.0,
                    row: a.1,
                },
                &Hit {
                    score: b.0,
                    row: b.1,
                },
                lf,
            )
        });
        hits.into_iter().take(k).map(|h| h.1).collect()
    }

    #[test]
    fn every_compiled_scan_scores_bit_for_bit_alike() {
        // The baseline, AVX2 and AVX-512 builds of the scan (those this CPU runs) round the
        // same way: no FMA, the same lanes, the same order of sums.
        let (rows, cols) = (3000, 77);
        let mut x = 7u64;
        let mut rnd = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let v: Vec<f32> = (0..rows * cols).map(|_| rnd()).collect();
        let q: Vec<f32> = (0..cols).map(|_| rnd()).collect();
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2] {
            let run = |level: Level| {
                let mut best = Best::new(rows, metric != Metric::L2, rows).unwrap();
                let part = Rows {
                    vectors: &v,
                    cols,
                    from: 0,
                    to: rows,
                };
                scan_for(level)(part, &q, metric, 0.75, &mut best);
                best.finish()
                    .into_iter()
                    .map(|h| (h.row, h.score.to_bits()))
                    .collect::<Vec<_>>()
            };
            let base = run(Level::Base);
            assert_eq!(base.len(), rows);
            for level in Level::available() {
                assert_eq!(run(level), base, "{level:?} {metric:?}");
            }
        }
    }

    #[test]
    fn scan_and_gemm_paths_match_a_reference() {
        let (rows, cols) = (3000, 17);
        let mut x = 1u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        // Integers, so that every path computes exact scores and the orders compare exactly.
        let v: Vec<f64> = (0..rows * cols).map(|_| (next() * 8.0).round()).collect();
        let q: Vec<f64> = (0..10 * cols).map(|_| (next() * 8.0).round()).collect();
        let c = Cancel::new();
        for metric in [Metric::Dot, Metric::L2, Metric::Cosine] {
            for nq in [1, 10] {
                let (idx, _) = top_k(&v, rows, cols, &q[..nq * cols], nq, 25, metric, &c).unwrap();
                for qi in 0..nq {
                    let want =
                        reference(&v, rows, cols, &q[qi * cols..(qi + 1) * cols], 25, metric);
                    let got = &idx[qi * 25..(qi + 1) * 25];
                    if metric == Metric::Cosine {
                        // Cosine scores are not exact: compare as sets of the top 20.
                        let mut a = got[..20].to_vec();
                        let mut b = want[..20].to_vec();
                        a.sort();
                        b.sort();
                        let common = a.iter().filter(|r| b.contains(r)).count();
                        assert!(common >= 18, "{metric:?} nq {nq}");
                    } else {
                        assert_eq!(got, &want[..], "{metric:?} nq {nq} query {qi}");
                    }
                }
            }
        }
    }

    #[test]
    fn zero_vectors_nan_and_ties() {
        let c = Cancel::new();
        // Rows: a duplicate pair, a zero vector, a NaN.
        let v = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, f64::NAN, 1.0, 0.5, 0.5];
        let (idx, s) = top_k(&v, 5, 2, &[1.0, 0.0], 1, 10, Metric::Cosine, &c).unwrap();
        assert_eq!(idx, vec![0, 1, 4, 2, 3]); // ties by row; NaN (zero vector, NaN data) last
        assert!(s[3].is_nan() && s[4].is_nan());
        let (idx, _) = top_k(&v, 5, 2, &[1.0, 0.0], 1, 2, Metric::L2, &c).unwrap();
        assert_eq!(idx, vec![0, 1]);
        assert!(top_k(&v, 5, 2, &[1.0, 0.0], 1, 0, Metric::L2, &c).is_err());
    }
}
