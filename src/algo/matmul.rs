//! `matmul`: dense row-major matrix product on the `faer` crate's GEMM (AVX2/AVX-512 kernels
//! chosen at run time, parallel over the current rayon pool).
//!
//! The product is computed tile by tile, each tile a full `faer` multiply over all cores, so
//! an abort is seen between tiles (some milliseconds of work each). Tiles are at least 512 x 512
//! where the result is that large: every call packs its slice of `b` and of `a` afresh, and
//! thinner tiles (64 rows, as an earlier version cut) spent a third of a 4096 x 4096 product
//! packing `b` again and again.

use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef, Par};

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError, Zeroable};
use crate::reaper::FreeLater;

/// Floating-point work per tile: 10-20 ms on this class of machine (2 cores), the longest an
/// abort waits.
const TILE_FLOPS: usize = if cfg!(test) { 1 << 16 } else { 1 << 31 };
/// Tiles are at least this many rows and columns (where the result has them), so that packing
/// the operands stays a small part of each call.
const MIN_TILE: usize = if cfg!(test) { 8 } else { 512 };
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

/// Tile sizes (rows, columns, depth) for an m x k times k x n product: about [`TILE_FLOPS`]
/// of work each, as square as the shapes allow, never under [`MIN_TILE`] rows or columns
/// unless the result is smaller; a deep product (huge k) is also cut along k.
fn tiles(m: usize, k: usize, n: usize) -> (usize, usize, usize) {
    let (m, k, n) = (m.max(1), k.max(1), n.max(1));
    let cols = if n <= MIN_TILE {
        n
    } else {
        (TILE_FLOPS / (2 * k * MIN_TILE)).clamp(MIN_TILE, n)
    };
    let rows = (TILE_FLOPS / (2 * k * cols)).clamp(MIN_TILE.min(m), m);
    let depth = (TILE_FLOPS / (2 * rows * cols)).clamp(256.min(k), k);
    (rows, cols, depth)
}

/// `a` (m x k) times `b` (k x n), all row-major; the result is m x n, row-major. Progress:
/// rows of the result.
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
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, k, n);
    let (tile_rows, tile_cols, tile_depth) = tiles(m, k, n);
    let mut result = MatMut::from_row_major_slice_mut(&mut out, m, n);
    let _clean = crate::simd::CleanUpperState;
    for r0 in (0..m).step_by(tile_rows) {
        let rows = tile_rows.min(m - r0);
        for c0 in (0..n).step_by(tile_cols) {
            let cols = tile_cols.min(n - c0);
            for d0 in (0..k).step_by(tile_depth) {
                cancel.check()?;
                let depth = tile_depth.min(k - d0);
                faer::linalg::matmul::matmul(
                    result.rb_mut().submatrix_mut(r0, c0, rows, cols),
                    if d0 == 0 { Accum::Replace } else { Accum::Add },
                    lhs.submatrix(r0, d0, rows, depth),
                    rhs.submatrix(d0, c0, depth, cols),
                    T::ONE,
                    Par::rayon(0),
                );
            }
        }
        cancel.advance(rows as u64);
    }
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
    fn tiles_cover_the_product_in_bounded_work() {
        for (m, k, n) in [
            (130, 70, 65),
            (5, 3000, 7),
            (40, 900, 33),
            (1, 1, 1),
            (9, 1 << 20, 9),
        ] {
            let (r, c, d) = tiles(m, k, n);
            assert!(
                r >= 1 && r <= m && c >= 1 && c <= n && d >= 1 && d <= k,
                "{m}x{k}x{n}"
            );
            // Bounded work, unless the minimum tile is already larger.
            let floor = 2 * MIN_TILE.min(m) * MIN_TILE.min(n) * 256.min(k);
            assert!(
                2 * r * c * d <= TILE_FLOPS.max(floor),
                "{m}x{k}x{n}: {r} {c} {d}"
            );
        }
        assert!(tiles(5, 3000, 7).2 < 3000, "a deep product is cut along k");
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
