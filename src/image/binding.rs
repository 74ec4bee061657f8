//! napi glue for images. index.js checks the image form (and turns a Uint8ClampedArray or
//! Buffer into a Uint8Array view of the same bytes); the kernels check the shape again.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{blur, grayscale, resize, Image, ImageView};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// An image going back to JS.
#[napi(object)]
pub struct ImageResult {
    pub data: Uint8Array,
    pub width: u32,
    pub height: u32,
    pub channels: u32,
}

impl From<Image> for ImageResult {
    fn from(image: Image) -> Self {
        ImageResult {
            width: image.width as u32,
            height: image.height as u32,
            channels: image.channels as u32,
            data: Uint8Array::new(image.data),
        }
    }
}

/// The source image as index.js hands it over.
pub struct Source {
    data: Uint8Array,
    width: f64,
    height: f64,
    channels: f64,
}

impl Source {
    fn view(&self) -> KernelResult<ImageView<'_>> {
        let size = |v: f64, name: &str| {
            if v.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&v) {
                Err(KernelError::OutOfRange(format!(
                    "{name} must be a positive integer; received {v}"
                )))
            } else {
                Ok(v as usize)
            }
        };
        Ok(ImageView {
            data: &self.data,
            width: size(self.width, "width")?,
            height: size(self.height, "height")?,
            channels: size(self.channels, "channels")?,
        })
    }
}

pub enum Operation {
    Grayscale,
    Blur {
        sigma: f64,
    },
    Resize {
        width: f64,
        height: f64,
        filter: String,
    },
}

pub struct ImageKernel {
    source: Source,
    operation: Operation,
}

impl Kernel for ImageKernel {
    type Output = ImageResult;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<ImageResult> {
        let view = self.source.view()?;
        let image = match &self.operation {
            Operation::Grayscale => grayscale::grayscale(&view, cancel)?,
            Operation::Blur { sigma } => blur::blur(&view, *sigma, cancel)?,
            Operation::Resize {
                width,
                height,
                filter,
            } => {
                let dim = |v: f64| {
                    if v.fract() == 0.0 && v >= 1.0 && v <= u32::MAX as f64 {
                        v as usize
                    } else {
                        0
                    }
                };
                resize::resize(
                    &view,
                    dim(*width),
                    dim(*height),
                    resize::Filter::parse(filter)?,
                    cancel,
                )?
            }
        };
        Ok(image.into())
    }
}

fn run(
    data: Uint8Array,
    width: f64,
    height: f64,
    channels: f64,
    operation: Operation,
    token: &CancelToken,
) -> Call<ImageKernel> {
    spawn(
        ImageKernel {
            source: Source {
                data,
                width,
                height,
                channels,
            },
            operation,
        },
        token,
    )
}

#[napi]
pub fn grayscale(
    data: Uint8Array,
    width: f64,
    height: f64,
    channels: f64,
    token: &CancelToken,
) -> Call<ImageKernel> {
    run(data, width, height, channels, Operation::Grayscale, token)
}

#[napi]
pub fn blur(
    data: Uint8Array,
    width: f64,
    height: f64,
    channels: f64,
    sigma: f64,
    token: &CancelToken,
) -> Call<ImageKernel> {
    run(
        data,
        width,
        height,
        channels,
        Operation::Blur { sigma },
        token,
    )
}

#[napi]
#[allow(clippy::too_many_arguments)]
pub fn resize(
    data: Uint8Array,
    width: f64,
    height: f64,
    channels: f64,
    new_width: f64,
    new_height: f64,
    filter: String,
    token: &CancelToken,
) -> Call<ImageKernel> {
    run(
        data,
        width,
        height,
        channels,
        Operation::Resize {
            width: new_width,
            height: new_height,
            filter,
        },
        token,
    )
}
