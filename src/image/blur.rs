//! `blur`: separable Gaussian blur, radius ceil(3σ), weights exp(-x²/2σ²) normalised to 1,
//! edges clamped (the border pixel repeats), every channel alike, rounded to nearest.
//!
//! The image is cut into bands of rows, one rayon task each. A band first filters the source
//! rows it needs horizontally into a float buffer that stays in cache, then filters that
//! buffer vertically into its output rows. Both passes sum a few vectors of contiguous outputs
//! over every tap in registers, a plain multiply-add that the compiler vectorises (AVX2 when
//! the CPU has it, picked at run time); symmetric taps are added before multiplying, which
//! halves the multiplies. Float32 arithmetic keeps every value within 1 of the exact result.

use rayon::prelude::*;

use super::{Image, ImageView};
use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError};
use crate::reaper::FreeLater;

/// The most σ accepted.
pub const MAX_SIGMA: f64 = 1000.0;
/// Floats per column strip of the vertical pass (4 KiB).
const STRIP: usize = 1024;
/// Per-thread buffers larger than this (64 MiB) are returned after use, not kept.
const KEEP_FLOATS: usize = 16 << 20;

thread_local! {
    /// Each rayon thread's padded row and band buffer, reused across bands and calls: fresh
    /// allocations of this size come back from the OS as pages that fault on first touch.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The kernel's half: `w[0]` is the centre weight, `w[k]` the weight at distance k.
fn half_kernel(sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as usize;
    let raw: Vec<f64> = (0..=radius)
        .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total = raw[0] + 2.0 * raw[1..].iter().sum::<f64>();
    raw.iter().map(|w| (w / total) as f32).collect()
}

/// `out[i] = Σ_k w[k] (row(i - k) + row(i + k))` over a padded row, where `at(d)` gives the
/// slice of the padded input shifted by `d` taps. Written so the inner loops vectorise.
/// With `FMA` the multiply-adds are fused (only where the CPU has FMA: elsewhere `mul_add`
/// would be a slow library call).
///
/// `B` outputs at a time are summed over every tap in registers and stored once: a loop over
/// taps outside a loop over the whole row (the simple order) loads and stores the output again
/// per tap, twice the memory operations of the taps' own reads. The additions happen in the
/// same order either way, so the results are identical.
#[inline(always)]
fn taps_in<'a, const FMA: bool, const B: usize>(
    out: &mut [f32],
    w: &[f32],
    at: impl Fn(isize) -> &'a [f32],
) {
    let n = out.len();
    let centre = &at(0)[..n];
    let pairs: Vec<(f32, &[f32], &[f32])> = (1..w.len())
        .map(|k| (w[k], &at(-(k as isize))[..n], &at(k as isize)[..n]))
        .collect();
    let step = |o: f32, wk: f32, a: f32, b: f32| {
        if FMA {
            wk.mul_add(a + b, o)
        } else {
            o + wk * (a + b)
        }
    };
    let mut blocks = out.chunks_exact_mut(B);
    for (i, block) in (&mut blocks).enumerate() {
        let i = i * B;
        let mut acc = [0f32; B];
        for (a, c) in acc.iter_mut().zip(&centre[i..i + B]) {
            *a = w[0] * c;
        }
        for &(wk, lo, hi) in &pairs {
            for ((a, l), h) in acc.iter_mut().zip(&lo[i..i + B]).zip(&hi[i..i + B]) {
                *a = step(*a, wk, *l, *h);
            }
        }
        block.copy_from_slice(&acc);
    }
    let i = n - blocks.into_remainder().len();
    for (j, o) in out[i..].iter_mut().enumerate() {
        let j = i + j;
        *o = w[0] * centre[j];
        for &(wk, lo, hi) in &pairs {
            *o = step(*o, wk, lo[j], hi[j]);
        }
    }
}

/// [`taps_in`] with `B` outputs summed in registers at a time: 8 vectors with AVX2 (enough
/// independent sums to keep both FMA units busy), 8 without (the 16 SSE registers hold 8 sums
/// and their operands).
#[inline(always)]
fn taps<'a, const FMA: bool>(out: &mut [f32], w: &[f32], at: impl Fn(isize) -> &'a [f32]) {
    if FMA {
        taps_in::<true, 64>(out, w, at)
    } else {
        taps_in::<false, 32>(out, w, at)
    }
}

struct Plan<'a> {
    image: ImageView<'a>,
    weights: Vec<f32>,
    radius: usize,
    /// Polled per row and per column strip: a band of a wide image with a large sigma is tens
    /// of milliseconds of work, too long to wait for after an abort.
    cancel: &'a Cancel,
    /// Whether the AVX2 and FMA build may run where the CPU has them (tests clear it to run
    /// the baseline build too).
    vectors: bool,
}

impl Plan<'_> {
    /// Blurs output rows `y0..y1` into `out` (those rows only).
    #[inline(always)]
    fn band<const FMA: bool>(&self, y0: usize, y1: usize, out: &mut [u8]) {
        let ImageView {
            width,
            height,
            channels,
            ..
        } = self.image;
        let r = self.radius;
        // The source rows this band reads: y0 - r .. y1 + r, clamped to the image.
        let (s0, s1) = (y0.saturating_sub(r), (y1 + r).min(height));
        // Take the buffers out of the thread-local and filter here, not inside a `with`
        // closure: the closure would be compiled without this function's AVX2/FMA features.
        let (mut padded, mut horizontal) =
            SCRATCH.with(|scratch| std::mem::take(&mut *scratch.borrow_mut()));
        // every element is written before it is read, so the buffers only ever grow
        let (np, nh) = ((width + 2 * r) * channels, (s1 - s0) * width * channels);
        if padded.len() < np {
            padded.resize(np, 0.0);
        }
        if horizontal.len() < nh {
            horizontal.resize(nh, 0.0);
        }
        self.filter::<FMA>(
            y0,
            y1,
            s0,
            s1,
            &mut padded[..np],
            &mut horizontal[..nh],
            out,
        );
        if padded.len() + horizontal.len() <= KEEP_FLOATS {
            SCRATCH.with(|scratch| *scratch.borrow_mut() = (padded, horizontal));
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn filter<const FMA: bool>(
        &self,
        y0: usize,
        y1: usize,
        s0: usize,
        s1: usize,
        padded: &mut [f32],
        horizontal: &mut [f32],
        out: &mut [u8],
    ) {
        let ImageView {
            data,
            width: _,
            height,
            channels,
        } = self.image;
        let (r, stride) = (self.radius, self.image.stride());
        for (y, h_row) in (s0..s1).zip(horizontal.chunks_exact_mut(stride)) {
            if self.cancel.is_cancelled() {
                return; // the caller checks the flag and drops the output
            }
            let src = &data[y * stride..(y + 1) * stride];
            // the row as floats (a straight conversion that vectorises), padded with r copies
            // of its edge pixels on each side
            let (left, rest) = padded.split_at_mut(r * channels);
            let (middle, right) = rest.split_at_mut(stride);
            for (p, s) in middle.iter_mut().zip(src) {
                *p = *s as f32;
            }
            for px in left.chunks_exact_mut(channels) {
                px.copy_from_slice(&middle[..channels]);
            }
            for px in right.chunks_exact_mut(channels) {
                px.copy_from_slice(&middle[stride - channels..]);
            }
            let centre = r * channels;
            let padded = &*padded;
            taps::<FMA>(h_row, &self.weights, |d| {
                let start = (centre as isize + d * channels as isize) as usize;
                &padded[start..start + stride]
            });
        }
        // The vertical pass sweeps down the band in column strips, so the 2r + 1 rows of a
        // strip that one output row reads stay in L2 for the next rows (whole rows would not).
        let horizontal = &*horizontal;
        let mut acc = vec![0f32; STRIP.min(stride)];
        for x0 in (0..stride).step_by(STRIP) {
            if self.cancel.is_cancelled() {
                return;
            }
            let x1 = (x0 + STRIP).min(stride);
            let acc = &mut acc[..x1 - x0];
            for (y, o_row) in (y0..y1).zip(out.chunks_exact_mut(stride)) {
                taps::<FMA>(acc, &self.weights, |d| {
                    let sy = (y as isize + d).clamp(0, height as isize - 1) as usize - s0;
                    &horizontal[sy * stride + x0..sy * stride + x1]
                });
                for (o, a) in o_row[x0..x1].iter_mut().zip(acc.iter()) {
                    *o = (a + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn band_avx2(&self, y0: usize, y1: usize, out: &mut [u8]) {
        self.band::<true>(y0, y1, out)
    }

    fn run_band(&self, y0: usize, y1: usize, out: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if self.vectors
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.band_avx2(y0, y1, out) };
        }
        self.band::<false>(y0, y1, out)
    }
}

/// Gaussian blur with standard deviation `sigma` (0 < sigma <= 1000) in pixels.
pub fn blur(image: &ImageView, sigma: f64, cancel: &Cancel) -> Result<Image, KernelError> {
    blur_with(image, sigma, cancel, true)
}

fn blur_with(
    image: &ImageView,
    sigma: f64,
    cancel: &Cancel,
    vectors: bool,
) -> Result<Image, KernelError> {
    image.check()?;
    if !(sigma > 0.0 && sigma <= MAX_SIGMA) {
        return Err(KernelError::OutOfRange(format!(
            "sigma must be in (0, {MAX_SIGMA}]; received {sigma}"
        )));
    }
    let weights = half_kernel(sigma);
    let radius = weights.len() - 1;
    let plan = Plan {
        image: *image,
        weights,
        radius,
        cancel,
        vectors,
    };
    let stride = image.stride();
    // Bands tall enough that re-filtering the 2r rows around each costs at most half again;
    // split further when that leaves too few bands to keep every thread busy.
    let threads = rayon::current_num_threads();
    let band = (4 * radius)
        .max(32)
        .min(image.height.div_ceil(threads * 4))
        .max(1);
    let mut data = FreeLater::new(try_zeroed_vec::<u8>(image.data.len(), "the blurred image")?);
    // Progress: output rows.
    cancel.set_total(image.height as u64);
    data.par_chunks_mut(stride * band)
        .enumerate()
        .try_for_each(|(i, out)| {
            cancel.check()?;
            let y0 = i * band;
            plan.run_band(y0, y0 + out.len() / stride, out);
            cancel.advance((out.len() / stride) as u64);
            Ok(())
        })?;
    cancel.check()?; // a band may have stopped early
    Ok(Image {
        data: data.into_inner(),
        width: image.width,
        height: image.height,
        channels: image.channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64, point by point.
    fn reference(img: &ImageView, sigma: f64) -> Vec<u8> {
        let r = (3.0 * sigma).ceil() as isize;
        let w: Vec<f64> = (-r..=r)
            .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f64 = w.iter().sum();
        let (wd, ht, c) = (img.width as isize, img.height as isize, img.channels);
        let px = |x: isize, y: isize, ch: usize| {
            img.data[((y.clamp(0, ht - 1) * wd + x.clamp(0, wd - 1)) as usize) * c + ch] as f64
        };
        let mut h = vec![0f64; img.data.len()];
        for y in 0..ht {
            for x in 0..wd {
                for ch in 0..c {
                    h[((y * wd + x) as usize) * c + ch] = (-r..=r)
                        .map(|k| w[(k + r) as usize] * px(x + k, y, ch))
                        .sum::<f64>()
                        / total;
                }
            }
        }
        let mut out = vec![0u8; img.data.len()];
        for y in 0..ht {
            for x in 0..wd {
                for ch in 0..c {
                    let v: f64 = (-r..=r)
                        .map(|k| {
                            w[(k + r) as usize]
                                * h[(((y + k).clamp(0, ht - 1) * wd + x) as usize) * c + ch]
                        })
                        .sum::<f64>()
                        / total;
                    out[((y * wd + x) as usize) * c + ch] = (v + 0.5).floor() as u8;
                }
            }
        }
        out
    }

    #[test]
    fn within_one_of_the_definition() {
        let mut seed = 1u32;
        for (w, h, c, sigma) in [
            (13, 11, 4, 1.5),
            (1, 9, 3, 2.0),
            (9, 1, 1, 0.7),
            (40, 30, 2, 3.0),
            (5, 4, 4, 50.0),
            // rows of several register blocks (64 and 32 floats) and a partial one
            (150, 20, 4, 2.5),
            // rows past a column strip (1024 floats)
            (300, 12, 4, 1.0),
        ] {
            let data: Vec<u8> = (0..w * h * c)
                .map(|_| {
                    seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                    (seed >> 24) as u8
                })
                .collect();
            let view = ImageView {
                data: &data,
                width: w,
                height: h,
                channels: c,
            };
            let want = reference(&view, sigma);
            // the build this CPU runs (AVX2 and FMA on most x86-64), and the baseline one
            for vectors in [true, false] {
                let got = blur_with(&view, sigma, &Cancel::new(), vectors)
                    .unwrap()
                    .data;
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (*a as i32 - *b as i32).abs() <= 1,
                        "{w}x{h}x{c} σ={sigma} vectors={vectors} [{i}]: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn constant_stays_constant() {
        let data = vec![77u8; 64 * 48 * 3];
        let view = ImageView {
            data: &data,
            width: 64,
            height: 48,
            channels: 3,
        };
        assert!(blur(&view, 4.2, &Cancel::new())
            .unwrap()
            .data
            .iter()
            .all(|&v| v == 77));
        assert!(blur(&view, 0.0, &Cancel::new()).is_err());
        assert!(blur(&view, 1001.0, &Cancel::new()).is_err());
    }
}
