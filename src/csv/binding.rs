//! napi glue for CSV. index.js checks the options and passes them as one object; the result
//! is built here on the JS thread: typed arrays hand over their Rust buffers, and each string
//! (string columns, category values, names) is created once: long lists later, by
//! lib/csv.js through `fillStrings`, a slice at a time between turns of the event loop.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use super::source::{Compression, ReadPull, TextEncoding, TextPull};
use super::{parse, Column, ColumnType, Options, Table, Texts};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// The options, checked by lib/csv.js.
#[napi(object)]
pub struct CsvOptions {
    pub delimiter: u32,
    pub quote: u32,
    pub decimal: u32,
    pub header: bool,
    pub skip_rows: f64,
    pub max_rows: Option<f64>,
    pub null_values: Vec<String>,
    /// The columns to read, in order (None: all).
    pub select: Option<Vec<String>>,
    /// Names and types of the columns whose type is given.
    pub type_names: Vec<String>,
    pub type_kinds: Vec<String>,
    pub relax_column_count: bool,
    pub encoding: String,
    /// readCsv only: 'auto', 'none', 'gzip', 'zstd' or 'brotli'.
    pub compression: String,
}

fn options(o: &CsvOptions) -> KernelResult<Options> {
    let types = o
        .type_names
        .iter()
        .zip(&o.type_kinds)
        .map(|(n, t)| {
            let kind = ColumnType::parse(t)
                .ok_or_else(|| KernelError::InvalidValue(format!("unknown column type '{t}'")))?;
            Ok((n.clone(), kind))
        })
        .collect::<KernelResult<Vec<_>>>()?;
    let encoding = TextEncoding::parse(&o.encoding)
        .ok_or_else(|| KernelError::InvalidValue(format!("unknown encoding '{}'", o.encoding)))?;
    Ok(Options {
        delimiter: o.delimiter as u8,
        quote: o.quote as u8,
        decimal: o.decimal as u8,
        header: o.header,
        skip_rows: o.skip_rows as usize,
        max_rows: o.max_rows.map(|m| m as usize),
        null_values: o
            .null_values
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        select: o.select.clone(),
        types,
        relax_column_count: o.relax_column_count,
        encoding,
    })
}

/// A parsed table on its way to JS.
pub struct CsvTable(Table);

impl TypeName for CsvTable {
    fn type_name() -> &'static str {
        "CsvTable"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

unsafe fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> Result<()> {
    let key = std::ffi::CString::new(key).map_err(|e| Error::from_reason(e.to_string()))?;
    check_status!(unsafe { sys::napi_set_named_property(env, obj, key.as_ptr(), value) })
}

/// Defines `key` as an own, enumerable, writable data property. A CSV header is untrusted:
/// assignment would make a column named `__proto__` the object's prototype, so every name is
/// defined, never assigned (and may hold NUL bytes: the key is a JS string).
unsafe fn set_key(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> Result<()> {
    use sys::PropertyAttributes::{configurable, enumerable, writable};
    let name = unsafe { String::to_napi_value(env, key.to_string())? };
    let descriptor = sys::napi_property_descriptor {
        utf8name: std::ptr::null(),
        name,
        method: None,
        getter: None,
        setter: None,
        value,
        attributes: writable | enumerable | configurable,
        data: std::ptr::null_mut(),
    };
    check_status!(unsafe { sys::napi_define_properties(env, obj, 1, &descriptor) })
}

unsafe fn object(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut obj = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_object(env, &mut obj) })?;
    Ok(obj)
}

unsafe fn array(env: sys::napi_env, len: usize) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_array_with_length(env, len, &mut out) })?;
    Ok(out)
}

/// The JS string for one text (`null` where missing). ASCII texts are made as one-byte
/// strings directly, which V8 does without decoding.
unsafe fn js_string(
    env: sys::napi_env,
    text: Option<&[u8]>,
    null: sys::napi_value,
) -> Result<sys::napi_value> {
    let Some(t) = text else {
        return Ok(null);
    };
    // Both take (env, bytes, length, result).
    let make = if t.is_ascii() {
        sys::napi_create_string_latin1
    } else {
        sys::napi_create_string_utf8
    };
    let mut s = std::ptr::null_mut();
    check_status!(unsafe { make(env, t.as_ptr().cast(), t.len() as isize, &mut s) })?;
    Ok(s)
}

unsafe fn null(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut null = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_get_null(env, &mut null) })?;
    Ok(null)
}

/// Lists of more strings than this are made by JS a slice at a time (`fillStrings`), the
/// event loop running between slices: 3M distinct strings took the JS thread ~540 ms at once.
const STRINGS_AT_ONCE: usize = 1 << 15;

/// A list of texts whose JS strings are still to be made, a slice at a time.
pub struct PendingTexts {
    parts: Vec<Texts>,
    /// Index of each part's first text in the whole list.
    starts: Vec<usize>,
    len: usize,
}

impl PendingTexts {
    fn new(parts: Vec<Texts>) -> Self {
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0;
        for part in &parts {
            starts.push(len);
            len += part.len();
        }
        PendingTexts { parts, starts, len }
    }
}

/// The strings of `parts` as a JS array, or, for long lists, `{ pending, length }` for
/// lib/csv.js to fill a slice at a time.
unsafe fn strings_value(env: sys::napi_env, parts: Vec<Texts>) -> Result<sys::napi_value> {
    unsafe {
        let len: usize = parts.iter().map(Texts::len).sum();
        if len > STRINGS_AT_ONCE {
            let obj = object(env)?;
            let pending = External::new(PendingTexts::new(parts));
            set(env, obj, "pending", External::to_napi_value(env, pending)?)?;
            set(env, obj, "length", f64::to_napi_value(env, len as f64)?)?;
            return Ok(obj);
        }
        let out = array(env, len)?;
        let null = null(env)?;
        let mut at = 0u32;
        for part in &parts {
            for i in 0..part.len() {
                let value = js_string(env, part.get(i), null)?;
                check_status!(sys::napi_set_element(env, out, at, value))?;
                at += 1;
            }
        }
        Ok(out)
    }
}

/// Internal (lib/csv.js): makes the strings of `pending` from index `from` on into `array`
/// for about `budgetMs` milliseconds; returns the index it stopped at (its length when done).
#[napi(js_name = "fillStrings")]
pub fn fill_strings(
    env: Env,
    pending: &External<PendingTexts>,
    array: Array,
    from: u32,
    budget_ms: u32,
) -> Result<u32> {
    let list: &PendingTexts = pending;
    let from = from as usize;
    if from > list.len || list.len > u32::MAX as usize {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "fillStrings: index {from} is past the list's {} strings",
                list.len
            ),
        ));
    }
    let started = std::time::Instant::now();
    let budget = std::time::Duration::from_millis(budget_ms.into());
    let env = env.raw();
    // The part holding `from`: the last one starting at or before it.
    let mut part = list
        .starts
        .partition_point(|&s| s <= from)
        .saturating_sub(1);
    let mut at = from;
    unsafe {
        let null = null(env)?;
        while at < list.len {
            let texts = &list.parts[part];
            let i = at - list.starts[part];
            if i >= texts.len() {
                part += 1;
                continue;
            }
            let value = js_string(env, texts.get(i), null)?;
            check_status!(sys::napi_set_element(env, array.raw(), at as u32, value))?;
            at += 1;
            if at.is_multiple_of(1024) && started.elapsed() >= budget {
                break;
            }
        }
    }
    Ok(at as u32)
}

unsafe fn column_value(env: sys::napi_env, column: Column) -> Result<sys::napi_value> {
    unsafe {
        match column {
            Column::Float64(v) | Column::Date(v) => {
                Float64Array::to_napi_value(env, Float64Array::new(v))
            }
            Column::Float32(v) => Float32Array::to_napi_value(env, Float32Array::new(v)),
            Column::Int32(v) => Int32Array::to_napi_value(env, Int32Array::new(v)),
            Column::Uint32(v) => Uint32Array::to_napi_value(env, Uint32Array::new(v)),
            Column::Int64(v) => BigInt64Array::to_napi_value(env, BigInt64Array::new(v)),
            Column::Bool(v) => Uint8Array::to_napi_value(env, Uint8Array::new(v)),
            Column::String(parts) => strings_value(env, parts),
            Column::Category(codes, values) => {
                let obj = object(env)?;
                set(
                    env,
                    obj,
                    "codes",
                    Uint32Array::to_napi_value(env, Uint32Array::new(codes))?,
                )?;
                set(env, obj, "values", strings_value(env, vec![values])?)?;
                Ok(obj)
            }
        }
    }
}

impl ToNapiValue for CsvTable {
    unsafe fn to_napi_value(env: sys::napi_env, table: Self) -> Result<sys::napi_value> {
        let Table {
            names,
            rows,
            columns,
            inferred,
        } = table.0;
        unsafe {
            let out = object(env)?;
            set(env, out, "names", Vec::<String>::to_napi_value(env, names)?)?;
            set(env, out, "rows", f64::to_napi_value(env, rows as f64)?)?;
            let cols = object(env)?;
            let types = object(env)?;
            for (name, kind, column) in columns {
                set_key(env, cols, &name, column_value(env, column)?)?;
                set_key(
                    env,
                    types,
                    &name,
                    String::to_napi_value(env, kind.name().to_string())?,
                )?;
            }
            set(env, out, "columns", cols)?;
            set(env, out, "types", types)?;
            set(env, out, "inferred", bool::to_napi_value(env, inferred)?)?;
            Ok(out)
        }
    }
}

pub struct ParseCsv {
    input: Uint8Array,
    options: CsvOptions,
}

impl Kernel for ParseCsv {
    type Output = CsvTable;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<CsvTable> {
        Ok(CsvTable(parse(
            &self.input,
            &options(&self.options)?,
            cancel,
        )?))
    }
}

#[napi(js_name = "parseCsv")]
pub fn parse_csv(input: Uint8Array, options: CsvOptions, token: &CancelToken) -> Call<ParseCsv> {
    spawn(ParseCsv { input, options }, token)
}

pub struct ReadCsv {
    path: String,
    options: CsvOptions,
}

impl Kernel for ReadCsv {
    type Output = CsvTable;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<CsvTable> {
        let opts = options(&self.options)?;
        let compression = Compression::parse(&self.options.compression).ok_or_else(|| {
            KernelError::InvalidValue(format!(
                "unknown compression '{}'",
                self.options.compression
            ))
        })?;
        // A FIFO or a slow device is read without blocking past the cancel flag.
        let mut file = crate::fsio::Source::open(&self.path)?;
        let size = file.size_hint();
        let path = self.path.clone();
        let source = TextPull::new(
            ReadPull {
                inner: file.reader(cancel),
                path: &path,
            },
            compression,
            opts.encoding,
            cancel,
        );
        let table = super::parse::parse_reader(source, size, &opts, cancel, super::parse::WINDOW)
            .map_err(|e| {
            if cancel.is_cancelled() {
                KernelError::Aborted
            } else {
                e
            }
        })?;
        Ok(CsvTable(table))
    }
}

#[napi(js_name = "readCsv")]
pub fn read_csv(path: String, options: CsvOptions, token: &CancelToken) -> Call<ReadCsv> {
    spawn(ReadCsv { path, options }, token)
}
