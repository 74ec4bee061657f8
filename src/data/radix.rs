//! Radix sort on 8-bit digits: the engine behind `sort` and `argsort`.
//!
//! Scattering a large array to 256 places at once is slow here (every write lands on another
//! page), so only the first digits are scattered out of cache: [`radix_sort`] splits by the
//! highest byte that varies (MSD), recursing until a bucket fits in L2, then sorts each bucket
//! on one thread while it stays in cache: more MSD steps with digits sized to the bucket (a
//! bucket of 64K keys is down to a few keys per bucket after two), LSD passes when at most two
//! bytes are left, insertion sort for the last few keys. (Sorting each bucket by LSD passes
//! over all its remaining bytes, as an earlier version did, took 1.3x as long: five passes
//! where two splits suffice.) Buckets are independent, so they run in parallel; large scatters
//! are parallel over chunks. Every step is stable, which `argsort` relies on. Bytes that are
//! the same in every key are never sorted on.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::KernelError;

/// Elements between two polls of the cancel flag inside a chunk (well under a millisecond).
const POLL_EVERY: usize = 1 << 16;
/// Smallest chunk worth a rayon task.
const MIN_CHUNK: usize = 1 << 15;

/// Raw pointer for disjoint parallel writes into one buffer.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
// SAFETY: every writer gets ranges no other writer touches (checked in `scatter`).
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// A method (not the field) so closures capture the `Send` wrapper, not the raw pointer.
    fn ptr(&self) -> *mut T {
        self.0
    }
}

fn chunk_len(n: usize) -> usize {
    // A few chunks per thread, so a thread that gets a busy core does not hold everyone up.
    let chunks = (rayon::current_num_threads() * 4).max(1);
    n.div_ceil(chunks).max(MIN_CHUNK)
}

/// Buckets at most this long are sorted in cache by LSD passes (both buffers fit in L2).
const LEAF_BYTES: usize = 1 << 19;
/// Buckets this short use a stable comparison sort.
const TINY: usize = 64;

/// Sorts `data` by the `bits` bits of `key(x)` starting at bit `first_shift`, stably, using
/// `scratch` (same length) as the second buffer; the result is in `data`.
///
/// `varying` has a bit set for every key bit that is not the same in all keys (see
/// [`varying_bits`]; callers that build the keys can compute it in the same pass). `finish`
/// runs once on every finished, sorted piece of `data` while it is still in cache (to turn
/// keys back into values); the pieces cover `data` exactly once.
#[allow(clippy::too_many_arguments)]
pub fn radix_sort<T, F, G>(
    data: &mut [T],
    scratch: &mut [T],
    key: F,
    first_shift: u32,
    bits: u32,
    varying: u64,
    finish: G,
    cancel: &Cancel,
) -> Result<(), KernelError>
where
    T: Copy + Send + Sync,
    F: Fn(&T) -> u64 + Sync,
    G: Fn(&mut [T]) + Sync,
{
    assert_eq!(data.len(), scratch.len());
    let end = first_shift + bits; // bits [first_shift, end) are sorted on
    let high_mask = if end >= 64 {
        u64::MAX
    } else {
        (1u64 << end) - 1
    };
    let varying = varying & high_mask & !((1u64 << first_shift) - 1);
    cancel.check()?;
    if varying == 0 {
        // every key is the same: already sorted
        data.par_chunks_mut(chunk_len(data.len())).for_each(&finish);
        return Ok(());
    }
    let top = 63 - varying.leading_zeros(); // the highest bit that varies
    let region = Region {
        key: &key,
        finish: &finish,
        low: first_shift,
        cancel,
    };
    region.sort(data, scratch, top + 1, false)
}

/// The key bits that are not the same in every key: OR of all keys XOR AND of all keys.
pub fn varying_bits<T: Copy + Send + Sync, F: Fn(&T) -> u64 + Sync>(data: &[T], key: &F) -> u64 {
    let (or, and) = data
        .par_chunks(POLL_EVERY)
        .map(|c| or_and(c.iter().map(key)))
        .reduce(|| (0, u64::MAX), merge_or_and);
    or ^ and
}

/// (OR, AND) of some keys.
pub fn or_and(keys: impl Iterator<Item = u64>) -> (u64, u64) {
    keys.fold((0u64, u64::MAX), |(o, a), k| (o | k, a & k))
}

/// Merges two (OR, AND) pairs.
pub fn merge_or_and(x: (u64, u64), y: (u64, u64)) -> (u64, u64) {
    (x.0 | y.0, x.1 & y.1)
}

/// What every level of the recursive sort shares.
struct Region<'a, F, G> {
    key: &'a F,
    finish: &'a G,
    low: u32,
    cancel: &'a Cancel,
}

impl<F, G> Region<'_, F, G> {
    /// Sorts `data` by key bits `[low, high)` (its keys agree on the bits above, and bit
    /// `high - 1` varies unless `high == low`). The result goes to `scratch` when
    /// `to_scratch`, else stays in `data`; `finish` runs on it there.
    fn sort<T>(
        &self,
        data: &mut [T],
        scratch: &mut [T],
        high: u32,
        to_scratch: bool,
    ) -> Result<(), KernelError>
    where
        T: Copy + Send + Sync,
        F: Fn(&T) -> u64 + Sync,
        G: Fn(&mut [T]) + Sync,
    {
        let (key, low, cancel) = (self.key, self.low, self.cancel);
        let n = data.len();
        if n <= TINY || high <= low || std::mem::size_of_val(data) <= LEAF_BYTES {
            cancel.check()?;
            self.sort_in_cache(data, scratch, high, to_scratch);
            (self.finish)(if to_scratch { scratch } else { data });
            return Ok(());
        }
        // MSD step on bits [shift, high): scatter into scratch, then sort each bucket from
        // there, so that the buffers swap roles and nothing is copied back.
        let shift = high.saturating_sub(8).max(low);
        // The counting pass also notes, per bucket, which key bits vary in it: a bucket of few
        // distinct values (or of equal keys) then skips every byte its keys share instead of
        // scattering on each, at the cost of two operations in L1 per key.
        let counts = count_digits(data, chunk_len(n), key, shift, cancel)?;
        let varying: Vec<u64> = (0..256)
            .map(|d| {
                let (or, and) = counts.iter().fold((0, u64::MAX), |acc, c| {
                    merge_or_and(acc, (c.or[d], c.and[d]))
                });
                or ^ and
            })
            .collect();
        let counts: Vec<[usize; 256]> = counts.into_iter().map(|c| c.counts).collect();
        let ends = place(
            data,
            scratch,
            chunk_len(n),
            |x| ((key(x) >> shift) & 0xff) as usize,
            counts,
            cancel,
        )?;
        let below_shift = if shift >= 64 {
            u64::MAX
        } else {
            (1u64 << shift) - 1
        };
        let mut buckets = Vec::with_capacity(256);
        let (mut rest_s, mut rest_d) = (scratch, data);
        let mut start = 0;
        for (d, end) in ends.into_iter().enumerate() {
            let (b_s, s) = rest_s.split_at_mut(end - start);
            let (b_d, r) = rest_d.split_at_mut(end - start);
            if !b_s.is_empty() {
                let v = varying[d] & below_shift & !((1u64 << low) - 1);
                let bucket_high = if v == 0 { low } else { 64 - v.leading_zeros() };
                buckets.push((b_s, b_d, bucket_high));
            }
            (rest_s, rest_d, start) = (s, r, end);
        }
        buckets
            .into_par_iter()
            .try_for_each(|(b_s, b_d, h)| self.sort(b_s, b_d, h, !to_scratch))
    }

    /// [`Region::sort`] for a piece that fits in cache, on this thread: MSD steps while more
    /// than [`LSD_PASSES`] bytes remain (a piece of 64K keys is split to a few keys per bucket
    /// by two steps, where LSD would pass over every remaining byte), LSD passes for the last
    /// bytes, insertion sort for tiny buckets. The result goes to `scratch` when `to_scratch`.
    fn sort_in_cache<T>(&self, data: &mut [T], scratch: &mut [T], high: u32, to_scratch: bool)
    where
        T: Copy,
        F: Fn(&T) -> u64,
    {
        let (key, low) = (self.key, self.low);
        let n = data.len();
        if high <= low || n <= SMALL {
            if high > low {
                insertion_sort(data, |x| key(x) >> low);
            }
            if to_scratch {
                scratch.copy_from_slice(data);
            }
            return;
        }
        let passes = (high - low).div_ceil(8);
        if passes <= LSD_PASSES {
            let in_scratch = lsd_in_cache(data, scratch, key, low, passes);
            if in_scratch != to_scratch {
                if to_scratch {
                    scratch.copy_from_slice(data);
                } else {
                    data.copy_from_slice(scratch);
                }
            }
            return;
        }
        // Digits of up to 8 bits, fewer for small pieces (about two keys per bucket), so that a
        // piece of 100 keys does not walk 256 buckets.
        let bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(1)
            .clamp(2, 8);
        let shift = high.saturating_sub(bits).max(low);
        let radix = 1usize << (high - shift);
        let mask = (radix - 1) as u64;
        let (counts, varying) = count_in_cache(data, key, shift, mask, n >= TRACK_FROM);
        let mut offsets = [0usize; 256];
        let mut total = 0;
        for d in 0..radix {
            offsets[d] = total;
            total += counts[d] as usize;
        }
        for x in data.iter() {
            let d = ((key(x) >> shift) & mask) as usize;
            scratch[offsets[d]] = *x;
            offsets[d] += 1;
        }
        let below = ((1u64 << shift) - 1) & !((1u64 << low) - 1);
        let mut start = 0;
        for d in 0..radix {
            let end = start + counts[d] as usize;
            // The bucket is in scratch now: the buffers swap roles.
            let (bucket, other) = (&mut scratch[start..end], &mut data[start..end]);
            start = end;
            match bucket.len() {
                0 => {}
                1 => {
                    if !to_scratch {
                        other[0] = bucket[0];
                    }
                }
                len if len <= SMALL => {
                    insertion_sort(bucket, |x| key(x) >> low);
                    if !to_scratch {
                        other.copy_from_slice(bucket);
                    }
                }
                _ => {
                    let bucket_high = match &varying {
                        Some(v) if v[d] & below == 0 => low,
                        Some(v) => 64 - (v[d] & below).leading_zeros(),
                        None => shift,
                    };
                    self.sort_in_cache(bucket, other, bucket_high, !to_scratch);
                }
            }
        }
    }
}

/// Buckets at most this long are finished by insertion sort.
const SMALL: usize = 16;

/// Digit counts of an in-cache MSD step and, when `track`, the key bits that vary per digit
/// (out of line: its arrays would otherwise sit in every level's stack frame).
#[inline(never)]
fn count_in_cache<T>(
    data: &[T],
    key: impl Fn(&T) -> u64,
    shift: u32,
    mask: u64,
    track: bool,
) -> ([u32; 256], Option<Box<[u64; 256]>>) {
    let mut counts = [0u32; 256];
    if !track {
        for x in data {
            counts[((key(x) >> shift) & mask) as usize] += 1;
        }
        return (counts, None);
    }
    let mut or = [0u64; 256];
    let mut and = [u64::MAX; 256];
    for x in data {
        let k = key(x);
        let d = ((k >> shift) & mask) as usize;
        counts[d] += 1;
        or[d] |= k;
        and[d] &= k;
    }
    let mut varying = Box::new([0u64; 256]);
    for d in 0..256 {
        varying[d] = or[d] ^ and[d];
    }
    (counts, Some(varying))
}

/// At most this many bytes left: the in-cache sort finishes with LSD passes.
const LSD_PASSES: u32 = 2;
/// Pieces at least this long note the bits that vary per bucket in their MSD step.
const TRACK_FROM: usize = 4096;

/// Stable insertion sort by `key`.
fn insertion_sort<T: Copy>(data: &mut [T], key: impl Fn(&T) -> u64) {
    for i in 1..data.len() {
        let x = data[i];
        let k = key(&x);
        let mut j = i;
        while j > 0 && key(&data[j - 1]) > k {
            data[j] = data[j - 1];
            j -= 1;
        }
        data[j] = x;
    }
}

/// LSD passes over a piece in cache, on this thread: `passes` bytes from bit `first_shift`,
/// all counted in one read. Returns `true` when the result is in `scratch`.
fn lsd_in_cache<T: Copy>(
    data: &mut [T],
    scratch: &mut [T],
    key: impl Fn(&T) -> u64,
    first_shift: u32,
    passes: u32,
) -> bool {
    let passes = passes as usize;
    let mut counts = [[0u32; 256]; 8];
    for x in data.iter() {
        let k = key(x) >> first_shift;
        for (p, c) in counts.iter_mut().enumerate().take(passes) {
            c[((k >> (8 * p)) & 0xff) as usize] += 1;
        }
    }
    let n = data.len() as u32;
    let mut in_scratch = false;
    for (p, c) in counts.iter().enumerate().take(passes) {
        if c.contains(&n) {
            continue; // every key has the same byte here
        }
        let mut offsets = [0usize; 256];
        let mut total = 0;
        for d in 0..256 {
            offsets[d] = total;
            total += c[d] as usize;
        }
        let shift = first_shift + 8 * p as u32;
        let (src, dst): (&[T], &mut [T]) = if in_scratch {
            (&*scratch, &mut *data)
        } else {
            (&*data, &mut *scratch)
        };
        for x in src {
            let d = ((key(x) >> shift) & 0xff) as usize;
            dst[offsets[d]] = *x;
            offsets[d] += 1;
        }
        in_scratch = !in_scratch;
    }
    in_scratch
}

/// Sorts `data` by the digits `(key(x) >> (first_shift + 8 * p)) & 0xff` for `p` in
/// `0..passes`, least significant first, using `scratch` (same length) as the second buffer.
///
/// Returns `true` when the sorted result ended up in `scratch`, `false` when it is in `data`.
pub fn lsd_sort<T, F>(
    data: &mut [T],
    scratch: &mut [T],
    key: F,
    first_shift: u32,
    passes: u32,
    cancel: &Cancel,
) -> Result<bool, KernelError>
where
    T: Copy + Send + Sync,
    F: Fn(&T) -> u64 + Sync,
{
    assert_eq!(data.len(), scratch.len());
    let n = data.len();
    if n < 2 {
        return Ok(false);
    }
    let len = chunk_len(n);
    let varying = varying_bits(data, &key);

    let mut in_scratch = false;
    for p in 0..passes {
        let shift = first_shift + 8 * p;
        if (varying >> shift) & 0xff == 0 {
            continue;
        }
        let (src, dst): (&[T], &mut [T]) = if in_scratch {
            (&*scratch, &mut *data)
        } else {
            (&*data, &mut *scratch)
        };
        scatter(
            src,
            dst,
            len,
            |x| ((key(x) >> shift) & 0xff) as usize,
            cancel,
        )?;
        in_scratch = !in_scratch;
    }
    Ok(in_scratch)
}

/// One stable counting pass of `src` into `dst` by `digit` (0..256); returns where each
/// digit's range ends.
fn scatter<T, D>(
    src: &[T],
    dst: &mut [T],
    len: usize,
    digit: D,
    cancel: &Cancel,
) -> Result<[usize; 256], KernelError>
where
    T: Copy + Send + Sync,
    D: Fn(&T) -> usize + Sync,
{
    let counts: Vec<[usize; 256]> = src
        .par_chunks(len)
        .map(|c| {
            let mut h = [0usize; 256];
            for part in c.chunks(POLL_EVERY) {
                if cancel.is_cancelled() {
                    break; // the counts are dropped below
                }
                for x in part {
                    h[digit(x)] += 1;
                }
            }
            h
        })
        .collect();
    cancel.check()?;
    place(src, dst, len, digit, counts, cancel)
}

/// One chunk's digit counts, with the OR and AND of the keys of each digit.
struct DigitCounts {
    counts: [usize; 256],
    or: [u64; 256],
    and: [u64; 256],
}

/// The counting pass of an MSD step: per chunk of `len`, how many keys have each digit
/// `(key >> shift) & 0xff`, and which bits those keys share.
fn count_digits<T, F>(
    src: &[T],
    len: usize,
    key: &F,
    shift: u32,
    cancel: &Cancel,
) -> Result<Vec<DigitCounts>, KernelError>
where
    T: Copy + Send + Sync,
    F: Fn(&T) -> u64 + Sync,
{
    let counts: Vec<Box<DigitCounts>> = src
        .par_chunks(len)
        .map(|c| {
            let mut h = Box::new(DigitCounts {
                counts: [0; 256],
                or: [0; 256],
                and: [u64::MAX; 256],
            });
            for part in c.chunks(POLL_EVERY) {
                if cancel.is_cancelled() {
                    break; // the counts are dropped below
                }
                for x in part {
                    let k = key(x);
                    let d = ((k >> shift) & 0xff) as usize;
                    h.counts[d] += 1;
                    h.or[d] |= k;
                    h.and[d] &= k;
                }
            }
            h
        })
        .collect();
    cancel.check()?;
    Ok(counts.into_iter().map(|b| *b).collect())
}

/// The writing pass of a counting scatter: chunk c of `src` (chunks of `len`, as counted in
/// `counts`) writes its keys of digit d after those of earlier digits and earlier chunks.
fn place<T, D>(
    src: &[T],
    dst: &mut [T],
    len: usize,
    digit: D,
    counts: Vec<[usize; 256]>,
    cancel: &Cancel,
) -> Result<[usize; 256], KernelError>
where
    T: Copy + Send + Sync,
    D: Fn(&T) -> usize + Sync,
{
    // Chunk c writes digit d from offsets[c][d] on: digits in order, chunks in order (stable).
    let mut offsets = vec![[0usize; 256]; counts.len()];
    let mut ends = [0usize; 256];
    let mut total = 0usize;
    for d in 0..256 {
        for (c, h) in counts.iter().enumerate() {
            offsets[c][d] = total;
            total += h[d];
        }
        ends[d] = total;
    }

    let n = dst.len();
    let out = SharedMut(dst.as_mut_ptr());
    let modified =
        || KernelError::InvalidValue("The input was modified while it was being sorted".into());
    src.par_chunks(len)
        .zip(offsets.into_par_iter())
        .try_for_each(|(chunk, mut off)| {
            // Every write is checked against the end of its digit's range: a source that
            // changes under us (JS writing to an input it handed over) could count differently
            // now than in the counting pass, and must never make us write out of bounds.
            for (i, x) in chunk.iter().enumerate() {
                if i % POLL_EVERY == 0 {
                    cancel.check()?;
                }
                let d = digit(x);
                let at = off[d];
                if at >= n || at >= ends[d] {
                    return Err(modified());
                }
                // SAFETY: `at < n`, and the offsets give each chunk ranges of its own.
                unsafe { out.ptr().add(at).write(*x) };
                off[d] = at + 1;
            }
            Ok(())
        })?;
    Ok(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed
    }

    #[test]
    fn sorts_like_std_across_chunk_boundaries() {
        let mut seed = 7;
        for n in [
            0usize,
            1,
            2,
            3,
            255,
            256,
            257,
            MIN_CHUNK - 1,
            MIN_CHUNK,
            MIN_CHUNK + 1,
            300_001,
        ] {
            let mut data: Vec<u64> = (0..n).map(|_| lcg(&mut seed)).collect();
            let mut expected = data.clone();
            expected.sort_unstable();
            let mut scratch = vec![0; n];
            let mut data2 = data.clone();
            let in_scratch =
                lsd_sort(&mut data, &mut scratch, |x| *x, 0, 8, &Cancel::new()).unwrap();
            let got = if in_scratch { &scratch } else { &data };
            assert_eq!(got, &expected, "lsd n = {n}");
            let varying = varying_bits(&data2, &|x: &u64| *x);
            radix_sort(
                &mut data2,
                &mut scratch,
                |x| *x,
                0,
                64,
                varying,
                |_| {},
                &Cancel::new(),
            )
            .unwrap();
            assert_eq!(data2, expected, "hybrid n = {n}");
        }
    }

    /// Radix-sorts `(key, index)` pairs by the low `bits` of the key; returns how many elements
    /// `finish` saw.
    fn sort_pairs_by_key(pairs: &mut [(u64, u32)], bits: u32) -> usize {
        let mut scratch = vec![(0, 0); pairs.len()];
        let key = |p: &(u64, u32)| p.0;
        let varying = varying_bits(pairs, &key);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let finish = |s: &mut [(u64, u32)]| {
            seen.fetch_add(s.len(), std::sync::atomic::Ordering::Relaxed);
        };
        radix_sort(
            pairs,
            &mut scratch,
            key,
            0,
            bits,
            varying,
            finish,
            &Cancel::new(),
        )
        .unwrap();
        seen.into_inner()
    }

    #[test]
    fn is_stable() {
        // sort pairs by the high half only; the low half (original index) must stay in order
        let mut seed = 3;
        let n = 400_000u64;
        for spread in [50u64, 1 << 31] {
            let data: Vec<u64> = (0..n)
                .map(|i| ((lcg(&mut seed) % spread) << 32) | i)
                .collect();
            // the key hides the index: only stability can keep it ascending among equal keys
            let mut pairs: Vec<(u64, u32)> = data.iter().map(|x| (x >> 32, *x as u32)).collect();
            // `finish` sees every element exactly once
            assert_eq!(sort_pairs_by_key(&mut pairs, 32), n as usize);
            for w in pairs.windows(2) {
                assert!(w[0] < w[1], "{w:?}");
            }
        }
    }

    #[test]
    fn uneven_and_repeated_keys_sort_stably() {
        // Float bit patterns (few exponents), a skewed tail, long runs of one key, and a few
        // distinct keys (large buckets that share all their remaining bits): order, stability,
        // and `finish` seeing each element once.
        let mut seed = 11;
        let n = 600_000usize;
        let unit = |s: &mut u64| (lcg(s) >> 11) as f64 / (1u64 << 53) as f64;
        let shapes: Vec<Vec<u64>> = vec![
            (0..n)
                .map(|_| (unit(&mut seed) * 2e6 - 1e6).to_bits() ^ (1 << 63))
                .collect(),
            (0..n)
                .map(|_| (unit(&mut seed).powi(8) * 1e6).to_bits())
                .collect(),
            (0..n)
                .map(|i| if i % 1000 == 0 { lcg(&mut seed) } else { 42 })
                .collect(),
            (0..n)
                .map(|_| lcg(&mut seed) % 7 * 0x0100_0000_0000_0001)
                .collect(),
        ];
        for (s, keys) in shapes.into_iter().enumerate() {
            let mut pairs: Vec<(u64, u32)> = keys.iter().zip(0..).map(|(&k, i)| (k, i)).collect();
            let mut expected = pairs.clone();
            expected.sort(); // by key, then index: the stable order
            assert_eq!(sort_pairs_by_key(&mut pairs, 64), n, "shape {s}");
            assert!(pairs == expected, "shape {s}");
        }
    }

    #[test]
    fn skips_constant_bytes_and_stops_when_cancelled() {
        let mut data: Vec<u64> = (0..100_000u64)
            .rev()
            .map(|x| x | 0xabcd_0000_0000_0000)
            .collect();
        let mut scratch = vec![0; data.len()];
        let r = lsd_sort(&mut data, &mut scratch, |x| *x, 0, 8, &Cancel::new()).unwrap();
        let got = if r { &scratch } else { &data };
        assert!(got.windows(2).all(|w| w[0] <= w[1]));

        let cancel = Cancel::new();
        cancel.cancel();
        let err = lsd_sort(&mut data, &mut scratch, |x| *x, 0, 8, &cancel).unwrap_err();
        assert!(matches!(err, KernelError::Aborted));
    }
}
