//! Image processing on raw interleaved 8-bit pixels: grayscale, Gaussian blur, resize.
//! Pure Rust over byte slices; `binding.rs` is the napi glue.

pub mod blur;
pub mod grayscale;
pub mod resize;

#[cfg(feature = "napi")]
mod binding;

use crate::error::KernelError;

/// A borrowed image: `width * height` pixels of `channels` interleaved bytes, row-major.
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

/// An owned result image of the same form.
#[derive(Debug)]
pub struct Image {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl ImageView<'_> {
    /// Checks the shape: 1 to 4 channels, positive sizes, and `data` of exactly
    /// `width * height * channels` bytes (computed without overflow).
    pub fn check(&self) -> Result<(), KernelError> {
        if !(1..=4).contains(&self.channels) {
            return Err(KernelError::OutOfRange(format!(
                "channels must be 1 to 4; received {}",
                self.channels
            )));
        }
        if self.width == 0 || self.height == 0 {
            return Err(KernelError::OutOfRange(format!(
                "width and height must be at least 1; received {} x {}",
                self.width, self.height
            )));
        }
        match self
            .width
            .checked_mul(self.height)
            .and_then(|p| p.checked_mul(self.channels))
        {
            Some(len) if len == self.data.len() => Ok(()),
            Some(len) => Err(KernelError::OutOfRange(format!(
                "data has {} bytes, but a {} x {} image with {} channels needs {len}",
                self.data.len(),
                self.width,
                self.height,
                self.channels
            ))),
            None => Err(KernelError::OutOfRange(
                "width * height * channels overflows".into(),
            )),
        }
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width * self.channels
    }
}
