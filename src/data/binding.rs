//! napi glue for data crunching: argument structs, kernels, exported functions.
//! Validation that needs JS semantics happens in `index.js`; this layer converts and runs.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::{describe, groupby, histogram, quantiles, sort};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::convert::with_numeric;
use crate::convert::{NumericArray, NumericVec};
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

pub struct SortCopy {
    array: NumericArray,
    descending: bool,
}

impl Kernel for SortCopy {
    type Output = NumericVec;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<NumericVec> {
        let descending = self.descending;
        with_numeric!(&self.array, |a, Same| Ok(Same(sort::sorted_copy(
            a, descending, cancel
        )?)))
    }
}

/// Sorts a copy of `array`; resolves to a new typed array of the same kind.
#[napi(js_name = "sortCopy")]
pub fn sort_copy(array: NumericArray, descending: bool, token: &CancelToken) -> Call<SortCopy> {
    spawn(SortCopy { array, descending }, token)
}

pub struct SortInPlace {
    array: NumericArray,
    descending: bool,
}

impl Kernel for SortInPlace {
    type Output = ();
    fn run(&mut self, cancel: &Cancel) -> KernelResult<()> {
        let descending = self.descending;
        // SAFETY: the JS side hands this array over until the promise settles (documented);
        // the radix passes never write out of bounds even if it is modified meanwhile.
        with_numeric!(&mut self.array, |a, _V| sort::sort(
            unsafe { a.as_mut() },
            descending,
            cancel
        ))
    }
}

/// Sorts `array` in place.
#[napi(js_name = "sortInPlace")]
pub fn sort_in_place(
    array: NumericArray,
    descending: bool,
    token: &CancelToken,
) -> Call<SortInPlace> {
    spawn(SortInPlace { array, descending }, token)
}

pub struct Argsort {
    array: NumericArray,
    descending: bool,
}

impl Kernel for Argsort {
    type Output = Uint32Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint32Array> {
        let descending = self.descending;
        with_numeric!(&self.array, |a, _V| Ok(Uint32Array::new(sort::argsort(
            a, descending, cancel
        )?)))
    }
}

#[napi]
pub fn argsort(array: NumericArray, descending: bool, token: &CancelToken) -> Call<Argsort> {
    spawn(Argsort { array, descending }, token)
}

/// What `describe` resolves to.
#[napi(object)]
pub struct Description {
    pub count: f64,
    pub nan_count: f64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub mean: f64,
    pub variance: f64,
    pub stddev: f64,
}

pub struct Describe {
    array: NumericArray,
    ddof: f64,
}

impl Kernel for Describe {
    type Output = Description;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Description> {
        let ddof = self.ddof;
        let s = with_numeric!(&self.array, |a, _V| describe::describe(a, ddof, cancel))?;
        Ok(Description {
            count: s.count,
            nan_count: s.nan_count,
            min: s.min,
            max: s.max,
            sum: s.sum,
            mean: s.mean,
            variance: s.variance,
            stddev: s.stddev,
        })
    }
}

#[napi]
pub fn describe(array: NumericArray, ddof: f64, token: &CancelToken) -> Call<Describe> {
    spawn(Describe { array, ddof }, token)
}

pub struct Quantiles {
    array: NumericArray,
    probs: Float64Array,
}

impl Kernel for Quantiles {
    type Output = Float64Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Float64Array> {
        let probs = &self.probs[..];
        let q = with_numeric!(&self.array, |a, _V| quantiles::quantiles(a, probs, cancel))?;
        Ok(Float64Array::new(q))
    }
}

#[napi]
pub fn quantiles(array: NumericArray, probs: Float64Array, token: &CancelToken) -> Call<Quantiles> {
    spawn(Quantiles { array, probs }, token)
}

/// What `histogram` resolves to.
#[napi(object)]
pub struct HistogramResult {
    pub counts: Float64Array,
    pub edges: Float64Array,
}

pub struct Histogram {
    array: NumericArray,
    bins: f64,
    range: Option<(f64, f64)>,
}

impl Kernel for Histogram {
    type Output = HistogramResult;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<HistogramResult> {
        let bins = self.bins;
        if bins.fract() != 0.0 || !(1.0..=histogram::MAX_BINS as f64).contains(&bins) {
            return Err(KernelError::OutOfRange(format!(
                "bins must be an integer from 1 to {}; received {bins}",
                histogram::MAX_BINS
            )));
        }
        let range = self.range;
        let h = with_numeric!(&self.array, |a, _V| histogram::histogram(
            a,
            bins as usize,
            range,
            cancel
        ))?;
        Ok(HistogramResult {
            counts: Float64Array::new(h.counts),
            edges: Float64Array::new(h.edges),
        })
    }
}

#[napi]
pub fn histogram(
    array: NumericArray,
    bins: f64,
    range_min: Option<f64>,
    range_max: Option<f64>,
    token: &CancelToken,
) -> Call<Histogram> {
    let range = range_min.zip(range_max);
    spawn(Histogram { array, bins, range }, token)
}

/// Which aggregations `groupBy` computes (checked by lib/data.js).
#[napi(object)]
pub struct GroupSpec {
    pub count: bool,
    pub sum: bool,
    pub mean: bool,
    pub min: bool,
    pub max: bool,
    pub std: bool,
    pub quantiles: Vec<f64>,
    pub ddof: f64,
}

/// One value column's aggregations, per group.
#[napi(object)]
pub struct GroupColumn {
    pub count: Option<Float64Array>,
    pub sum: Option<Float64Array>,
    pub mean: Option<Float64Array>,
    pub min: Option<Float64Array>,
    pub max: Option<Float64Array>,
    pub std: Option<Float64Array>,
    pub quantiles: Vec<Float64Array>,
}

/// What the native `groupBy` resolves to; lib/data.js makes the keys from `first_row`.
#[napi(object)]
pub struct GroupResult {
    pub first_row: Float64Array,
    pub size: Float64Array,
    pub columns: Vec<GroupColumn>,
}

pub struct GroupBy {
    keys: NumericArray,
    /// The number of category values when `keys` are a category column's codes.
    categories: Option<f64>,
    values: Vec<NumericArray>,
    spec: GroupSpec,
}

impl Kernel for GroupBy {
    type Output = GroupResult;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<GroupResult> {
        let rows = with_numeric!(&self.keys, |a, _V| a.len());
        cancel.set_total((rows * self.values.len().max(1)) as u64);
        let groups = match (&self.keys, self.categories) {
            (NumericArray::Uint32(codes), Some(n)) => {
                groupby::groups_of_codes(codes, n as usize, cancel)?
            }
            (NumericArray::Int8(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Uint8(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Uint8Clamped(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Int16(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Uint16(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Int32(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::Uint32(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::BigInt64(k), None) => groupby::groups_of_integers(k, cancel)?,
            (NumericArray::BigUint64(k), None) => groupby::groups_of_integers(k, cancel)?,
            _ => {
                return Err(KernelError::InvalidValue(
                    "keys must be a category column or an integer typed array".into(),
                ))
            }
        };
        let what = groupby::Aggregations {
            count: self.spec.count,
            sum: self.spec.sum,
            mean: self.spec.mean,
            min: self.spec.min,
            max: self.spec.max,
            std: self.spec.std,
            quantiles: self.spec.quantiles.clone(),
            ddof: self.spec.ddof,
        };
        let mut columns = Vec::with_capacity(self.values.len());
        for values in &self.values {
            let s = with_numeric!(values, |a, _V| groupby::aggregate(
                &groups, a, &what, cancel
            ))?;
            let f = |v: Option<Vec<f64>>| v.map(Float64Array::new);
            columns.push(GroupColumn {
                count: f(s.count),
                sum: f(s.sum),
                mean: f(s.mean),
                min: f(s.min),
                max: f(s.max),
                std: f(s.std),
                quantiles: s.quantiles.into_iter().map(Float64Array::new).collect(),
            });
        }
        Ok(GroupResult {
            first_row: Float64Array::new(groups.first_row.iter().map(|&r| r as f64).collect()),
            size: Float64Array::new(groups.size),
            columns,
        })
    }
}

#[napi(js_name = "groupBy")]
pub fn group_by(
    keys: NumericArray,
    categories: Option<f64>,
    values: Vec<NumericArray>,
    spec: GroupSpec,
    token: &CancelToken,
) -> Call<GroupBy> {
    spawn(
        GroupBy {
            keys,
            categories,
            values,
            spec,
        },
        token,
    )
}
