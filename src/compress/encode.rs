//! Compressors that take a stream's input in pieces of any size and append complete output.

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

use super::{Format, BLOCK};
use crate::cancel::Cancel;
use crate::error::{try_reserve, KernelError};

/// The deflate window: each pigz-style block is primed with this much of the input before it.
const WINDOW: usize = 32 << 10;
/// Input fed to libzstd between two polls of the cancel flag (an eighth of this per call).
const STEP: usize = 1 << 20;
/// brotli's window (node:zlib's default, 4 MiB), and so the dictionary a block may see.
const BROTLI_LGWIN: u32 = 22;
const BROTLI_WINDOW: usize = (1 << BROTLI_LGWIN) - 16;
/// Input per parallel brotli block: at quality 5 about a tenth of a second.
const BROTLI_BLOCK: usize = 4 << 20;
/// Input fed to a brotli block between two polls of the cancel flag.
const BROTLI_STEP: usize = 64 << 10;

/// A compressor for one stream.
pub struct Encoder {
    inner: Inner,
    /// Input not yet compressed: less than a block, kept until more arrives or the end.
    pending: Vec<u8>,
    finished: bool,
}

/// The wrapper around a deflate stream, with its checksum.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrapper {
    /// RFC 1952: a 10-byte header, then CRC-32 and the input size mod 2^32.
    Gzip,
    /// RFC 1950: a 2-byte header, then Adler-32.
    Zlib,
    Raw,
}

enum Inner {
    /// gzip, zlib and raw deflate: one deflate stream made pigz's way.
    Deflate {
        wrapper: Wrapper,
        level: u32,
        /// The last WINDOW bytes of input already compressed.
        window: Vec<u8>,
        /// The running checksum of the input (CRC-32 for gzip, Adler-32 for zlib).
        check: u32,
        /// Input bytes so far (gzip's trailer keeps them mod 2^32).
        size: u64,
        started: bool,
    },
    Zstd(Box<zstd::zstd_safe::CCtx<'static>>),
    Brotli {
        level: u32,
        /// The last BROTLI_WINDOW bytes of input already compressed (the next block's dictionary).
        window: Vec<u8>,
        /// Joins the blocks' streams into one.
        cat: Box<brotli::concat::BroCatli>,
        started: bool,
    },
}

impl Encoder {
    /// `level` must already be checked with [`Format::level`].
    pub fn new(format: Format, level: i32) -> Result<Self, KernelError> {
        let inner = match format {
            Format::Gzip | Format::Deflate | Format::DeflateRaw => {
                let wrapper = match format {
                    Format::Gzip => Wrapper::Gzip,
                    Format::Deflate => Wrapper::Zlib,
                    _ => Wrapper::Raw,
                };
                Inner::Deflate {
                    wrapper,
                    level: level as u32,
                    window: Vec::new(),
                    check: if wrapper == Wrapper::Zlib { 1 } else { 0 },
                    size: 0,
                    started: false,
                }
            }
            Format::Zstd => {
                use zstd::zstd_safe::CParameter;
                let mut cctx = zstd::zstd_safe::CCtx::create();
                let threads = rayon::current_num_threads() as u32;
                let set = |cctx: &mut zstd::zstd_safe::CCtx, p| {
                    cctx.set_parameter(p).map(|_| ()).map_err(zstd_error)
                };
                set(&mut cctx, CParameter::CompressionLevel(level))?;
                set(&mut cctx, CParameter::ChecksumFlag(true))?; // as the zstd CLI writes
                                                                 // A libzstd job cannot be stopped once started (freeing the context waits for
                                                                 // it), and at levels past 9 a job (four windows, loaded with a window of overlap)
                                                                 // is seconds of work: those levels run on one thread, fed in small pieces, so
                                                                 // that an abort is prompt. Levels up to 9 use libzstd's own threads.
                if threads > 1 && level <= 9 {
                    set(&mut cctx, CParameter::NbWorkers(threads))?;
                }
                Inner::Zstd(Box::new(cctx))
            }
            Format::Brotli => Inner::Brotli {
                level: level as u32,
                window: Vec::new(),
                cat: Box::new(brotli::concat::BroCatli::new()),
                started: false,
            },
        };
        Ok(Self {
            inner,
            pending: Vec::new(),
            finished: false,
        })
    }

    /// Compresses `input`, the stream's next bytes, appending what is ready to `out`; with
    /// `finish` the stream ends here and `out` gets everything up to its trailer.
    pub fn write(
        &mut self,
        input: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        cancel: &Cancel,
    ) -> Result<(), KernelError> {
        self.write_pieces(&[input], finish, out, cancel)
    }

    /// [`write`](Self::write) of the pieces' bytes, in order, as if joined.
    ///
    /// Blocks start at fixed offsets of the stream (multiples of the block size), so the
    /// output is the same however the input is cut into writes. Each write compresses its
    /// whole blocks in one parallel pass: the bytes kept from earlier writes join the new ones
    /// first (one pass for all, not a lone block for the kept bytes while other cores wait),
    /// and past one block per thread the pass takes a multiple of the thread count (a block
    /// left over would run alone at the end of the pass); the rest waits for the next write.
    pub fn write_pieces(
        &mut self,
        pieces: &[&[u8]],
        finish: bool,
        out: &mut Vec<u8>,
        cancel: &Cancel,
    ) -> Result<(), KernelError> {
        if self.finished {
            return Err(KernelError::InvalidValue(
                "the stream has already ended".into(),
            ));
        }
        if let Inner::Zstd(cctx) = &mut self.inner {
            // libzstd keeps its own input buffer: each piece goes in as it is.
            let count = pieces.len();
            if count == 0 && finish {
                zstd_write(cctx, &[], true, out, cancel)?;
            }
            for (i, piece) in pieces.iter().enumerate() {
                zstd_write(cctx, piece, finish && i + 1 == count, out, cancel)?;
            }
            self.finished = finish;
            return Ok(());
        }
        let block = self.block_size();
        let kept = std::mem::take(&mut self.pending);
        let mut segments: Vec<&[u8]> = Vec::with_capacity(pieces.len() + 1);
        segments.push(&kept);
        segments.extend(pieces.iter().copied());
        let total: usize = segments.iter().map(|s| s.len()).sum();
        let cut = if finish {
            total
        } else {
            let whole = total / block;
            let threads = rayon::current_num_threads().max(1);
            let whole = if whole > threads {
                whole - whole % threads
            } else {
                whole
            };
            whole * block
        };
        if cut > 0 || finish {
            let joined;
            let data: &[u8] = match single(&segments, 0, cut) {
                Some(slice) => slice,
                None => {
                    joined = gather(&segments, 0, cut, "the compression buffer")?;
                    &joined
                }
            };
            self.blocks(data, finish, out, cancel)?;
        }
        // What is left waits for the next write: the kept bytes past `cut`, then the new ones.
        let mut rest = kept;
        let skip = cut.saturating_sub(rest.len());
        rest.drain(..cut.min(rest.len()));
        let left: usize = pieces.iter().map(|p| p.len()).sum::<usize>() - skip;
        try_reserve(&mut rest, left, "the compression buffer")?;
        let mut at = 0;
        for piece in pieces {
            let from = skip.saturating_sub(at).min(piece.len());
            rest.extend_from_slice(&piece[from..]);
            at += piece.len();
        }
        self.pending = rest;
        self.finished = finish;
        Ok(())
    }

    fn block_size(&self) -> usize {
        match self.inner {
            Inner::Brotli { .. } => BROTLI_BLOCK,
            // A block cannot be interrupted: at the slowest levels (zlib-rs 8, asked as 8-9,
            // 40 MB/s per core) a quarter of the size keeps an abort's wait near 10 ms. (Each
            // block first indexes the 32 KiB before it: smaller blocks cost more.)
            Inner::Deflate { level, .. } if zlib_rs_level(level) >= 8 => BLOCK / 4,
            _ => BLOCK,
        }
    }

    /// Compresses `data` (whole blocks, or the end of the stream when `last`) in parallel.
    fn blocks(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        cancel: &Cancel,
    ) -> Result<(), KernelError> {
        let bs = self.block_size();
        match &mut self.inner {
            Inner::Deflate {
                wrapper,
                level,
                window,
                check,
                size,
                started,
            } => {
                if !*started {
                    let header = match *wrapper {
                        Wrapper::Gzip => gzip_header(*level).to_vec(),
                        Wrapper::Zlib => zlib_header(*level).to_vec(),
                        Wrapper::Raw => Vec::new(),
                    };
                    try_reserve(out, header.len(), "the compressed output")?;
                    out.extend_from_slice(&header);
                }
                *started = true;
                let (wrapper, level) = (*wrapper, *level);
                let blocks: Vec<(usize, usize)> = if data.is_empty() {
                    vec![(0, 0)]
                } else {
                    (0..data.len().div_ceil(bs))
                        .map(|b| (b * bs, ((b + 1) * bs).min(data.len())))
                        .collect()
                };
                let count = blocks.len();
                let prior: &[u8] = window;
                let parts: Vec<(Vec<u8>, u32)> = blocks
                    .into_par_iter()
                    .enumerate()
                    .map(|(i, (start, end))| {
                        cancel.check()?;
                        // The dictionary: the 32 KiB before this block.
                        let dict = preceding(prior, data, start, WINDOW);
                        let block = &data[start..end];
                        let bytes = deflate_block(block, &dict, level, last && i + 1 == count)?;
                        let block_check = match wrapper {
                            Wrapper::Gzip => zlib_rs::crc32::crc32(0, block),
                            Wrapper::Zlib => zlib_rs::adler32::adler32(1, block),
                            Wrapper::Raw => 0,
                        };
                        cancel.advance(block.len() as u64);
                        Ok((bytes, block_check))
                    })
                    .collect::<Result<_, KernelError>>()?;
                let total: usize = parts.iter().map(|(bytes, _)| bytes.len()).sum();
                try_reserve(out, total, "the compressed output")?; // once, not block by block
                let mut offset = 0usize;
                for (bytes, block_check) in &parts {
                    let len = blocks_len(data.len(), offset, bs) as u64;
                    *check = match wrapper {
                        Wrapper::Gzip => zlib_rs::crc32::crc32_combine(*check, *block_check, len),
                        Wrapper::Zlib => {
                            zlib_rs::adler32::adler32_combine(*check, *block_check, len)
                        }
                        Wrapper::Raw => 0,
                    };
                    offset += len as usize;
                    out.extend_from_slice(bytes);
                }
                *size += data.len() as u64;
                if last {
                    let trailer = match wrapper {
                        Wrapper::Gzip => {
                            [check.to_le_bytes(), (*size as u32).to_le_bytes()].concat()
                        }
                        Wrapper::Zlib => check.to_be_bytes().to_vec(),
                        Wrapper::Raw => Vec::new(),
                    };
                    try_reserve(out, trailer.len(), "the compressed output")?;
                    out.extend_from_slice(&trailer);
                }
                keep_tail(window, data, WINDOW);
            }
            Inner::Brotli {
                level,
                window,
                cat,
                started,
            } => {
                let level = *level;
                let prior: &[u8] = window;
                let blocks: Vec<(usize, usize)> = (0..data.len().div_ceil(BROTLI_BLOCK))
                    .map(|b| (b * BROTLI_BLOCK, ((b + 1) * BROTLI_BLOCK).min(data.len())))
                    .collect();
                let first_of_stream = !*started;
                let parts: Vec<Vec<u8>> = blocks
                    .into_par_iter()
                    .map(|(start, end)| {
                        cancel.check()?;
                        // The dictionary: up to a window of the input before this block.
                        let dict = preceding(prior, data, start, BROTLI_WINDOW);
                        let first = first_of_stream && start == 0;
                        brotli_block(&data[start..end], &dict, level, first, cancel)
                    })
                    .collect::<Result<_, KernelError>>()?;
                for part in &parts {
                    cat.new_brotli_file();
                    brotli_cat(cat, part, out)?;
                }
                *started = true;
                if last {
                    if parts.is_empty() && first_of_stream {
                        // An empty stream: one empty block as the whole stream.
                        let part = brotli_block(&[], &[], level, first_of_stream, cancel)?;
                        cat.new_brotli_file();
                        brotli_cat(cat, &part, out)?;
                    }
                    brotli_finish(cat, out)?;
                }
                keep_tail(window, data, BROTLI_WINDOW);
            }
            Inner::Zstd(_) => unreachable!("zstd is compressed by libzstd's own threads"),
        }
        Ok(())
    }
}

/// The `size` bytes of input before `data[start]`, reaching back into `prior` (the end of the
/// previous writes' input) when `start` is near the front.
fn preceding(prior: &[u8], data: &[u8], start: usize, size: usize) -> Vec<u8> {
    if start >= size {
        return data[start - size..start].to_vec();
    }
    let from_prior = (size - start).min(prior.len());
    [&prior[prior.len() - from_prior..], &data[..start]].concat()
}

/// Bytes `from..to` of the segments joined, when they lie within one segment: no copy.
fn single<'a>(segments: &[&'a [u8]], from: usize, to: usize) -> Option<&'a [u8]> {
    let mut at = 0;
    for segment in segments {
        let end = at + segment.len();
        if from >= at && to <= end && (from < end || from == to) {
            return Some(&segment[from - at..to - at]);
        }
        at = end;
    }
    (from == to).then_some(&[][..])
}

/// A copy of bytes `from..to` of the segments joined.
fn gather(segments: &[&[u8]], from: usize, to: usize, what: &str) -> Result<Vec<u8>, KernelError> {
    let mut joined = Vec::new();
    try_reserve(&mut joined, to - from, what)?;
    let mut at = 0;
    for segment in segments {
        let end = at + segment.len();
        let (lo, hi) = (from.max(at), to.min(end));
        if lo < hi {
            joined.extend_from_slice(&segment[lo - at..hi - at]);
        }
        at = end;
    }
    Ok(joined)
}

/// Keeps the last `size` bytes of the input seen so far in `window`, `data` being the newest.
fn keep_tail(window: &mut Vec<u8>, data: &[u8], size: usize) {
    if data.len() >= size {
        window.clear();
        window.extend_from_slice(&data[data.len() - size..]);
    } else {
        window.extend_from_slice(data);
        let excess = window.len().saturating_sub(size);
        window.drain(..excess);
    }
}

/// The length of the block starting at `offset` in data of `len` bytes.
fn blocks_len(len: usize, offset: usize, block: usize) -> usize {
    (len - offset).min(block)
}

/// The zlib-rs level that gives zlib's size at `level` (zlib-rs follows zlib-ng's strategies:
/// its 1 is "quick", 31% larger than zlib's 1; its 5 and 6 are "medium", 3-4% larger than
/// zlib's; its 9 came out 5% larger than its 8). Measured on 16 MiB of JSON log lines, each
/// choice within 1% of zlib's size at the asked level, or smaller, and the fastest that is.
fn zlib_rs_level(level: u32) -> u32 {
    match level {
        0 => 0,
        1 => 2,
        2 => 3,
        3 | 4 => 4,
        5 => 6,
        6 | 7 => 7,
        _ => 8,
    }
}

/// The 10-byte gzip header zlib writes: no name, no time, the level's hint in XFL (2 for
/// the slowest, 4 for the fastest), and Unix as the operating system (as node:zlib on Linux).
fn gzip_header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
}

/// The two-byte zlib header zlib writes for `level` (32 KiB window, the level's hint).
fn zlib_header(level: u32) -> [u8; 2] {
    let hint: u16 = match level {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let mut header: u16 = 0x7800 | (hint << 6);
    header += 31 - header % 31;
    header.to_be_bytes()
}

/// One raw deflate block: primed with `dict`, ended by a sync flush (or the final block).
fn deflate_block(
    block: &[u8],
    dict: &[u8],
    level: u32,
    last: bool,
) -> Result<Vec<u8>, KernelError> {
    let mut c = Compress::new_with_window_bits(Compression::new(zlib_rs_level(level)), false, 15);
    if !dict.is_empty() {
        c.set_dictionary(dict)
            .map_err(|e| KernelError::Panic(format!("deflate dictionary: {e}")))?;
    }
    let mut out = Vec::new();
    try_reserve(&mut out, block.len() / 2 + 1024, "a compressed block")?;
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&block[consumed..], &mut out, flush)
            .map_err(|e| KernelError::Panic(format!("deflate: {e}")))?;
        let done = c.total_in() as usize == block.len()
            && match status {
                Status::StreamEnd => true,
                _ => !last && out.len() < out.capacity(),
            };
        if done {
            return Ok(out);
        }
        let more = out.capacity().max(4096);
        try_reserve(&mut out, more, "a compressed block")?;
    }
}

fn zstd_error(code: usize) -> KernelError {
    super::decode::zstd_failure(code)
}

fn zstd_write(
    cctx: &mut zstd::zstd_safe::CCtx<'static>,
    input: &[u8],
    finish: bool,
    out: &mut Vec<u8>,
    cancel: &Cancel,
) -> Result<(), KernelError> {
    use zstd::zstd_safe::{zstd_sys::ZSTD_EndDirective, InBuffer, OutBuffer};
    // Small pieces: a single-threaded context compresses a whole piece per call.
    let mut pieces: Vec<&[u8]> = input.chunks(STEP / 8).collect();
    if pieces.is_empty() {
        pieces.push(&[]);
    }
    let count = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        cancel.check()?;
        let end = finish && i + 1 == count;
        let directive = if end {
            ZSTD_EndDirective::ZSTD_e_end
        } else {
            ZSTD_EndDirective::ZSTD_e_continue
        };
        let mut src = InBuffer::around(piece);
        loop {
            if out.capacity() - out.len() < STEP / 2 {
                try_reserve(out, STEP, "the compressed output")?;
            }
            let remaining = {
                let mut dst = OutBuffer::around_pos(out, out.len());
                cctx.compress_stream2(&mut dst, &mut src, directive)
                    .map_err(zstd_error)?
            };
            let input_done = src.pos() == piece.len();
            if input_done && (!end || remaining == 0) {
                break;
            }
            cancel.check()?;
        }
        cancel.advance(piece.len() as u64);
    }
    Ok(())
}

/// One block as a brotli stream that `BroCatli` can join to the ones before it: blocks after
/// the first are "catable" (no stream header of their own) and see `dict`, the input before
/// them, as a custom dictionary, so they still refer back across the cut (brotli's own
/// multi-threaded mode does the same). Input is fed a piece at a time so that an abort is seen
/// within one brotli block of work.
fn brotli_block(
    block: &[u8],
    dict: &[u8],
    level: u32,
    first: bool,
    cancel: &Cancel,
) -> Result<Vec<u8>, KernelError> {
    use brotli::enc::encode::{
        BrotliEncoderOperation, BrotliEncoderParameter, BrotliEncoderStateStruct,
    };
    let mut state = BrotliEncoderStateStruct::new(brotli::enc::StandardAlloc::default());
    state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_QUALITY, level);
    // node:zlib's default window (BROTLI_DEFAULT_WINDOW).
    state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_LGWIN, BROTLI_LGWIN);
    state.set_parameter(
        BrotliEncoderParameter::BROTLI_PARAM_SIZE_HINT,
        block.len() as u32,
    );
    if !first {
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_CATABLE, 1);
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_MAGIC_NUMBER, 0);
    }
    state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_APPENDABLE, 1);
    // Loading a dictionary indexes it, without a chance to stop: at qualities 10-11 (the
    // binary-tree matcher) a whole window takes seconds, so those see the last 256 KiB.
    let dict = if level >= 10 {
        &dict[dict.len().saturating_sub(256 << 10)..]
    } else {
        dict
    };
    if !first && !dict.is_empty() {
        state.set_custom_dictionary_with_optional_precomputed_hasher(
            dict.len(),
            dict,
            brotli::enc::backward_references::UnionHasher::Uninit,
            true,
        );
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut pieces: Vec<&[u8]> = block.chunks(BROTLI_STEP).collect();
    if pieces.is_empty() {
        pieces.push(&[]);
    }
    let count = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        cancel.check()?;
        let end = i + 1 == count;
        let op = if end {
            BrotliEncoderOperation::BROTLI_OPERATION_FINISH
        } else {
            BrotliEncoderOperation::BROTLI_OPERATION_PROCESS
        };
        let (mut avail_in, mut in_offset) = (piece.len(), 0usize);
        loop {
            let (mut avail_out, mut out_offset) = (buf.len(), 0usize);
            let ok = state.compress_stream(
                op,
                &mut avail_in,
                piece,
                &mut in_offset,
                &mut avail_out,
                &mut buf,
                &mut out_offset,
                &mut None,
                &mut |_, _, _, _| (),
            );
            if !ok {
                return Err(KernelError::Panic("brotli encoder failed".into()));
            }
            try_reserve(&mut out, out_offset, "a compressed block")?;
            out.extend_from_slice(&buf[..out_offset]);
            let drained = avail_in == 0 && !state.has_more_output();
            if drained && (!end || state.is_finished()) {
                break;
            }
        }
        cancel.advance(piece.len() as u64);
    }
    Ok(out)
}

/// Appends one block's stream to `out` through the joiner.
fn brotli_cat(
    cat: &mut brotli::concat::BroCatli,
    part: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), KernelError> {
    use brotli::concat::BroCatliResult;
    let mut in_offset = 0usize;
    loop {
        let start = out.len();
        try_reserve(out, part.len() - in_offset + 64, "the compressed output")?;
        out.resize(out.capacity(), 0);
        let mut out_offset = start;
        let result = cat.stream(part, &mut in_offset, out, &mut out_offset);
        out.truncate(out_offset);
        match result {
            BroCatliResult::Success | BroCatliResult::NeedsMoreInput => return Ok(()),
            BroCatliResult::NeedsMoreOutput => continue,
            other => {
                return Err(KernelError::Panic(format!(
                    "brotli concatenation: {other:?}"
                )))
            }
        }
    }
}

fn brotli_finish(cat: &mut brotli::concat::BroCatli, out: &mut Vec<u8>) -> Result<(), KernelError> {
    use brotli::concat::BroCatliResult;
    loop {
        let start = out.len();
        try_reserve(out, 64, "the compressed output")?;
        out.resize(out.capacity(), 0);
        let mut out_offset = start;
        let result = cat.finish(out, &mut out_offset);
        out.truncate(out_offset);
        match result {
            BroCatliResult::Success => return Ok(()),
            BroCatliResult::NeedsMoreOutput => continue,
            other => {
                return Err(KernelError::Panic(format!(
                    "brotli concatenation: {other:?}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_sample as sample;

    #[test]
    fn zlib_headers_are_valid() {
        for level in 0..=9 {
            let h = zlib_header(level);
            assert_eq!(u16::from_be_bytes(h) % 31, 0);
            assert_eq!(h[0], 0x78);
        }
    }

    #[test]
    fn writes_of_many_pieces_make_the_same_stream_whatever_the_threads() {
        // Writes of several pieces (empty ones among them), on pools of 1, 2 and 3 threads
        // (which change how many whole blocks a write takes): always the one-write stream
        // (zstd: the same bytes back).
        let data = sample(9 * BLOCK + 777);
        let cancel = Cancel::new();
        for (format, level) in [(Format::Gzip, 6), (Format::Zstd, 3), (Format::Brotli, 1)] {
            let whole = super::super::compress(&data, format, level, &cancel).unwrap();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let out = pool.install(|| {
                    let mut enc = Encoder::new(format, level).unwrap();
                    let mut out = Vec::new();
                    let mut at = 0;
                    for (i, size) in [65_536usize, 3 * BLOCK + 5, 0, 1, 2 * BLOCK, 700_000]
                        .iter()
                        .cycle()
                        .enumerate()
                    {
                        if at >= data.len() {
                            break;
                        }
                        // 1 to 4 pieces per write.
                        let mut pieces = Vec::new();
                        for _ in 0..=(i % 4) {
                            let end = (at + size).min(data.len());
                            pieces.push(&data[at..end]);
                            at = end;
                        }
                        enc.write_pieces(&pieces, false, &mut out, &cancel).unwrap();
                    }
                    enc.write_pieces(&[], true, &mut out, &cancel).unwrap();
                    out
                });
                if format == Format::Zstd {
                    // libzstd's workers (one per thread) cut their own jobs: the same bytes back.
                    let back =
                        super::super::decompress(&out, Some(format), usize::MAX, &cancel).unwrap();
                    assert!(back == data, "zstd on {threads} threads");
                } else {
                    assert!(out == whole, "{format:?} {level} on {threads} threads");
                }
            }
        }
    }

    #[test]
    fn byte_ranges_of_joined_segments() {
        let segments: [&[u8]; 4] = [b"abc", b"", b"defg", b"h"];
        assert_eq!(gather(&segments, 0, 8, "x").unwrap(), b"abcdefgh");
        assert_eq!(gather(&segments, 2, 6, "x").unwrap(), b"cdef");
        assert_eq!(gather(&segments, 7, 8, "x").unwrap(), b"h");
        assert_eq!(single(&segments, 3, 7), Some(&b"defg"[..]));
        assert_eq!(single(&segments, 0, 2), Some(&b"ab"[..]));
        assert_eq!(single(&segments, 2, 4), None);
        assert_eq!(single(&segments, 5, 5), Some(&b""[..]));
    }

    #[test]
    fn pieces_of_any_size_make_the_same_stream_as_one_write() {
        let data = sample(2 * BROTLI_BLOCK + 12345);
        for (format, level) in [
            (Format::Gzip, 6),
            (Format::Gzip, 9),
            (Format::Deflate, 6),
            (Format::Deflate, 9),
            (Format::DeflateRaw, 6),
            (Format::Brotli, 4),
        ] {
            let cancel = Cancel::new();
            let whole = super::super::compress(&data, format, level, &cancel).unwrap();
            let mut enc = Encoder::new(format, level).unwrap();
            let mut out = Vec::new();
            for piece in data.chunks(700_001) {
                enc.write(piece, false, &mut out, &cancel).unwrap();
            }
            enc.write(&[], true, &mut out, &cancel).unwrap();
            assert_eq!(out, whole, "{format:?} {level}");
            let back = super::super::decompress(&out, Some(format), usize::MAX, &cancel).unwrap();
            assert!(back == data, "{format:?} {level}");
        }
    }
}
