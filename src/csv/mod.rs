//! CSV into typed columns, on every core. Plain Rust over a byte slice; `binding.rs` is the
//! napi glue.
//!
//! The input is cut into chunks at record boundaries that stay right when quoted fields hold
//! line breaks: a first parallel pass counts each chunk's quote characters, whose running
//! parity says whether a chunk starts inside a quoted field (RFC 4180 quotes only open and
//! close fields, and a doubled quote toggles twice); each chunk's first record then starts
//! after its first line break outside quotes. A second parallel pass parses each chunk's
//! records into columns of its own, and the columns are joined in order.

mod dictionary;
pub mod parse;
pub mod source;
pub mod value;

#[cfg(feature = "napi")]
pub mod binding;

use crate::error::KernelError;

/// A column's type in the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Float64,
    Float32,
    Int32,
    Uint32,
    Int64,
    Bool,
    Date,
    String,
    Category,
}

impl ColumnType {
    pub const NAMES: [&'static str; 9] = [
        "float64", "float32", "int32", "uint32", "int64", "bool", "date", "string", "category",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "float64" => Self::Float64,
            "float32" => Self::Float32,
            "int32" => Self::Int32,
            "uint32" => Self::Uint32,
            "int64" => Self::Int64,
            "bool" => Self::Bool,
            "date" => Self::Date,
            "string" => Self::String,
            "category" => Self::Category,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What `parseCsv` and `readCsv` accept.
#[derive(Clone, Debug)]
pub struct Options {
    pub delimiter: u8,
    pub quote: u8,
    /// The decimal mark of numbers (`,` in much of Europe, where the delimiter is then `;`).
    pub decimal: u8,
    pub header: bool,
    /// Physical lines skipped before the header (or the first record).
    pub skip_rows: usize,
    pub max_rows: Option<usize>,
    /// Field texts read as missing (by default the empty field).
    pub null_values: Vec<Vec<u8>>,
    /// The columns to read, in this order; None reads every column in file order.
    pub select: Option<Vec<String>>,
    /// Types given for some columns; the others are inferred from the first records.
    pub types: Vec<(String, ColumnType)>,
    /// Rows with fewer fields get missing values, extra fields are ignored.
    pub relax_column_count: bool,
    /// The text encoding of the bytes.
    pub encoding: source::TextEncoding,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            decimal: b'.',
            header: true,
            skip_rows: 0,
            max_rows: None,
            null_values: vec![Vec::new()],
            select: None,
            types: Vec::new(),
            relax_column_count: false,
            encoding: source::TextEncoding::Utf8,
        }
    }
}

/// Many short texts in one buffer: the i-th ends at `ends[i]` (the top bit set where the
/// value is missing). One allocation per column part instead of one per value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Texts {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

impl Texts {
    pub const MISSING: usize = 1 << (usize::BITS - 1);

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn push(&mut self, text: &[u8]) {
        self.bytes.extend_from_slice(text);
        self.ends.push(self.bytes.len());
    }

    pub fn push_missing(&mut self) {
        self.ends.push(self.bytes.len() | Self::MISSING);
    }

    /// The i-th text, None where missing.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = self.ends[i];
        if end & Self::MISSING != 0 {
            return None;
        }
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] & !Self::MISSING
        };
        Some(&self.bytes[start..end])
    }

    pub fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            self.ends.truncate(n);
            let end = self.ends.last().map_or(0, |e| e & !Self::MISSING);
            self.bytes.truncate(end);
        }
    }

    /// Every text as an owned string (checked UTF-8 when pushed), for tests and callers that
    /// want `String`s.
    pub fn strings(&self) -> Vec<Option<String>> {
        (0..self.len())
            .map(|i| self.get(i).map(|t| String::from_utf8_lossy(t).into_owned()))
            .collect()
    }
}

/// One column of the result.
#[derive(Debug, PartialEq)]
pub enum Column {
    Float64(Vec<f64>),
    Float32(Vec<f32>),
    Int32(Vec<i32>),
    Uint32(Vec<u32>),
    Int64(Vec<i64>),
    Bool(Vec<u8>),
    Date(Vec<f64>),
    /// The texts in parts, in order (each part as a chunk of the file made it).
    String(Vec<Texts>),
    /// Codes into `values` (u32::MAX where missing), each distinct text once, in order of
    /// first appearance.
    Category(Vec<u32>, Texts),
}

impl Column {
    /// A string or category column's values as owned strings (tests, mostly).
    pub fn strings(&self) -> Option<Vec<Option<String>>> {
        match self {
            Column::String(parts) => Some(parts.iter().flat_map(Texts::strings).collect()),
            Column::Category(codes, values) => {
                let values = values.strings();
                Some(
                    codes
                        .iter()
                        .map(|&c| (c != u32::MAX).then(|| values[c as usize].clone().unwrap()))
                        .collect(),
                )
            }
            _ => None,
        }
    }
}

/// The parsed table.
#[derive(Debug)]
pub struct Table {
    /// Every column's name, in file order (the header, or "0", "1", ... without one).
    pub names: Vec<String>,
    pub rows: usize,
    /// The columns read, in the order asked (file order when inferred), with their types.
    pub columns: Vec<(String, ColumnType, Column)>,
    /// Whether the types were inferred from a sample.
    pub inferred: bool,
}

/// A malformed file: `code` is specific to CSV (`ERR_CSV_...`); the message names the line,
/// the column and the text.
pub fn csv_error(
    code: &'static str,
    line: u64,
    column: &str,
    text: &[u8],
    what: &str,
) -> KernelError {
    let shown = String::from_utf8_lossy(&text[..text.len().min(80)]).into_owned();
    KernelError::Csv {
        code,
        message: format!("{what} at line {line}, column '{column}': {shown:?}"),
        line,
        column: column.to_string(),
        text: shown,
    }
}

pub use parse::parse;
