//! `resize`: convolution resampling as Pillow and sharp do it (the filter's support widens with
//! the scale factor when shrinking), on the `fast_image_resize` crate, with colour resampled
//! premultiplied by alpha for gray + alpha and RGBA images.
//!
//! The result is made in bands of rows, each band a resize of the source rows it reads (a crop
//! box at the whole image's scale): the bands run in parallel, and an abort is seen between
//! bands. The crate rounds each band's filter weights to fixed point with a precision chosen
//! from that band's largest weight, so a value can differ by 1 or 2 from one whole-image call
//! (both are equally close to the exact result).

use fast_image_resize::images::{Image as FirImage, ImageRef};
use fast_image_resize::{FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};
use rayon::prelude::*;

use super::{Image, ImageView};
use crate::cancel::Cancel;
use crate::error::{check_allocation, try_zeroed_vec, KernelError};
use crate::reaper::FreeLater;

/// The resampling filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Bilinear,
    /// Cubic convolution with a = -0.5 (Catmull-Rom), as Pillow's BICUBIC.
    Bicubic,
    Lanczos3,
}

impl Filter {
    /// The crate's resampling algorithm for this filter.
    fn algorithm(self) -> ResizeAlg {
        match self {
            Filter::Nearest => ResizeAlg::Nearest,
            Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            Filter::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
            Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
        }
    }

    pub fn parse(name: &str) -> Result<Self, KernelError> {
        Ok(match name {
            "nearest" => Filter::Nearest,
            "bilinear" => Filter::Bilinear,
            "bicubic" => Filter::Bicubic,
            "lanczos3" => Filter::Lanczos3,
            _ => {
                return Err(KernelError::InvalidValue(format!(
                    "filter must be one of nearest, bilinear, bicubic, lanczos3; received '{name}'"
                )))
            }
        })
    }
}

/// The most pixels a result may have; past it a typo, not a picture.
pub const MAX_PIXELS: usize = 1 << 31;

/// `image` resampled to `width` x `height`.
pub fn resize(
    image: &ImageView,
    width: usize,
    height: usize,
    filter: Filter,
    cancel: &Cancel,
) -> Result<Image, KernelError> {
    image.check()?;
    if width == 0 || height == 0 || width > u32::MAX as usize || height > u32::MAX as usize {
        return Err(KernelError::OutOfRange(format!(
            "the new size must be at least 1 x 1; received {width} x {height}"
        )));
    }
    let pixels = width
        .checked_mul(height)
        .filter(|p| *p <= MAX_PIXELS)
        .ok_or_else(|| {
            KernelError::OutOfRange(format!(
                "{width} x {height} is more than {MAX_PIXELS} pixels"
            ))
        })?;
    let pixel_type = match image.channels {
        1 => PixelType::U8,
        2 => PixelType::U8x2,
        3 => PixelType::U8x3,
        _ => PixelType::U8x4,
    };
    let fail = |e: &dyn std::fmt::Display| KernelError::InvalidValue(format!("resize failed: {e}"));
    let src = ImageRef::new(
        image.width as u32,
        image.height as u32,
        image.data,
        pixel_type,
    )
    .map_err(|e| fail(&e))?;
    let algorithm = filter.algorithm();
    if (width, height) == (image.width, image.height) {
        // Nothing to resample (premultiplying and dividing back would only lose precision).
        let mut data = try_zeroed_vec::<u8>(image.data.len(), "the resized image")?;
        data.copy_from_slice(image.data);
        return Ok(Image {
            data,
            width,
            height,
            channels: image.channels,
        });
    }
    // Colour is resampled premultiplied by alpha: premultiply the source once here (the crate
    // would do it again for every band), divide each band's result afterwards.
    let mul_div = MulDiv::default();
    let alpha = !matches!(filter, Filter::Nearest) && mul_div.is_supported(pixel_type);
    let premultiplied = if alpha {
        let buffer = try_zeroed_vec::<u8>(image.data.len(), "resize's premultiplied copy")?;
        let mut copy = FirImage::from_vec_u8(src.width(), src.height(), buffer, pixel_type)
            .map_err(|e| fail(&e))?;
        mul_div
            .multiply_alpha(&src, &mut copy)
            .map_err(|e| fail(&e))?;
        Some(copy)
    } else {
        None
    };
    cancel.check()?;
    // The crate's intermediate image for a band: source-wide (at most), band-tall.
    let row_bytes = width * image.channels;
    let rows = band_rows(width, height);
    check_allocation(
        image.width as u128 * rows as u128 * image.channels as u128,
        "resize's intermediate image",
    )?;
    // Our own, fallible allocation for the result (the crate's would abort on failure).
    let mut data = FreeLater::new(try_zeroed_vec::<u8>(
        pixels * image.channels,
        "the resized image",
    )?);
    let scale = image.height as f64 / height as f64;
    // Progress: output rows.
    cancel.set_total(height as u64);
    data.par_chunks_mut(rows * row_bytes)
        .enumerate()
        .try_for_each(|(i, band)| -> Result<(), KernelError> {
            cancel.check()?;
            let (y0, band_height) = (i * rows, band.len() / row_bytes);
            let mut dst =
                FirImage::from_slice_u8(width as u32, band_height as u32, band, pixel_type)
                    .map_err(|e| fail(&e))?;
            // The source rows behind output rows y0 .. y0 + band_height, at the whole image's scale.
            let top = y0 as f64 * scale;
            let bottom = if y0 + band_height == height {
                image.height as f64
            } else {
                (y0 + band_height) as f64 * scale
            };
            let options = ResizeOptions::new()
                .resize_alg(algorithm)
                .use_alpha(false)
                .crop(0.0, top, image.width as f64, bottom - top);
            let mut resizer = Resizer::new();
            match &premultiplied {
                Some(copy) => resizer.resize(copy, &mut dst, &options),
                None => resizer.resize(&src, &mut dst, &options),
            }
            .map_err(|e| fail(&e))?;
            if alpha {
                mul_div
                    .divide_alpha_inplace(&mut dst)
                    .map_err(|e| fail(&e))?;
            }
            cancel.advance(band_height as u64);
            Ok(())
        })?;
    if let Some(copy) = premultiplied {
        drop(FreeLater::new(copy.into_vec()));
    }
    Ok(Image {
        data: data.into_inner(),
        width,
        height,
        channels: image.channels,
    })
}

/// Output rows per band: about a million output pixels (a few milliseconds of work), enough
/// that the per-band set-up (filter weights for a row) stays small beside the resampling.
fn band_rows(width: usize, height: usize) -> usize {
    // Tiny bands under test, so that small images cross many band boundaries.
    const BAND_PIXELS: usize = if cfg!(test) { 1 << 9 } else { 1 << 20 };
    (BAND_PIXELS / width.max(1)).clamp(1, height.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_constants() {
        let data = vec![90u8; 30 * 20 * 3];
        let view = ImageView {
            data: &data,
            width: 30,
            height: 20,
            channels: 3,
        };
        for filter in [
            Filter::Nearest,
            Filter::Bilinear,
            Filter::Bicubic,
            Filter::Lanczos3,
        ] {
            for (w, h) in [(15, 10), (61, 7), (1, 1)] {
                let out = resize(&view, w, h, filter, &Cancel::new()).unwrap();
                assert_eq!((out.width, out.height, out.data.len()), (w, h, w * h * 3));
                assert!(out.data.iter().all(|&v| v == 90), "{filter:?}");
            }
        }
        assert!(resize(&view, 0, 5, Filter::Nearest, &Cancel::new()).is_err());
        assert!(resize(&view, 1 << 20, 1 << 20, Filter::Nearest, &Cancel::new()).is_err());
    }

    /// The same resize as one call of the crate, the way it would do it unbanded.
    fn whole(view: &ImageView, width: usize, height: usize, filter: Filter) -> Vec<u8> {
        let pixel_type = [
            PixelType::U8,
            PixelType::U8x2,
            PixelType::U8x3,
            PixelType::U8x4,
        ][view.channels - 1];
        let src =
            ImageRef::new(view.width as u32, view.height as u32, view.data, pixel_type).unwrap();
        let mut dst = FirImage::new(width as u32, height as u32, pixel_type);
        let options = ResizeOptions::new()
            .resize_alg(filter.algorithm())
            .use_alpha(true);
        Resizer::new().resize(&src, &mut dst, &options).unwrap();
        dst.into_vec()
    }

    #[test]
    fn bands_give_the_same_pixels_as_one_whole_resize() {
        let mut seed = 11u64;
        for channels in 1..=4 {
            let (w, h) = (97, 61);
            let data: Vec<u8> = (0..w * h * channels)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // smooth-ish content with noise, alpha varying too
                    ((i / channels) % w * 2 + (seed >> 60) as usize) as u8
                })
                .collect();
            let view = ImageView {
                data: &data,
                width: w,
                height: h,
                channels,
            };
            for filter in [
                Filter::Nearest,
                Filter::Bilinear,
                Filter::Bicubic,
                Filter::Lanczos3,
            ] {
                for (nw, nh) in [(40, 23), (250, 170), (97, 200), (30, 61), (13, 7), (97, 61)] {
                    assert!(band_rows(nw, nh) < nh || nw * nh <= 512);
                    let banded = resize(&view, nw, nh, filter, &Cancel::new()).unwrap().data;
                    let reference = whole(&view, nw, nh, filter);
                    // Compared premultiplied (colour x alpha), as it is resampled: dividing by a
                    // small alpha magnifies a rounding step in the colour of a nearly
                    // transparent pixel.
                    let alpha = channels % 2 == 0;
                    let premultiplied = |px: &[u8]| -> Vec<f64> {
                        let a = if alpha {
                            px[channels - 1] as f64 / 255.0
                        } else {
                            1.0
                        };
                        let colours = if alpha { channels - 1 } else { channels };
                        let mut v: Vec<f64> = px[..colours].iter().map(|c| *c as f64 * a).collect();
                        if alpha {
                            v.push(px[channels - 1] as f64);
                        }
                        v
                    };
                    let mut off = 0;
                    for (b, r) in banded.chunks(channels).zip(reference.chunks(channels)) {
                        for (x, y) in premultiplied(b).iter().zip(premultiplied(r)) {
                            assert!(
                                (x - y).abs() <= 2.5,
                                "{channels} channels, {filter:?}, {nw} x {nh}: {b:?} vs {r:?}"
                            );
                            off += usize::from(x != &y);
                        }
                    }
                    assert!(off * 50 <= banded.len(), "{off} of {} differ", banded.len());
                }
            }
        }
    }

    #[test]
    fn stops_when_cancelled() {
        let data = vec![7u8; 64 * 64 * 4];
        let view = ImageView {
            data: &data,
            width: 64,
            height: 64,
            channels: 4,
        };
        let cancel = Cancel::new();
        cancel.cancel();
        let err = resize(&view, 300, 300, Filter::Lanczos3, &cancel).unwrap_err();
        assert!(matches!(err, KernelError::Aborted));
    }
}
