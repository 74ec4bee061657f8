//! `sort` and `argsort` for every numeric element type, in JS's order (NaN last, -0 before +0).

use rayon::prelude::*;

use super::counting;
use super::radix::{
    input_modified, merge_or_and, or_and, radix_sort, radix_sort_counted, FirstStep,
};
use crate::cancel::Cancel;
use crate::element::{Element, RadixKey};
use crate::error::{try_zeroed_vec, KernelError, Zeroable};
use crate::pages::ZeroedBuffer;
use crate::reaper::{drop_in_background, FreeLater};
use crate::simd::{compiled_per_level, Level};

/// Elements per parallel task in the element-wise passes.
const CHUNK: usize = 1 << 16;

/// What one pass over the keys learns: OR and AND of all keys (the bits that vary), and
/// whether they are already in order (first and last key of the run, for joining runs).
#[derive(Clone, Copy)]
struct Scan {
    or: u64,
    and: u64,
    sorted: bool,
    first: u64,
    last: u64,
}

/// Keys per piece of a chunk that is rewritten and then scanned while it is still in L1.
const PIECE: usize = 4096;

impl Scan {
    /// The scan of some keys, in pieces: each loop is simple enough to vectorise (a single loop
    /// that rewrites, ORs, ANDs and compares each key in turn ran at a third of the speed).
    #[inline(always)]
    fn of_keys<K: RadixKey>(keys: &[K]) -> Option<Scan> {
        let first = keys.first()?.to_u64();
        let mut scan = Scan {
            or: 0,
            and: u64::MAX,
            sorted: true,
            first,
            last: keys[keys.len() - 1].to_u64(),
        };
        let mut descents = 0u64;
        for piece in keys.chunks(PIECE) {
            for k in piece {
                scan.or |= k.to_u64();
                scan.and &= k.to_u64();
            }
            for (a, b) in piece.iter().zip(&piece[1..]) {
                descents |= (a.to_u64() > b.to_u64()) as u64;
            }
        }
        // Pairs across pieces.
        for at in (PIECE..keys.len()).step_by(PIECE) {
            descents |= (keys[at - 1].to_u64() > keys[at].to_u64()) as u64;
        }
        scan.sorted = descents == 0;
        Some(scan)
    }

    /// `a` then `b`, in that order (rayon's reduce keeps the order of an indexed iterator).
    fn join(a: Option<Scan>, b: Option<Scan>) -> Option<Scan> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Scan {
                or: a.or | b.or,
                and: a.and & b.and,
                sorted: a.sorted && b.sorted && a.last <= b.first,
                first: a.first,
                last: b.last,
            }),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

/// Rewrites `keys` (holding `T::Key`s) as the `T` values they stand for, in place.
fn keys_to_values<T: Element>(keys: &mut [T::Key], descending: bool) {
    for k in keys {
        let v = T::from_key(*k, descending);
        // SAFETY: Key has T's size and alignment (checked in `sort_keys`).
        unsafe { (k as *mut T::Key).cast::<T>().write(v) };
    }
}

/// Keys are written over the values they stand for, and back: they must share size and
/// alignment (checked when each `T` is compiled in).
const fn assert_key_layout<T: Element>() {
    assert!(
        std::mem::size_of::<T>() == std::mem::size_of::<T::Key>()
            && std::mem::align_of::<T>() == std::mem::align_of::<T::Key>()
    );
}

/// Sorts a buffer of keys (radix sort) and turns each finished piece back into values.
fn sort_keys<T: Element>(
    keys: &mut [T::Key],
    varying: u64,
    counted: Option<(FirstStep, Vec<Vec<usize>>)>,
    descending: bool,
    cancel: &Cancel,
) -> Result<(), KernelError> {
    const { assert_key_layout::<T>() };
    // Every element of the scratch is written before it is read, so a mapping kept from an
    // earlier sort will do: sorting again then faults in no pages (10M float64: ~25 ms of the
    // kernel's time saved).
    let mut scratch =
        ZeroedBuffer::<T::Key>::reusable_in_small_pages(keys.len(), "the sort's working buffer")?;
    let key = |k: &T::Key| k.to_u64();
    let finish = |piece: &mut [T::Key]| {
        keys_to_values::<T>(piece, descending);
        cancel.advance(piece.len() as u64);
    };
    // A key is all there is to a key: buckets of a small range can be sorted by counting.
    let rebuild = |k: u64| T::Key::from_u64(k);
    let bits = 8 * T::Key::BYTES as u32;
    let sorted = match counted {
        Some((first, counts)) => radix_sort_counted(
            keys,
            &mut scratch,
            key,
            bits,
            &first,
            counts,
            finish,
            Some(rebuild),
            cancel,
        ),
        None => radix_sort(
            keys,
            &mut scratch,
            key,
            0,
            bits,
            varying,
            finish,
            Some(rebuild),
            cancel,
        ),
    };
    // Unmapping a buffer the cache does not keep takes milliseconds: not on this thread.
    drop_in_background(scratch);
    sorted
}

/// Sorts `data` in place, ascending, or descending with NaN still last. If it fails or is
/// aborted, `data`'s contents are unspecified.
pub fn sort<T: Element>(
    data: &mut [T],
    descending: bool,
    cancel: &Cancel,
) -> Result<(), KernelError> {
    let n = data.len();
    // Progress: elements in their final place.
    cancel.set_total(n as u64);
    let sample = sample_keys(data, descending);
    let first = plan_first_step::<T>(&sample, n);
    if first.is_none() && in_order(data, descending, cancel) {
        cancel.advance(n as u64);
        return Ok(());
    }
    if let Some((values, counts)) = count_distinct(data, &sample, descending, cancel) {
        counting::fill(data, &values, &counts, cancel);
        return cancel.check();
    }
    cancel.check()?;
    let len = first.as_ref().map_or(CHUNK, FirstStep::chunk_len);
    // Rewrite the values as keys in place, noting which key bits vary and counting the first
    // step's buckets while each piece is in L1.
    let write_keys = write_keys_for::<T>(Level::detect());
    let parts: Vec<KeysPass> = data
        .par_chunks_mut(len)
        .map(|c| {
            let mut pass = KeysPass::new(first.as_ref());
            for piece in c.chunks_mut(PIECE) {
                if cancel.is_cancelled() {
                    break; // checked below
                }
                write_keys(
                    KeysPiece::InPlace(piece),
                    descending,
                    &mut pass,
                    first.as_ref(),
                );
            }
            pass
        })
        .collect();
    cancel.check()?;
    // SAFETY: as above; from here on `data` holds keys until `finish` turns them back.
    let keys: &mut [T::Key] =
        unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast(), n) };
    sort_scanned::<T>(keys, parts, first, descending, cancel)
}

/// Whether `data` is in the order the sort gives already: a pass that only reads, each task
/// stopping at its first pair out of order. When a sample of the keys is in order this runs
/// before anything is written, so sorted input costs one read (10M float64 in place: ~5 ms,
/// where rewriting the keys and back took ~20) and unsorted input little more than the read up
/// to its first descent per chunk.
fn in_order<T: Element>(data: &[T], descending: bool, cancel: &Cancel) -> bool {
    in_order_with(data, descending, cancel, Level::detect())
}

fn in_order_with<T: Element>(data: &[T], descending: bool, cancel: &Cancel, level: Level) -> bool {
    let pairs_in_order = pairs_in_order_for::<T>(level);
    let n = data.len();
    (0..n.div_ceil(CHUNK)).into_par_iter().all(|c| {
        let end = ((c + 1) * CHUNK).min(n);
        // Each range overlaps the next by one value, so every adjacent pair is compared.
        (c * CHUNK..end).step_by(PIECE).all(|at| {
            !cancel.is_cancelled() && pairs_in_order(&data[at..(at + PIECE + 1).min(n)], descending)
        })
    })
}

/// Whether every adjacent pair of `values` is in order (no early exit: the loop vectorises;
/// baseline x86-64 has no 64-bit unsigned compare, so it runs at a fraction of the speed of
/// the AVX2 and AVX-512 copies below).
#[inline(always)]
fn pairs_in_order<T: Element>(values: &[T], descending: bool) -> bool {
    let Some(next) = values.get(1..) else {
        return true;
    };
    let mut descents = 0u64;
    for (a, b) in values.iter().zip(next) {
        descents |= u64::from(a.key(descending) > b.key(descending));
    }
    descents == 0
}

compiled_per_level! {
    /// [`pairs_in_order`] for the CPU's widest vectors.
    fn pairs_in_order_for<T: Element>(values: &[T], descending: bool) -> bool => pairs_in_order
}

/// A piece of values to write as keys: over themselves, or into the result buffer.
enum KeysPiece<'a, T: Element> {
    InPlace(&'a mut [T]),
    Into(&'a mut [T::Key], &'a [T]),
}

/// Writes a piece's keys and takes them into `pass` (their scan, the first step's counts),
/// while the piece is in L1.
#[inline(always)]
fn write_keys<T: Element>(
    piece: KeysPiece<'_, T>,
    descending: bool,
    pass: &mut KeysPass,
    first: Option<&FirstStep>,
) {
    let keys: &[T::Key] = match piece {
        KeysPiece::InPlace(values) => {
            for v in values.iter_mut() {
                let k = v.key(descending);
                // SAFETY: Key has T's size and alignment; every bit pattern is a valid key.
                unsafe { (v as *mut T).cast::<T::Key>().write(k) };
            }
            // SAFETY: as above: the piece holds keys now.
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), values.len()) }
        }
        KeysPiece::Into(keys, values) => {
            for (k, v) in keys.iter_mut().zip(values) {
                *k = v.key(descending);
            }
            keys
        }
    };
    pass.add(keys, first);
}

compiled_per_level! {
    /// [`write_keys`] for the CPU's widest vectors: the float keys' compares and the scan's
    /// unsigned 64-bit compares have no baseline x86-64 instruction (10M float64: ~6% of the
    /// whole sort, int32 ~8%).
    fn write_keys_for<T: Element>(
        piece: KeysPiece<'_, T>,
        descending: bool,
        pass: &mut KeysPass,
        first: Option<&FirstStep>,
    ) => write_keys
}

/// The first step of the radix sort of `data`'s keys, planned from a sample of them (`None`
/// when the keys fit in cache, or when the sample is in order: the array likely is too, and
/// then counting would be wasted; if it is not, the sort counts in a pass of its own).
fn plan_first_step<T: Element>(sample: &[u64], n: usize) -> Option<FirstStep> {
    if sample.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    FirstStep::plan(
        sample,
        n,
        std::mem::size_of::<T>(),
        8 * T::Key::BYTES as u32,
    )
}

/// The keys of every [`FirstStep::sample_step`]-th value of `data`.
fn sample_keys<T: Element>(data: &[T], descending: bool) -> Vec<u64> {
    data.iter()
        .step_by(FirstStep::sample_step(data.len()))
        .map(|v| v.key(descending).to_u64())
        .collect()
}

/// Arrays shorter than this are sorted in cache anyway: counting would not pay for its
/// second look at the keys.
const COUNTING_MIN: usize = 1 << 16;

/// When the sample shows at most [`counting::MAX_DISTINCT`] distinct values and the array has
/// no others: those values in order, and how many times each occurs.
fn count_distinct<T: Element>(
    data: &[T],
    sample: &[u64],
    descending: bool,
    cancel: &Cancel,
) -> Option<(Vec<T>, Vec<u64>)> {
    if data.len() < COUNTING_MIN {
        return None;
    }
    let distinct = counting::distinct_keys(sample)?;
    let counts = counting::count(data, descending, &distinct, cancel)?;
    let values = distinct
        .iter()
        .map(|&k| T::from_key(T::Key::from_u64(k), descending))
        .collect();
    Some((values, counts))
}

/// What the pass that writes the keys learns from one chunk.
struct KeysPass {
    scan: Option<Scan>,
    /// The chunk's count per bucket of the first step (empty without one), but for
    /// `quads`.
    counts: Vec<usize>,
    /// Four histograms of the keys since the last fold into `counts` ([`FirstStep::count`]).
    quads: Vec<u32>,
    unfolded: usize,
}

impl KeysPass {
    fn new(first: Option<&FirstStep>) -> Self {
        let buckets = first.map_or(0, FirstStep::buckets);
        KeysPass {
            scan: None,
            counts: vec![0; buckets],
            quads: vec![0; 4 * buckets],
            unfolded: 0,
        }
    }

    /// Takes in the next keys of the chunk.
    #[inline(always)]
    fn add<K: RadixKey>(&mut self, keys: &[K], first: Option<&FirstStep>) {
        self.scan = Scan::join(self.scan, Scan::of_keys(keys));
        if let Some(first) = first {
            first.count(keys, &mut self.quads);
            self.unfolded += keys.len();
            if self.unfolded > (u32::MAX as usize) - PIECE {
                self.fold();
            }
        }
    }

    /// Adds the four histograms into `counts` and clears them.
    fn fold(&mut self) {
        let buckets = self.counts.len();
        for quad in self.quads.chunks_exact_mut(buckets.max(1)) {
            for (c, q) in self.counts.iter_mut().zip(quad.iter_mut()) {
                *c += *q as usize;
                *q = 0;
            }
        }
        self.unfolded = 0;
    }

    /// The chunk's count per bucket of the first step.
    fn into_counts(mut self) -> Vec<usize> {
        self.fold();
        self.counts
    }
}

/// Sorts keys after their scan: keys already in order only turn back into values.
fn sort_scanned<T: Element>(
    keys: &mut [T::Key],
    parts: Vec<KeysPass>,
    first: Option<FirstStep>,
    descending: bool,
    cancel: &Cancel,
) -> Result<(), KernelError> {
    let scan = parts
        .iter()
        .fold(None, |scan, part| Scan::join(scan, part.scan));
    let counted = first.map(|first| {
        (
            first,
            parts.into_iter().map(KeysPass::into_counts).collect(),
        )
    });
    match scan {
        None => Ok(()), // empty
        Some(scan) if scan.sorted => {
            keys.par_chunks_mut(CHUNK).for_each(|piece| {
                keys_to_values::<T>(piece, descending);
                cancel.advance(piece.len() as u64);
            });
            Ok(())
        }
        Some(scan) => sort_keys::<T>(keys, scan.or ^ scan.and, counted, descending, cancel),
    }
}

/// A sorted copy of `data` (which is only read).
pub fn sorted_copy<T: Element>(
    data: &[T],
    descending: bool,
    cancel: &Cancel,
) -> Result<Vec<T>, KernelError> {
    let n = data.len();
    cancel.set_total(n as u64);
    const { assert_key_layout::<T>() };
    // Build the keys straight into the result buffer (fresh pages, touched once).
    let mut keys = FreeLater::new(try_zeroed_vec::<T::Key>(n, "the sorted array")?);
    let sample = sample_keys(data, descending);
    let first = plan_first_step::<T>(&sample, n);
    if first.is_none() && in_order(data, descending, cancel) {
        // Sorted already: the result is a copy of the values as they are.
        keys.par_chunks_mut(CHUNK)
            .zip(data.par_chunks(CHUNK))
            .for_each(|(k, v)| {
                // SAFETY: Key has T's size and alignment (asserted at the top).
                let k: &mut [T] =
                    unsafe { std::slice::from_raw_parts_mut(k.as_mut_ptr().cast(), k.len()) };
                k.copy_from_slice(v);
                cancel.advance(v.len() as u64);
            });
        return Ok(keys_as_values(keys));
    }
    if let Some((values, counts)) = count_distinct(data, &sample, descending, cancel) {
        // SAFETY: Key has T's size and alignment (asserted at the top); `fill` writes
        // every element.
        let out: &mut [T] = unsafe { std::slice::from_raw_parts_mut(keys.as_mut_ptr().cast(), n) };
        counting::fill(out, &values, &counts, cancel);
        cancel.check()?;
        return Ok(keys_as_values(keys));
    }
    cancel.check()?;
    let len = first.as_ref().map_or(CHUNK, FirstStep::chunk_len);
    let write_keys = write_keys_for::<T>(Level::detect());
    let parts: Vec<KeysPass> = keys
        .par_chunks_mut(len)
        .zip(data.par_chunks(len))
        .map(|(k, v)| {
            let mut pass = KeysPass::new(first.as_ref());
            for (k, v) in k.chunks_mut(PIECE).zip(v.chunks(PIECE)) {
                if cancel.is_cancelled() {
                    break; // checked below
                }
                write_keys(KeysPiece::Into(k, v), descending, &mut pass, first.as_ref());
            }
            pass
        })
        .collect();
    cancel.check()?;
    sort_scanned::<T>(&mut keys, parts, first, descending, cancel)?;
    Ok(keys_as_values(keys))
}

/// The buffer of a sorted copy, every key in it turned into a `T` in place, as a `Vec<T>`.
fn keys_as_values<T: Element>(keys: FreeLater<T::Key>) -> Vec<T> {
    const { assert_key_layout::<T>() };
    let n = keys.len();
    let mut keys = std::mem::ManuallyDrop::new(keys.into_inner());
    // SAFETY: every key was turned into a T in place; Key and T share size and alignment, so
    // the allocation's layout is the same for Vec<T>.
    unsafe { Vec::from_raw_parts(keys.as_mut_ptr().cast::<T>(), n, keys.capacity()) }
}

/// The largest length `argsort` accepts: its indices are `u32`.
pub const MAX_ARGSORT_LEN: usize = u32::MAX as usize + 1;

#[derive(Clone, Copy)]
struct Pair {
    key: u64,
    index: u32,
}
// SAFETY: two integers (and padding): zero is a valid Pair.
unsafe impl Zeroable for Pair {}

/// The indices that put `data` in sorted order, stable (equal values keep index order).
pub fn argsort<T: Element>(
    data: &[T],
    descending: bool,
    cancel: &Cancel,
) -> Result<Vec<u32>, KernelError> {
    let n = data.len();
    if n > MAX_ARGSORT_LEN {
        return Err(KernelError::OutOfRange(format!(
            "argsort returns a Uint32Array of indices, so the array can hold at most {MAX_ARGSORT_LEN} elements; received {n}"
        )));
    }
    let bits = 8 * T::Key::BYTES as u32;
    if T::Key::BYTES <= 4 {
        // Pack (key, index) into one u64 and sort by the key bits only.
        let item = |key: u64, index: u32| (key << 32) | index as u64;
        argsort_items(
            data,
            descending,
            item,
            |x: &u64| *x >> 32,
            |x| *x as u32,
            bits,
            cancel,
        )
    } else {
        let item = |key: u64, index: u32| Pair { key, index };
        argsort_items(
            data,
            descending,
            item,
            |p: &Pair| p.key,
            |p| p.index,
            bits,
            cancel,
        )
    }
}

/// argsort of values with at most [`counting::MAX_DISTINCT`] distinct keys (as the sample
/// shows and a count confirms): the indices of each key's values in index order, key by key.
/// `None` when the values are not such (or too few to be worth it).
fn argsort_by_counting<T: Element>(
    data: &[T],
    descending: bool,
    cancel: &Cancel,
) -> Result<Option<Vec<u32>>, KernelError> {
    if data.len() < COUNTING_MIN {
        return Ok(None);
    }
    let Some(distinct) = counting::distinct_keys(&sample_keys(data, descending)) else {
        return Ok(None);
    };
    let Some(chunks) = counting::count_chunks(data, descending, &distinct, cancel) else {
        return Ok(None);
    };
    let mut indices = try_zeroed_vec::<u32>(data.len(), "the index array")?;
    if counting::stable_indices(data, descending, &distinct, &chunks, &mut indices, cancel) {
        return Ok(Some(indices));
    }
    cancel.check()?;
    Err(input_modified())
}

/// argsort through items that carry a key and an index: built in one pass (which also finds
/// the key bits that vary), radix-sorted by key, then read back as indices. The items start
/// in index order and the radix sort is stable, so equal keys keep index order.
#[allow(clippy::too_many_arguments)]
fn argsort_items<T: Element, I: Zeroable + Send + Sync + 'static>(
    data: &[T],
    descending: bool,
    item: impl Fn(u64, u32) -> I + Sync,
    key: impl Fn(&I) -> u64 + Sync,
    index: impl Fn(&I) -> u32 + Sync,
    bits: u32,
    cancel: &Cancel,
) -> Result<Vec<u32>, KernelError> {
    let n = data.len();
    cancel.set_total(n as u64);
    if in_order(data, descending, cancel) {
        let mut indices = try_zeroed_vec::<u32>(n, "the index array")?;
        indices
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = (c * CHUNK + i) as u32;
                }
                cancel.advance(chunk.len() as u64);
            });
        return Ok(indices);
    }
    if let Some(indices) = argsort_by_counting(data, descending, cancel)? {
        return Ok(indices);
    }
    let mut items = FreeLater::new(try_zeroed_vec::<I>(n, "argsort's working buffer")?);
    let (or, and) = items
        .par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .enumerate()
        .map(|(c, (items, values))| {
            if cancel.is_cancelled() {
                return (0, u64::MAX);
            }
            or_and(
                items
                    .iter_mut()
                    .zip(values)
                    .enumerate()
                    .map(|(i, (slot, v))| {
                        let k = v.key(descending).to_u64();
                        *slot = item(k, (c * CHUNK + i) as u32);
                        k
                    }),
            )
        })
        .reduce(|| (0, u64::MAX), merge_or_and);
    cancel.check()?;
    let mut scratch = FreeLater::new(try_zeroed_vec::<I>(n, "argsort's working buffer")?);
    radix_sort(
        &mut items,
        &mut scratch,
        &key,
        0,
        bits,
        or ^ and,
        |piece| cancel.advance(piece.len() as u64),
        None::<fn(u64) -> I>,
        cancel,
    )?;
    let mut out = FreeLater::new(try_zeroed_vec::<u32>(n, "the index array")?);
    out.par_chunks_mut(CHUNK)
        .zip(items.par_chunks(CHUNK))
        .for_each(|(o, s)| {
            if !cancel.is_cancelled() {
                o.iter_mut().zip(s).for_each(|(o, s)| *o = index(s))
            }
        });
    cancel.check()?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    /// JS's comparator for TypedArray.prototype.sort, written out independently of the keys.
    fn js_cmp(a: f64, b: f64) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Equal,
            (true, false) => Greater,
            (false, true) => Less,
            _ if a < b => Less,
            _ if a > b => Greater,
            _ if a == 0.0 && b == 0.0 => (b.is_sign_negative()).cmp(&a.is_sign_negative()),
            _ => Equal,
        }
    }

    /// NaN, the zeros, the infinities and two subnormals.
    const SPECIALS: [f64; 7] = [
        f64::NAN,
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-310,
        -1e-310,
    ];

    fn floats(n: usize, seed: &mut u64) -> Vec<f64> {
        let specials = SPECIALS;
        (0..n)
            .map(|i| {
                if i % 17 == 0 {
                    specials[(lcg(seed) % 7) as usize]
                } else {
                    (lcg(seed) as f64 / (1u64 << 53) as f64 - 0.5) * 1e6
                }
            })
            .collect()
    }

    #[test]
    fn float_sort_matches_js_order_both_directions() {
        let mut seed = 1;
        for n in [0, 1, 5, 63, 64, 65, 2047, 2048, 100_000] {
            let data = floats(n, &mut seed);
            let mut asc = data.clone();
            sort(&mut asc, false, &Cancel::new()).unwrap();
            let mut expected = data.clone();
            expected.sort_by(|a, b| js_cmp(*a, *b));
            let same = |a: &[f64], b: &[f64]| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
            };
            assert!(same(&asc, &expected), "asc n={n}");

            let desc = sorted_copy(&data, true, &Cancel::new()).unwrap();
            let nans = data.iter().filter(|x| x.is_nan()).count();
            let mut rev: Vec<f64> = expected[..n - nans].iter().rev().copied().collect();
            rev.extend(std::iter::repeat_n(f64::NAN, nans));
            assert!(same(&desc, &rev), "desc n={n}");
        }
    }

    #[test]
    fn integer_sorts_match_std() {
        let mut seed = 5;
        let d: Vec<i32> = (0..50_000).map(|_| lcg(&mut seed) as i32).collect();
        let mut e = d.clone();
        e.sort();
        assert_eq!(sorted_copy(&d, false, &Cancel::new()).unwrap(), e);
        e.reverse();
        assert_eq!(sorted_copy(&d, true, &Cancel::new()).unwrap(), e);

        let d: Vec<i8> = (0..10_000).map(|_| lcg(&mut seed) as i8).collect();
        let mut e = d.clone();
        e.sort();
        assert_eq!(sorted_copy(&d, false, &Cancel::new()).unwrap(), e);

        let d: Vec<u64> = (0..10_000).map(|_| lcg(&mut seed) << 11).collect();
        let mut e = d.clone();
        e.sort();
        assert_eq!(sorted_copy(&d, false, &Cancel::new()).unwrap(), e);
    }

    #[test]
    fn large_arrays_take_a_counted_first_step_and_match_std() {
        // Larger than cache: the first step is planned from a sample and counted while the keys
        // are written. Shapes that the sample sees badly: a narrow range with rare far values,
        // few distinct values, all equal but one.
        let mut seed = 17;
        let n = 400_000;
        let shapes: Vec<Vec<i32>> = vec![
            (0..n).map(|_| lcg(&mut seed) as i32).collect(),
            (0..n)
                .map(|i| match i % 977 {
                    3 => i32::MIN + (i % 5),
                    4 => i32::MAX - (i % 7),
                    _ => (lcg(&mut seed) % 1000) as i32,
                })
                .collect(),
            (0..n).map(|_| (lcg(&mut seed) % 3) as i32 - 1).collect(),
            (0..n).map(|i| if i == n / 3 { -1 } else { 7 }).collect(),
        ];
        for (s, d) in shapes.into_iter().enumerate() {
            let mut e = d.clone();
            e.sort();
            assert_eq!(sorted_copy(&d, false, &Cancel::new()).unwrap(), e, "{s}");
            let mut inplace = d.clone();
            sort(&mut inplace, false, &Cancel::new()).unwrap();
            assert_eq!(inplace, e, "{s}");
            e.reverse();
            assert_eq!(
                sorted_copy(&d, true, &Cancel::new()).unwrap(),
                e,
                "{s} desc"
            );
        }
        let d: Vec<f32> = (0..n)
            .map(|i| match i % 1001 {
                5 => f32::NAN,
                6 => -0.0,
                7 => f32::NEG_INFINITY,
                _ => (lcg(&mut seed) >> 40) as f32 / 1e3 - 5e3,
            })
            .collect();
        let got = sorted_copy(&d, false, &Cancel::new()).unwrap();
        let mut e = d.clone();
        e.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => a.total_cmp(b),
        });
        assert!(got
            .iter()
            .zip(&e)
            .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
    }

    #[test]
    fn argsort_is_stable_and_orders_like_sort() {
        let mut seed = 9;
        for n in [0, 1, 7, 65, 2051, 70_000] {
            // few distinct values, so ties are everywhere
            let data: Vec<f64> = (0..n)
                .map(|_| match lcg(&mut seed) % 6 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    k => k as f64,
                })
                .collect();
            for desc in [false, true] {
                let idx = argsort(&data, desc, &Cancel::new()).unwrap();
                let mut expected: Vec<u32> = (0..n as u32).collect();
                expected.sort_by(|&a, &b| {
                    let (x, y) = (data[a as usize], data[b as usize]);
                    match (x.is_nan(), y.is_nan()) {
                        (false, false) if desc => js_cmp(y, x),
                        _ => js_cmp(x, y),
                    }
                });
                assert_eq!(idx, expected, "n={n} desc={desc}");
            }
            let small: Vec<i16> = data
                .iter()
                .map(|x| if x.is_nan() { 9 } else { *x as i16 })
                .collect();
            let idx = argsort(&small, false, &Cancel::new()).unwrap();
            let mut expected: Vec<u32> = (0..n as u32).collect();
            expected.sort_by_key(|&i| small[i as usize]);
            assert_eq!(idx, expected);
        }
    }

    #[test]
    fn the_key_pass_is_the_same_at_every_level() {
        let mut seed = 9;
        let values = floats(PIECE + 13, &mut seed);
        let sample = sample_keys(&values, false);
        let first = FirstStep::plan(&sample, 10 * LEAF_TEST_LEN, 8, 64);
        assert!(first.is_some());
        let run = |level: Level, in_place: bool| {
            let mut pass = KeysPass::new(first.as_ref());
            let mut copy = values.clone();
            let mut keys = vec![0u64; values.len()];
            let piece = if in_place {
                KeysPiece::InPlace(&mut copy)
            } else {
                KeysPiece::Into(&mut keys, &values)
            };
            write_keys_for::<f64>(level)(piece, true, &mut pass, first.as_ref());
            let scan = pass.scan.unwrap();
            let written = if in_place {
                copy.iter().map(|v| v.to_bits()).collect()
            } else {
                keys
            };
            (written, pass.into_counts(), scan.or, scan.and, scan.sorted)
        };
        let expected: Vec<u64> = values.iter().map(|v| v.key(true)).collect();
        for level in Level::available() {
            for in_place in [false, true] {
                let got = run(level, in_place);
                assert_eq!(got.0, expected, "{level:?} {in_place}");
                assert_eq!(got, run(Level::Base, false), "{level:?} {in_place}");
            }
        }
    }

    #[test]
    fn the_first_steps_counts_add_up_in_any_pieces() {
        let mut seed = 21;
        let values = floats(PIECE + 13, &mut seed);
        let sample = sample_keys(&values, false);
        let first = FirstStep::plan(&sample, 10 * LEAF_TEST_LEN, 8, 64).unwrap();
        let keys: Vec<u64> = values.iter().map(|v| v.key(false)).collect();
        let counts_of = |pieces: &[usize], fold_after: usize| {
            let mut pass = KeysPass::new(Some(&first));
            let mut at = 0;
            for (i, &len) in pieces.iter().cycle().enumerate() {
                if at == keys.len() {
                    break;
                }
                let end = (at + len).min(keys.len());
                pass.add(&keys[at..end], Some(&first));
                at = end;
                if i == fold_after {
                    pass.fold();
                }
            }
            pass.into_counts()
        };
        let whole = counts_of(&[keys.len()], usize::MAX);
        assert_eq!(whole.iter().sum::<usize>(), keys.len());
        assert_eq!(whole.len(), first.buckets());
        // one key at a time: every key in the first histogram, no runs of four
        assert_eq!(counts_of(&[1], usize::MAX), whole);
        // uneven pieces (remainders of every length), folded part way
        assert_eq!(counts_of(&[1, 2, 3, 5, 7, 4096], 3), whole);
    }

    /// Long enough for a first step through memory.
    const LEAF_TEST_LEN: usize = 1 << 20;

    #[test]
    fn few_distinct_values_sort_by_counting_or_fall_back() {
        let mut seed = 5;
        // the special values and a number each side of zero: seven distinct values
        let specials = [&SPECIALS[..5], &[-1.5, 7.0]].concat();
        let same = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
        };
        let n = 5 * COUNTING_MIN + 3;
        let few: Vec<f64> = (0..n)
            .map(|_| specials[(lcg(&mut seed) % 7) as usize])
            .collect();
        // the sample sees every value; then one value it does not see (in a spot it skips)
        let step = FirstStep::sample_step(n);
        let mut rare = few.clone();
        rare[step + 1] = 3.25;
        let mut many: Vec<f64> = (0..n)
            .map(|i| (i % counting::MAX_DISTINCT) as f64)
            .collect();
        many[step * 3 + 2] = -2.0;
        for (name, data) in [("few", &few), ("rare", &rare), ("many", &many)] {
            for descending in [false, true] {
                let finite = data.iter().filter(|x| !x.is_nan()).count();
                let mut expected = data.clone();
                expected.sort_by(|a, b| js_cmp(*a, *b));
                if descending {
                    expected[..finite].reverse();
                }
                let mut got = data.clone();
                sort(&mut got, descending, &Cancel::new()).unwrap();
                assert!(same(&got, &expected), "{name} {descending}");
                let got = sorted_copy(data, descending, &Cancel::new()).unwrap();
                assert!(same(&got, &expected), "{name} {descending} copy");
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_by(|&a, &b| {
                    let (a, b) = (data[a as usize], data[b as usize]);
                    if a.is_nan() || b.is_nan() {
                        a.is_nan().cmp(&b.is_nan())
                    } else if descending {
                        js_cmp(b, a)
                    } else {
                        js_cmp(a, b)
                    }
                });
                let got = argsort(data, descending, &Cancel::new()).unwrap();
                assert_eq!(got, order, "{name} {descending} argsort");
            }
        }
        let ints: Vec<u8> = (0..n).map(|i| (i % 3) as u8 * 100).collect();
        let mut expected = ints.clone();
        expected.sort_unstable();
        assert_eq!(sorted_copy(&ints, false, &Cancel::new()).unwrap(), expected);
        let sample = sample_keys(&few, false);
        assert!(count_distinct(&few, &sample, false, &Cancel::new()).is_some());
        assert!(count_distinct(&rare, &sample, false, &Cancel::new()).is_none());
        let cancelled = Cancel::new();
        cancelled.cancel();
        assert!(sort(&mut few.clone(), false, &cancelled).is_err());
        assert!(sorted_copy(&few, false, &cancelled).is_err());
    }

    #[test]
    fn sorted_and_nearly_sorted_inputs_come_out_right() {
        let mut seed = 21;
        let n = 3 * CHUNK + 17;
        let mut base = floats(n, &mut seed);
        base.sort_by(|a, b| js_cmp(*a, *b));
        let same = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
        };
        // already in order; out of order only across a chunk boundary; only at the very end;
        // in order for the other direction
        let mut across = base.clone();
        across.swap(CHUNK - 1, CHUNK);
        // (the last finite values: the array ends in runs of equal infinities and NaNs)
        let last = base.iter().rposition(|x| x.is_finite()).unwrap();
        let mut at_end = base.clone();
        at_end.swap(last - 1, last);
        // across a piece boundary inside a later chunk (the scan compares by pieces)
        let mut across_piece = base.clone();
        across_piece.swap(CHUNK + PIECE - 1, CHUNK + PIECE);
        for (at, name) in [
            (CHUNK - 1, "across"),
            (CHUNK + PIECE - 1, "across a piece"),
            (last - 1, "at end"),
        ] {
            assert!(
                js_cmp(base[at], base[at + 1]).is_lt(),
                "{name}: the swap makes a pair out of order"
            );
        }
        for (name, input) in [
            ("sorted", &base),
            ("across", &across),
            ("across a piece", &across_piece),
            ("at end", &at_end),
        ] {
            let mut got = input.clone();
            sort(&mut got, false, &Cancel::new()).unwrap();
            assert!(same(&got, &base), "{name}");
            assert!(
                same(&sorted_copy(input, false, &Cancel::new()).unwrap(), &base),
                "{name}"
            );
            // the stable order of indices, as a comparison sort gives it
            let mut expected: Vec<u32> = (0..n as u32).collect();
            expected.sort_by(|&a, &b| js_cmp(input[a as usize], input[b as usize]));
            assert_eq!(
                argsort(input, false, &Cancel::new()).unwrap(),
                expected,
                "{name}"
            );
            let keys_in_order = input.windows(2).all(|w| w[0].key(false) <= w[1].key(false));
            for level in Level::available() {
                assert_eq!(
                    in_order_with(input, false, &Cancel::new(), level),
                    keys_in_order,
                    "{name} {level:?}"
                );
            }
        }
        for len in [0, 1] {
            assert!(in_order(&base[..len], false, &Cancel::new()));
            assert!(in_order(&base[..len], true, &Cancel::new()));
        }
        let ints: Vec<i32> = (0..n as i32).map(|i| i / 3).collect();
        let mut expected = ints.clone();
        expected.reverse();
        assert_eq!(sorted_copy(&ints, true, &Cancel::new()).unwrap(), expected);
        assert_eq!(
            sorted_copy(&expected, true, &Cancel::new()).unwrap(),
            expected
        );
    }
}
