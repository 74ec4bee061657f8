//! `grayscale`: Rec. 601 luma, computed exactly as Pillow's `convert('L')` does.

use rayon::prelude::*;

use super::{Image, ImageView};
use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError};
use crate::reaper::FreeLater;

/// Pillow's luma: the weights 0.299, 0.587, 0.114 in 16-bit fixed point (they sum to exactly
/// 65536), rounded to nearest. It differs from rounding the real-valued formula by one level
/// for 0.06% of colours, where that sits exactly on a half (like RGB 0, 0, 250: 28.5 -> 28).
#[inline(always)]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Source bytes per parallel task (whole rows, at least one): about a millisecond of work,
/// so an abort is seen promptly even for very wide images.
const TASK_BYTES: usize = 1 << 20;

/// RGB to gray, RGBA to gray + alpha; gray and gray + alpha images come back as they are.
pub fn grayscale(image: &ImageView, cancel: &Cancel) -> Result<Image, KernelError> {
    image.check()?;
    let out_channels = match image.channels {
        3 => 1,
        4 => 2,
        c => c,
    };
    let mut data = FreeLater::new(try_zeroed_vec::<u8>(
        image.width * image.height * out_channels,
        "the gray image",
    )?);
    let (in_row, out_row) = (image.stride(), image.width * out_channels);
    let rows = (TASK_BYTES / in_row.max(1)).max(1);
    data.par_chunks_mut(out_row * rows)
        .zip(image.data.par_chunks(in_row * rows))
        .try_for_each(|(out, src)| {
            cancel.check()?;
            match image.channels {
                3 => out
                    .iter_mut()
                    .zip(src.chunks_exact(3))
                    .for_each(|(o, p)| *o = luma(p[0], p[1], p[2])),
                4 => out
                    .chunks_exact_mut(2)
                    .zip(src.chunks_exact(4))
                    .for_each(|(o, p)| {
                        o[0] = luma(p[0], p[1], p[2]);
                        o[1] = p[3];
                    }),
                _ => out.copy_from_slice(src),
            }
            Ok(())
        })?;
    Ok(Image {
        data: data.into_inner(),
        width: image.width,
        height: image.height,
        channels: out_channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_the_weights() {
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(255, 0, 0), 76); // 76.245
        assert_eq!(luma(0, 255, 0), 150); // 149.685
        assert_eq!(luma(0, 0, 255), 29); // 29.07
        for (r, g, b) in [(12, 200, 99), (250, 3, 77), (128, 128, 128)] {
            let exact = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
            assert!((luma(r, g, b) as f64 - exact).abs() <= 0.5 + 1e-9);
        }
    }

    #[test]
    fn channel_layouts() {
        let rgba = [10, 20, 30, 40, 200, 100, 50, 255];
        let view = ImageView {
            data: &rgba,
            width: 2,
            height: 1,
            channels: 4,
        };
        let g = grayscale(&view, &Cancel::new()).unwrap();
        assert_eq!(g.channels, 2);
        assert_eq!(g.data, vec![luma(10, 20, 30), 40, luma(200, 100, 50), 255]);
        let gray = [1, 2, 3];
        let g = grayscale(
            &ImageView {
                data: &gray,
                width: 3,
                height: 1,
                channels: 1,
            },
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(g.data, gray);
        assert!(grayscale(
            &ImageView {
                data: &gray,
                width: 2,
                height: 1,
                channels: 1
            },
            &Cancel::new()
        )
        .is_err());
    }
}
