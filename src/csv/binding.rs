//! napi glue for CSV. index.js checks the options and passes them as one object; the result
//! is built here on the JS thread: typed arrays hand over their Rust buffers, and each string
//! (string columns, category values, names) is created once.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use super::{parse, Column, ColumnType, Options, Table};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// The options, checked by index.js.
#[napi(object)]
pub struct CsvOptions {
    pub delimiter: u32,
    pub quote: u32,
    pub header: bool,
    pub skip_rows: f64,
    pub max_rows: Option<f64>,
    pub null_values: Vec<String>,
    pub column_names: Option<Vec<String>>,
    pub column_types: Option<Vec<String>>,
    pub relax_column_count: bool,
}

fn options(o: &CsvOptions) -> KernelResult<Options> {
    let columns = match (&o.column_names, &o.column_types) {
        (Some(names), Some(types)) => Some(
            names
                .iter()
                .zip(types)
                .map(|(n, t)| {
                    let kind = ColumnType::parse(t).ok_or_else(|| {
                        KernelError::InvalidValue(format!("unknown column type '{t}'"))
                    })?;
                    Ok((n.clone(), kind))
                })
                .collect::<KernelResult<Vec<_>>>()?,
        ),
        _ => None,
    };
    Ok(Options {
        delimiter: o.delimiter as u8,
        quote: o.quote as u8,
        header: o.header,
        skip_rows: o.skip_rows as usize,
        max_rows: o.max_rows.map(|m| m as usize),
        null_values: o
            .null_values
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        columns,
        relax_column_count: o.relax_column_count,
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

unsafe fn set_key(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> Result<()> {
    // Names may hold NUL bytes: set through a JS string key.
    let key = unsafe { String::to_napi_value(env, key.to_string())? };
    check_status!(unsafe { sys::napi_set_property(env, obj, key, value) })
}

unsafe fn object(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut obj = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_object(env, &mut obj) })?;
    Ok(obj)
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
            Column::String(v) => Vec::<Option<String>>::to_napi_value(env, v),
            Column::Category(codes, values) => {
                let obj = object(env)?;
                set(
                    env,
                    obj,
                    "codes",
                    Uint32Array::to_napi_value(env, Uint32Array::new(codes))?,
                )?;
                set(
                    env,
                    obj,
                    "values",
                    Vec::<String>::to_napi_value(env, values)?,
                )?;
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
        // A FIFO or a slow device is read without blocking past the cancel flag.
        let mut file = crate::fsio::Source::open(&self.path)?;
        let size = file.size_hint();
        let table = super::parse::parse_reader(
            file.reader(cancel),
            &self.path,
            size,
            &opts,
            cancel,
            super::parse::WINDOW,
        )
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
