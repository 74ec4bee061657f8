//! CSV into typed columns, on every core. Plain Rust over a byte slice; `binding.rs` is the
//! napi glue.
//!
//! The input is cut into chunks at record boundaries that stay right when quoted fields hold
//! line breaks: a first parallel pass counts each chunk's quote characters, whose running
//! parity says whether a chunk starts inside a quoted field (RFC 4180 quotes only open and
//! close fields, and a doubled quote toggles twice); each chunk's first record then starts
//! after its first line break outside quotes. A second parallel pass parses each chunk's
//! records into columns of its own, and the columns are joined in order.

pub mod parse;
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
    pub header: bool,
    /// Physical lines skipped before the header (or the first record).
    pub skip_rows: usize,
    pub max_rows: Option<usize>,
    /// Field texts read as missing (by default the empty field).
    pub null_values: Vec<Vec<u8>>,
    /// The columns to read and their types; None reads every column, types inferred.
    pub columns: Option<Vec<(String, ColumnType)>>,
    /// Rows with fewer fields get missing values, extra fields are ignored.
    pub relax_column_count: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            header: true,
            skip_rows: 0,
            max_rows: None,
            null_values: vec![Vec::new()],
            columns: None,
            relax_column_count: false,
        }
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
    /// None where the value is missing.
    String(Vec<Option<String>>),
    /// Codes into `values` (u32::MAX where missing), each distinct text once, in order of
    /// first appearance.
    Category(Vec<u32>, Vec<String>),
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
