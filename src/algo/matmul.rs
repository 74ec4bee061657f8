//! `matmul`: dense row-major matrix product on the `faer` crate's GEMM kernels (AVX2/AVX-512
//! chosen at run time), tile by tile over the current rayon pool.
//!
//! The result is cut into tiles of about 512 x 512, and the pool's threads take tiles, each
//! computed by faer on one core (`Par::Seq`), a few hundred columns of depth at a time with an
//! abort check between steps (a few milliseconds each). faer's own parallel split over two
//! threads ran at 0.78-0.87x the speed of these independent tiles on a 2-core Xeon (1024 and
//! 2048 square, float64 and float32), and one faer multiply over all cores per tile (as an
//! earlier version did) left the same on the table.

use std::sync::atomic::{AtomicUsize, Ordering};

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError, Zeroable};
use crate::reaper::FreeLater;

/// Tiles are about this many rows and columns (balanced over the result's shape): packing the
/// operands stays a small part of each tile, and there are tiles enough to share among threads.
const TILE_SIDE: usize = if cfg!(test) { 8 } else { 512 };
/// A tile is not split below this many rows or columns to give every thread a share.
const MIN_SPLIT: usize = if cfg!(test) { 2 } else { 16 };
/// Floating-point work per step of a tile: a few milliseconds on one core of this class of
/// machine, the longest an abort waits for a thread to notice it.
const STEP_FLOPS: usize = if cfg!(test) { 1 << 12 } else { 1 << 29 };
/// A step is never shallower than this (where k allows): each faer call packs its operands.
const MIN_DEPTH: usize = if cfg!(test) { 4 } else { 256 };
/// Products under this much work are not split to give every thread a share.
const PARALLEL_FLOPS: usize = if cfg!(test) { 1 } else { 1 << 22 };
// (The unit tests use tiny tiles, so that small products already take every path.)

/// The element types `matmul` supports.
pub trait Scalar: faer::traits::ComplexField + Zeroable + Copy + Send + Sync + 'static {
    const ONE: Self;
}
impl Scalar for f64 {
    const ONE: f64 = 1.0;
}
impl Scalar for f32 {
    const ONE: f32 = 1.0;
}

/// Tile sizes (rows, columns, depth per step) for an m x k times k x n product on `threads`
/// threads: sides of about [`TILE_SIDE`], split further until every thread has an equal share
/// of tiles (or there are 8 per thread); steps of about [`STEP_FLOPS`].
fn tiles(m: usize, k: usize, n: usize, threads: usize) -> (usize, usize, usize) {
    let (m, k, n, threads) = (m.max(1), k.max(1), n.max(1), threads.max(1));
    let mut row_tiles = m.div_ceil(TILE_SIDE);
    let mut col_tiles = n.div_ceil(TILE_SIDE);
    let work = 2usize.saturating_mul(m).saturating_mul(k).saturating_mul(n);
    if work >= PARALLEL_FLOPS {
        while (row_tiles * col_tiles) % threads != 0 && row_tiles * col_tiles < 8 * threads {
            let (rows, cols) = (m.div_ceil(row_tiles), n.div_ceil(col_tiles));
            if rows >= cols && rows > MIN_SPLIT {
                row_tiles += 1;
            } else if cols > MIN_SPLIT {
                col_tiles += 1;
            } else if rows > MIN_SPLIT {
                row_tiles += 1;
            } else {
                break;
            }
        }
    }
    let (rows, cols) = (m.div_ceil(row_tiles), n.div_ceil(col_tiles));
    let depth = (STEP_FLOPS / (2 * rows * cols)).clamp(MIN_DEPTH.min(k), k);
    (rows, cols, depth)
}

/// The destination's address, shared by the tasks that write its disjoint tiles.
#[derive(Clone, Copy)]
struct Dst<T> {
    ptr: *mut T,
    row_stride: isize,
    col_stride: isize,
}
// SAFETY: every task writes a tile of its own (disjoint elements) and the owner waits for all.
unsafe impl<T: Send> Send for Dst<T> {}
unsafe impl<T: Send> Sync for Dst<T> {}

impl<T> Dst<T> {
    /// # Safety
    /// The tile must lie within the destination, and nothing else may use its elements while
    /// the returned view lives.
    unsafe fn tile<'a>(&self, row: usize, col: usize, rows: usize, cols: usize) -> MatMut<'a, T> {
        let start = self
            .ptr
            .wrapping_offset(row as isize * self.row_stride)
            .wrapping_offset(col as isize * self.col_stride);
        MatMut::from_raw_parts_mut(start, rows, cols, self.row_stride, self.col_stride)
    }
}

/// `dst = lhs * rhs` on the current rayon pool, tile by tile as the module says, checking
/// `cancel` between steps. `tile_done(row, rows, cols)` is called as each tile is finished.
/// Leaves the pool's threads with a clean upper vector state (faer's kernels do not).
pub(crate) fn product<T: Scalar>(
    mut dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    cancel: &Cancel,
    tile_done: &(dyn Fn(usize, usize, usize) + Sync),
) -> Result<(), KernelError> {
    let (m, k, n) = (lhs.nrows(), lhs.ncols(), rhs.ncols());
    assert!(dst.nrows() == m && dst.ncols() == n && rhs.nrows() == k);
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        dst.fill(T::zero_impl()); // a sum of no terms
        return Ok(());
    }
    let (tile_rows, tile_cols, step) = tiles(m, k, n, rayon::current_num_threads());
    let out = Dst {
        ptr: dst.as_ptr_mut(),
        row_stride: dst.row_stride(),
        col_stride: dst.col_stride(),
    };
    let _clean = crate::simd::CleanUpperState;
    let col_tiles = n.div_ceil(tile_cols);
    (0..m.div_ceil(tile_rows) * col_tiles)
        .into_par_iter()
        .try_for_each(|t| {
            let (r0, c0) = ((t / col_tiles) * tile_rows, (t % col_tiles) * tile_cols);
            let (rows, cols) = (tile_rows.min(m - r0), tile_cols.min(n - c0));
            // SAFETY: the tile lies within `dst` (r0 + rows <= m, c0 + cols <= n), and no other
            // task touches its elements; `dst` is borrowed mutably until all tasks end.
            let mut tile = unsafe { out.tile(r0, c0, rows, cols) };
            for d0 in (0..k).step_by(step) {
                cancel.check()?;
                let depth = step.min(k - d0);
                faer::linalg::matmul::matmul(
                    tile.as_mut(),
                    if d0 == 0 { Accum::Replace } else { Accum::Add },
                    lhs.submatrix(r0, d0, rows, depth),
                    rhs.submatrix(d0, c0, depth, cols),
                    T::ONE,
                    Par::Seq,
                );
            }
            tile_done(r0, rows, cols);
            Ok(())
        })
}

/// `a` (m x k) times `b` (k x n), all row-major; the result is m x n, row-major. Progress:
/// rows of the result, a band of tiles at a time.
pub fn matmul<T: Scalar>(
    a: &[T],
    m: usize,
    k: usize,
    b: &[T],
    n: usize,
    cancel: &Cancel,
) -> Result<Vec<T>, KernelError> {
    let shape = |rows: usize, cols: usize, len: usize, name: &str| -> Result<(), KernelError> {
        match rows.checked_mul(cols) {
            Some(size) if size == len => Ok(()),
            _ => Err(KernelError::OutOfRange(format!(
                "{name}.data has {len} elements, but {name} is {rows} x {cols}"
            ))),
        }
    };
    shape(m, k, a.len(), "a")?;
    shape(k, n, b.len(), "b")?;
    let size = m.checked_mul(n).ok_or_else(|| {
        KernelError::OutOfRange(format!("the result would be {m} x {n}: too large"))
    })?;
    cancel.set_total(m as u64);
    let mut out = FreeLater::new(try_zeroed_vec::<T>(size, "the product")?);
    if size == 0 || k == 0 {
        return Ok(out.into_inner()); // empty, or a sum of no terms: zeros
    }
    // A thin product (small k) spent most of its time faulting in the result's pages.
    crate::pages::populate(&mut out);
    let (tile_rows, _, _) = tiles(m, k, n, rayon::current_num_threads());
    // Columns finished in each band of rows: a band counts as progress once all are.
    let bands: Vec<AtomicUsize> = (0..m.div_ceil(tile_rows))
        .map(|_| AtomicUsize::new(0))
        .collect();
    product(
        MatMut::from_row_major_slice_mut(&mut out, m, n),
        MatRef::from_row_major_slice(a, m, k),
        MatRef::from_row_major_slice(b, k, n),
        cancel,
        &|r0, rows, cols| {
            if bands[r0 / tile_rows].fetch_add(cols, Ordering::Relaxed) + cols == n {
                cancel.advance(rows as u64);
            }
        },
    )?;
    cancel.check()?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], m: usize, k: usize, b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_the_definition_on_odd_shapes() {
        let c = Cancel::new();
        for (m, k, n) in [
            (1, 1, 1),
            (1, 7, 1),
            (5, 1, 3),
            (3, 4, 5),
            (17, 33, 9),
            (130, 70, 65),
            (5, 3000, 7),
            (40, 900, 33),
            (0, 3, 2),
            (2, 0, 3),
        ] {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| ((i * 13 % 7) as f64) * 0.5).collect();
            assert_eq!(
                matmul(&a, m, k, &b, n, &c).unwrap(),
                naive(&a, m, k, &b, n),
                "{m}x{k}x{n}"
            );
            let af: Vec<f32> = a.iter().map(|x| *x as f32).collect();
            let bf: Vec<f32> = b.iter().map(|x| *x as f32).collect();
            let got = matmul(&af, m, k, &bf, n, &c).unwrap();
            let want: Vec<f32> = naive(&a, m, k, &b, n)
                .into_iter()
                .map(|x| x as f32)
                .collect();
            assert_eq!(got, want);
        }
        assert!(matmul(&[1.0f64; 3], 2, 2, &[1.0; 4], 2, &c).is_err());
    }

    #[test]
    fn tiles_cover_the_product_in_bounded_steps_and_share_it_out() {
        for (m, k, n) in [
            (130, 70, 65),
            (5, 3000, 7),
            (40, 900, 33),
            (1, 1, 1),
            (9, 1 << 20, 9),
            (3, 5, 1000),
            (17, 17, 17),
        ] {
            for threads in [1, 2, 3, 8] {
                let (r, c, d) = tiles(m, k, n, threads);
                assert!(
                    r >= 1 && r <= m && c >= 1 && c <= n && d >= 1 && d <= k,
                    "{m}x{k}x{n} on {threads}"
                );
                // Bounded work per step, unless the smallest step is already larger.
                assert!(
                    2 * r * c * d <= STEP_FLOPS.max(2 * r * c * MIN_DEPTH.min(k)),
                    "{m}x{k}x{n} on {threads}: {r} {c} {d}"
                );
                // An equal share of tiles for every thread, or plenty of tiles, or tiles
                // that cannot be split further.
                let count = m.div_ceil(r) * n.div_ceil(c);
                assert!(
                    count % threads == 0
                        || count >= 8 * threads
                        || (r <= MIN_SPLIT && c <= MIN_SPLIT),
                    "{m}x{k}x{n} on {threads}: {count} tiles of {r} x {c}"
                );
            }
        }
        assert!(
            tiles(5, 3000, 7, 1).2 < 3000,
            "a deep product is cut along k"
        );
    }

    #[test]
    fn an_abort_stops_every_tile_and_progress_counts_rows() {
        let (m, k, n) = (40, 30, 50);
        let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64).collect();
        let c = Cancel::new();
        matmul(&a, m, k, &b, n, &c).unwrap();
        assert_eq!(c.progress(), (m as u64, m as u64));
        let c = Cancel::new();
        c.cancel();
        assert!(matches!(
            matmul(&a, m, k, &b, n, &c),
            Err(KernelError::Aborted)
        ));
    }

    /// faer's kernels leave the upper vector state dirty, which made every later baseline loop
    /// on those threads ~3x slower (issue 24). The guard, checked on the CPU's own record rather
    /// than by timing: after a product, no pool thread has its upper state in use.
    #[test]
    fn products_leave_no_thread_with_dirty_upper_vector_state() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let states =
            |pool: &rayon::ThreadPool| pool.broadcast(|_| crate::simd::upper_state_in_use());
        if states(&pool).iter().any(|s| s.is_none()) {
            return; // this CPU cannot report it (no AVX, or no XGETBV with ECX = 1)
        }
        let c = Cancel::new();
        for n in [64usize, 300] {
            let a: Vec<f64> = (0..n * n).map(|i| (i % 17) as f64).collect();
            let af: Vec<f32> = a.iter().map(|x| *x as f32).collect();
            pool.install(|| matmul(&a, n, n, &a, n, &c).unwrap());
            // The clean-up is queued on every thread before this check is.
            assert_eq!(states(&pool), vec![Some(false); 2], "float64 {n}");
            pool.install(|| matmul(&af, n, n, &af, n, &c).unwrap());
            assert_eq!(states(&pool), vec![Some(false); 2], "float32 {n}");
            // topK with many queries scores blocks with the same GEMM.
            pool.install(|| {
                let metric = crate::algo::topk::Metric::Dot;
                crate::algo::topk::top_k(&af, n, n, &af[..10 * n], 10, 5, metric, &c).unwrap()
            });
            assert_eq!(states(&pool), vec![Some(false); 2], "topK, 10 queries, {n}");
        }
        // The check itself can fail: faer alone leaves the state dirty on this thread.
        let a = vec![1.0f64; 300 * 300];
        let mut out = vec![0.0f64; 300 * 300];
        let before = crate::simd::upper_state_in_use();
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(&mut out, 300, 300),
            Accum::Replace,
            MatRef::from_row_major_slice(&a, 300, 300),
            MatRef::from_row_major_slice(&a, 300, 300),
            1.0,
            Par::Seq,
        );
        let after = crate::simd::upper_state_in_use();
        eprintln!("upper state in use before / after a bare faer product: {before:?} / {after:?}");
    }
}
