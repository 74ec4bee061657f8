//! napi glue for compression. index.js checks the options (format names, level ranges, the
//! output limit) and turns inputs into byte views; the kernels check again.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::decode::Decoder;
use super::encode::Encoder;
use super::{file, Format};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// `'auto'` (None) or a format.
fn decode_format(name: &str) -> KernelResult<Option<Format>> {
    if name == "auto" {
        Ok(None)
    } else {
        Format::parse(name).map(Some)
    }
}

/// A byte limit that arrived as a JS number (index.js passes an integer >= 0).
fn limit(value: f64) -> usize {
    if value >= usize::MAX as f64 {
        usize::MAX
    } else {
        value.max(0.0) as usize
    }
}

pub struct CompressBytes {
    input: Uint8Array,
    format: String,
    level: Option<i32>,
}

impl Kernel for CompressBytes {
    type Output = Uint8Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint8Array> {
        let format = Format::parse(&self.format)?;
        let level = format.level(self.level)?;
        Ok(Uint8Array::new(super::compress(
            &self.input,
            format,
            level,
            cancel,
        )?))
    }
}

#[napi(js_name = "compressBytes")]
pub fn compress_bytes(
    input: Uint8Array,
    format: String,
    level: Option<i32>,
    token: &CancelToken,
) -> Call<CompressBytes> {
    spawn(
        CompressBytes {
            input,
            format,
            level,
        },
        token,
    )
}

pub struct DecompressBytes {
    input: Uint8Array,
    format: String,
    max_output: f64,
}

impl Kernel for DecompressBytes {
    type Output = Uint8Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint8Array> {
        let format = decode_format(&self.format)?;
        let mut out = super::decompress(&self.input, format, limit(self.max_output), cancel)?;
        // A generous reservation (from a size hint) is given back when much of it went unused.
        if out.capacity() - out.len() > out.len() / 8 + 4096 {
            out.shrink_to_fit();
        }
        Ok(Uint8Array::new(out))
    }
}

#[napi(js_name = "decompressBytes")]
pub fn decompress_bytes(
    input: Uint8Array,
    format: String,
    max_output: f64,
    token: &CancelToken,
) -> Call<DecompressBytes> {
    spawn(
        DecompressBytes {
            input,
            format,
            max_output,
        },
        token,
    )
}

pub struct CodeFile {
    source: String,
    destination: String,
    format: String,
    /// Some for compression (the level, or None for the default).
    level: Option<Option<i32>>,
    max_output: f64,
}

impl Kernel for CodeFile {
    type Output = f64;
    const COMMITS: bool = true;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<f64> {
        let (source, destination) = (
            std::path::Path::new(&self.source),
            std::path::Path::new(&self.destination),
        );
        let written = match self.level {
            Some(level) => {
                let format = Format::parse(&self.format)?;
                let level = format.level(level)?;
                file::compress_file(source, destination, format, level, cancel)?
            }
            None => {
                let format = decode_format(&self.format)?;
                let max = limit(self.max_output) as u64;
                file::decompress_file(source, destination, format, max, cancel)?
            }
        };
        Ok(written as f64)
    }
}

#[napi(js_name = "compressFile")]
pub fn compress_file(
    source: String,
    destination: String,
    format: String,
    level: Option<i32>,
    token: &CancelToken,
) -> Call<CodeFile> {
    spawn(
        CodeFile {
            source,
            destination,
            format,
            level: Some(level),
            max_output: 0.0,
        },
        token,
    )
}

#[napi(js_name = "decompressFile")]
pub fn decompress_file(
    source: String,
    destination: String,
    format: String,
    max_output: f64,
    token: &CancelToken,
) -> Call<CodeFile> {
    spawn(
        CodeFile {
            source,
            destination,
            format,
            level: None,
            max_output,
        },
        token,
    )
}

enum Coder {
    Encode(Encoder),
    Decode(Decoder),
}

/// The state of one compressing or decompressing stream; lib/stream.js makes one write at a
/// time, each a native call that takes the stream's pending chunks.
#[napi]
pub struct StreamCoder {
    coder: Arc<Mutex<Option<Coder>>>,
}

#[napi]
impl StreamCoder {
    /// `mode` 'compress' or 'decompress'.
    #[napi(constructor)]
    pub fn new(mode: String, format: String, level: Option<i32>, max_output: f64) -> Result<Self> {
        let coder = (|| -> KernelResult<Coder> {
            Ok(if mode == "compress" {
                let format = Format::parse(&format)?;
                Coder::Encode(Encoder::new(format, format.level(level)?)?)
            } else {
                Coder::Decode(Decoder::new(decode_format(&format)?, limit(max_output)))
            })
        })()
        .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        Ok(Self {
            coder: Arc::new(Mutex::new(Some(coder))),
        })
    }

    /// Codes `chunks`, the stream's next bytes (with `finish`, its last). A decompressing
    /// stream stops once it has made about `budget` bytes: the step says how much input it
    /// took and whether more output waits; a compressing stream takes everything.
    #[napi]
    pub fn write(
        &self,
        chunks: Vec<Uint8Array>,
        finish: bool,
        budget: f64,
        token: &CancelToken,
    ) -> Call<CoderWrite> {
        spawn(
            CoderWrite {
                coder: self.coder.clone(),
                chunks,
                finish,
                budget: limit(budget),
            },
            token,
        )
    }
}

/// What one stream step made.
#[napi(object)]
pub struct CoderStep {
    pub output: Uint8Array,
    /// Input bytes taken, from the front of the chunks given.
    pub consumed: f64,
    /// More output waits: call again (with the rest of the input, if any).
    pub more: bool,
}

pub struct CoderWrite {
    coder: Arc<Mutex<Option<Coder>>>,
    chunks: Vec<Uint8Array>,
    finish: bool,
    budget: usize,
}

impl Kernel for CoderWrite {
    type Output = CoderStep;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<CoderStep> {
        let mut guard = self
            .coder
            .try_lock()
            .map_err(|_| KernelError::InvalidValue("a stream's writes must not overlap".into()))?;
        let coder = guard.as_mut().ok_or_else(|| {
            KernelError::InvalidValue("the stream failed or ended before this write".into())
        })?;
        let total: usize = self.chunks.iter().map(|c| c.len()).sum();
        cancel.set_total(total as u64);
        let mut out = Vec::new();
        let result = match coder {
            Coder::Encode(e) => {
                // Read in place; the encoder joins what a parallel pass needs contiguous.
                let pieces: Vec<&[u8]> = self.chunks.iter().map(|c| &c[..]).collect();
                e.write_pieces(&pieces, self.finish, &mut out, cancel)
                    .map(|()| (total, false))
            }
            Coder::Decode(d) => {
                decode_chunks(d, &self.chunks, self.finish, self.budget, &mut out, cancel)
            }
        };
        if result.is_err() || (self.finish && !matches!(result, Ok((_, true)))) {
            // A failed (or aborted) coder's state is unknown: no further writes.
            *guard = None;
        }
        let (consumed, more) = result?;
        Ok(CoderStep {
            output: Uint8Array::new(out),
            consumed: consumed as f64,
            more,
        })
    }
}

/// Decodes `chunks` in order, read in place, until `out` holds about `budget` bytes.
fn decode_chunks(
    decoder: &mut Decoder,
    chunks: &[Uint8Array],
    finish: bool,
    budget: usize,
    out: &mut Vec<u8>,
    cancel: &Cancel,
) -> KernelResult<(usize, bool)> {
    let mut consumed = 0;
    let empty: [&[u8]; 1] = [&[]];
    let pieces: Vec<&[u8]> = if chunks.is_empty() {
        empty.to_vec()
    } else {
        chunks.iter().map(|c| &c[..]).collect()
    };
    let count = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        if out.len() >= budget {
            return Ok((consumed, true));
        }
        let last = finish && i + 1 == count;
        let step = decoder.write_bounded(piece, last, out, budget - out.len(), cancel)?;
        consumed += step.consumed;
        if step.more {
            return Ok((consumed, true));
        }
    }
    Ok((consumed, false))
}
