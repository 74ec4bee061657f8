//! Decompressors that take a stream's input in pieces of any size, never producing more than a
//! set number of bytes: a bomb is refused once its output passes the limit, having allocated
//! at most the limit.

use flate2::{Decompress, FlushDecompress, Status};

use super::Format;
use crate::cancel::Cancel;
use crate::error::{try_reserve, KernelError};

/// Input fed to the decoder between two polls of the cancel flag.
const STEP: usize = 256 << 10;
/// The first output reservation; later ones double what is there.
const FIRST_ROOM: usize = 64 << 10;

type BrotliState = brotli::BrotliState<
    brotli::HeapAlloc<u8>,
    brotli::HeapAlloc<u32>,
    brotli::HeapAlloc<brotli::HuffmanCode>,
>;

enum State {
    /// `'auto'`: waiting for enough bytes to recognise the format.
    Undetected,
    Flate {
        inner: Box<Decompress>,
        format: Format,
        /// A gzip member (or the zlib / raw stream) has ended.
        ended: bool,
    },
    Zstd {
        dctx: Box<zstd::zstd_safe::DCtx<'static>>,
        /// What libzstd's last call returned: 0 once a frame is complete.
        hint: usize,
    },
    Brotli {
        state: Box<BrotliState>,
        ended: bool,
    },
    /// The stream is complete; anything after it is ignored (as node:zlib does).
    Done,
}

// SAFETY: the brotli decoder state owns its heap buffers and holds no thread-bound data; it is
// used by one thread at a time behind `&mut`.
unsafe impl Send for State {}

/// What one [`Decoder::write_bounded`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Input bytes taken.
    pub consumed: usize,
    /// It stopped at its output budget: more output may come without more input.
    pub more: bool,
}

/// A decompressor for one stream.
pub struct Decoder {
    state: State,
    /// The bytes seen while the format is undetected (`'auto'`).
    head: Vec<u8>,
    max_output: usize,
    total_out: usize,
}

/// The error node:zlib gives for input that ends inside a stream.
fn truncated() -> KernelError {
    KernelError::Codec {
        code: "Z_BUF_ERROR",
        errno: -5,
        message: "unexpected end of file".into(),
    }
}

fn data_error(message: &str) -> KernelError {
    KernelError::Codec {
        code: "Z_DATA_ERROR",
        errno: -3,
        message: message.into(),
    }
}

/// A libzstd error as `code: 'ZSTD_error_<name>'`, `errno` minus its number, and libzstd's text.
pub fn zstd_failure(code: usize) -> KernelError {
    use zstd::zstd_safe::zstd_sys;
    // SAFETY: a plain function of an integer.
    let which = unsafe { zstd_sys::ZSTD_getErrorCode(code) };
    let name = format!("{which:?}");
    KernelError::Codec {
        code: intern(name),
        errno: -(which as i32),
        message: zstd::zstd_safe::get_error_name(code).to_string(),
    }
}

/// A library's error name as a `&'static str`, kept once per distinct name (a few dozen exist),
/// so that hostile input cannot grow memory by failing many times.
fn intern(name: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

fn too_large(limit: usize) -> KernelError {
    KernelError::BufferTooLarge(format!("Cannot create a Buffer larger than {limit} bytes"))
}

impl Decoder {
    /// `format` None detects gzip, zlib and zstd from the first bytes.
    pub fn new(format: Option<Format>, max_output: usize) -> Self {
        let mut decoder = Self {
            state: State::Undetected,
            head: Vec::new(),
            max_output,
            total_out: 0,
        };
        if let Some(format) = format {
            decoder.state = Self::start(format);
        }
        decoder
    }

    fn start(format: Format) -> State {
        match format {
            Format::Gzip => State::Flate {
                inner: Box::new(Decompress::new_gzip(15)),
                format,
                ended: false,
            },
            Format::Deflate | Format::DeflateRaw => State::Flate {
                inner: Box::new(Decompress::new(format == Format::Deflate)),
                format,
                ended: false,
            },
            Format::Zstd => State::Zstd {
                dctx: Box::new(zstd::zstd_safe::DCtx::create()),
                hint: 1,
            },
            Format::Brotli => State::Brotli {
                state: Box::new(BrotliState::new(
                    brotli::HeapAlloc::default(),
                    brotli::HeapAlloc::default(),
                    brotli::HeapAlloc::default(),
                )),
                ended: false,
            },
        }
    }

    /// Pre-sizes `out` for a whole input when its size is written in it (the gzip trailer,
    /// a zstd frame header), within the limit: one allocation instead of a doubling series.
    pub fn reserve_for(&self, input: &[u8], out: &mut Vec<u8>) {
        let hint = match &self.state {
            State::Flate {
                format: Format::Gzip,
                ..
            } if input.len() >= 18 => {
                let n = input.len();
                u32::from_le_bytes(input[n - 4..].try_into().unwrap()) as usize
            }
            State::Zstd { .. } => match zstd::zstd_safe::get_frame_content_size(input) {
                Ok(Some(size)) => size.min(usize::MAX as u64) as usize,
                _ => 0,
            },
            _ => 0,
        };
        // Never more than the limit, nor more than the densest format could expand to.
        let hint = hint
            .min(self.max_output.saturating_add(1))
            .min(input.len().saturating_mul(1032).saturating_add(1024));
        if hint > 0 {
            let _ = out.try_reserve_exact(hint);
        }
    }

    /// Decompresses `input`, the stream's next bytes, appending the output to `out`; `finish`
    /// says the input ends here (a stream still open is then an "unexpected end of file").
    pub fn write(
        &mut self,
        input: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        cancel: &Cancel,
    ) -> Result<(), KernelError> {
        let step = self.write_bounded(input, finish, out, usize::MAX, cancel)?;
        debug_assert!(!step.more && step.consumed == input.len());
        Ok(())
    }

    /// Like [`Decoder::write`], but stops once `out` has grown by about `budget` bytes (at most
    /// `budget` plus one reservation), so that a consumer that reads slowly, or a file written
    /// as it is decoded, bounds the memory: [`Step::more`] then says to call again with
    /// `input[consumed..]` (possibly empty) and the same `finish`.
    pub fn write_bounded(
        &mut self,
        input: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        budget: usize,
        cancel: &Cancel,
    ) -> Result<Step, KernelError> {
        let stop_at = out.len().saturating_add(budget.max(1));
        if let State::Undetected = self.state {
            // gzip and zlib show in two bytes, zstd in four.
            let take = 4usize.saturating_sub(self.head.len()).min(input.len());
            let held = self.head.len(); // bytes from earlier writes
            self.head.extend_from_slice(&input[..take]);
            match detect(&self.head) {
                Some(format) => {
                    self.state = Self::start(format);
                    let head = std::mem::take(&mut self.head);
                    if held > 0 {
                        // At most three header bytes: they make no output.
                        self.feed(&head[..held], false, out, usize::MAX, cancel)?;
                    }
                }
                None if self.head.len() >= 4 => {
                    return Err(data_error(
                        "unknown compression format (not gzip, zlib or zstd)",
                    ))
                }
                None if finish => return Err(truncated()),
                None => {
                    // too few bytes yet to tell: all of them are kept in `head`
                    return Ok(Step {
                        consumed: input.len(),
                        more: false,
                    });
                }
            }
        }
        self.feed(input, finish, out, stop_at, cancel)
    }

    fn feed(
        &mut self,
        input: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        stop_at: usize,
        cancel: &Cancel,
    ) -> Result<Step, KernelError> {
        let mut consumed = 0usize;
        for (i, piece) in input
            .chunks(STEP)
            .chain(input.is_empty().then_some(&[][..]))
            .enumerate()
        {
            cancel.check()?;
            let last = finish && (i + 1) * STEP >= input.len();
            let (taken, full) = self.feed_piece(piece, last, out, stop_at, cancel)?;
            consumed += taken;
            cancel.advance(taken as u64);
            if full {
                return Ok(Step {
                    consumed,
                    more: true,
                });
            }
        }
        Ok(Step {
            consumed,
            more: false,
        })
    }

    /// Room for more output: double what this write has made, never past the limit (plus the
    /// one byte that shows the limit was passed).
    fn room(&self, out: &mut Vec<u8>, stop_at: usize) -> Result<(), KernelError> {
        if out.capacity() - out.len() >= FIRST_ROOM / 2 {
            return Ok(());
        }
        let allowed = (self.max_output - self.total_out).saturating_add(1);
        let budget = stop_at.saturating_sub(out.len()).max(FIRST_ROOM);
        let want = out.len().max(FIRST_ROOM).min(allowed).min(budget);
        if want == 0 || out.capacity() - out.len() >= want {
            return Ok(());
        }
        try_reserve(out, want, "the decompressed output")
    }

    fn count(&mut self, produced: usize) -> Result<(), KernelError> {
        self.total_out += produced;
        if self.total_out > self.max_output {
            return Err(too_large(self.max_output));
        }
        Ok(())
    }

    /// Feeds `piece` until it is all taken and nothing more comes out of it, or until `out`
    /// reaches `stop_at`. Returns the bytes taken and whether it stopped at `stop_at`.
    fn feed_piece(
        &mut self,
        piece: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        stop_at: usize,
        cancel: &Cancel,
    ) -> Result<(usize, bool), KernelError> {
        let mut at = 0usize;
        loop {
            if out.len() >= stop_at {
                return Ok((at, true));
            }
            match &mut self.state {
                State::Undetected => unreachable!("the format is known before feeding"),
                State::Done => return Ok((piece.len(), false)),
                State::Flate {
                    inner,
                    format,
                    ended,
                } => {
                    if *ended {
                        // node:zlib reads another gzip member unless the next byte is 0 (which
                        // ends the data); zlib and raw streams ignore what follows.
                        if at == piece.len() {
                            return Ok((at, false));
                        }
                        if *format != Format::Gzip || piece[at] == 0 {
                            self.state = State::Done;
                            return Ok((piece.len(), false));
                        }
                        **inner = Decompress::new_gzip(15);
                        *ended = false;
                    }
                    let before_in = inner.total_in();
                    let before_out = out.len();
                    self.room(out, stop_at)?;
                    let State::Flate { inner, ended, .. } = &mut self.state else {
                        unreachable!()
                    };
                    let status = inner
                        .decompress_vec(&piece[at..], out, FlushDecompress::None)
                        .map_err(|e| {
                            if e.needs_dictionary().is_some() {
                                KernelError::Codec {
                                    code: "Z_NEED_DICT",
                                    errno: 2,
                                    message: "Missing dictionary".into(),
                                }
                            } else {
                                data_error(e.message().unwrap_or("invalid compressed data"))
                            }
                        })?;
                    let consumed = (inner.total_in() - before_in) as usize;
                    at += consumed;
                    let stream_end = status == Status::StreamEnd;
                    if stream_end {
                        *ended = true;
                    }
                    let produced = out.len() - before_out;
                    self.count(produced)?;
                    if !stream_end && produced == 0 && consumed == 0 {
                        // Every byte taken and nothing more to give: wait for more input.
                        if finish {
                            return Err(truncated());
                        }
                        return Ok((at, false));
                    }
                    cancel.check()?;
                }
                State::Zstd { hint: 0, .. } if at == piece.len() => {
                    return Ok((at, false)); // between frames, with no more input
                }
                State::Zstd { .. } => {
                    use zstd::zstd_safe::{InBuffer, OutBuffer};
                    let before_out = out.len();
                    self.room(out, stop_at)?;
                    let State::Zstd { dctx, hint } = &mut self.state else {
                        unreachable!()
                    };
                    let mut src = InBuffer::around(&piece[at..]);
                    {
                        let mut dst = OutBuffer::around_pos(out, out.len());
                        *hint = dctx
                            .decompress_stream(&mut dst, &mut src)
                            .map_err(zstd_failure)?;
                    }
                    let consumed = src.pos();
                    at += consumed;
                    let hint = *hint;
                    let produced = out.len() - before_out;
                    self.count(produced)?;
                    if at == piece.len() && (hint == 0 || (produced == 0 && consumed == 0)) {
                        // A frame ended with the input, or nothing more comes without input.
                        if finish && hint != 0 {
                            return Err(truncated());
                        }
                        return Ok((at, false));
                    }
                    cancel.check()?;
                }
                State::Brotli { .. } => {
                    let before_out = out.len();
                    self.room(out, stop_at)?;
                    let State::Brotli { state, ended } = &mut self.state else {
                        unreachable!()
                    };
                    if *ended {
                        self.state = State::Done;
                        return Ok((piece.len(), false));
                    }
                    let start = out.len();
                    let spare = out.capacity() - start;
                    out.resize(out.capacity(), 0);
                    let (mut avail_in, mut in_off) = (piece.len() - at, at);
                    let (mut avail_out, mut out_off, mut total) = (spare, start, 0usize);
                    let result = brotli::BrotliDecompressStream(
                        &mut avail_in,
                        &mut in_off,
                        piece,
                        &mut avail_out,
                        &mut out_off,
                        out,
                        &mut total,
                        state,
                    );
                    out.truncate(out_off);
                    at = in_off;
                    let produced = out.len() - before_out;
                    match result {
                        brotli::BrotliResult::ResultFailure => {
                            let code = state.error_code;
                            let name = format!("{code:?}");
                            let suffix = name.strip_prefix("BROTLI_DECODER").unwrap_or(&name);
                            return Err(KernelError::Codec {
                                code: intern(format!("ERR_{suffix}")),
                                errno: code as i32,
                                message: "Decompression failed".into(),
                            });
                        }
                        brotli::BrotliResult::ResultSuccess => *ended = true,
                        brotli::BrotliResult::NeedsMoreInput => {
                            self.count(produced)?;
                            if finish {
                                return Err(truncated());
                            }
                            return Ok((at, false));
                        }
                        brotli::BrotliResult::NeedsMoreOutput => {}
                    }
                    self.count(produced)?;
                    cancel.check()?;
                }
            }
        }
    }
}

/// gzip, zlib or zstd, from the first bytes; None when they are none of these or too few.
fn detect(head: &[u8]) -> Option<Format> {
    match head {
        [0x1f, 0x8b, ..] => Some(Format::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Format::Zstd),
        [a, b, ..]
            if a & 0x0f == 8 && a >> 4 <= 7 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0 =>
        {
            Some(Format::Deflate)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compress, decompress, Format};
    use crate::cancel::Cancel;
    use crate::error::KernelError;

    use super::super::test_sample as sample;

    const ALL: [Format; 5] = [
        Format::Gzip,
        Format::Deflate,
        Format::DeflateRaw,
        Format::Zstd,
        Format::Brotli,
    ];

    #[test]
    fn round_trips_every_format_and_size() {
        let c = Cancel::new();
        for len in [0, 1, 100, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 2_500_000] {
            let data = sample(len);
            for format in ALL {
                let level = if format == Format::Brotli {
                    4
                } else {
                    format.default_level()
                };
                let packed = compress(&data, format, level, &c).unwrap();
                let back = decompress(&packed, Some(format), usize::MAX, &c).unwrap();
                assert!(back == data, "{format:?} {len}");
                if matches!(format, Format::Gzip | Format::Deflate | Format::Zstd) {
                    assert!(decompress(&packed, None, usize::MAX, &c).unwrap() == data);
                }
            }
        }
    }

    #[test]
    fn independent_decoders_read_the_output() {
        use std::io::Read;
        let c = Cancel::new();
        let data = sample(3_000_000);
        let gz = compress(&data, Format::Gzip, 6, &c).unwrap();
        // One member: a one-member reader gets everything and leaves no bytes unread.
        let mut back = Vec::new();
        let mut one = flate2::read::GzDecoder::new(&gz[..]);
        one.read_to_end(&mut back).unwrap();
        assert!(back == data);
        assert!(one.into_inner().is_empty());
        let z = compress(&data, Format::Deflate, 6, &c).unwrap();
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data);
        let zs = compress(&data, Format::Zstd, 3, &c).unwrap();
        let mut back = Vec::new();
        ruzstd::decoding::StreamingDecoder::new(&zs[..])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data);
    }

    #[test]
    fn pieces_decode_like_the_whole() {
        let c = Cancel::new();
        let data = sample(1_500_000);
        for format in ALL {
            let packed = compress(&data, format, 5, &c).unwrap();
            let mut dec = super::Decoder::new(Some(format), usize::MAX);
            let mut out = Vec::new();
            for piece in packed.chunks(777) {
                dec.write(piece, false, &mut out, &c).unwrap();
            }
            dec.write(&[], true, &mut out, &c)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert!(out == data, "{format:?}");
        }
    }

    #[test]
    fn corrupt_truncated_and_bombs_are_refused() {
        let c = Cancel::new();
        let data = sample(200_000);
        for format in ALL {
            let packed = compress(&data, format, 5, &c).unwrap();
            let cut = &packed[..packed.len() / 2];
            let err = decompress(cut, Some(format), usize::MAX, &c).unwrap_err();
            assert!(
                matches!(
                    err,
                    KernelError::Codec {
                        code: "Z_BUF_ERROR",
                        ..
                    }
                ),
                "{format:?} {err}"
            );
            let err = decompress(&[], Some(format), usize::MAX, &c).unwrap_err();
            assert!(
                matches!(
                    err,
                    KernelError::Codec {
                        code: "Z_BUF_ERROR",
                        ..
                    }
                ),
                "{format:?} {err}"
            );
            let err = decompress(&packed, Some(format), 1000, &c).unwrap_err();
            assert!(
                matches!(err, KernelError::BufferTooLarge(_)),
                "{format:?} {err}"
            );
        }
        let err = decompress(b"hello world", Some(Format::Gzip), usize::MAX, &c).unwrap_err();
        assert!(
            matches!(&err, KernelError::Codec { code: "Z_DATA_ERROR", errno: -3, message } if message == "incorrect header check"),
            "{err}"
        );
        // A bomb: 1 GiB of zeros is refused at 10 MB having allocated at most the limit.
        let zeros = vec![0u8; 64 << 20];
        let mut enc = super::super::encode::Encoder::new(Format::Gzip, 9).unwrap();
        let mut bomb = Vec::new();
        for _ in 0..16 {
            enc.write(&zeros, false, &mut bomb, &c).unwrap();
        }
        enc.write(&[], true, &mut bomb, &c).unwrap();
        let err = decompress(&bomb, Some(Format::Gzip), 10_000_000, &c).unwrap_err();
        assert!(matches!(err, KernelError::BufferTooLarge(_)));
    }

    #[test]
    fn gzip_members_and_trailing_bytes_follow_node() {
        let c = Cancel::new();
        let a = compress(b"hello ", Format::Gzip, 6, &c).unwrap();
        let b = compress(b"world", Format::Gzip, 6, &c).unwrap();
        let both = [a.clone(), b.clone()].concat();
        assert_eq!(
            decompress(&both, Some(Format::Gzip), usize::MAX, &c).unwrap(),
            b"hello world"
        );
        // A zero byte after a member ends the data; other bytes must be another member.
        let padded = [a.clone(), vec![0, 1, 2]].concat();
        assert_eq!(
            decompress(&padded, Some(Format::Gzip), usize::MAX, &c).unwrap(),
            b"hello "
        );
        let junk = [a, b"xyz".to_vec()].concat();
        assert!(decompress(&junk, Some(Format::Gzip), usize::MAX, &c).is_err());
    }
}
