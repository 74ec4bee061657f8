//! `mandelbrot`: escape counts for a grid of points, rows spread over the pool.
//!
//! Eight points are iterated side by side in independent lanes, so the compiler can keep them
//! in SIMD registers (AVX2 when the CPU has it, chosen at run time). The arithmetic is exactly
//! `x' = x² - y² + cx`, `y' = 2xy + cy` in that order, with no fused multiply-add, so results
//! match a plain JavaScript loop bit for bit. Rows cost very different amounts near the set, so
//! each row is its own rayon task and idle threads steal them.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError};

const LANES: usize = 8;
/// Iterations between cancellation checks inside one group of points: with a huge
/// `maxIterations`, a single point can take seconds, so the flag is polled inside the loop too.
const ITERATIONS_PER_CHECK: u32 = 1 << 16;

/// The view: `scale` is the width of the view in the complex plane.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub width: usize,
    pub height: usize,
    pub center_x: f64,
    pub center_y: f64,
    pub scale: f64,
    pub max_iterations: u32,
}

#[inline(always)]
fn escape_lanes(
    cx: &[f64; LANES],
    cy: f64,
    max: u32,
    out: &mut [u32; LANES],
    cancel: &Cancel,
) -> Result<(), KernelError> {
    let mut x = [0.0f64; LANES];
    let mut y = [0.0f64; LANES];
    let mut count = [0u32; LANES];
    let mut active = [true; LANES];
    let mut i = 0;
    while i < max {
        let mut any = false;
        for l in 0..LANES {
            let x2 = x[l] * x[l];
            let y2 = y[l] * y[l];
            let still = active[l] && x2 + y2 <= 4.0;
            // Lanes that escaped keep their values (and count); computing them anyway keeps
            // the loop branch-free.
            let ny = 2.0 * x[l] * y[l] + cy;
            let nx = x2 - y2 + cx[l];
            x[l] = if still { nx } else { x[l] };
            y[l] = if still { ny } else { y[l] };
            count[l] += still as u32;
            active[l] = still;
            any |= still;
        }
        if !any {
            break;
        }
        i += 1;
        if i % ITERATIONS_PER_CHECK == 0 {
            cancel.check()?;
        }
    }
    *out = count;
    Ok(())
}

#[inline(always)]
fn row_generic(view: &View, y: usize, out: &mut [u32], cancel: &Cancel) -> Result<(), KernelError> {
    let w = view.width as f64;
    let cy = view.center_y - (y as f64 + 0.5 - view.height as f64 / 2.0) * view.scale / w;
    let cx_of = |x: usize| view.center_x + (x as f64 + 0.5 - w / 2.0) * view.scale / w;
    let mut chunks = out.chunks_exact_mut(LANES);
    let mut x0 = 0;
    for chunk in &mut chunks {
        let cx: [f64; LANES] = std::array::from_fn(|l| cx_of(x0 + l));
        let mut counts = [0u32; LANES];
        escape_lanes(&cx, cy, view.max_iterations, &mut counts, cancel)?;
        chunk.copy_from_slice(&counts);
        x0 += LANES;
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let cx: [f64; LANES] = std::array::from_fn(|l| cx_of(x0 + l.min(rest.len() - 1)));
        let mut counts = [0u32; LANES];
        escape_lanes(&cx, cy, view.max_iterations, &mut counts, cancel)?;
        rest.copy_from_slice(&counts[..rest.len()]);
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2(
    view: &View,
    y: usize,
    out: &mut [u32],
    cancel: &Cancel,
) -> Result<(), KernelError> {
    row_generic(view, y, out, cancel)
}

fn row(view: &View, y: usize, out: &mut [u32], cancel: &Cancel) -> Result<(), KernelError> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { row_avx2(view, y, out, cancel) };
    }
    row_generic(view, y, out, cancel)
}

/// Escape counts, row by row: `width * height` values. Progress: rows.
pub fn mandelbrot(view: &View, cancel: &Cancel) -> Result<Vec<u32>, KernelError> {
    if view.width == 0 || view.height == 0 {
        return Err(KernelError::OutOfRange(
            "width and height must be at least 1".into(),
        ));
    }
    let size = view
        .width
        .checked_mul(view.height)
        .ok_or_else(|| KernelError::OutOfRange("width * height is too large".into()))?;
    let mut out = try_zeroed_vec::<u32>(size, "the image")?;
    cancel.set_total(view.height as u64);
    out.par_chunks_mut(view.width)
        .enumerate()
        .with_max_len(1)
        .try_for_each(|(y, r)| {
            cancel.check()?;
            row(view, y, r, cancel)?;
            cancel.advance(1);
            Ok(())
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one point at a time.
    fn reference(v: &View) -> Vec<u32> {
        let w = v.width as f64;
        let mut out = Vec::new();
        for y in 0..v.height {
            for x in 0..v.width {
                let cx = v.center_x + (x as f64 + 0.5 - w / 2.0) * v.scale / w;
                let cy = v.center_y - (y as f64 + 0.5 - v.height as f64 / 2.0) * v.scale / w;
                let (mut zx, mut zy, mut i) = (0.0f64, 0.0f64, 0);
                while i < v.max_iterations {
                    let (x2, y2) = (zx * zx, zy * zy);
                    if x2 + y2 > 4.0 {
                        break;
                    }
                    zy = 2.0 * zx * zy + cy;
                    zx = x2 - y2 + cx;
                    i += 1;
                }
                out.push(i);
            }
        }
        out
    }

    #[test]
    fn stops_inside_a_long_point() {
        // One point inside the set with 4e9 iterations would take seconds; a set flag stops it.
        let v = View {
            width: 1,
            height: 1,
            center_x: 0.0,
            center_y: 0.0,
            scale: 1e-9,
            max_iterations: u32::MAX,
        };
        let cancel = Cancel::new();
        let flag = cancel.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            flag.cancel();
        });
        assert!(matches!(mandelbrot(&v, &cancel), Err(KernelError::Aborted)));
        stopper.join().unwrap();
    }

    #[test]
    fn matches_the_definition_exactly() {
        for (width, height, max) in [(1, 1, 10), (13, 7, 50), (64, 48, 300), (9, 31, 1000)] {
            let v = View {
                width,
                height,
                center_x: -0.5,
                center_y: 0.0,
                scale: 3.0,
                max_iterations: max,
            };
            assert_eq!(
                mandelbrot(&v, &Cancel::new()).unwrap(),
                reference(&v),
                "{width}x{height}"
            );
        }
        let deep = View {
            width: 40,
            height: 30,
            center_x: -0.743643887,
            center_y: 0.131825904,
            scale: 1e-6,
            max_iterations: 2000,
        };
        assert_eq!(mandelbrot(&deep, &Cancel::new()).unwrap(), reference(&deep));
    }
}
