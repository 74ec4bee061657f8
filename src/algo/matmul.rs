//! `matmul`: dense row-major matrix product on the `faer` crate's GEMM (AVX2/AVX-512 kernels
//! chosen at run time, parallel over the current rayon pool).
//!
//! The product is computed in blocks of rows, each block a full `faer` multiply over all
//! cores, so an abort is seen between blocks (a few milliseconds of work each).

use faer::{Accum, MatMut, MatRef, Par};

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError, Zeroable};
use crate::reaper::FreeLater;

/// Floating-point work per row block: a few milliseconds on this class of machine (an abort
/// waits for at most one block), yet blocks of 64 rows or more keep the GEMM at full speed.
const BLOCK_FLOPS: usize = 1 << 29;

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
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, k, n);
    let rows_per_block = (BLOCK_FLOPS / (2 * k * n).max(1)).clamp(64, m.max(64));
    let _clean = crate::simd::CleanUpperState;
    for (i, block) in out.chunks_mut(rows_per_block * n).enumerate() {
        cancel.check()?;
        let first = i * rows_per_block;
        let rows = block.len() / n;
        let dst = MatMut::from_row_major_slice_mut(block, rows, n);
        faer::linalg::matmul::matmul(
            dst,
            Accum::Replace,
            lhs.subrows(first, rows),
            rhs,
            T::ONE,
            Par::rayon(0),
        );
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
}
