//! Files compressed and decompressed in Rust, in bounded memory: read a piece, code it, write
//! what it made. The destination appears only when complete (a temporary file beside it,
//! renamed at the end); an error or an abort removes the temporary file and leaves the
//! destination as it was.

use std::path::Path;

use super::decode::Decoder;
use super::encode::Encoder;
use super::Format;
use crate::cancel::Cancel;
use crate::error::KernelError;
use crate::fsio::{AtomicFile, Source};

/// Input read per step: enough blocks to keep every core busy.
fn piece_size() -> usize {
    (rayon::current_num_threads() * 2 * super::BLOCK).clamp(4 << 20, 64 << 20)
}

/// Output made per step before it is written out: what a file decoder holds at most.
const OUTPUT_STEP: usize = 16 << 20;

/// Reads `source` piece by piece and hands each piece (with `true` at the end) to `code`,
/// which appends output to the buffer given and returns the input it took and whether it has
/// more output for the same input; output goes to `destination` as it is made, so memory stays
/// bounded whatever the ratio. Returns the bytes written. Progress: input bytes (of the
/// source's size at the start).
fn transform(
    source: &Path,
    destination: &Path,
    cancel: &Cancel,
    mut code: impl FnMut(&[u8], bool, &mut Vec<u8>) -> Result<(usize, bool), KernelError>,
) -> Result<u64, KernelError> {
    let name = source.to_string_lossy();
    let mut input = Source::open(&name)?;
    cancel.set_total(input.size_hint());
    let mut output = AtomicFile::create(destination, Some(&input))?;
    let step = piece_size();
    let mut buf = crate::error::try_vec(step, 0u8, "the file buffer")?;
    let mut out = Vec::new();
    let mut written = 0u64;
    loop {
        cancel.check()?;
        let filled = input.read_full(&mut buf, cancel)?;
        let end = filled < step;
        let mut at = 0;
        loop {
            out.clear();
            let (taken, more) = code(&buf[at..filled], end, &mut out)?;
            at += taken;
            cancel.check()?;
            output.write_all(&out)?;
            written += out.len() as u64;
            if !more && at == filled {
                break;
            }
        }
        if end {
            break;
        }
    }
    // The last look at the flag: once renamed, the destination is the new file and the call
    // resolves, however late an abort comes.
    cancel.check()?;
    output.commit()?;
    Ok(written)
}

/// Compresses the file `source` into `destination`. Returns the compressed size.
pub fn compress_file(
    source: &Path,
    destination: &Path,
    format: Format,
    level: i32,
    cancel: &Cancel,
) -> Result<u64, KernelError> {
    let mut encoder = Encoder::new(format, level)?;
    transform(source, destination, cancel, |piece, end, out| {
        encoder.write(piece, end, out, cancel)?;
        Ok((piece.len(), false))
    })
}

/// Decompresses the file `source` into `destination`, refusing to write more than
/// `max_output` bytes. Returns the decompressed size.
pub fn decompress_file(
    source: &Path,
    destination: &Path,
    format: Option<Format>,
    max_output: u64,
    cancel: &Cancel,
) -> Result<u64, KernelError> {
    let mut decoder = Decoder::new(format, max_output.min(usize::MAX as u64) as usize);
    transform(source, destination, cancel, |piece, end, out| {
        let step = decoder.write_bounded(piece, end, out, OUTPUT_STEP, cancel)?;
        Ok((step.consumed, step.more))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_failures_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("offload-compress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..9_000_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect();
        let src = dir.join("data.bin");
        std::fs::write(&src, &data).unwrap();
        let c = Cancel::new();
        for format in [Format::Gzip, Format::Deflate, Format::Zstd, Format::Brotli] {
            let packed = dir.join("data.z");
            let back = dir.join("back.bin");
            let level = if format == Format::Brotli {
                3
            } else {
                format.default_level()
            };
            compress_file(&src, &packed, format, level, &c).unwrap();
            decompress_file(&packed, &back, Some(format), u64::MAX, &c).unwrap();
            assert!(std::fs::read(&back).unwrap() == data, "{format:?}");
            // The limit: refused, and the destination is left as it was.
            std::fs::write(&back, b"before").unwrap();
            let err = decompress_file(&packed, &back, Some(format), 1000, &c).unwrap_err();
            assert!(matches!(err, KernelError::BufferTooLarge(_)));
            assert_eq!(std::fs::read(&back).unwrap(), b"before");
        }
        // An abort: nothing written, no temporary file left.
        let aborted = Cancel::new();
        aborted.cancel();
        let dest = dir.join("never.gz");
        assert!(matches!(
            compress_file(&src, &dest, Format::Gzip, 6, &aborted),
            Err(KernelError::Aborted)
        ));
        assert!(!dest.exists());
        let missing = dir.join("missing");
        assert!(matches!(
            compress_file(&missing, &dest, Format::Gzip, 6, &c),
            Err(KernelError::Io {
                syscall: "open",
                ..
            })
        ));
        let left = crate::fsio::temporaries_in(&dir);
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
