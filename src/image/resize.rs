//! `resize`: convolution resampling as Pillow and sharp do it (the filter's support widens with
//! the scale factor when shrinking), on the `fast_image_resize` crate, with colour resampled
//! premultiplied by alpha for gray + alpha and RGBA images.

use fast_image_resize::images::{Image as FirImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::{Image, ImageView};
use crate::cancel::Cancel;
use crate::error::{check_allocation, try_zeroed_vec, KernelError};

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
    // The crate allocates its own working buffers (a premultiplied copy of the source and a
    // source-wide, destination-tall intermediate image); they must be within the limit too.
    let channels = image.channels as u128;
    check_allocation(image.data.len() as u128, "resize's premultiplied copy")?;
    check_allocation(
        image.width as u128 * height as u128 * channels,
        "resize's intermediate image",
    )?;
    // Our own, fallible allocation for the result (the crate's would abort on failure).
    let buffer = try_zeroed_vec::<u8>(pixels * image.channels, "the resized image")?;
    let mut dst = FirImage::from_vec_u8(width as u32, height as u32, buffer, pixel_type)
        .map_err(|e| fail(&e))?;
    let algorithm = match filter {
        Filter::Nearest => ResizeAlg::Nearest,
        Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
        Filter::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
        Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
    };
    let options = ResizeOptions::new().resize_alg(algorithm).use_alpha(true);
    cancel.check()?;
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| fail(&e))?;
    cancel.check()?;
    Ok(Image {
        data: dst.into_vec(),
        width,
        height,
        channels: image.channels,
    })
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
}
