//! napi glue for the algorithms. index.js validates the numbers (integers, ranges) before
//! they get here; the kernels check sizes again.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{mandelbrot, matmul, primes, topk};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// An integer argument that arrived as a JS number: exact, in range.
fn whole(value: f64, max: u64, name: &str) -> KernelResult<u64> {
    if value.fract() != 0.0 || !(0.0..=max as f64).contains(&value) {
        return Err(KernelError::OutOfRange(format!(
            "{name} must be an integer from 0 to {max}; received {value}"
        )));
    }
    Ok(value as u64)
}

pub struct CountPrimes {
    n: f64,
}

impl Kernel for CountPrimes {
    type Output = f64;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<f64> {
        let n = whole(self.n, primes::MAX_N, "n")?;
        Ok(primes::count_primes(n, cancel)? as f64)
    }
}

#[napi(js_name = "countPrimes")]
pub fn count_primes(n: f64, token: &CancelToken) -> Call<CountPrimes> {
    spawn(CountPrimes { n }, token)
}

pub struct Primes {
    n: f64,
}

impl Kernel for Primes {
    type Output = Uint32Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint32Array> {
        let n = whole(self.n, primes::MAX_PRIMES_N, "n")?;
        Ok(Uint32Array::new(primes::primes(n, cancel)?))
    }
}

#[napi]
pub fn primes(n: f64, token: &CancelToken) -> Call<Primes> {
    spawn(Primes { n }, token)
}

/// Both operands of one float kind.
pub enum Operands {
    F64(Float64Array, Float64Array),
    F32(Float32Array, Float32Array),
}

pub struct Matmul {
    operands: Operands,
    m: f64,
    k: f64,
    n: f64,
}

/// The product's elements; index.js wraps them as `{ data, rows, cols }`.
pub enum Product {
    F64(Float64Array),
    F32(Float32Array),
}

impl TypeName for Product {
    fn type_name() -> &'static str {
        "Float64Array | Float32Array"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Product {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        value: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        match value {
            Product::F64(a) => unsafe { Float64Array::to_napi_value(env, a) },
            Product::F32(a) => unsafe { Float32Array::to_napi_value(env, a) },
        }
    }
}

impl Kernel for Matmul {
    type Output = Product;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Product> {
        let dim = |v: f64, name: &str| whole(v, u32::MAX as u64, name).map(|d| d as usize);
        let (m, k, n) = (
            dim(self.m, "a.rows")?,
            dim(self.k, "a.cols")?,
            dim(self.n, "b.cols")?,
        );
        Ok(match &self.operands {
            Operands::F64(a, b) => {
                Product::F64(Float64Array::new(matmul::matmul(a, m, k, b, n, cancel)?))
            }
            Operands::F32(a, b) => {
                Product::F32(Float32Array::new(matmul::matmul(a, m, k, b, n, cancel)?))
            }
        })
    }
}

#[napi(js_name = "matmulF64")]
pub fn matmul_f64(
    a: Float64Array,
    b: Float64Array,
    m: f64,
    k: f64,
    n: f64,
    token: &CancelToken,
) -> Call<Matmul> {
    spawn(
        Matmul {
            operands: Operands::F64(a, b),
            m,
            k,
            n,
        },
        token,
    )
}

#[napi(js_name = "matmulF32")]
pub fn matmul_f32(
    a: Float32Array,
    b: Float32Array,
    m: f64,
    k: f64,
    n: f64,
    token: &CancelToken,
) -> Call<Matmul> {
    spawn(
        Matmul {
            operands: Operands::F32(a, b),
            m,
            k,
            n,
        },
        token,
    )
}

pub struct Mandelbrot {
    width: f64,
    height: f64,
    center_x: f64,
    center_y: f64,
    scale: f64,
    max_iterations: f64,
}

impl Kernel for Mandelbrot {
    type Output = Uint32Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint32Array> {
        let view = mandelbrot::View {
            width: whole(self.width, u32::MAX as u64, "width")? as usize,
            height: whole(self.height, u32::MAX as u64, "height")? as usize,
            center_x: self.center_x,
            center_y: self.center_y,
            scale: self.scale,
            max_iterations: whole(self.max_iterations, u32::MAX as u64, "maxIterations")? as u32,
        };
        Ok(Uint32Array::new(mandelbrot::mandelbrot(&view, cancel)?))
    }
}

#[napi]
#[allow(clippy::too_many_arguments)]
pub fn mandelbrot(
    width: f64,
    height: f64,
    center_x: f64,
    center_y: f64,
    scale: f64,
    max_iterations: f64,
    token: &CancelToken,
) -> Call<Mandelbrot> {
    spawn(
        Mandelbrot {
            width,
            height,
            center_x,
            center_y,
            scale,
            max_iterations,
        },
        token,
    )
}

/// `topK`'s result: rows and scores, query after query.
#[napi(object, object_from_js = false)]
pub struct TopKResult {
    pub indices: Uint32Array,
    pub scores: Product,
}

pub struct TopK {
    operands: Operands,
    rows: f64,
    cols: f64,
    queries: f64,
    k: f64,
    metric: String,
}

impl Kernel for TopK {
    type Output = TopKResult;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<TopKResult> {
        let dim = |v: f64, name: &str| whole(v, u32::MAX as u64, name).map(|d| d as usize);
        let (rows, cols, nq) = (
            dim(self.rows, "vectors.rows")?,
            dim(self.cols, "vectors.cols")?,
            dim(self.queries, "queries.rows")?,
        );
        let k = dim(self.k, "k")?;
        let metric = topk::Metric::parse(&self.metric)?;
        Ok(match &self.operands {
            Operands::F64(v, q) => {
                let (indices, scores) = topk::top_k(v, rows, cols, q, nq, k, metric, cancel)?;
                TopKResult {
                    indices: Uint32Array::new(indices),
                    scores: Product::F64(Float64Array::new(scores)),
                }
            }
            Operands::F32(v, q) => {
                let (indices, scores) = topk::top_k(v, rows, cols, q, nq, k, metric, cancel)?;
                TopKResult {
                    indices: Uint32Array::new(indices),
                    scores: Product::F32(Float32Array::new(scores)),
                }
            }
        })
    }
}

#[napi(js_name = "topKF64")]
#[allow(clippy::too_many_arguments)]
pub fn top_k_f64(
    vectors: Float64Array,
    queries: Float64Array,
    rows: f64,
    cols: f64,
    nq: f64,
    k: f64,
    metric: String,
    token: &CancelToken,
) -> Call<TopK> {
    spawn(
        TopK {
            operands: Operands::F64(vectors, queries),
            rows,
            cols,
            queries: nq,
            k,
            metric,
        },
        token,
    )
}

#[napi(js_name = "topKF32")]
#[allow(clippy::too_many_arguments)]
pub fn top_k_f32(
    vectors: Float32Array,
    queries: Float32Array,
    rows: f64,
    cols: f64,
    nq: f64,
    k: f64,
    metric: String,
    token: &CancelToken,
) -> Call<TopK> {
    spawn(
        TopK {
            operands: Operands::F32(vectors, queries),
            rows,
            cols,
            queries: nq,
            k,
            metric,
        },
        token,
    )
}
