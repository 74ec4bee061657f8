//! The parser: records into per-chunk columns, chunks in parallel, columns joined in order.

use hashbrown::{DefaultHashBuilder, HashTable};
use memchr::{memchr, memchr2};
use rayon::prelude::*;

use super::dictionary::{join_dictionaries, kept_hash, spread, Joined};
use super::source::{decode_all, Pull};
use super::value::{boolean, iso_date, js_bigint, js_integer, looks_like_date, number};
use super::{csv_error, Column, ColumnType, Options, Table, Texts};
use crate::cancel::Cancel;
use crate::error::KernelError;

/// A field's bytes in the input; `escaped` when quoted with doubled quotes inside to undo.
#[derive(Clone, Copy, Debug)]
struct Field {
    start: usize,
    end: usize,
    escaped: bool,
}

enum RecordError {
    /// A quoted field (opening at this offset) that never closes.
    Unterminated(usize),
    /// Something other than a delimiter or a line end after a closing quote.
    AfterQuote(usize),
    /// A quote inside an unquoted field.
    StrayQuote(usize),
}

/// Finds the delimiters, line feeds and quotes of one buffer. Fields are short (a few bytes),
/// so looking 64 bytes at a time and keeping the block's bitmap for the next fields costs a
/// few instructions a field, where a fresh search per field (memchr3) costs tens.
struct Scanner {
    delim: u8,
    quote: u8,
    /// Where the cached block starts (usize::MAX: none yet).
    block: usize,
    /// Bit i: `buf[block + i]` is a delimiter, a line feed or a quote.
    mask: u64,
}

impl Scanner {
    fn new(delim: u8, quote: u8) -> Self {
        Self {
            delim,
            quote,
            block: usize::MAX,
            mask: 0,
        }
    }

    /// The first delimiter, line feed or quote at or after `p` (every call on the same `buf`).
    #[inline]
    fn find(&mut self, buf: &[u8], mut p: usize) -> Option<usize> {
        loop {
            if self.block != usize::MAX && p >= self.block && p < self.block + 64 {
                let m = self.mask & (!0u64 << (p - self.block));
                if m != 0 {
                    return Some(self.block + m.trailing_zeros() as usize);
                }
                p = self.block + 64;
            }
            if p + 64 > buf.len() {
                let (d, q) = (self.delim, self.quote);
                return buf
                    .get(p..)?
                    .iter()
                    .position(|&c| c == d || c == b'\n' || c == q)
                    .map(|i| p + i);
            }
            self.block = p;
            self.mask = structurals(&buf[p..p + 64], self.delim, self.quote);
        }
    }
}

/// Bit i set where `block[i]` (64 bytes) is `delim`, a line feed or `quote`.
#[inline]
fn structurals(block: &[u8], delim: u8, quote: u8) -> u64 {
    assert!(block.len() >= 64);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64; the four loads stay inside the 64 bytes checked above.
        unsafe {
            let (d, n, q) = (
                _mm_set1_epi8(delim as i8),
                _mm_set1_epi8(b'\n' as i8),
                _mm_set1_epi8(quote as i8),
            );
            let mut mask = 0u64;
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                let hit = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, n)),
                    _mm_cmpeq_epi8(v, q),
                );
                mask |= (_mm_movemask_epi8(hit) as u16 as u64) << (16 * k);
            }
            mask
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block[..64].iter().enumerate().fold(0u64, |m, (i, &c)| {
            m | (u64::from(c == delim || c == b'\n' || c == quote) << i)
        })
    }
}

/// Reads the record at `pos` into `fields`; returns where the next record starts.
fn read_record(
    buf: &[u8],
    pos: usize,
    scanner: &mut Scanner,
    fields: &mut Vec<Field>,
) -> Result<usize, RecordError> {
    let (delim, quote) = (scanner.delim, scanner.quote);
    fields.clear();
    let len = buf.len();
    let mut p = pos;
    loop {
        if p < len && buf[p] == quote {
            let start = p + 1;
            let mut q = start;
            let mut escaped = false;
            let close = loop {
                match memchr(quote, &buf[q..]) {
                    None => return Err(RecordError::Unterminated(p)),
                    Some(i) => {
                        let at = q + i;
                        if at + 1 < len && buf[at + 1] == quote {
                            escaped = true;
                            q = at + 2;
                        } else {
                            break at;
                        }
                    }
                }
            };
            fields.push(Field {
                start,
                end: close,
                escaped,
            });
            p = close + 1;
            if p == len {
                return Ok(len);
            }
            match buf[p] {
                c if c == delim => p += 1,
                b'\n' => return Ok(p + 1),
                b'\r' if p + 1 == len => return Ok(len),
                b'\r' if buf[p + 1] == b'\n' => return Ok(p + 2),
                _ => return Err(RecordError::AfterQuote(p)),
            }
        } else {
            match scanner.find(buf, p).map(|at| at - p) {
                None => {
                    let end = if len > p && buf[len - 1] == b'\r' {
                        len - 1
                    } else {
                        len
                    };
                    fields.push(Field {
                        start: p,
                        end,
                        escaped: false,
                    });
                    return Ok(len);
                }
                Some(i) => {
                    let at = p + i;
                    let c = buf[at];
                    if c == quote {
                        return Err(RecordError::StrayQuote(at));
                    }
                    if c == delim {
                        fields.push(Field {
                            start: p,
                            end: at,
                            escaped: false,
                        });
                        p = at + 1;
                    } else {
                        let end = if at > p && buf[at - 1] == b'\r' {
                            at - 1
                        } else {
                            at
                        };
                        fields.push(Field {
                            start: p,
                            end,
                            escaped: false,
                        });
                        return Ok(at + 1);
                    }
                }
            }
        }
    }
}

/// A field's text: borrowed, or unescaped into `scratch` when it holds doubled quotes.
fn text<'a>(buf: &'a [u8], f: Field, quote: u8, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let raw = &buf[f.start..f.end];
    if !f.escaped {
        return raw;
    }
    scratch.clear();
    let mut i = 0;
    while i < raw.len() {
        scratch.push(raw[i]);
        i += if raw[i] == quote { 2 } else { 1 };
    }
    scratch
}

/// A blank line: one unquoted empty field (a quoted "" is a value).
fn is_blank(buf: &[u8], fields: &[Field], quote: u8) -> bool {
    fields.len() == 1
        && fields[0].start == fields[0].end
        && (fields[0].start == 0 || buf[fields[0].start - 1] != quote)
}

/// Where a value went wrong, before its line number is known.
struct Failure {
    at: usize,
    code: &'static str,
    column: usize,
    text: Vec<u8>,
    what: String,
}

/// The most distinct values an inferred category column holds; past it (or past one value
/// in 16 rows), it is read as strings.
pub const MAX_CATEGORIES: usize = 1 << 16;

/// The field texts read as missing, with the lengths they have for a quick first test.
struct NullSet {
    texts: Vec<Vec<u8>>,
    /// Bit n set: some null text has length n (lengths of 64 and more share bit 63).
    lengths: u64,
}

impl NullSet {
    fn new(texts: &[Vec<u8>]) -> Self {
        let lengths = texts.iter().fold(0, |m, t| m | 1u64 << t.len().min(63));
        Self {
            texts: texts.to_vec(),
            lengths,
        }
    }

    #[inline]
    fn contains(&self, t: &[u8]) -> bool {
        self.lengths & (1u64 << t.len().min(63)) != 0 && self.texts.iter().any(|n| n == t)
    }
}

/// Where one chunk writes one fixed-size column: its own stretch of the column's final
/// buffer, as long as the chunk has line feeds (which bounds its records). Values are written
/// once, where they stay, instead of into per-chunk vectors copied together at the end (that
/// copy, and faulting in the pages twice, took a fifth of a parse).
struct Sink<T> {
    at: *mut T,
    cap: usize,
    len: usize,
}

// SAFETY: a sink is the only one to touch its stretch of memory, and nothing reads the stretch
// before the chunk that writes it is done (`Filled::settle`).
unsafe impl<T: Send> Send for Sink<T> {}

impl<T: Copy> Sink<T> {
    /// The stretch `offset..offset + cap` of the buffer starting at address `base`.
    fn new(base: usize, offset: usize, cap: usize) -> Self {
        Self {
            at: (base as *mut T).wrapping_add(offset),
            cap,
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, v: T) {
        assert!(
            self.len < self.cap,
            "a chunk holds more records than line feeds"
        );
        // SAFETY: `at..at + cap` is reserved memory that only this sink writes.
        unsafe { self.at.add(self.len).write(v) };
        self.len += 1;
    }

    fn as_slice(&self) -> &[T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the first `len` elements of the stretch were written by `push`.
        unsafe { std::slice::from_raw_parts(self.at, self.len) }
    }
}

/// `codes` into `values` as texts (u32::MAX: missing).
fn texts_of(codes: &[u32], values: &Texts) -> Texts {
    let mut out = Texts::default();
    out.ends.reserve(codes.len());
    for &c in codes {
        match c {
            u32::MAX => out.push_missing(),
            c => out.push(values.get(c as usize).expect("a value")),
        }
    }
    out
}

/// Distinct texts in order of first appearance, each found by its hash. An entry keeps 32 bits
/// of its text's hash beside its code, so that growing the table never reads the texts again
/// (with millions of distinct values each such read was a cache miss) and a text is compared
/// only with entries whose kept bits match.
struct Interner {
    table: HashTable<(u32, u32)>,
    values: Texts,
    hasher: DefaultHashBuilder,
}

impl Interner {
    fn new() -> Self {
        Self {
            table: HashTable::new(),
            values: Texts::default(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The code of `t`, added when new if `may_add(values so far)` (else None).
    #[inline]
    fn code(&mut self, t: &[u8], may_add: impl FnOnce(usize) -> bool) -> Option<u32> {
        let kept = kept_hash(&self.hasher, t);
        let hash = spread(kept);
        let values = &self.values;
        if let Some(&(code, _)) = self.table.find(hash, |&(c, k)| {
            k == kept && values.get(c as usize) == Some(t)
        }) {
            return Some(code);
        }
        if !may_add(self.values.len()) {
            return None;
        }
        let code = self.values.len() as u32;
        self.values.push(t);
        self.table
            .insert_unique(hash, (code, kept), |&(_, k)| spread(k));
        Some(code)
    }
}

/// A category column's codes as one chunk fills them, and its distinct texts.
struct Dict {
    codes: Sink<u32>,
    words: Interner,
    /// An inferred category column: strings once it has too many values.
    may_fall_back: bool,
}

impl Dict {
    fn new(may_fall_back: bool, codes: Sink<u32>) -> Self {
        Self {
            codes,
            words: Interner::new(),
            may_fall_back,
        }
    }

    /// The code of `t`, added when new (None: too many values to stay a category).
    #[inline]
    fn code(&mut self, t: &[u8]) -> Option<u32> {
        let may_fall_back = self.may_fall_back;
        self.words
            .code(t, |len| !may_fall_back || len < MAX_CATEGORIES)
    }

    /// The column as strings.
    fn into_texts(self) -> Texts {
        texts_of(self.codes.as_slice(), &self.words.values)
    }
}

/// A column being filled by one chunk.
enum Builder {
    Float64(Sink<f64>),
    Float32(Sink<f32>),
    Int32(Sink<i32>),
    Uint32(Sink<u32>),
    Int64(Sink<i64>),
    Bool(Sink<u8>),
    Date(Sink<f64>),
    String(Texts),
    Category(Dict),
}

impl Builder {
    /// A chunk's builder, writing the stretch `offset..offset + cap` of the column's buffer at
    /// address `base` (see [`Filled::prepare`]); strings are kept by the chunk.
    fn new(kind: ColumnType, may_fall_back: bool, base: usize, offset: usize, cap: usize) -> Self {
        match kind {
            ColumnType::Float64 => Builder::Float64(Sink::new(base, offset, cap)),
            ColumnType::Float32 => Builder::Float32(Sink::new(base, offset, cap)),
            ColumnType::Int32 => Builder::Int32(Sink::new(base, offset, cap)),
            ColumnType::Uint32 => Builder::Uint32(Sink::new(base, offset, cap)),
            ColumnType::Int64 => Builder::Int64(Sink::new(base, offset, cap)),
            ColumnType::Bool => Builder::Bool(Sink::new(base, offset, cap)),
            ColumnType::Date => Builder::Date(Sink::new(base, offset, cap)),
            ColumnType::String => Builder::String(Texts::default()),
            ColumnType::Category => {
                Builder::Category(Dict::new(may_fall_back, Sink::new(base, offset, cap)))
            }
        }
    }

    /// Values written into the column's buffer (a string column's are kept apart).
    fn written(&self) -> usize {
        match self {
            Builder::Float64(s) | Builder::Date(s) => s.len,
            Builder::Float32(s) => s.len,
            Builder::Int32(s) => s.len,
            Builder::Uint32(s) => s.len,
            Builder::Int64(s) => s.len,
            Builder::Bool(s) => s.len,
            Builder::String(_) => 0,
            Builder::Category(d) => d.codes.len,
        }
    }

    /// Room for `n` more strings, so that a growing string column is not copied over and over.
    fn reserve(&mut self, n: usize) {
        if let Builder::String(t) = self {
            t.ends.reserve(n);
        }
    }

    /// Adds a value (None = missing); on failure, the error code and what went wrong.
    #[inline]
    fn push(&mut self, value: Option<&[u8]>, decimal: u8) -> Result<(), (&'static str, String)> {
        const BAD: &str = "ERR_CSV_INVALID_VALUE";
        const MISSING: &str = "ERR_CSV_MISSING_VALUE";
        let missing = |kind: &str| {
            (
                MISSING,
                format!("a missing value in a {kind} column (only float, date, string and category columns can hold one)"),
            )
        };
        let utf8 = |t: &[u8]| {
            std::str::from_utf8(t).map(|_| ()).map_err(|_| {
                (
                    "ERR_CSV_INVALID_UTF8",
                    "invalid UTF-8 (see options.encoding)".to_string(),
                )
            })
        };
        match self {
            Builder::Float64(v) => v.push(match value {
                None => f64::NAN,
                Some(t) => number(t, decimal).ok_or_else(|| (BAD, "not a number".into()))?,
            }),
            Builder::Float32(v) => v.push(match value {
                None => f32::NAN,
                Some(t) => number(t, decimal).ok_or_else(|| (BAD, "not a number".into()))? as f32,
            }),
            Builder::Int32(v) => {
                let t = value.ok_or_else(|| missing("int32"))?;
                let x = js_integer(t, i32::MIN as f64, i32::MAX as f64)
                    .ok_or_else(|| (BAD, "not an int32".into()))?;
                v.push(x as i32)
            }
            Builder::Uint32(v) => {
                let t = value.ok_or_else(|| missing("uint32"))?;
                let x = js_integer(t, 0.0, u32::MAX as f64)
                    .ok_or_else(|| (BAD, "not a uint32".into()))?;
                v.push(x as u32)
            }
            Builder::Int64(v) => {
                let t = value.ok_or_else(|| missing("int64"))?;
                v.push(js_bigint(t).ok_or_else(|| (BAD, "not an int64".into()))?)
            }
            Builder::Bool(v) => {
                let t = value.ok_or_else(|| missing("bool"))?;
                v.push(boolean(t).ok_or_else(|| (BAD, "not a bool (true/false, 1/0)".into()))?)
            }
            Builder::Date(v) => v.push(match value {
                None => f64::NAN,
                Some(t) => iso_date(t).ok_or_else(|| (BAD, "not an ISO 8601 date".into()))?,
            }),
            Builder::String(v) => match value {
                None => v.push_missing(),
                Some(t) => {
                    utf8(t)?;
                    v.push(t)
                }
            },
            Builder::Category(dict) => match value {
                None => dict.codes.push(u32::MAX),
                Some(t) => match dict.code(t) {
                    Some(code) => {
                        if code as usize + 1 == dict.words.values.len() {
                            // A new value: checked once.
                            if let Err(e) = utf8(t) {
                                dict.words.values.truncate(code as usize);
                                dict.words.table.clear();
                                return Err(e);
                            }
                        }
                        dict.codes.push(code)
                    }
                    None => {
                        // Too many distinct values for an inferred category: strings from
                        // here on (the earlier values kept as they were).
                        let Builder::Category(dict) =
                            std::mem::replace(self, Builder::String(Texts::default()))
                        else {
                            unreachable!()
                        };
                        *self = Builder::String(dict.into_texts());
                        return self.push(value, decimal);
                    }
                },
            },
        }
        Ok(())
    }
}

/// The header's names and where the data starts.
fn header(
    buf: &[u8],
    start: usize,
    opts: &Options,
    cancel: &Cancel,
) -> Result<(Vec<String>, usize), KernelError> {
    let mut fields = Vec::new();
    let mut scanner = Scanner::new(opts.delimiter, opts.quote);
    let mut pos = start;
    // Skip blank lines before the first record.
    while pos < buf.len() {
        let next = read_record(buf, pos, &mut scanner, &mut fields)
            .map_err(|e| record_error(buf, e, ""))?;
        if !is_blank(buf, &fields, opts.quote) {
            let mut scratch = Vec::new();
            let mut names: Vec<String> = Vec::with_capacity(fields.len());
            // The names so far, for the duplicate check: linear in the header's width.
            let mut seen: std::collections::HashSet<String> =
                std::collections::HashSet::with_capacity(fields.len());
            for (i, &f) in fields.iter().enumerate() {
                if i % 4096 == 4095 {
                    cancel.check()?;
                }
                if !opts.header {
                    names.push(i.to_string());
                    continue;
                }
                let t = text(buf, f, opts.quote, &mut scratch);
                let name = std::str::from_utf8(t).map_err(|_| {
                    csv_error(
                        "ERR_CSV_INVALID_UTF8",
                        line_of(buf, pos),
                        &i.to_string(),
                        t,
                        "invalid UTF-8 in the header",
                    )
                })?;
                // A repeated name gets a suffix: "a", "a_2", "a_3".
                let mut unique = name.to_string();
                let mut n = 1;
                while seen.contains(&unique) {
                    n += 1;
                    unique = format!("{name}_{n}");
                }
                seen.insert(unique.clone());
                names.push(unique);
            }
            return Ok((names, if opts.header { next } else { pos }));
        }
        pos = next;
    }
    Ok((Vec::new(), buf.len()))
}

/// The 1-based line of byte `at`.
fn line_of(buf: &[u8], at: usize) -> u64 {
    1 + memchr::memchr_iter(b'\n', &buf[..at.min(buf.len())]).count() as u64
}

/// Where a record went wrong, its error code, what went wrong, and the text shown (up to the
/// end of the line, at most 40 bytes).
fn record_failure(buf: &[u8], e: RecordError) -> (usize, &'static str, &'static str, &[u8]) {
    let (at, code, what) = match e {
        RecordError::Unterminated(at) => (
            at,
            "ERR_CSV_UNTERMINATED_QUOTE",
            "a quoted field that never closes",
        ),
        RecordError::AfterQuote(at) => (at, "ERR_CSV_INVALID_QUOTE", "text after a closing quote"),
        RecordError::StrayQuote(at) => (
            at,
            "ERR_CSV_INVALID_QUOTE",
            "a quote inside an unquoted field (quote the whole field and double the quote)",
        ),
    };
    let end = (at + 40).min(buf.len());
    let stop = memchr(b'\n', &buf[at..end]).map_or(end, |i| at + i);
    (at, code, what, &buf[at..stop])
}

fn record_error(buf: &[u8], e: RecordError, column: &str) -> KernelError {
    let (at, code, what, text) = record_failure(buf, e);
    csv_error(code, line_of(buf, at), column, text, what)
}

/// Record starts that cut `buf[from..]` into about `pieces` chunks, each a run of whole records.
fn chunk_starts(buf: &[u8], from: usize, pieces: usize, quote: u8) -> Vec<usize> {
    let len = buf.len() - from;
    if pieces <= 1 || len < (1 << 20) {
        return vec![from];
    }
    let size = len.div_ceil(pieces);
    let bounds: Vec<usize> = (0..pieces)
        .map(|i| from + i * size)
        .filter(|&b| b < buf.len())
        .collect();
    // Each chunk's quote count; its running parity says whether the next chunk starts inside
    // a quoted field.
    let odd: Vec<bool> = bounds
        .par_iter()
        .map(|&b| memchr::memchr_iter(quote, &buf[b..(b + size).min(buf.len())]).count() % 2 == 1)
        .collect();
    let mut starts = vec![from];
    let mut inside = false;
    for (i, &b) in bounds.iter().enumerate() {
        if i > 0 {
            // The first line break outside quotes in this chunk ends a record.
            let end = (b + size).min(buf.len());
            let mut state = inside;
            let mut p = b;
            while let Some(k) = memchr2(quote, b'\n', &buf[p..end]) {
                let at = p + k;
                if buf[at] == quote {
                    state = !state;
                } else if !state {
                    if at + 1 > *starts.last().unwrap() {
                        starts.push(at + 1);
                    }
                    break;
                }
                p = at + 1;
            }
        }
        inside ^= odd[i];
    }
    starts
}

/// What one chunk made.
struct Chunk {
    rows: usize,
    columns: Vec<Builder>,
    failure: Option<Failure>,
}

#[allow(clippy::too_many_arguments)]
fn parse_chunk(
    buf: &[u8],
    from: usize,
    to: usize,
    opts: &Options,
    width: usize,
    slots: &[Option<usize>],
    kinds: &[(ColumnType, bool)],
    (bases, offset, cap): (&[usize], usize, usize),
    cancel: &Cancel,
) -> Result<Chunk, KernelError> {
    let mut columns: Vec<Builder> = kinds
        .iter()
        .zip(bases)
        .map(|(&(k, f), &base)| Builder::new(k, f, base, offset, cap))
        .collect();
    let nulls = NullSet::new(&opts.null_values);
    let mut fields = Vec::with_capacity(width);
    let mut scanner = Scanner::new(opts.delimiter, opts.quote);
    let mut scratch = Vec::new();
    let mut rows = 0usize;
    let mut pos = from;
    let mut since_check = 0usize;
    let fail = |at, code, column, text: &[u8], what: String| Failure {
        at,
        code,
        column,
        text: text.to_vec(),
        what,
    };
    while pos < to {
        let start = pos;
        pos = match read_record(buf, pos, &mut scanner, &mut fields) {
            Ok(next) => next,
            Err(e) => {
                // The field being read: an unterminated or stray quote stops before its
                // field is pushed, text after a closing quote just after.
                let column = match e {
                    RecordError::AfterQuote(_) => fields.len().saturating_sub(1),
                    _ => fields.len(),
                };
                let (at, code, what, text) = record_failure(buf, e);
                return Ok(Chunk {
                    rows,
                    columns,
                    failure: Some(fail(at, code, column, text, what.into())),
                });
            }
        };
        if is_blank(buf, &fields, opts.quote) {
            continue;
        }
        if fields.len() != width && !opts.relax_column_count {
            let line_end =
                memchr(b'\n', &buf[start..pos.min(buf.len())]).map_or(pos, |i| start + i);
            return Ok(Chunk {
                rows,
                columns,
                failure: Some(fail(
                    start,
                    "ERR_CSV_COLUMN_COUNT",
                    fields.len().min(width.saturating_sub(1)),
                    &buf[start..line_end.min(start + 80)],
                    format!(
                        "{} fields where the header has {width} (relaxColumnCount allows this)",
                        fields.len()
                    ),
                )),
            });
        }
        for (i, slot) in slots.iter().enumerate() {
            let Some(slot) = *slot else { continue };
            let value = match fields.get(i) {
                None => None,
                Some(&f) => {
                    let t = text(buf, f, opts.quote, &mut scratch);
                    if nulls.contains(t) {
                        None
                    } else {
                        Some(t)
                    }
                }
            };
            if let Err((code, what)) = columns[slot].push(value, opts.decimal) {
                let shown = value.unwrap_or(b"").to_vec();
                return Ok(Chunk {
                    rows,
                    columns,
                    failure: Some(Failure {
                        at: start,
                        code,
                        column: i,
                        text: shown,
                        what,
                    }),
                });
            }
        }
        rows += 1;
        if rows == 64 && pos < to {
            // The rest of the chunk's rows, from the first ones' length (a few percent over).
            // A record has at least `width` bytes (delimiters, line end) unless the column
            // count is relaxed: that bounds what a short start can reserve.
            let more = ((to - pos) / ((pos - from) / 64).max(1)).min((to - pos) / width.max(1));
            columns.iter_mut().for_each(|c| c.reserve(more + more / 16));
        }
        since_check += pos - start;
        // Every 256 KiB: dictionary (category) columns parse at ~15 MB/s per core, so that
        // is ~15 ms of work between two looks at the flag.
        if since_check >= 256 << 10 {
            if let Err(e) = cancel.check() {
                // Millions of small strings take a while to free: not on the way out.
                crate::reaper::drop_in_background(columns);
                return Err(e);
            }
            cancel.advance(since_check as u64);
            since_check = 0;
        }
    }
    cancel.advance(since_check as u64);
    Ok(Chunk {
        rows,
        columns,
        failure: None,
    })
}

/// Records read to infer the columns' types: the same first records for `parseCsv` and
/// `readCsv`, which reads on until it has them (or the file ends).
pub const SAMPLE: usize = 1000;

/// Types for every column from the first [`SAMPLE`] records. Per column, over its values that
/// are not missing: float64 when every one reads as a number; date when every one is an ISO
/// 8601 date (`YYYY-MM-DD`, with a time or not); bool when every one is true or false (any of
/// [`boolean`]'s spellings) and none is missing (a bool column has no spare value); category
/// when at most one value in 16 is new (so at least 16 values); string otherwise, and for a
/// column with no value in the sample.
fn infer(buf: &[u8], from: usize, opts: &Options, width: usize) -> Vec<ColumnType> {
    let nulls = NullSet::new(&opts.null_values);
    let mut numeric = vec![true; width];
    let mut date = vec![true; width];
    let mut truth = vec![true; width];
    let mut seen = vec![0usize; width];
    let mut distinct: Vec<std::collections::HashSet<Vec<u8>>> = vec![Default::default(); width];
    let limit = SAMPLE / 16 + 1;
    let mut fields = Vec::new();
    let mut scanner = Scanner::new(opts.delimiter, opts.quote);
    let mut scratch = Vec::new();
    let mut pos = from;
    let mut rows = 0;
    while pos < buf.len() && rows < SAMPLE {
        let Ok(next) = read_record(buf, pos, &mut scanner, &mut fields) else {
            break; // the real pass reports it
        };
        pos = next;
        if is_blank(buf, &fields, opts.quote) {
            continue;
        }
        rows += 1;
        for (i, &f) in fields.iter().take(width).enumerate() {
            let t = text(buf, f, opts.quote, &mut scratch);
            if nulls.contains(t) {
                continue;
            }
            seen[i] += 1;
            if numeric[i] && number(t, opts.decimal).is_none() {
                numeric[i] = false;
            }
            if !numeric[i] {
                if date[i] && !looks_like_date(t) {
                    date[i] = false;
                }
                if truth[i] && boolean(t).is_none() {
                    truth[i] = false;
                }
                if distinct[i].len() <= limit && !distinct[i].contains(t) {
                    distinct[i].insert(t.to_vec());
                }
            }
        }
    }
    (0..width)
        .map(|i| {
            if seen[i] == 0 {
                ColumnType::String
            } else if numeric[i] {
                ColumnType::Float64
            } else if date[i] {
                ColumnType::Date
            } else if truth[i] && seen[i] == rows {
                ColumnType::Bool
            } else if distinct[i].len() * 16 <= seen[i] {
                ColumnType::Category
            } else {
                ColumnType::String
            }
        })
        .collect()
}

/// Whether `buf` (not the whole file) holds the skipped lines, the header and the [`SAMPLE`]
/// records that follow, each ended by a line break: what [`layout`] needs to decide the same
/// types as it would on the whole file.
fn sample_ready(buf: &[u8], opts: &Options) -> bool {
    let mut pos = 0;
    for _ in 0..opts.skip_rows {
        match memchr(b'\n', &buf[pos..]) {
            Some(i) => pos += i + 1,
            None => return false,
        }
    }
    let mut fields = Vec::new();
    let mut scanner = Scanner::new(opts.delimiter, opts.quote);
    // The header (when there is one) and the sample.
    let mut records = 0;
    while records < SAMPLE + 1 {
        if pos >= buf.len() {
            return false;
        }
        match read_record(buf, pos, &mut scanner, &mut fields) {
            Err(RecordError::Unterminated(_)) => return false,
            Err(_) => return true, // malformed: reported by the parse, not a matter of size
            Ok(next) if next >= buf.len() && !buf.ends_with(b"\n") => return false,
            Ok(next) => {
                if !is_blank(buf, &fields, opts.quote) {
                    records += 1;
                }
                pos = next;
            }
        }
    }
    true
}

/// A column as the windows fill it: fixed-size values (and category codes) in their final
/// buffer, strings in the parts the chunks made.
enum Filled {
    Float64(Vec<f64>),
    Float32(Vec<f32>),
    Int32(Vec<i32>),
    Uint32(Vec<u32>),
    Int64(Vec<i64>),
    Bool(Vec<u8>),
    Date(Vec<f64>),
    String(Vec<Texts>),
    /// Each part's codes into its own dictionary, until the join makes one dictionary.
    Category {
        codes: Vec<u32>,
        parts: Vec<CategoryPart>,
    },
}

/// What one chunk made of a category column.
enum CategoryPart {
    /// `codes[at..at + len]` index `values`.
    Codes {
        at: usize,
        len: usize,
        values: Texts,
        may_fall_back: bool,
    },
    /// Too many distinct values: the chunk's rows as strings.
    Strings(Texts),
}

/// Room for `more` values after `v`'s end (grown by half at least, for window after window);
/// the address where they go.
fn room<T>(v: &mut Vec<T>, more: usize) -> Result<usize, KernelError> {
    if v.capacity() - v.len() < more {
        let want = more.max(v.capacity() / 2);
        crate::error::try_reserve(v, want, "a column")?;
    }
    Ok(v.as_mut_ptr().wrapping_add(v.len()) as usize)
}

/// Closes the gaps that chunks with fewer records than line feeds (blank lines, quoted line
/// breaks) left: chunk i wrote `written[i]` values at `len + sum(caps[..i])`.
fn settle<T: Copy>(v: &mut Vec<T>, written: &[usize], caps: &[usize]) -> Vec<usize> {
    let base = v.len();
    let (mut to, mut from) = (base, base);
    let mut starts = Vec::with_capacity(written.len());
    let p = v.as_mut_ptr();
    for (&n, &cap) in written.iter().zip(caps) {
        debug_assert!(n <= cap && from + cap <= v.capacity());
        if from != to && n > 0 {
            // SAFETY: both ranges lie in the reserved capacity and the source was written;
            // `copy` allows the overlap.
            unsafe { std::ptr::copy(p.add(from), p.add(to), n) };
        }
        starts.push(to);
        to += n;
        from += cap;
    }
    // SAFETY: `base..to` now holds the chunks' values, each written once.
    unsafe { v.set_len(to) };
    starts
}

impl Filled {
    fn new(kind: ColumnType) -> Self {
        match kind {
            ColumnType::Float64 => Filled::Float64(Vec::new()),
            ColumnType::Float32 => Filled::Float32(Vec::new()),
            ColumnType::Int32 => Filled::Int32(Vec::new()),
            ColumnType::Uint32 => Filled::Uint32(Vec::new()),
            ColumnType::Int64 => Filled::Int64(Vec::new()),
            ColumnType::Bool => Filled::Bool(Vec::new()),
            ColumnType::Date => Filled::Date(Vec::new()),
            ColumnType::String => Filled::String(Vec::new()),
            ColumnType::Category => Filled::Category {
                codes: Vec::new(),
                parts: Vec::new(),
            },
        }
    }

    /// Room for `more` values; the address the chunks' stretches are cut from (0 for strings).
    /// Nothing else touches the column until [`Filled::settle`].
    fn prepare(&mut self, more: usize) -> Result<usize, KernelError> {
        match self {
            Filled::Float64(v) | Filled::Date(v) => room(v, more),
            Filled::Float32(v) => room(v, more),
            Filled::Int32(v) => room(v, more),
            Filled::Uint32(v) => room(v, more),
            Filled::Int64(v) => room(v, more),
            Filled::Bool(v) => room(v, more),
            Filled::Category { codes, .. } => room(codes, more),
            Filled::String(_) => Ok(0),
        }
    }

    /// Takes in what the chunks of one region made (in file order; chunk i was given `caps[i]`
    /// values of room).
    fn settle(&mut self, builders: Vec<Builder>, caps: &[usize]) {
        let written: Vec<usize> = builders.iter().map(Builder::written).collect();
        match self {
            Filled::Float64(v) | Filled::Date(v) => drop(settle(v, &written, caps)),
            Filled::Float32(v) => drop(settle(v, &written, caps)),
            Filled::Int32(v) => drop(settle(v, &written, caps)),
            Filled::Uint32(v) => drop(settle(v, &written, caps)),
            Filled::Int64(v) => drop(settle(v, &written, caps)),
            Filled::Bool(v) => drop(settle(v, &written, caps)),
            Filled::String(parts) => parts.extend(builders.into_iter().map(|b| match b {
                Builder::String(t) => t,
                _ => unreachable!("a string column's builders are strings"),
            })),
            Filled::Category { codes, parts } => {
                let starts = settle(codes, &written, caps);
                for ((b, at), len) in builders.into_iter().zip(starts).zip(written) {
                    parts.push(match b {
                        Builder::Category(d) => CategoryPart::Codes {
                            at,
                            len,
                            values: d.words.values,
                            may_fall_back: d.may_fall_back,
                        },
                        Builder::String(t) => CategoryPart::Strings(t),
                        _ => unreachable!("a category column's builders"),
                    });
                }
            }
        }
    }

    /// The finished column of `rows` values.
    fn into_column(self, rows: usize, cancel: &Cancel) -> Result<Column, KernelError> {
        cancel.check()?;
        // Window after window grew the buffers by half: give back what is left over.
        fn fit<T>(mut v: Vec<T>) -> Vec<T> {
            if v.capacity() - v.len() > v.len() / 16 {
                v.shrink_to_fit();
            }
            v
        }
        Ok(match self {
            Filled::Float64(v) => Column::Float64(fit(v)),
            Filled::Float32(v) => Column::Float32(fit(v)),
            Filled::Int32(v) => Column::Int32(fit(v)),
            Filled::Uint32(v) => Column::Uint32(fit(v)),
            Filled::Int64(v) => Column::Int64(fit(v)),
            Filled::Bool(v) => Column::Bool(fit(v)),
            Filled::Date(v) => Column::Date(fit(v)),
            // The parts stay parts: the strings are made from them on the JS thread.
            Filled::String(parts) => Column::String(parts),
            Filled::Category { codes, parts } => join_categories(fit(codes), parts, rows, cancel)?,
        })
    }
}

/// One dictionary in order of first appearance, each part's codes remapped in place; an
/// inferred category column with too many values (a part that fell back, more than
/// [`MAX_CATEGORIES`], or more than one value in 16 rows) becomes a string column.
fn join_categories(
    mut codes: Vec<u32>,
    parts: Vec<CategoryPart>,
    rows: usize,
    cancel: &Cancel,
) -> Result<Column, KernelError> {
    let as_strings = |codes: &[u32], parts: Vec<CategoryPart>| {
        Column::String(
            parts
                .into_iter()
                .map(|p| match p {
                    CategoryPart::Strings(t) => t,
                    CategoryPart::Codes {
                        at, len, values, ..
                    } => texts_of(&codes[at..at + len], &values),
                })
                .collect(),
        )
    };
    let may_fall_back = parts.iter().any(|p| match p {
        CategoryPart::Strings(_) => true,
        CategoryPart::Codes { may_fall_back, .. } => *may_fall_back,
    });
    if parts.iter().any(|p| matches!(p, CategoryPart::Strings(_))) {
        return Ok(as_strings(&codes, parts));
    }
    let dicts: Vec<&Texts> = parts
        .iter()
        .map(|p| match p {
            CategoryPart::Codes { values, .. } => values,
            CategoryPart::Strings(_) => unreachable!("checked above"),
        })
        .collect();
    let max_values = if may_fall_back {
        MAX_CATEGORIES.min(rows / 16)
    } else {
        usize::MAX
    };
    let Some(Joined { values, maps }) = join_dictionaries(&dicts, max_values, cancel)? else {
        return Ok(as_strings(&codes, parts));
    };
    // The parts' codes lie one after another: each is remapped where it is, side by side.
    let mut pieces: Vec<(&mut [u32], &Vec<u32>)> = Vec::with_capacity(parts.len());
    let mut rest: &mut [u32] = &mut codes;
    for (part, map) in parts.iter().zip(&maps) {
        let CategoryPart::Codes { len, .. } = *part else {
            unreachable!("checked above")
        };
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
        pieces.push((piece, map));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(piece, map)| {
        for c in piece {
            if *c != u32::MAX {
                *c = map[*c as usize];
            }
        }
    });
    Ok(Column::Category(codes, values))
}

/// What the header and the options fix for the whole file.
struct Layout {
    names: Vec<String>,
    selected: Vec<(usize, String, ColumnType)>,
    slots: Vec<Option<usize>>,
    /// Each selected column's type, and whether it may fall back to strings.
    kinds: Vec<(ColumnType, bool)>,
    inferred: bool,
    /// Per file column: whether its type was inferred (its errors then say how to give one).
    guessed: Vec<bool>,
}

/// Reads the byte-order mark, the skipped lines and the header at the start of `input`, and
/// decides the columns (inferring their types from the records that follow in `input`).
/// Returns the layout and where the data starts.
fn layout(input: &[u8], opts: &Options, cancel: &Cancel) -> Result<(Layout, usize), KernelError> {
    let mut start = 0;
    if input.starts_with(&[0xef, 0xbb, 0xbf]) {
        start = 3;
    }
    for _ in 0..opts.skip_rows {
        match memchr(b'\n', &input[start..]) {
            Some(i) => start += i + 1,
            None => start = input.len(),
        }
    }
    let (names, data) = header(input, start, opts, cancel)?;
    let width = names.len();
    let index: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .rev() // the first of equal names wins
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let find = |option: &str, name: &str| {
        index.get(name).copied().ok_or_else(|| {
            let mut shown = names.iter().take(100).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > 100 {
                shown.push_str(&format!(", ... ({} in all)", names.len()));
            }
            KernelError::InvalidValue(format!(
                "options.{option} names '{name}', which is not a column of the file; its columns are: {shown}"
            ))
        })
    };
    let chosen: Vec<usize> = match &opts.select {
        Some(list) => list
            .iter()
            .map(|n| find("columns", n))
            .collect::<Result<_, _>>()?,
        None => (0..width).collect(),
    };
    let mut is_chosen = vec![false; width];
    for &i in &chosen {
        is_chosen[i] = true;
    }
    let mut given: Vec<Option<ColumnType>> = vec![None; width];
    for (name, kind) in &opts.types {
        let i = find("types", name)?;
        if !is_chosen[i] {
            return Err(KernelError::InvalidValue(format!(
                "options.types names '{name}', which options.columns does not select"
            )));
        }
        given[i] = Some(*kind);
    }
    let inferred = chosen.iter().any(|&i| given[i].is_none());
    let guessed = if inferred {
        infer(input, data, opts, width)
    } else {
        Vec::new()
    };
    let selected: Vec<(usize, String, ColumnType)> = chosen
        .iter()
        .map(|&i| (i, names[i].clone(), given[i].unwrap_or_else(|| guessed[i])))
        .collect();
    let mut slots = vec![None; width];
    for (slot, (i, _, _)) in selected.iter().enumerate() {
        slots[*i] = Some(slot);
    }
    // An inferred category column may fall back to strings; a requested one may not.
    let kinds: Vec<(ColumnType, bool)> = selected
        .iter()
        .map(|&(i, _, k)| (k, given[i].is_none() && k == ColumnType::Category))
        .collect();
    let guessed = given.iter().map(Option::is_none).collect();
    Ok((
        Layout {
            names,
            selected,
            slots,
            kinds,
            inferred,
            guessed,
        },
        data,
    ))
}

/// The columns as they are filled.
struct Parts {
    rows: usize,
    columns: Vec<Filled>,
}

impl Parts {
    fn new(layout: &Layout) -> Self {
        Self {
            rows: 0,
            columns: layout.kinds.iter().map(|&(k, _)| Filled::new(k)).collect(),
        }
    }

    /// Room for about `rows` values in every fixed-size column, if it can be had: a file read
    /// window by window otherwise grows its columns again and again, copying them and touching
    /// fresh pages each time. Pages reserved and never written cost no memory, and
    /// [`Filled::into_column`] gives the rest back.
    fn expect(&mut self, rows: usize) {
        for column in &mut self.columns {
            // Best effort: without the room, columns grow window by window as before.
            let _ = column.prepare(rows);
        }
    }
}

/// Parses the whole records of `buf[from..to]` on every core into `parts`; returns the line
/// feeds in that range. `lines_before` counts the line breaks before `buf` in the file, for
/// error messages.
#[allow(clippy::too_many_arguments)]
fn parse_region(
    buf: &[u8],
    from: usize,
    to: usize,
    opts: &Options,
    layout: &Layout,
    parts: &mut Parts,
    lines_before: u64,
    cancel: &Cancel,
) -> Result<u64, KernelError> {
    let width = layout.names.len();
    let region = &buf[..to];
    let pieces = (rayon::current_num_threads() * 4).max((to - from) / (16 << 20));
    let starts = chunk_starts(region, from, pieces, opts.quote);
    let ranges: Vec<(usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(to)))
        .collect();
    // A record ends at a line feed, or at the end of the input: per chunk, the most records
    // it can hold, which is the room it gets in each column.
    let feeds: Vec<usize> = ranges
        .par_iter()
        .map(|&(a, b)| memchr::memchr_iter(b'\n', &region[a..b]).count())
        .collect();
    let caps: Vec<usize> = ranges
        .iter()
        .zip(&feeds)
        .map(|(&(a, b), &n)| n + usize::from(b > a && region[b - 1] != b'\n'))
        .collect();
    let offsets: Vec<usize> = caps
        .iter()
        .scan(0, |at, &c| {
            let o = *at;
            *at += c;
            Some(o)
        })
        .collect();
    let total: usize = caps.iter().sum();
    let bases: Vec<usize> = parts
        .columns
        .iter_mut()
        .map(|c| c.prepare(total))
        .collect::<Result<_, _>>()?;
    let results: Vec<Result<Chunk, KernelError>> = ranges
        .par_iter()
        .zip(offsets.par_iter().zip(&caps))
        .map(|(&(a, b), (&offset, &cap))| {
            cancel.check()?;
            parse_chunk(
                region,
                a,
                b,
                opts,
                width,
                &layout.slots,
                &layout.kinds,
                (&bases, offset, cap),
                cancel,
            )
        })
        .collect();
    if let Some(i) = results.iter().position(Result::is_err) {
        let mut results = results;
        let error = results.swap_remove(i).err().expect("an error at i");
        // The chunks already built (their strings, their dictionaries) are freed elsewhere.
        crate::reaper::drop_in_background(results);
        return Err(error);
    }
    let chunks: Vec<Chunk> = results.into_iter().map(|r| r.expect("no error")).collect();
    // The first failure in file order.
    if let Some(f) = chunks.iter().find_map(|c| c.failure.as_ref()) {
        let column = layout
            .names
            .get(f.column)
            .cloned()
            .unwrap_or_else(|| f.column.to_string());
        let line = lines_before + line_of(region, f.at);
        let mut error = csv_error(f.code, line, &column, &f.text, &f.what);
        if let KernelError::Csv { message, .. } = &mut error {
            if layout.guessed.get(f.column) == Some(&true)
                && matches!(f.code, "ERR_CSV_INVALID_VALUE" | "ERR_CSV_MISSING_VALUE")
            {
                // The sample said otherwise: say what was inferred and how to choose.
                if let Some(slot) = layout.slots[f.column] {
                    message.push_str(&format!(
                        " (its type '{}' was inferred from the first {SAMPLE} records: give one in options.types)",
                        layout.kinds[slot].0.name()
                    ));
                }
            }
        }
        return Err(error);
    }
    let mut per_column: Vec<Vec<Builder>> = parts.columns.iter().map(|_| Vec::new()).collect();
    for chunk in chunks {
        parts.rows += chunk.rows;
        for (slot, b) in chunk.columns.into_iter().enumerate() {
            per_column[slot].push(b);
        }
    }
    for (column, builders) in parts.columns.iter_mut().zip(per_column) {
        column.settle(builders, &caps);
    }
    Ok(feeds.iter().sum::<usize>() as u64)
}

fn finish(
    layout: Layout,
    parts: Parts,
    opts: &Options,
    cancel: &Cancel,
) -> Result<Table, KernelError> {
    let mut rows = parts.rows;
    // Columns are joined side by side: each is a copy of its parts (memory-bound), and a
    // category column remaps codes.
    let mut columns: Vec<(String, ColumnType, Column)> = layout
        .selected
        .into_par_iter()
        .zip(parts.columns)
        .map(|((_, name, kind), filled)| {
            let column = filled.into_column(rows, cancel)?;
            // An inferred category column with too many values came back as strings.
            let kind = match column {
                Column::String(_) => ColumnType::String,
                _ => kind,
            };
            Ok((name, kind, column))
        })
        .collect::<Result<_, KernelError>>()?;
    if let Some(max) = opts.max_rows {
        if rows > max {
            rows = max;
            for (_, _, c) in &mut columns {
                truncate(c, max);
            }
        }
    }
    Ok(Table {
        names: layout.names,
        rows,
        columns,
        inferred: layout.inferred,
    })
}

/// Parses `input` into a table. Progress: input bytes.
pub fn parse(input: &[u8], opts: &Options, cancel: &Cancel) -> Result<Table, KernelError> {
    let input = &*decode_all(input, opts.encoding)?;
    cancel.set_total(input.len() as u64);
    let (layout, data) = layout(input, opts, cancel)?;
    let mut parts = Parts::new(&layout);
    if let Err(e) = parse_region(
        input,
        data,
        input.len(),
        opts,
        &layout,
        &mut parts,
        0,
        cancel,
    ) {
        crate::reaper::drop_in_background(parts);
        return Err(e);
    }
    finish(layout, parts, opts, cancel)
}

/// The end of the last whole record in `buf[from..]`, which starts outside quotes: just after
/// its last line break outside quotes (None when there is none).
fn last_record_end(buf: &[u8], from: usize, quote: u8) -> Option<usize> {
    if memchr(quote, &buf[from..]).is_none() {
        // No quotes (most files): the last line feed.
        return memchr::memrchr(b'\n', &buf[from..]).map(|i| from + i + 1);
    }
    let mut inside = false;
    let mut last = None;
    let mut p = from;
    while let Some(k) = memchr2(quote, b'\n', &buf[p..]) {
        let at = p + k;
        if buf[at] == quote {
            inside = !inside;
        } else if !inside {
            last = Some(at + 1);
        }
        p = at + 1;
    }
    last
}

/// Bytes read from a file per window. Small windows cost little per window and keep the two
/// buffers' pages warm; 64 MiB ones were 15% slower on a 245 MB file (fresh pages, a longer
/// unoverlapped first read).
pub const WINDOW: usize = 8 << 20;

/// The longest record a file read window by window may hold: the per-buffer limit
/// (`configure({ maxAllocation })`), and never more than 1 GiB (twice the longest string V8
/// makes), so that a file with no line end (`/dev/zero`, a binary file) is an error, not a
/// process that grows until memory runs out.
fn longest_record() -> usize {
    crate::error::max_allocation().min(1 << 30)
}

/// Parses a file window by window: the typed columns, plus two windows of text (the one
/// being parsed and the next one, read meanwhile) in memory, never the whole file. The first
/// window grows until it holds the header and the records types are inferred from (the same
/// ones [`parse`] uses). With `max_rows`, reading stops once enough rows are parsed.
/// Progress: bytes of text.
pub fn parse_reader(
    mut source: impl Pull + Send,
    size_hint: u64,
    opts: &Options,
    cancel: &Cancel,
    window: usize,
) -> Result<Table, KernelError> {
    cancel.set_total(size_hint);
    let mut buf: Vec<u8> = Vec::new();
    let mut lines_before = 0u64;
    let mut eof;
    // Reads start at most 8 MiB and double up to the window: the first read is the only one
    // nothing else overlaps, and later ones take about as long as parsing the one before.
    let mut step = window.min(8 << 20);
    // The header, the skipped lines and the type sample come from the first window.
    let (layout, mut parts) = loop {
        cancel.check()?;
        eof = source.pull(&mut buf, step)? == 0;
        step = (step * 2).min(window);
        if !source.as_is() {
            // Decompressed or transcoded: the file's size does not count the text.
            cancel.set_total(0);
        }
        if !eof && !sample_ready(&buf, opts) {
            if buf.len().saturating_add(step) <= longest_record() {
                continue;
            }
            return Err(too_long(&buf, lines_before));
        }
        let (layout, data) = layout(&buf, opts, cancel)?;
        lines_before += memchr::memchr_iter(b'\n', &buf[..data]).count() as u64;
        cancel.advance(data as u64);
        buf.drain(..data);
        let mut parts = Parts::new(&layout);
        if source.as_is() && size_hint > buf.len() as u64 && !buf.is_empty() {
            // The rows of the whole file, from the first window's (a little over, so that the
            // columns are not grown for the last rows).
            let feeds = memchr::memchr_iter(b'\n', &buf).count();
            let rest = size_hint.saturating_sub(data as u64) as f64;
            let rows = (rest / buf.len() as f64 * feeds as f64 * 1.0625) as usize + 1024;
            parts.expect(
                opts.max_rows
                    .map_or(rows, |m| rows.min(m.saturating_add(1))),
            );
        }
        break (layout, parts);
    };
    // The next window is read while this one is parsed, into the buffer parsed before.
    let mut next: Vec<u8> = Vec::new();
    loop {
        cancel.check()?;
        let cut = if eof {
            buf.len()
        } else {
            match last_record_end(&buf, 0, opts.quote) {
                Some(cut) => cut,
                // A record longer than the window: read on, up to the longest record allowed.
                None if buf.len().saturating_add(step) <= longest_record() => {
                    eof = source.pull(&mut buf, step)? == 0;
                    continue;
                }
                None => return Err(too_long(&buf, lines_before)),
            }
        };
        next.clear();
        crate::error::try_reserve(&mut next, buf.len() - cut + step, "the file's bytes")?;
        next.extend_from_slice(&buf[cut..]);
        let mut parse = || {
            parse_region(
                &buf,
                0,
                cut,
                opts,
                &layout,
                &mut parts,
                lines_before,
                cancel,
            )
        };
        let (lines, pulled) = if eof {
            (parse(), Ok(0))
        } else {
            rayon::join(parse, || source.pull(&mut next, step))
        };
        lines_before += lines?;
        let enough = opts.max_rows.is_some_and(|m| parts.rows >= m);
        if eof || enough {
            break;
        }
        eof = pulled? == 0;
        step = (step * 2).min(window);
        std::mem::swap(&mut buf, &mut next);
    }
    finish(layout, parts, opts, cancel)
}

fn too_long(buf: &[u8], lines_before: u64) -> KernelError {
    csv_error(
        "ERR_CSV_RECORD_TOO_LONG",
        lines_before + 1,
        "",
        &buf[..buf.len().min(40)],
        &format!(
            "no end of line in {} bytes (a record, or the header with the first {SAMPLE} \
             records when types are inferred, may be at most {} bytes: \
             configure({{ maxAllocation }}), and 1 GiB at most)",
            buf.len(),
            longest_record()
        ),
    )
}

fn truncate(c: &mut Column, n: usize) {
    match c {
        Column::Float64(v) | Column::Date(v) => v.truncate(n),
        Column::Float32(v) => v.truncate(n),
        Column::Int32(v) => v.truncate(n),
        Column::Uint32(v) => v.truncate(n),
        Column::Int64(v) => v.truncate(n),
        Column::Bool(v) => v.truncate(n),
        Column::String(parts) => {
            let mut left = n;
            for p in parts.iter_mut() {
                let keep = left.min(p.len());
                p.truncate(keep);
                left -= keep;
            }
            parts.retain(|p| !p.is_empty());
        }
        Column::Category(v, _) => v.truncate(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(columns: &[(&str, ColumnType)]) -> Options {
        Options {
            select: Some(columns.iter().map(|(n, _)| n.to_string()).collect()),
            types: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            ..Options::default()
        }
    }

    fn reader(bytes: &[u8]) -> crate::csv::source::ReadPull<'static, &[u8]> {
        crate::csv::source::ReadPull {
            inner: bytes,
            path: "x.csv",
        }
    }

    #[test]
    fn the_scanner_finds_what_a_byte_search_finds() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in [0usize, 1, 63, 64, 65, 127, 128, 200, 1000] {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"ab;,\n\"xy\r"[(x % 9) as usize]
                })
                .collect();
            for (delim, quote) in [(b',', b'"'), (b';', b'\'')] {
                let mut scanner = Scanner::new(delim, quote);
                // Forward, as a parser asks, and from every start (jumping back and forth).
                let want = |p: usize| {
                    buf[p.min(len)..]
                        .iter()
                        .position(|&c| c == delim || c == b'\n' || c == quote)
                        .map(|i| p + i)
                };
                for p in 0..=len {
                    assert_eq!(scanner.find(&buf, p), want(p), "len {len} from {p}");
                }
                for p in (0..=len).rev().step_by(7) {
                    assert_eq!(scanner.find(&buf, p), want(p), "len {len} back at {p}");
                }
            }
        }
    }

    #[test]
    fn chunk_cuts_inside_quoted_fields_do_not_matter() {
        // Several MiB, so that the input is cut into chunks; every third field is quoted and
        // holds line breaks, delimiters and doubled quotes.
        let mut csv = String::from("id,text\n");
        let mut want = Vec::new();
        for i in 0..120_000 {
            let text = match i % 3 {
                0 => format!("plain {i}"),
                1 => format!("two\nlines, {i}"),
                _ => format!("say \"{i}\"\r\nand more"),
            };
            let field = if text.contains([',', '\n', '"']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.clone()
            };
            csv.push_str(&format!("{i},{field}\n"));
            want.push(text);
        }
        assert!(csv.len() > 2 << 20);
        let table = parse(
            csv.as_bytes(),
            &opts(&[("id", ColumnType::Uint32), ("text", ColumnType::String)]),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(table.rows, want.len());
        let texts = table.columns[1].2.strings().unwrap();
        for (i, w) in want.iter().enumerate() {
            assert_eq!(texts[i].as_deref(), Some(w.as_str()), "row {i}");
        }
        let Column::Uint32(ids) = &table.columns[0].2 else {
            panic!()
        };
        assert!(ids.iter().enumerate().all(|(i, &v)| v as usize == i));
    }

    #[test]
    fn windows_read_like_the_whole() {
        let mut csv = String::from("\u{feff}# preamble\nid,text,x\n");
        for i in 0..5000 {
            let text = if i % 7 == 0 {
                format!("\"multi\nline, {i}\"")
            } else {
                format!("t{i}")
            };
            csv.push_str(&format!("{i},{text},{}.5\n", i % 13));
        }
        let o = Options {
            skip_rows: 1,
            ..opts(&[
                ("id", ColumnType::Int32),
                ("text", ColumnType::Category),
                ("x", ColumnType::Float64),
            ])
        };
        let whole = parse(csv.as_bytes(), &o, &Cancel::new()).unwrap();
        for window in [1000, 4096, 65536] {
            let t = parse_reader(
                reader(csv.as_bytes()),
                csv.len() as u64,
                &o,
                &Cancel::new(),
                window,
            )
            .unwrap();
            assert_eq!(t.rows, whole.rows, "window {window}");
            assert_eq!(t.names, whole.names);
            for (a, b) in t.columns.iter().zip(&whole.columns) {
                assert_eq!(a.2, b.2, "window {window}");
            }
        }
        // An error deep in the file names its line across windows.
        let bad = csv.replace("4321,t4321", "4321,\"bad\"x");
        let err = parse_reader(reader(bad.as_bytes()), 0, &o, &Cancel::new(), 1000).unwrap_err();
        let want = parse(bad.as_bytes(), &o, &Cancel::new()).unwrap_err();
        match (err, want) {
            (KernelError::Csv { line: a, .. }, KernelError::Csv { line: b, .. }) => {
                assert_eq!(a, b)
            }
            other => panic!("{other:?}"),
        }
        // maxRows stops reading early, with the same rows.
        let m = Options {
            max_rows: Some(10),
            ..o.clone()
        };
        let t = parse_reader(reader(csv.as_bytes()), 0, &m, &Cancel::new(), 1000).unwrap();
        assert_eq!(t.rows, 10);
    }

    #[test]
    fn errors_name_the_physical_line() {
        let csv = b"a,b\n1,\"x\ny\"\n2,oops\n";
        let err = parse(
            csv,
            &opts(&[("a", ColumnType::Int32), ("b", ColumnType::Float64)]),
            &Cancel::new(),
        )
        .unwrap_err();
        match err {
            KernelError::Csv {
                code,
                line,
                column,
                text,
                ..
            } => {
                assert_eq!(
                    (code, line, column.as_str(), text.as_str()),
                    ("ERR_CSV_INVALID_VALUE", 2, "b", "x\ny")
                );
            }
            other => panic!("{other:?}"),
        }
        let err = parse(b"a\n\"open\n", &Options::default(), &Cancel::new()).unwrap_err();
        assert!(
            matches!(
                err,
                KernelError::Csv {
                    code: "ERR_CSV_UNTERMINATED_QUOTE",
                    line: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn interned_texts_keep_their_codes_as_the_table_grows() {
        let mut words = Interner::new();
        let text = |i: u32| format!("{:08x}", i.wrapping_mul(2_654_435_761)).into_bytes();
        // Codes in order of first appearance, across many growths of the table.
        for i in 0..50_000u32 {
            assert_eq!(words.code(&text(i), |_| true), Some(i));
        }
        assert_eq!(words.values.len(), 50_000);
        for i in (0..50_000u32).rev() {
            assert_eq!(words.code(&text(i), |_| false), Some(i), "found again");
        }
        // A new text is refused when adding is not allowed, and nothing changes.
        assert_eq!(words.code(b"new", |len| len < 50_000), None);
        assert_eq!(words.values.len(), 50_000);
        // The empty text, and a new text once added is found.
        assert_eq!(words.code(b"", |_| true), Some(50_000));
        assert_eq!(words.code(b"v1", |_| true), words.code(b"v1", |_| false));
    }
}
