//! Where the parser's bytes come from: a file read window by window, decompressed (gzip and
//! zstd recognised by their magic bytes, brotli when asked) and transcoded to UTF-8 (latin1,
//! windows-1252, UTF-16) as it is read, so that `readCsv` holds one window of text, never
//! the whole file, whatever the file is.

use std::borrow::Cow;

use crate::cancel::Cancel;
use crate::compress::decode::Decoder;
use crate::compress::Format;
use crate::error::{try_reserve, KernelError};

/// The text encoding of a CSV file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// ISO-8859-1: each byte is the code point of the same value (as Node's `'latin1'` and
    /// Python's `'latin-1'` read it).
    Latin1,
    /// windows-1252 (WHATWG's, which browsers also use for `'iso-8859-1'` labels): latin1 but
    /// for 0x80-0x9F, which hold `€`, `‚`, `ƒ`, `„`, curly quotes and the like.
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    /// A label as Node and Python spell it.
    pub fn parse(label: &str) -> Option<Self> {
        Some(match label.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Self::Utf8,
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "binary" => Self::Latin1,
            "windows-1252" | "cp1252" => Self::Windows1252,
            "utf-16le" | "utf16le" | "ucs2" | "ucs-2" => Self::Utf16Le,
            "utf-16be" | "utf16be" => Self::Utf16Be,
            _ => return None,
        })
    }

    /// The encoding a byte-order mark at the start of `head` says, and the mark's length: a
    /// UTF-16 mark wins over the option (a file saved as "Unicode" by Excel is UTF-16LE with
    /// one), a UTF-8 one is only dropped when the option is UTF-8.
    pub fn sniff(self, head: &[u8]) -> (Self, usize) {
        match head {
            [0xff, 0xfe, ..] => (Self::Utf16Le, 2),
            [0xfe, 0xff, ..] => (Self::Utf16Be, 2),
            [0xef, 0xbb, 0xbf, ..] if self == Self::Utf8 => (Self::Utf8, 3),
            _ => (self, 0),
        }
    }
}

/// Text decoding as it goes, piece by piece (a character cut between pieces is carried).
pub struct Transcoder {
    encoding: TextEncoding,
    decoder: Option<encoding_rs::Decoder>,
    /// UTF-8 output bytes made so far: where a malformed sequence is, for the error's line.
    lines: u64,
}

impl Transcoder {
    pub fn new(encoding: TextEncoding) -> Self {
        let decoder = match encoding {
            TextEncoding::Utf8 | TextEncoding::Latin1 => None,
            TextEncoding::Windows1252 => {
                Some(encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling())
            }
            TextEncoding::Utf16Le => Some(encoding_rs::UTF_16LE.new_decoder_without_bom_handling()),
            TextEncoding::Utf16Be => Some(encoding_rs::UTF_16BE.new_decoder_without_bom_handling()),
        };
        Self {
            encoding,
            decoder,
            lines: 0,
        }
    }

    /// Decodes `input` (the next bytes; `last` when no more follow) and appends UTF-8 to `out`.
    pub fn decode(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), KernelError> {
        let start = out.len();
        match (self.encoding, self.decoder.as_mut()) {
            (TextEncoding::Utf8, _) => {
                try_reserve(out, input.len(), "the decoded text")?;
                out.extend_from_slice(input);
            }
            (TextEncoding::Latin1, _) => {
                let room = input.len() * 2;
                try_reserve(out, room, "the decoded text")?;
                let len = out.len();
                out.resize(len + room, 0);
                let n = encoding_rs::mem::convert_latin1_to_utf8(input, &mut out[len..]);
                out.truncate(len + n);
            }
            (_, Some(decoder)) => {
                let mut input = input;
                loop {
                    let room = decoder
                        .max_utf8_buffer_length_without_replacement(input.len())
                        .unwrap_or(input.len() * 3 + 16);
                    try_reserve(out, room, "the decoded text")?;
                    let len = out.len();
                    out.resize(len + room, 0);
                    let (result, read, written) =
                        decoder.decode_to_utf8_without_replacement(input, &mut out[len..], last);
                    out.truncate(len + written);
                    input = &input[read..];
                    match result {
                        encoding_rs::DecoderResult::InputEmpty => break,
                        encoding_rs::DecoderResult::OutputFull => continue,
                        encoding_rs::DecoderResult::Malformed(_, _) => {
                            let line = self.lines
                                + 1
                                + memchr::memchr_iter(b'\n', &out[start..]).count() as u64;
                            let shown = &input[..input.len().min(8)];
                            return Err(super::csv_error(
                                "ERR_CSV_INVALID_ENCODING",
                                line,
                                "",
                                format!("{shown:02x?}").as_bytes(),
                                &format!("malformed {:?} text", self.encoding),
                            ));
                        }
                    }
                }
            }
            (_, None) => unreachable!("every other encoding has a decoder"),
        }
        self.lines += memchr::memchr_iter(b'\n', &out[start..]).count() as u64;
        Ok(())
    }
}

/// `input` as UTF-8 (borrowed when it already is, its UTF-8 mark left for the parser to drop).
pub fn decode_all(input: &[u8], encoding: TextEncoding) -> Result<Cow<'_, [u8]>, KernelError> {
    let (encoding, bom) = encoding.sniff(input);
    if encoding == TextEncoding::Utf8 {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = Vec::new();
    Transcoder::new(encoding).decode(&input[bom..], true, &mut out)?;
    Ok(Cow::Owned(out))
}

/// A source of bytes pulled window by window.
pub trait Pull {
    /// Appends up to `max` bytes to `buf`; returns how many (0 only at the end).
    fn pull(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, KernelError>;

    /// Whether the text pulled is the source's bytes as they are (after the first pull), so
    /// that the source's size counts the text (progress).
    fn as_is(&self) -> bool {
        true
    }
}

/// A [`std::io::Read`] as a [`Pull`]; read errors name `path`.
pub struct ReadPull<'p, R> {
    pub inner: R,
    pub path: &'p str,
}

impl<R: std::io::Read> Pull for ReadPull<'_, R> {
    fn pull(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, KernelError> {
        use std::io::Read;
        try_reserve(buf, max, "the file's bytes")?;
        let len = buf.len();
        // Fills the whole request (a pipe returns a little at a time), into the spare
        // capacity without zeroing it first.
        match (&mut self.inner).take(max as u64).read_to_end(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                buf.truncate(len);
                Err(match e.downcast::<KernelError>() {
                    Ok(kernel) => kernel,
                    Err(e) => KernelError::io(e, "read", self.path),
                })
            }
        }
    }
}

/// Raw bytes read at a time from a compressed file or for transcoding.
const PIECE: usize = 1 << 20;

/// Decompresses and transcodes as it pulls: the file's bytes in, UTF-8 text out.
pub struct TextPull<'c, P> {
    inner: P,
    /// Decompression, once the first bytes have said which (None: plain bytes).
    decoder: Option<Decoder>,
    compression: Compression,
    encoding: TextEncoding,
    transcoder: Option<Transcoder>,
    started: bool,
    raw: Vec<u8>,
    /// Decompressed bytes not yet transcoded.
    plain: Vec<u8>,
    /// Text made but not yet handed out.
    text: Vec<u8>,
    text_at: usize,
    inner_done: bool,
    done: bool,
    cancel: &'c Cancel,
}

/// How `readCsv` treats a file's compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip and zstd recognised by their magic bytes; anything else read as it is.
    Auto,
    None,
    Gzip,
    Zstd,
    /// Brotli has no magic bytes: it is only read when asked for.
    Brotli,
}

impl Compression {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Auto,
            "none" => Self::None,
            "gzip" => Self::Gzip,
            "zstd" => Self::Zstd,
            "brotli" => Self::Brotli,
            _ => return None,
        })
    }
}

impl<'c, P: Pull> TextPull<'c, P> {
    pub fn new(
        inner: P,
        compression: Compression,
        encoding: TextEncoding,
        cancel: &'c Cancel,
    ) -> Self {
        Self {
            inner,
            decoder: None,
            compression,
            encoding,
            transcoder: None,
            started: false,
            raw: Vec::new(),
            plain: Vec::new(),
            text: Vec::new(),
            text_at: 0,
            inner_done: false,
            done: false,
            cancel,
        }
    }

    /// Whether the pass-through path applies: plain UTF-8, nothing to convert.
    fn passthrough(&self) -> bool {
        self.started
            && self.decoder.is_none()
            && self
                .transcoder
                .as_ref()
                .is_none_or(|t| t.encoding == TextEncoding::Utf8)
    }

    /// Reads the first bytes: the compression format, then the byte-order mark.
    fn start(&mut self) -> Result<(), KernelError> {
        while self.raw.len() < 4 && !self.inner_done {
            let want = 4 - self.raw.len();
            if self.inner.pull(&mut self.raw, want)? == 0 {
                self.inner_done = true;
            }
        }
        let format = match self.compression {
            Compression::None => None,
            Compression::Gzip => Some(Format::Gzip),
            Compression::Zstd => Some(Format::Zstd),
            Compression::Brotli => Some(Format::Brotli),
            Compression::Auto => match self.raw.as_slice() {
                [0x1f, 0x8b, ..] => Some(Format::Gzip),
                [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Format::Zstd),
                _ => None,
            },
        };
        self.decoder = format.map(|f| Decoder::new(Some(f), usize::MAX));
        if self.decoder.is_some() {
            self.plain.clear();
            let raw = std::mem::take(&mut self.raw);
            self.decompress(&raw)?;
        } else {
            self.plain = std::mem::take(&mut self.raw);
        }
        // The mark is in the first decompressed bytes.
        while self.plain.len() < 3 && !self.inner_done {
            self.fill_plain()?;
        }
        let (encoding, bom) = self.encoding.sniff(&self.plain);
        // A UTF-8 mark stays for the parser, which drops it (and so counts it in offsets).
        let bom = if encoding == TextEncoding::Utf8 {
            0
        } else {
            bom
        };
        self.plain.drain(..bom);
        self.transcoder = Some(Transcoder::new(encoding));
        self.started = true;
        Ok(())
    }

    fn decompress(&mut self, input: &[u8]) -> Result<(), KernelError> {
        let decoder = self.decoder.as_mut().expect("decompressing");
        let mut input = input;
        loop {
            let step = decoder.write_bounded(
                input,
                self.inner_done,
                &mut self.plain,
                usize::MAX,
                self.cancel,
            )?;
            input = &input[step.consumed..];
            if !step.more && input.is_empty() {
                return Ok(());
            }
        }
    }

    /// Pulls one piece of the file into `plain` (decompressed when it is compressed).
    fn fill_plain(&mut self) -> Result<(), KernelError> {
        self.cancel.check()?;
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        if self.inner.pull(&mut raw, PIECE)? == 0 {
            self.inner_done = true;
        }
        if self.decoder.is_some() {
            self.decompress(&raw)?;
        } else {
            self.plain.extend_from_slice(&raw);
        }
        self.raw = raw;
        Ok(())
    }
}

impl<P: Pull> Pull for TextPull<'_, P> {
    fn as_is(&self) -> bool {
        self.passthrough()
    }

    fn pull(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, KernelError> {
        if !self.started {
            self.start()?;
        }
        let before = buf.len();
        // Whatever is already decoded goes first.
        let held = &self.plain;
        if self.passthrough() {
            if !held.is_empty() {
                let n = held.len().min(max);
                try_reserve(buf, n, "the file's bytes")?;
                buf.extend_from_slice(&held[..n]);
                self.plain.drain(..n);
                return Ok(n);
            }
            if self.inner_done {
                return Ok(0);
            }
            // Plain UTF-8 with nothing held: straight from the source.
            let n = self.inner.pull(buf, max)?;
            if n == 0 {
                self.inner_done = true;
            }
            return Ok(n);
        }
        while buf.len() - before < max {
            if self.text_at < self.text.len() {
                let n = (self.text.len() - self.text_at).min(max - (buf.len() - before));
                try_reserve(buf, n, "the decoded text")?;
                buf.extend_from_slice(&self.text[self.text_at..self.text_at + n]);
                self.text_at += n;
                continue;
            }
            if self.done {
                break;
            }
            self.text.clear();
            self.text_at = 0;
            if self.plain.is_empty() && !self.inner_done {
                self.fill_plain()?;
            }
            let last = self.inner_done;
            let plain = std::mem::take(&mut self.plain);
            self.transcoder
                .as_mut()
                .expect("started")
                .decode(&plain, last, &mut self.text)?;
            self.plain = plain;
            self.plain.clear();
            if last {
                self.done = true;
            }
        }
        Ok(buf.len() - before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull_all(p: &mut impl Pull, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while p.pull(&mut out, step).unwrap() > 0 {}
        out
    }

    #[test]
    fn encodings_decode_as_whatwg_and_python_say() {
        // latin1: byte = code point, 0x80-0x9F included; windows-1252: € at 0x80.
        let bytes = [b'a', 0xe9, 0x80, 0xff];
        assert_eq!(
            decode_all(&bytes, TextEncoding::Latin1).unwrap().as_ref(),
            "aé\u{80}ÿ".as_bytes()
        );
        assert_eq!(
            decode_all(&bytes, TextEncoding::Windows1252)
                .unwrap()
                .as_ref(),
            "aé€ÿ".as_bytes()
        );
        // UTF-16LE with and without a mark; a mark wins over the option.
        let utf16: Vec<u8> = "x,é\n😀,1"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let marked: Vec<u8> = [0xff, 0xfe].iter().copied().chain(utf16.clone()).collect();
        assert_eq!(
            decode_all(&utf16, TextEncoding::Utf16Le).unwrap().as_ref(),
            "x,é\n😀,1".as_bytes()
        );
        assert_eq!(
            decode_all(&marked, TextEncoding::Utf8).unwrap().as_ref(),
            "x,é\n😀,1".as_bytes()
        );
        // A lone surrogate is an error naming its line.
        let bad: Vec<u8> = [0x61, 0x00, 0x0a, 0x00, 0x00, 0xd8, 0x61, 0x00].to_vec();
        match decode_all(&bad, TextEncoding::Utf16Le).unwrap_err() {
            KernelError::Csv { code, line, .. } => {
                assert_eq!((code, line), ("ERR_CSV_INVALID_ENCODING", 2))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_pull_equals_decoding_the_whole() {
        let text: String = (0..20_000)
            .map(|i| format!("{i},caf\u{e9} {i},\u{20ac}{}\n", i % 7))
            .collect();
        let cancel = Cancel::new();
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let cp1252: Vec<u8> = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
        for (bytes, enc) in [
            (text.as_bytes().to_vec(), TextEncoding::Utf8),
            (utf16, TextEncoding::Utf8),
            (cp1252, TextEncoding::Windows1252),
        ] {
            for compression in [None, Some(Format::Gzip), Some(Format::Zstd)] {
                let file = match compression {
                    None => bytes.clone(),
                    Some(f) => {
                        crate::compress::compress(&bytes, f, f.default_level(), &cancel).unwrap()
                    }
                };
                for step in [1, 7, 4096, 1 << 20] {
                    let mut p = TextPull::new(
                        ReadPull {
                            inner: file.as_slice(),
                            path: "x",
                        },
                        Compression::Auto,
                        enc,
                        &cancel,
                    );
                    assert!(
                        pull_all(&mut p, step) == text.as_bytes(),
                        "{enc:?} {compression:?} {step}"
                    );
                }
            }
        }
    }
}
