//! Files compressed and decompressed in Rust, in bounded memory: read a piece, code it, write
//! what it made. The destination appears only when complete (a temporary file beside it,
//! renamed at the end); an error or an abort removes the temporary file and leaves the
//! destination as it was.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::decode::Decoder;
use super::encode::Encoder;
use super::Format;
use crate::cancel::Cancel;
use crate::error::KernelError;

/// Input read per step: enough blocks to keep every core busy.
fn piece_size() -> usize {
    (rayon::current_num_threads() * 2 * super::BLOCK).clamp(4 << 20, 64 << 20)
}

fn io(error: std::io::Error, syscall: &'static str, path: &Path) -> KernelError {
    KernelError::io(error, syscall, path)
}

/// A file being written under a temporary name beside its destination; dropped without
/// [`AtomicFile::commit`], the temporary file is removed.
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    destination: PathBuf,
}

impl AtomicFile {
    pub fn create(destination: &Path) -> Result<Self, KernelError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = destination
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = destination.with_file_name(format!(
            ".{name}.{}-{}.offload-tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io(e, "open", destination))?;
        Ok(Self {
            file: Some(file),
            temp,
            destination: destination.to_path_buf(),
        })
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), KernelError> {
        let file = self.file.as_mut().expect("open until committed");
        file.write_all(bytes)
            .map_err(|e| io(e, "write", &self.destination))
    }

    /// Closes the file and renames it to its destination.
    pub fn commit(mut self) -> Result<(), KernelError> {
        drop(self.file.take());
        std::fs::rename(&self.temp, &self.destination)
            .map_err(|e| io(e, "rename", &self.destination))?;
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Reads `source` piece by piece, handing each piece (and `true` at the end) to `code`, which
/// appends its output to the buffer given; the output goes to `destination`. Returns the
/// bytes written. Progress: input bytes (of the source's size at the start).
fn transform(
    source: &Path,
    destination: &Path,
    cancel: &Cancel,
    mut code: impl FnMut(&[u8], bool, &mut Vec<u8>) -> Result<(), KernelError>,
) -> Result<u64, KernelError> {
    let mut input = File::open(source).map_err(|e| io(e, "open", source))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    cancel.set_total(size);
    let mut output = AtomicFile::create(destination)?;
    let step = piece_size();
    let mut buf = vec![0u8; step];
    let mut out = Vec::new();
    let mut written = 0u64;
    loop {
        cancel.check()?;
        // Fill the buffer (a read may return less than asked before the end).
        let mut filled = 0;
        while filled < step {
            let n = input
                .read(&mut buf[filled..])
                .map_err(|e| io(e, "read", source))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let end = filled < step;
        out.clear();
        code(&buf[..filled], end, &mut out)?;
        cancel.check()?;
        output.write_all(&out)?;
        written += out.len() as u64;
        if end {
            break;
        }
    }
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
        encoder.write(piece, end, out, cancel)
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
        decoder.write(piece, end, out, cancel)
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
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".offload-tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
