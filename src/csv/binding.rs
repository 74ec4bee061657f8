//! napi glue for CSV. index.js checks the options and passes them as one object; the result
//! is built here on the JS thread: typed arrays hand over their Rust buffers, and each string
//! (string columns, category values, names) is created once.

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

/// Sets `array[at + i]` to each text (null where missing). ASCII texts are made as one-byte
/// strings directly, which V8 does without decoding.
unsafe fn fill_strings(
    env: sys::napi_env,
    array: sys::napi_value,
    at: usize,
    texts: &Texts,
) -> Result<()> {
    unsafe {
        let mut null = std::ptr::null_mut();
        check_status!(sys::napi_get_null(env, &mut null))?;
        for i in 0..texts.len() {
            let value = match texts.get(i) {
                None => null,
                Some(t) => {
                    let mut s = std::ptr::null_mut();
                    if t.is_ascii() {
                        check_status!(sys::napi_create_string_latin1(
                            env,
                            t.as_ptr().cast(),
                            t.len() as isize,
                            &mut s
                        ))?;
                    } else {
                        check_status!(sys::napi_create_string_utf8(
                            env,
                            t.as_ptr().cast(),
                            t.len() as isize,
                            &mut s
                        ))?;
                    }
                    s
                }
            };
            check_status!(sys::napi_set_element(env, array, (at + i) as u32, value))?;
        }
        Ok(())
    }
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
            Column::String(parts) => {
                let len = parts.iter().map(Texts::len).sum();
                let array = array(env, len)?;
                let mut at = 0;
                for part in &parts {
                    fill_strings(env, array, at, part)?;
                    at += part.len();
                }
                Ok(array)
            }
            Column::Category(codes, values) => {
                let obj = object(env)?;
                set(
                    env,
                    obj,
                    "codes",
                    Uint32Array::to_napi_value(env, Uint32Array::new(codes))?,
                )?;
                let list = array(env, values.len())?;
                fill_strings(env, list, 0, &values)?;
                set(env, obj, "values", list)?;
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
