//! `sort` and `argsort` for every numeric element type, in JS's order (NaN last, -0 before +0).

use rayon::prelude::*;

use super::radix::radix_sort;
use crate::cancel::Cancel;
use crate::element::{Element, RadixKey};
use crate::error::{try_reserve, try_vec, KernelError};

/// Below this many elements a comparison sort beats the radix passes' fixed costs.
const SMALL: usize = 1 << 11;
/// Elements per parallel task in the element-wise passes.
const CHUNK: usize = 1 << 16;

/// Sorts `data` in place, ascending, or descending with NaN still last.
pub fn sort<T: Element>(
    data: &mut [T],
    descending: bool,
    cancel: &Cancel,
) -> Result<(), KernelError> {
    assert!(
        std::mem::size_of::<T>() == std::mem::size_of::<T::Key>()
            && std::mem::align_of::<T>() == std::mem::align_of::<T::Key>()
    );
    let n = data.len();
    // Rewrite the values as keys in place.
    data.par_chunks_mut(CHUNK).for_each(|c| {
        for v in c {
            let k = v.key(descending);
            // SAFETY: Key has T's size and alignment; every bit pattern is a valid key.
            unsafe { (v as *mut T).cast::<T::Key>().write(k) };
        }
    });
    // SAFETY: as above; from here on `data` holds keys.
    let keys: &mut [T::Key] =
        unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast(), n) };

    let result = sort_keys(keys, cancel);
    // Whatever happened, turn the keys back into values so the buffer never holds garbage.
    let back = |src: &[T::Key], dst: &mut [T::Key]| {
        src.par_chunks(CHUNK)
            .zip(dst.par_chunks_mut(CHUNK))
            .for_each(|(s, d)| {
                for (s, d) in s.iter().zip(d) {
                    let v = T::from_key(*s, descending);
                    // SAFETY: see above.
                    unsafe { (d as *mut T::Key).cast::<T>().write(v) };
                }
            })
    };
    match result {
        Ok(Some(ref scratch)) => back(scratch, keys),
        Ok(None) | Err(_) => {
            // in place: the same buffer is read and written element by element
            keys.par_chunks_mut(CHUNK).for_each(|c| {
                for k in c {
                    let v = T::from_key(*k, descending);
                    unsafe { (k as *mut T::Key).cast::<T>().write(v) };
                }
            })
        }
    }
    result.map(|_| ())
}

/// Sorts keys; returns the scratch buffer when the result ended up there.
fn sort_keys<K: RadixKey>(keys: &mut [K], cancel: &Cancel) -> Result<Option<Vec<K>>, KernelError> {
    if keys.len() < SMALL {
        keys.sort_unstable();
        return Ok(None);
    }
    cancel.check()?;
    let mut scratch = try_vec(keys.len(), K::MAX, "the sort's working buffer")?;
    let in_scratch = radix_sort(
        keys,
        &mut scratch,
        |k| k.to_u64(),
        0,
        8 * K::BYTES as u32,
        cancel,
    )?;
    Ok(in_scratch.then_some(scratch))
}

/// Copies `data` into a new vector and sorts it (the input is only read).
pub fn sorted_copy<T: Element>(
    data: &[T],
    descending: bool,
    cancel: &Cancel,
) -> Result<Vec<T>, KernelError> {
    let mut out = Vec::new();
    try_reserve(&mut out, data.len(), "the sorted array")?;
    // Parallel copy: the first touch of fresh pages is the slow part, so spread it.
    out.par_extend(data.par_iter().copied());
    sort(&mut out, descending, cancel)?;
    Ok(out)
}

/// The largest length `argsort` accepts: its indices are `u32`.
pub const MAX_ARGSORT_LEN: usize = u32::MAX as usize + 1;

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
    if T::Key::BYTES <= 4 {
        // Pack (key, index) into one u64 and sort by the key bytes only; index order is the
        // initial order, and LSD keeps it among equal keys.
        let mut items = Vec::new();
        try_reserve(&mut items, n, "argsort's working buffer")?;
        items.par_extend(
            data.par_iter()
                .enumerate()
                .map(|(i, v)| (v.key(descending).to_u64() << 32) | i as u64),
        );
        if n < SMALL {
            items.sort_unstable(); // the index bits break ties by index
            return Ok(items.into_iter().map(|x| x as u32).collect());
        }
        let mut scratch = try_vec(n, 0u64, "argsort's working buffer")?;
        let in_scratch = radix_sort(
            &mut items,
            &mut scratch,
            |x| *x,
            32,
            8 * T::Key::BYTES as u32,
            cancel,
        )?;
        let sorted = if in_scratch { scratch } else { items };
        let mut out = Vec::new();
        try_reserve(&mut out, n, "the index array")?;
        out.par_extend(sorted.par_iter().map(|x| *x as u32));
        Ok(out)
    } else {
        #[derive(Clone, Copy)]
        struct Pair {
            key: u64,
            index: u32,
        }
        let mut items = Vec::new();
        try_reserve(&mut items, n, "argsort's working buffer")?;
        items.par_extend(data.par_iter().enumerate().map(|(i, v)| Pair {
            key: v.key(descending).to_u64(),
            index: i as u32,
        }));
        let sorted = if n < SMALL {
            items.sort_by_key(|p| p.key); // stable
            items
        } else {
            let mut scratch = try_vec(n, Pair { key: 0, index: 0 }, "argsort's working buffer")?;
            let in_scratch = radix_sort(&mut items, &mut scratch, |p| p.key, 0, 64, cancel)?;
            if in_scratch {
                scratch
            } else {
                items
            }
        };
        let mut out = Vec::new();
        try_reserve(&mut out, n, "the index array")?;
        out.par_extend(sorted.par_iter().map(|p| p.index));
        Ok(out)
    }
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

    fn floats(n: usize, seed: &mut u64) -> Vec<f64> {
        let specials = [
            f64::NAN,
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-310,
            -1e-310,
        ];
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
        for n in [0, 1, 5, SMALL - 1, SMALL, 100_000] {
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
    fn argsort_is_stable_and_orders_like_sort() {
        let mut seed = 9;
        for n in [0, 1, 7, SMALL + 3, 70_000] {
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
}
