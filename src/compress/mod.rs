//! Compression: gzip, deflate (zlib), raw deflate, zstd and brotli, for buffers, files and
//! streams. Kernels here are plain Rust; `binding.rs` is the napi glue.
//!
//! Backends, chosen by measurement (200 MB of JSON log lines, docs/benchmarks.md "Compression"):
//! - gzip, deflate (zlib) and deflate-raw: zlib-rs, pigz's scheme: 1 MiB blocks (256 KiB at
//!   levels 8-9, so that an abort waits ~10 ms) compressed in parallel, each primed with the
//!   32 KiB of input before it as its dictionary and ended with a sync flush, the CRC-32 or
//!   Adler-32 checksums combined. The output is one stream (one gzip member), which every
//!   decoder reads; libdeflate is faster per core but cannot end a block without ending the
//!   stream, and a gzip of many members is cut short by curl, wget and other one-member readers.
//! - zstd: libzstd, its own multi-threaded mode (one frame, as `zstd -T` writes it) up to
//!   level 9; one thread per call above (a libzstd job cannot be interrupted).
//! - brotli: the `brotli` crate, one thread per call (its multi-threaded mode needs the
//!   whole input and an output buffer of a guessed size; not used yet).
//! - Decompression is sequential by nature: zlib-rs inflate, libzstd, the `brotli` decoder.

pub mod decode;
pub mod encode;
pub mod file;

#[cfg(feature = "napi")]
pub mod binding;

use crate::error::KernelError;

/// The compressed formats offload reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Gzip,
    /// RFC 1950: deflate in a zlib wrapper (what `zlib.deflate` makes).
    Deflate,
    /// RFC 1951: deflate with no wrapper (`zlib.deflateRaw`).
    DeflateRaw,
    Zstd,
    Brotli,
}

impl Format {
    pub const NAMES: [&'static str; 5] = ["gzip", "deflate", "deflate-raw", "zstd", "brotli"];

    pub fn parse(name: &str) -> Result<Self, KernelError> {
        Ok(match name {
            "gzip" => Format::Gzip,
            "deflate" => Format::Deflate,
            "deflate-raw" => Format::DeflateRaw,
            "zstd" => Format::Zstd,
            "brotli" => Format::Brotli,
            _ => {
                return Err(KernelError::InvalidValue(format!(
                    "format must be one of {}; received '{name}'",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }

    /// The level used when none is given: zlib's 6, the zstd CLI's 3, brotli's 11 (as
    /// `node:zlib` has it).
    pub fn default_level(self) -> i32 {
        match self {
            Format::Gzip | Format::Deflate | Format::DeflateRaw => 6,
            Format::Zstd => 3,
            Format::Brotli => 11,
        }
    }

    /// The accepted levels, inclusive.
    pub fn levels(self) -> (i32, i32) {
        match self {
            Format::Gzip | Format::Deflate | Format::DeflateRaw => (0, 9),
            Format::Zstd => (1, 19),
            Format::Brotli => (0, 11),
        }
    }

    /// Checks `level` (None = the default) and returns the level to use.
    pub fn level(self, level: Option<i32>) -> Result<i32, KernelError> {
        let (lo, hi) = self.levels();
        match level {
            None | Some(-1) if matches!(self, Format::Gzip | Format::Deflate | Format::DeflateRaw) => {
                Ok(self.default_level())
            }
            None => Ok(self.default_level()),
            Some(l) if (lo..=hi).contains(&l) => Ok(l),
            Some(l) => Err(KernelError::OutOfRange(format!(
                "The value of \"options.level\" is out of range. It must be >= {lo} and <= {hi} for {}. Received {l}",
                self.name()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Deflate => "deflate",
            Format::DeflateRaw => "deflate-raw",
            Format::Zstd => "zstd",
            Format::Brotli => "brotli",
        }
    }
}

/// Bytes of input per parallel block (a pigz-style deflate block).
pub const BLOCK: usize = 1 << 20;

/// Compresses `input` whole. Progress: input bytes.
pub fn compress(
    input: &[u8],
    format: Format,
    level: i32,
    cancel: &crate::cancel::Cancel,
) -> Result<Vec<u8>, KernelError> {
    cancel.set_total(input.len() as u64);
    let mut encoder = encode::Encoder::new(format, level)?;
    let mut out = Vec::new();
    encoder.write(input, true, &mut out, cancel)?;
    Ok(out)
}

/// Decompresses `input` whole, refusing to produce more than `max_output` bytes. Progress:
/// input bytes.
pub fn decompress(
    input: &[u8],
    format: Option<Format>,
    max_output: usize,
    cancel: &crate::cancel::Cancel,
) -> Result<Vec<u8>, KernelError> {
    cancel.set_total(input.len() as u64);
    let mut decoder = decode::Decoder::new(format, max_output);
    let mut out = Vec::new();
    decoder.reserve_for(input, &mut out);
    decoder.write(input, true, &mut out, cancel)?;
    Ok(out)
}

/// Compressible test bytes: a phrase with every fifth byte random.
#[cfg(test)]
pub fn test_sample(len: usize) -> Vec<u8> {
    let mut x = 7u32;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            if i % 5 == 0 {
                (x >> 24) as u8
            } else {
                b"the quick brown fox "[i % 20]
            }
        })
        .collect()
}
