//! Radix sort: the engine behind `sort` and `argsort`.
//!
//! Scattering a large array to many places at once is slow (every write lands on another page),
//! so only one step goes through memory: [`radix_sort`] splits the keys into up to 1024 buckets
//! in key order (MSD), planned from a sample so that each comes out about the size of L2
//! whatever the distribution (the highest byte alone splits floats in [-1e6, 1e6] into two
//! halves: a second pass through memory took 30% of the time), then sorts each bucket on one
//! thread while it stays in cache: two LSD passes over its top bits (all of them when two
//! digits hold them) and one insertion sort for the keys that share those, MSD steps where the
//! top bits do not spread the keys, and for pieces of a few hundred keys one scatter to about a
//! key per digit and an insertion sort over the whole piece. Buckets are independent, so they
//! run in parallel; the scatter through memory is parallel over chunks and, on x86-64, writes
//! whole cache lines gathered per bucket by streaming stores (see [`place_streaming`]). Every step is stable,
//! which `argsort` relies on. Bits that are the same in every key of a bucket are never
//! sorted on.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::RadixKey;
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
///
/// `rebuild`, when given, makes the item whose key is `k` (for items that are nothing but
/// their keys, as in `sort`): buckets whose keys span a small range are then sorted by
/// counting: one read counts each value, one write lays down the runs.
#[allow(clippy::too_many_arguments)]
pub fn radix_sort<T, F, G, H>(
    data: &mut [T],
    scratch: &mut [T],
    key: F,
    first_shift: u32,
    bits: u32,
    varying: u64,
    finish: G,
    rebuild: Option<H>,
    cancel: &Cancel,
) -> Result<(), KernelError>
where
    T: Copy + Send + Sync,
    F: Fn(&T) -> u64 + Sync,
    G: Fn(&mut [T]) + Sync,
    H: Fn(u64) -> T + Sync,
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
    let region = Region {
        key: &key,
        finish: &finish,
        rebuild: rebuild.as_ref(),
        low: first_shift,
        cancel,
    };
    region.sort(data, scratch, varying, false)
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
struct Region<'a, F, G, H> {
    key: &'a F,
    finish: &'a G,
    /// The item of a key, when items are nothing but their keys.
    rebuild: Option<&'a H>,
    low: u32,
    cancel: &'a Cancel,
}

/// Widest key range (in bits) sorted by counting: its counts fill 256 KiB, within L2.
const COUNT_BITS: u32 = 16;

impl<F, G, H> Region<'_, F, G, H> {
    /// Sorts `data` by key bits `[low, 64)`, of which only those set in `varying` differ
    /// between its keys. The result goes to `scratch` when `to_scratch`, else stays in
    /// `data`; `finish` runs on it there.
    fn sort<T>(
        &self,
        data: &mut [T],
        scratch: &mut [T],
        varying: u64,
        to_scratch: bool,
    ) -> Result<(), KernelError>
    where
        T: Copy + Send + Sync,
        F: Fn(&T) -> u64 + Sync,
        G: Fn(&mut [T]) + Sync,
        H: Fn(u64) -> T + Sync,
    {
        let (key, low, cancel) = (self.key, self.low, self.cancel);
        let n = data.len();
        let varying = varying & !((1u64 << low) - 1);
        let high = if varying == 0 {
            low
        } else {
            64 - varying.leading_zeros()
        };
        if let Some(rebuild) = self.rebuild {
            // Keys within a small range, many to a value: one count and one write in order
            // (2.5M power-law int32 keys below 2^14: 5 ms, where MSD steps took 39). The
            // counts are u32.
            let bits = high - varying.trailing_zeros().min(high);
            let counted = bits <= COUNT_BITS && n >= 1 << bits && n >= LSD_FROM;
            if low == 0 && varying != 0 && counted && n < u32::MAX as usize {
                let shift = varying.trailing_zeros();
                let counts = count_range(data, key, shift, bits, cancel)?;
                // Bits outside the range are the same in every key: the first one's.
                let shared = key(&data[0]) & !(((1u64 << bits) - 1) << shift);
                let out = if to_scratch { scratch } else { data };
                fill_counted(out, &counts, |v| rebuild(shared | (v as u64) << shift));
                (self.finish)(out);
                return Ok(());
            }
        }
        if n <= TINY || high <= low || std::mem::size_of_val(data) <= LEAF_BYTES {
            cancel.check()?;
            self.sort_in_cache(data, scratch, high, to_scratch);
            (self.finish)(if to_scratch { scratch } else { data });
            return Ok(());
        }
        // MSD step: scatter into scratch by a bucket function planned from a sample, then sort
        // each bucket from there, so that the buffers swap roles and nothing is copied back.
        let shift = high.saturating_sub(8).max(low);
        let plan = BucketPlan::new(
            data,
            key,
            shift,
            LEAF_BYTES / std::mem::size_of::<T>().max(1),
        );
        let len = chunk_len(n);
        let counts = if plan.plain {
            // Every top byte fits in cache: its byte is the bucket (no tables to read).
            count_buckets(
                data,
                len,
                &|x: &T| ((key(x) >> shift) & 0xff) as usize,
                256,
                cancel,
            )?
        } else {
            count_buckets(
                data,
                len,
                &|x: &T| plan.bucket(key(x)),
                plan.buckets(),
                cancel,
            )?
        };
        self.step(data, scratch, high, to_scratch, &plan, counts)
    }

    /// The scatter of an MSD step by `plan`, given each chunk's counts, and the sorts of the
    /// buckets it makes.
    fn step<T>(
        &self,
        data: &mut [T],
        scratch: &mut [T],
        high: u32,
        to_scratch: bool,
        plan: &BucketPlan,
        counts: Vec<Vec<usize>>,
    ) -> Result<(), KernelError>
    where
        T: Copy + Send + Sync,
        F: Fn(&T) -> u64 + Sync,
        G: Fn(&mut [T]) + Sync,
        H: Fn(u64) -> T + Sync,
    {
        let (key, low, cancel) = (self.key, self.low, self.cancel);
        let len = chunk_len(data.len());
        let ends = if plan.plain {
            let shift = plan.shift;
            place(
                data,
                scratch,
                len,
                |x: &T| ((key(x) >> shift) & 0xff) as usize,
                counts,
                cancel,
            )?
        } else {
            place(
                data,
                scratch,
                len,
                |x: &T| plan.bucket(key(x)),
                counts,
                cancel,
            )?
        };
        let below_high = if high >= 64 {
            u64::MAX
        } else {
            (1u64 << high) - 1
        };
        let relevant = below_high & !((1u64 << low) - 1);
        let mut buckets = Vec::with_capacity(ends.len());
        let (mut rest_s, mut rest_d) = (scratch, data);
        let mut start = 0;
        for end in ends {
            let (b_s, s) = rest_s.split_at_mut(end - start);
            let (b_d, r) = rest_d.split_at_mut(end - start);
            if !b_s.is_empty() {
                buckets.push((b_s, b_d));
            }
            (rest_s, rest_d, start) = (s, r, end);
        }
        // A bucket's keys may share more bits than the whole: those are skipped (a bucket of
        // equal keys is done). Found by one read of the bucket, which is in cache by then.
        buckets.into_par_iter().try_for_each(|(b_s, b_d)| {
            let v = varying_in(b_s, key) & relevant;
            if v != 0 {
                // The bucket's first step scatters into `b_d`, last touched long ago: read
                // in order first, its lines stream in instead of missing one by one.
                touch_lines(b_d);
            }
            self.sort(b_s, b_d, v, !to_scratch)
        })
    }

    /// [`Region::sort`] for a piece that fits in cache, on this thread. Pieces of at least
    /// [`LSD_FROM`] keys take two LSD passes: over all their bits when two digits hold them,
    /// else over the top bits only, about four more than tell the keys apart, and one insertion
    /// sort finishes the few keys that share those ("diverting LSD": a piece of 32K keys with
    /// 40 bits left costs two passes, where MSD steps took three and a walk of 256 digits per
    /// few keys). Smaller pieces, and pieces whose top bits do not spread (the insertion sort
    /// gives up), take MSD steps. The result goes to `scratch` when `to_scratch`.
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
        if n <= SMALL_PIECE && sort_small(data, scratch, |x| key(x) >> low, high - low, to_scratch)
        {
            return;
        }
        if n >= LSD_FROM {
            let digit = lsd_digit_bits(n);
            let exact = high - low <= 2 * digit;
            // Bits [lsd_low, high) are sorted on: all of them, or the top 2 * digit.
            let lsd_low = if exact { low } else { high - 2 * digit };
            let width = (high - lsd_low).div_ceil(2);
            let in_scratch = lsd_in_cache(data, scratch, key, lsd_low, width, high);
            let (sorted, other) = if in_scratch {
                (&mut *scratch, &mut *data)
            } else {
                (&mut *data, &mut *scratch)
            };
            let into_other = in_scratch != to_scratch;
            if exact {
                if into_other {
                    other.copy_from_slice(sorted);
                }
                return;
            }
            // Keys that share the sorted bits are next to each other now, in the order they
            // came; the insertion sort orders them by the rest. It moves few keys when the top
            // bits spread them; when they do not, it stops and MSD steps take over.
            let budget = INSERTION_BUDGET * n;
            let done = if into_other {
                insertion_sort_into_within(sorted, other, |x| key(x) >> low, budget)
            } else {
                insertion_sort_within(sorted, |x| key(x) >> low, budget)
            };
            if !done {
                // `sorted` still holds every key (in part sorted): MSD from there.
                self.msd_in_cache(sorted, other, high, into_other);
            }
            return;
        }
        self.msd_in_cache(data, scratch, high, to_scratch);
    }

    /// One MSD step of [`Region::sort_in_cache`] on the top bits below `high`, then the
    /// in-cache sort of each digit's keys. The result goes to `scratch` when `to_scratch`.
    fn msd_in_cache<T>(&self, data: &mut [T], scratch: &mut [T], high: u32, to_scratch: bool)
    where
        T: Copy,
        F: Fn(&T) -> u64,
    {
        let (key, low) = (self.key, self.low);
        let n = data.len();
        // Digits of up to 8 bits, fewer for small pieces (about two keys per bucket), so that a
        // piece of 100 keys does not walk 256 buckets.
        let bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(1)
            .clamp(2, 8);
        let shift = high.saturating_sub(bits).max(low);
        let radix = 1usize << (high - shift);
        let mask = (radix - 1) as u64;
        let counts = count_in_cache(data, key, shift, mask);
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
        for &count in &counts[..radix] {
            let end = start + count as usize;
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
                    if to_scratch {
                        insertion_sort(bucket, |x| key(x) >> low);
                    } else {
                        insertion_sort_into(bucket, other, |x| key(x) >> low);
                    }
                }
                _ => {
                    // Bits its keys share are skipped (one vector read of a bucket in L1).
                    let v = if bucket.len() >= TRACK_FROM {
                        varying_in(bucket, key) & below
                    } else {
                        below
                    };
                    let bucket_high = if v == 0 { low } else { 64 - v.leading_zeros() };
                    self.sort_in_cache(bucket, other, bucket_high, !to_scratch);
                }
            }
        }
    }
}

/// Buckets at most this long are finished by insertion sort.
const SMALL: usize = 16;

/// How many keys have each value of key bits `[shift, shift + bits)` (`bits` at most
/// [`COUNT_BITS`]). Fewer than 2^32 keys.
fn count_range<T>(
    data: &[T],
    key: impl Fn(&T) -> u64,
    shift: u32,
    bits: u32,
    cancel: &Cancel,
) -> Result<Vec<u32>, KernelError> {
    debug_assert!(bits <= COUNT_BITS && data.len() < u32::MAX as usize);
    let mask = (1u64 << bits) - 1;
    let mut counts = vec![0u32; 1 << bits];
    for part in data.chunks(POLL_EVERY) {
        cancel.check()?;
        for x in part {
            counts[((key(x) >> shift) & mask) as usize] += 1;
        }
    }
    Ok(counts)
}

/// Writes `counts[v]` copies of `item(v)` for every `v` in order: the sorted piece whose keys
/// were counted (the counts add up to `out.len()`).
fn fill_counted<T: Copy>(out: &mut [T], counts: &[u32], item: impl Fn(usize) -> T) {
    let mut at = 0;
    for (v, &c) in counts.iter().enumerate() {
        if c > 0 {
            out[at..at + c as usize].fill(item(v));
            at += c as usize;
        }
    }
    debug_assert_eq!(at, out.len());
}

/// Digit counts of an in-cache MSD step (out of line: its array would otherwise sit in every
/// level's stack frame).
#[inline(never)]
fn count_in_cache<T>(data: &[T], key: impl Fn(&T) -> u64, shift: u32, mask: u64) -> [u32; 256] {
    let mut counts = [0u32; 256];
    for x in data {
        counts[((key(x) >> shift) & mask) as usize] += 1;
    }
    counts
}

/// Pieces at most this long try [`sort_small`] first.
const SMALL_PIECE: usize = 256;
/// Most keys of one digit that [`sort_small`] leaves to its insertion sort.
const SMALL_RUN: u32 = 8;
/// Pieces at least this long are sorted by LSD passes (shorter ones would spend more on their
/// digits' tables than on their keys).
const LSD_FROM: usize = 2048;

/// Sorts a small piece by one scatter on its top `bits` key bits (about one key per digit) into
/// the other buffer, then one insertion sort over the whole piece, which is nearly in order by
/// then; the result goes to `scratch` when `to_scratch`. Returns `false` (and leaves the piece
/// as it was) when some digit holds more than [`SMALL_RUN`] keys.
fn sort_small<T: Copy>(
    data: &mut [T],
    scratch: &mut [T],
    key: impl Fn(&T) -> u64,
    bits: u32,
    to_scratch: bool,
) -> bool {
    let n = data.len();
    let digit_bits = (usize::BITS - n.leading_zeros()).clamp(2, 8).min(bits);
    let shift = bits - digit_bits;
    let radix = 1usize << digit_bits;
    let digit = |x: &T| (key(x) >> shift) as usize & (radix - 1);
    let mut starts = [0u32; 256];
    for x in data.iter() {
        starts[digit(x)] += 1;
    }
    // Counts to starts, with the running sum in a register (a sum through the array waits on
    // its own stores).
    let (mut sum, mut most) = (0u32, 0u32);
    for s in &mut starts[..radix] {
        let c = *s;
        *s = sum;
        sum += c;
        most = most.max(c);
    }
    if most > SMALL_RUN {
        return false; // `data` is untouched
    }
    for x in data.iter() {
        let d = digit(x);
        scratch[starts[d] as usize] = *x;
        starts[d] += 1;
    }
    if to_scratch {
        insertion_sort(scratch, &key);
    } else {
        insertion_sort_into(scratch, data, &key);
    }
    true
}

/// Stable insertion sort of `src` into `dst` (same length) by `key`.
fn insertion_sort_into<T: Copy>(src: &[T], dst: &mut [T], key: impl Fn(&T) -> u64) {
    insertion_sort_into_within(src, dst, key, usize::MAX);
}

/// Buckets at least this long look for bits their keys share before they are sorted.
const TRACK_FROM: usize = 64;

/// Stable insertion sort by `key`.
fn insertion_sort<T: Copy>(data: &mut [T], key: impl Fn(&T) -> u64) {
    insertion_sort_within(data, key, usize::MAX);
}

/// Widest digit of an in-cache LSD pass (its counts and offsets stay in L1).
const MAX_DIGIT: u32 = 10;
/// Moves per key the insertion sort after a diverting LSD may make before it gives up.
const INSERTION_BUDGET: usize = 2;

/// Digit bits for the LSD passes over `n` keys in cache: two digits cover about four bits
/// more than tell `n` keys apart, so that a digit pair is shared by few keys.
fn lsd_digit_bits(n: usize) -> u32 {
    ((usize::BITS - n.leading_zeros()) + 4)
        .div_ceil(2)
        .clamp(8, MAX_DIGIT)
}

/// Two LSD passes over a piece in cache, on this thread, by the key bits
/// `[first_shift, high)` in digits of `width` bits (at most [`MAX_DIGIT`]), both counted in
/// one read; a digit every key shares is skipped. Returns `true` when the result is in
/// `scratch`.
fn lsd_in_cache<T: Copy>(
    data: &mut [T],
    scratch: &mut [T],
    key: impl Fn(&T) -> u64,
    first_shift: u32,
    width: u32,
    high: u32,
) -> bool {
    const RADIX: usize = 1 << MAX_DIGIT;
    debug_assert!(width <= MAX_DIGIT && high - first_shift <= 2 * width);
    let mask = (1u64 << width) - 1;
    let high_mask = if high - first_shift >= 64 {
        u64::MAX
    } else {
        (1u64 << (high - first_shift)) - 1
    };
    let mut low_counts = [0u32; RADIX];
    let mut high_counts = [0u32; RADIX];
    for x in data.iter() {
        let k = (key(x) >> first_shift) & high_mask;
        low_counts[(k & mask) as usize] += 1;
        high_counts[((k >> width) & mask) as usize] += 1;
    }
    let n = data.len() as u32;
    let mut in_scratch = false;
    for (p, counts) in [&low_counts, &high_counts].into_iter().enumerate() {
        if counts.contains(&n) {
            continue; // every key has the same digit here
        }
        // Counts to starts, the running sum in a register.
        let mut offsets = [0u32; RADIX];
        let mut total = 0u32;
        for (o, &c) in offsets.iter_mut().zip(counts.iter()) {
            *o = total;
            total += c;
        }
        let shift = width * p as u32;
        let (src, dst): (&[T], &mut [T]) = if in_scratch {
            (&*scratch, &mut *data)
        } else {
            (&*data, &mut *scratch)
        };
        for x in src {
            let d = ((((key(x) >> first_shift) & high_mask) >> shift) & mask) as usize;
            dst[offsets[d] as usize] = *x;
            offsets[d] += 1;
        }
        in_scratch = !in_scratch;
    }
    in_scratch
}

/// [`insertion_sort`] that gives up (returning `false`, `data` still a permutation of what it
/// was) once it has moved keys more than `budget` places in all.
fn insertion_sort_within<T: Copy>(
    data: &mut [T],
    key: impl Fn(&T) -> u64,
    mut budget: usize,
) -> bool {
    for i in 1..data.len() {
        let x = data[i];
        let k = key(&x);
        let mut j = i;
        while j > 0 && key(&data[j - 1]) > k {
            data[j] = data[j - 1];
            j -= 1;
        }
        data[j] = x;
        let Some(left) = budget.checked_sub(i - j) else {
            return false;
        };
        budget = left;
    }
    true
}

/// [`insertion_sort_into`] that gives up (returning `false`, `src` untouched) once it has
/// moved keys more than `budget` places in all.
fn insertion_sort_into_within<T: Copy>(
    src: &[T],
    dst: &mut [T],
    key: impl Fn(&T) -> u64,
    mut budget: usize,
) -> bool {
    assert_eq!(src.len(), dst.len());
    for (i, x) in src.iter().enumerate() {
        let k = key(x);
        let mut j = i;
        while j > 0 && key(&dst[j - 1]) > k {
            dst[j] = dst[j - 1];
            j -= 1;
        }
        dst[j] = *x;
        let Some(left) = budget.checked_sub(i - j) else {
            return false;
        };
        budget = left;
    }
    true
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
) -> Result<Vec<usize>, KernelError>
where
    T: Copy + Send + Sync,
    D: Fn(&T) -> usize + Sync,
{
    let counts: Vec<Vec<usize>> = src
        .par_chunks(len)
        .map(|c| {
            let mut h = vec![0usize; 256];
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

/// The counting pass of an MSD step: per chunk of `len`, how many keys fall in each of
/// `buckets` buckets.
fn count_buckets<T, B>(
    src: &[T],
    len: usize,
    bucket: &B,
    buckets: usize,
    cancel: &Cancel,
) -> Result<Vec<Vec<usize>>, KernelError>
where
    T: Copy + Send + Sync,
    B: Fn(&T) -> usize + Sync,
{
    let counts: Vec<Vec<usize>> = src
        .par_chunks(len)
        .map(|c| {
            // Four histograms, for consecutive keys: keys of one bucket in a row would otherwise
            // wait on each other's increment.
            let mut h = vec![0u32; 4 * buckets];
            let (h0, rest) = h.split_at_mut(buckets);
            let (h1, rest) = rest.split_at_mut(buckets);
            let (h2, h3) = rest.split_at_mut(buckets);
            for part in c.chunks(POLL_EVERY) {
                if cancel.is_cancelled() {
                    break; // the counts are dropped below
                }
                let mut quads = part.chunks_exact(4);
                for q in &mut quads {
                    h0[bucket(&q[0])] += 1;
                    h1[bucket(&q[1])] += 1;
                    h2[bucket(&q[2])] += 1;
                    h3[bucket(&q[3])] += 1;
                }
                for x in quads.remainder() {
                    h0[bucket(x)] += 1;
                }
            }
            (0..buckets)
                .map(|b| h0[b] as usize + h1[b] as usize + h2[b] as usize + h3[b] as usize)
                .collect()
        })
        .collect();
    cancel.check()?;
    Ok(counts)
}

/// Brings the lines of `buf` into cache in order, ahead of a scatter into it (a sequential
/// read streams from memory; the scatter's writes would miss one line at a time).
fn touch_lines<T>(buf: &mut [T]) {
    let bytes = std::mem::size_of_val(buf);
    let p = buf.as_mut_ptr().cast::<u8>();
    let mut at = 0;
    while at < bytes {
        // SAFETY: `at < bytes` is inside `buf`.
        unsafe { std::ptr::read_volatile(p.add(at)) };
        at += LINE;
    }
}

/// The key bits that are not the same in every key of a piece (in cache: one vector read).
fn varying_in<T: Copy>(data: &[T], key: impl Fn(&T) -> u64) -> u64 {
    let (mut or, mut and) = (0u64, u64::MAX);
    for x in data {
        let k = key(x);
        or |= k;
        and &= k;
    }
    or ^ and
}

/// Most buckets one scatter through memory writes to (more streams cost TLB misses).
const MAX_BUCKETS: usize = 1024;
/// Keys sampled to plan an MSD step.
const SAMPLE: usize = 1 << 15;
/// Fine buckets per bucket wanted: the sample's counts of fine buckets are merged into buckets.
const OVERSPLIT: u32 = 3;
/// Most fine buckets of one plan.
const MAX_FINE: usize = 1 << 13;

/// The bucket function of one MSD step through memory, planned from a sample so that buckets
/// come out about the size that fits in cache whatever the keys' distribution. (The top byte
/// alone splits floats badly: most keys share a few exponents.)
///
/// A key's top byte `d` picks a range of fine buckets; within it the key's next bits, less the
/// smallest the sample saw in `d`, pick one (clamped into range: keys the sample missed only
/// make a bucket larger, never the order wrong); runs of fine buckets are merged into buckets
/// by the sample's counts. Every step is monotone in the key, so buckets are in key order.
struct BucketPlan {
    /// Every top byte is a bucket of its own (none needs cutting).
    plain: bool,
    shift: u32,
    digits: [Digit; 256],
    merge: Vec<u16>,
    buckets: usize,
}

#[derive(Clone, Copy, Default)]
struct Digit {
    /// First fine bucket of this top byte.
    base: u32,
    /// Key bits below the top byte that pick a fine bucket: `(key >> shift) - lowest`.
    shift: u32,
    lowest: u64,
    /// Last fine bucket of this top byte, relative to `base`.
    last: u64,
}

impl BucketPlan {
    /// Plans buckets of about `fits` keys for keys that agree above bit `shift + 8`.
    fn new<T, F: Fn(&T) -> u64>(data: &[T], key: &F, shift: u32, fits: usize) -> BucketPlan {
        let n = data.len();
        let sample: Vec<u64> = data.iter().step_by(sample_step(n)).map(key).collect();
        Self::from_sample(&sample, n, shift, fits)
    }

    /// [`BucketPlan::new`] from a sample of the `n` keys.
    fn from_sample(sample: &[u64], n: usize, shift: u32, fits: usize) -> BucketPlan {
        let scale = n as f64 / sample.len() as f64;
        // The sample per top byte: count, smallest and largest key.
        let mut count = [0usize; 256];
        let mut lo = [u64::MAX; 256];
        let mut hi = [0u64; 256];
        for &k in sample {
            let d = ((k >> shift) & 0xff) as usize;
            count[d] += 1;
            lo[d] = lo[d].min(k);
            hi[d] = hi[d].max(k);
        }
        // Fine buckets per top byte: enough for OVERSPLIT x the buckets its keys need.
        // (Very large arrays get larger buckets rather than more streams: they take one more
        // step, in cache.)
        let target = (fits / 2).max(n / (MAX_BUCKETS / 2)).max(1) as f64;
        let mut widths = [0u32; 256];
        for d in 0..256 {
            if count[d] == 0 {
                continue;
            }
            let needed = (count[d] as f64 * scale / target).ceil().max(1.0) as u64;
            let span = 64 - (hi[d] - lo[d]).leading_zeros(); // bits that vary in the sample
            let wanted = 64 - (needed - 1).leading_zeros() + OVERSPLIT;
            widths[d] = if needed <= 1 { 0 } else { wanted.min(span) };
        }
        while widths.iter().map(|&w| 1usize << w).sum::<usize>() > MAX_FINE {
            let widest = (0..256).max_by_key(|&d| widths[d]).unwrap();
            widths[widest] -= 1;
        }
        let mut digits = [Digit::default(); 256];
        if widths.iter().all(|&w| w == 0) {
            return BucketPlan {
                plain: true,
                shift,
                digits,
                merge: Vec::new(),
                buckets: 256,
            };
        }
        let mut fine = 0u32;
        for d in 0..256 {
            let w = widths[d];
            let span = if count[d] == 0 {
                0
            } else {
                64 - (hi[d] - lo[d]).leading_zeros()
            };
            let sub_shift = span.saturating_sub(w);
            digits[d] = Digit {
                base: fine,
                shift: sub_shift,
                lowest: if count[d] == 0 { 0 } else { lo[d] >> sub_shift },
                last: (1u64 << w) - 1,
            };
            fine += 1 << w;
        }
        let mut plan = BucketPlan {
            plain: false,
            shift,
            digits,
            merge: Vec::new(),
            buckets: 0,
        };
        // The sample's count per fine bucket, merged greedily into runs of about `target` keys
        // (a new bucket also starts at every top byte, so buckets never straddle one, which
        // keeps the shared high bits of a bucket's keys its own).
        let mut fine_count = vec![0u32; fine as usize];
        for &k in sample {
            fine_count[plan.fine(k)] += 1;
        }
        let per_bucket = ((target / scale) as u32).max(1);
        let mut merge = vec![0u16; fine as usize];
        let mut bucket = 0usize;
        let mut filled = 0u32;
        for d in 0..256 {
            let Digit { base, last, .. } = plan.digits[d];
            if d > 0 && filled > 0 {
                bucket += 1;
                filled = 0;
            }
            for f in base as usize..=base as usize + last as usize {
                if filled > 0 && filled + fine_count[f] > per_bucket {
                    bucket += 1;
                    filled = 0;
                }
                merge[f] = bucket.min(MAX_BUCKETS - 1) as u16;
                filled += fine_count[f];
            }
        }
        plan.buckets = (bucket + 1).min(MAX_BUCKETS);
        plan.merge = merge;
        plan
    }

    fn buckets(&self) -> usize {
        self.buckets
    }

    /// The fine bucket of `key`.
    #[inline(always)]
    fn fine(&self, key: u64) -> usize {
        let d = &self.digits[((key >> self.shift) & 0xff) as usize];
        d.base as usize + ((key >> d.shift).saturating_sub(d.lowest)).min(d.last) as usize
    }

    /// The bucket of `key` (not for a plain plan).
    #[inline(always)]
    fn bucket(&self, key: u64) -> usize {
        self.merge[self.fine(key)] as usize
    }
}

/// Every how many keys one is sampled to plan a step over `n` keys.
fn sample_step(n: usize) -> usize {
    (n / SAMPLE).max(1)
}

/// The first MSD step of a radix sort over all `bits` bits of the keys, planned from a sample
/// before the keys are all written, so that the pass that writes them counts them as well
/// (saving a read of the whole array).
pub struct FirstStep {
    plan: BucketPlan,
    n: usize,
}

impl FirstStep {
    /// Every how many items one should be sampled for [`FirstStep::plan`].
    pub fn sample_step(n: usize) -> usize {
        sample_step(n)
    }

    /// A step for `n` items of `item_bytes` with `bits`-bit keys, from the keys of every
    /// [`FirstStep::sample_step`]-th item; `None` when the items fit in cache (no step
    /// through memory is needed).
    pub fn plan(sample: &[u64], n: usize, item_bytes: usize, bits: u32) -> Option<FirstStep> {
        let fits = LEAF_BYTES / item_bytes.max(1);
        if n <= TINY || n <= fits || sample.is_empty() {
            return None;
        }
        Some(FirstStep {
            plan: BucketPlan::from_sample(sample, n, bits.saturating_sub(8), fits),
            n,
        })
    }

    /// The length of the chunks to count separately (the last may be shorter).
    pub fn chunk_len(&self) -> usize {
        chunk_len(self.n)
    }

    /// How many buckets the step has.
    pub fn buckets(&self) -> usize {
        self.plan.buckets
    }

    /// Adds one for the bucket `b` of every key to one of four histograms in `quads` (four
    /// times [`FirstStep::buckets`] long, one after another), in turn: keys of one bucket in a
    /// row would otherwise wait on each other's increment (power-law data puts a quarter of
    /// all keys into one bucket). The caller sums them; each counts at most `keys.len()`.
    #[inline(always)]
    pub fn count<K: RadixKey>(&self, keys: &[K], quads: &mut [u32]) {
        let plan = &self.plan;
        if plan.plain {
            count_quads(keys, quads, |k| ((k >> plan.shift) & 0xff) as usize);
        } else {
            count_quads(keys, quads, |k| plan.bucket(k));
        }
    }
}

#[inline(always)]
fn count_quads<K: RadixKey>(keys: &[K], quads: &mut [u32], bucket: impl Fn(u64) -> usize) {
    let buckets = quads.len() / 4;
    let (h0, rest) = quads.split_at_mut(buckets);
    let (h1, rest) = rest.split_at_mut(buckets);
    let (h2, h3) = rest.split_at_mut(buckets);
    let mut fours = keys.chunks_exact(4);
    for q in &mut fours {
        h0[bucket(q[0].to_u64())] += 1;
        h1[bucket(q[1].to_u64())] += 1;
        h2[bucket(q[2].to_u64())] += 1;
        h3[bucket(q[3].to_u64())] += 1;
    }
    for k in fours.remainder() {
        h0[bucket(k.to_u64())] += 1;
    }
}

/// [`radix_sort`] over all `bits` bits of the keys when their first step was planned and
/// counted ahead: `counts` holds each chunk's bucket counts ([`FirstStep::chunk_len`]).
#[allow(clippy::too_many_arguments)]
pub fn radix_sort_counted<T, F, G, H>(
    data: &mut [T],
    scratch: &mut [T],
    key: F,
    bits: u32,
    first: &FirstStep,
    counts: Vec<Vec<usize>>,
    finish: G,
    rebuild: Option<H>,
    cancel: &Cancel,
) -> Result<(), KernelError>
where
    T: Copy + Send + Sync,
    F: Fn(&T) -> u64 + Sync,
    G: Fn(&mut [T]) + Sync,
    H: Fn(u64) -> T + Sync,
{
    assert_eq!(data.len(), scratch.len());
    assert_eq!(data.len(), first.n);
    cancel.check()?;
    let region = Region {
        key: &key,
        finish: &finish,
        rebuild: rebuild.as_ref(),
        low: 0,
        cancel,
    };
    region.step(data, scratch, bits, false, &first.plan, counts)
}

/// The writing pass of a counting scatter: chunk c of `src` (chunks of `len`, as counted in
/// `counts`) writes its keys of digit d after those of earlier digits and earlier chunks.
fn place<T, D>(
    src: &[T],
    dst: &mut [T],
    len: usize,
    digit: D,
    counts: Vec<Vec<usize>>,
    cancel: &Cancel,
) -> Result<Vec<usize>, KernelError>
where
    T: Copy + Send + Sync,
    D: Fn(&T) -> usize + Sync,
{
    // Chunk c writes digit d from offsets[c][d] on: digits in order, chunks in order (stable).
    let radix = counts.first().map_or(0, |c| c.len());
    assert!(radix <= 1 << 16, "a scatter to at most 2^16 places");
    let mut offsets = vec![vec![0usize; radix]; counts.len()];
    let mut ends = vec![0usize; radix];
    let mut total = 0usize;
    for d in 0..radix {
        for (c, h) in counts.iter().enumerate() {
            offsets[c][d] = total;
            total += h[d];
        }
        ends[d] = total;
    }

    let n = dst.len();
    if total > n {
        // Counts of more items than there are: never from a count of `src` itself.
        return Err(input_modified());
    }
    let out = SharedMut(dst.as_mut_ptr());
    // Few destinations are few open lines, which the core combines by itself; streaming
    // would only keep the buckets out of the cache for the passes that follow.
    let streaming = (STREAM_FROM..=1 << 16).contains(&radix)
        && len < (u32::MAX / 2) as usize
        && streams_lines::<T>(out.ptr())
        && crate::pages::likely_resident(dst);
    src.par_chunks(len)
        .zip(offsets.into_par_iter())
        .try_for_each(|(chunk, mut off)| {
            if streaming {
                return place_streaming(chunk, out, &mut off, &ends, &digit, cancel);
            }
            // Every write is checked against the end of its digit's range: a source that
            // changes under us (JS writing to an input it handed over) could count differently
            // now than in the counting pass, and must never make us write out of bounds.
            for_each_by_blocks(chunk, &digit, cancel, |x, d| {
                let at = off[d];
                if at >= n || at >= ends[d] {
                    return Err(input_modified());
                }
                // SAFETY: `at < n`, and the offsets give each chunk ranges of its own.
                unsafe { out.ptr().add(at).write(*x) };
                off[d] = at + 1;
                Ok(())
            })
        })?;
    Ok(ends)
}

pub(crate) fn input_modified() -> KernelError {
    KernelError::InvalidValue("The input was modified while it was being sorted".into())
}

/// Bytes of one cache line.
const LINE: usize = 64;
/// Keys whose digits are found before any of them is placed.
const CLASSIFY: usize = 128;
/// Fewest destinations of a scatter that streams its lines (see [`place_streaming`]).
const STREAM_FROM: usize = 64;

/// Calls `place(x, digit(x))` for the items of `chunk` in order, polling the cancel flag. The
/// digits of a block of [`CLASSIFY`] items are found before any of them is placed: a planned
/// step's digit is a chain of table reads, and interleaved with the placing it held the scatter
/// back (10M int32 by a plan: 45 ms against 20 ms by the top byte; 30 ms by blocks). Digits
/// are below 2^16.
#[inline(always)]
fn for_each_by_blocks<T, D>(
    chunk: &[T],
    digit: &D,
    cancel: &Cancel,
    mut place: impl FnMut(&T, usize) -> Result<(), KernelError>,
) -> Result<(), KernelError>
where
    D: Fn(&T) -> usize,
{
    let mut digits = [0u16; CLASSIFY];
    for part in chunk.chunks(POLL_EVERY) {
        cancel.check()?;
        for block in part.chunks(CLASSIFY) {
            for (slot, x) in digits.iter_mut().zip(block) {
                *slot = digit(x) as u16;
            }
            for (x, &d) in block.iter().zip(&digits) {
                place(x, d as usize)?;
            }
        }
    }
    Ok(())
}

/// Whether [`place`] into `out` goes through [`place_streaming`]: on x86-64, for items that
/// tile a cache line.
fn streams_lines<T>(out: *mut T) -> bool {
    let size = std::mem::size_of::<T>();
    cfg!(target_arch = "x86_64")
        && (2..=LINE / 2).contains(&size)
        && LINE.is_multiple_of(size)
        && (out as usize).is_multiple_of(size)
}

/// One chunk of [`place`] through write-combining buffers: each digit's items gather in a
/// cache line of buffer (in L1/L2) and go to `out` a whole, aligned line at a time by
/// streaming stores, which do not read the line first and do not fill the cache with it.
/// Writing each item where it goes instead reads every destination line from memory first
/// (the scatter of 10M int32 took 21 ms that way, 14 ms this way). Needs
/// [`streams_lines`].
fn place_streaming<T, D>(
    chunk: &[T],
    out: SharedMut<T>,
    off: &mut [usize],
    ends: &[usize],
    digit: &D,
    cancel: &Cancel,
) -> Result<(), KernelError>
where
    T: Copy,
    D: Fn(&T) -> usize,
{
    let size = std::mem::size_of::<T>();
    let lanes = LINE / size;
    let Some(&first) = chunk.first() else {
        return Ok(());
    };
    // Slot (phase + i) % lanes of a digit's buffer holds destination i: a full buffer is one
    // aligned line of `out`.
    let phase = (out.ptr() as usize / size) % lanes;
    let radix = off.len();
    // Per digit, side by side (one line of L1 holds eight digits' state; the scatter's tables
    // and buffers fill a 32 KiB L1): its next position and the end of its range, counted from
    // the line before its first destination, `base = begin - first_slot`, so that a position's
    // slot is its low bits. Positions fit a u32 when the chunk does (else the caller's plain
    // loop runs).
    let mut pos_end: Vec<[u32; 2]> = Vec::with_capacity(radix);
    // Per digit: where position 0 is in `out`, and its first position.
    let mut base: Vec<(usize, usize)> = Vec::with_capacity(radix);
    for (&at, &end) in off.iter().zip(ends) {
        let first_slot = (phase + at) % lanes;
        let end = (first_slot + end.saturating_sub(at)).min(u32::MAX as usize);
        pos_end.push([first_slot as u32, end as u32]);
        // Position 0 may lie before `out` (the first line of a chunk that starts mid-line at
        // the very start): wrapping, as every position used is at least `first_slot`.
        base.push((at.wrapping_sub(first_slot), first_slot));
    }
    let mut buf = vec![first; radix * lanes];
    // Writes out the buffered items of digit `d` for positions `from..to` (within a line).
    let flush = |buf: &[T], d: usize, from: usize, to: usize| {
        let slot = from % lanes;
        let items = &buf[d * lanes + slot..d * lanes + slot + (to - from)];
        // SAFETY: positions `from..to` lie in this chunk's range of digit `d`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                items.as_ptr(),
                out.ptr().add(base[d].0.wrapping_add(from)),
                items.len(),
            )
        };
    };
    for_each_by_blocks(chunk, digit, cancel, |x, d| {
        let [at, end] = pos_end[d];
        // Checked as in `place`: a source changed since it was counted must not write out of
        // its digit's range.
        if at >= end {
            return Err(input_modified());
        }
        let (at, slot) = (at as usize, at as usize % lanes);
        if slot == 0 && at > 0 {
            // The line before is complete: out it goes before its slots are reused. Its items
            // were buffered a while ago (other digits came between, usually), so wide loads of
            // them do not wait on the store buffer as they would right after.
            let (at_0, first_slot) = base[d];
            if at >= first_slot + lanes {
                stream_line(
                    &buf[d * lanes..d * lanes + lanes],
                    out,
                    at_0.wrapping_add(at - lanes),
                );
            } else {
                flush(&buf, d, first_slot, at);
            }
        }
        buf[d * lanes + slot] = *x;
        pos_end[d][0] = at as u32 + 1;
        Ok(())
    })?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is baseline on x86-64. Orders the streaming stores before the plain ones
    // below and before the buckets are read (by this thread or, after rayon's join, others).
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
    // The last line of each digit, whole or not.
    for d in 0..radix {
        let at = pos_end[d][0] as usize;
        let (at_0, first_slot) = base[d];
        if at > first_slot {
            let line = (at - 1) / lanes * lanes;
            flush(&buf, d, line.max(first_slot), at);
        }
        off[d] = at_0.wrapping_add(at);
    }
    Ok(())
}

/// Writes one buffered line to `out[at..at + line.len()]`, a whole aligned cache line.
#[inline(always)]
fn stream_line<T: Copy>(line: &[T], out: SharedMut<T>, at: usize) {
    debug_assert_eq!(std::mem::size_of_val(line), LINE);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `line` is 64 bytes; `out[at..]` is a 64-byte aligned line of the caller's range
    // (`place_streaming`'s phase); SSE2 is baseline on x86-64.
    unsafe {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        let from = line.as_ptr().cast::<__m128i>();
        let to = out.ptr().add(at).cast::<__m128i>();
        for k in 0..4 {
            _mm_stream_si128(to.add(k), _mm_loadu_si128(from.add(k)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above (not reached: `streams_lines` is false here).
    unsafe {
        std::ptr::copy_nonoverlapping(line.as_ptr(), out.ptr().add(at), line.len())
    };
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

    /// A uniform float in [0, 1) from [`lcg`].
    fn unit(seed: &mut u64) -> f64 {
        (lcg(seed) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `place` by `digit` into `dst`, checked against a stable sort by digit.
    fn check_place<T: Copy + Send + Sync + PartialEq + std::fmt::Debug>(
        src: &[T],
        dst: &mut [T],
        digit: impl Fn(&T) -> usize + Sync,
        radix: usize,
    ) {
        let len = chunk_len(src.len());
        let counts: Vec<Vec<usize>> = src
            .chunks(len)
            .map(|c| {
                let mut h = vec![0; radix];
                c.iter().for_each(|x| h[digit(x)] += 1);
                h
            })
            .collect();
        let ends = place(src, dst, len, &digit, counts, &Cancel::new()).unwrap();
        let mut expected = src.to_vec();
        expected.sort_by_key(|x| digit(x));
        assert_eq!(dst, &expected[..]);
        assert_eq!(ends.last(), Some(&src.len()));
    }

    #[test]
    fn scatters_through_line_buffers_like_a_stable_sort() {
        // Destinations written before (so `place` streams whole lines), at every phase
        // against the cache lines, digits from one run per chunk to more than items.
        let mut seed = 11;
        let n = 3 * MIN_CHUNK + 77;
        let src64: Vec<u64> = (0..n).map(|_| lcg(&mut seed)).collect();
        let src32: Vec<u32> = src64.iter().map(|&x| (x >> 32) as u32).collect();
        let src16: Vec<u16> = src64.iter().map(|&x| (x >> 48) as u16).collect();
        for radix in [1usize, 2, 7, STREAM_FROM, 256, 1024] {
            for skip in [0usize, 1, 3, 5] {
                let mut dst = vec![1u64; n + skip];
                assert_eq!(
                    streams_lines::<u64>(dst[skip..].as_mut_ptr()),
                    cfg!(target_arch = "x86_64")
                );
                check_place(
                    &src64,
                    &mut dst[skip..],
                    |x| (*x % radix as u64) as usize,
                    radix,
                );
                let mut dst = vec![1u32; n + skip];
                check_place(&src32, &mut dst[skip..], |x| (*x as usize) % radix, radix);
                let mut dst = vec![1u16; n + skip];
                check_place(&src16, &mut dst[skip..], |x| (*x as usize) % radix, radix);
            }
        }
        // Runs of one digit (sorted input): every line completes right after it was filled.
        let sorted: Vec<u64> = (0..n as u64).collect();
        let mut dst = vec![1u64; n];
        check_place(&sorted, &mut dst, |x| (*x as usize * 16) / n, 16);
        // Counts of more items than there are are refused, not followed.
        let mut dst = vec![0u64; 10];
        let counts = vec![vec![11usize]];
        assert!(place(&src64[..10], &mut dst, 10, |_| 0, counts, &Cancel::new()).is_err());
        // Counts that add up but not per digit (a source changed since it was counted): the
        // write past its digit's range is refused, by the plain loop and the streamed one.
        for radix in [2, STREAM_FROM] {
            let mut dst = vec![0u64; 1000];
            let mut counts = vec![vec![0usize; radix]];
            counts[0][..2].copy_from_slice(&[500, 500]);
            let result = place(
                &src64[..1000],
                &mut dst,
                1000,
                |_| 0,
                counts,
                &Cancel::new(),
            );
            assert!(result.is_err(), "radix {radix}");
        }
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
                Some(|k| k),
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
            None::<fn(u64) -> (u64, u32)>,
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

    /// Sorts one piece in cache through [`Region::sort_in_cache`] by key bits `[0, high)`, the
    /// result in the second buffer when `to_scratch`; returns that buffer.
    fn sort_piece_in_cache(pairs: &[(u64, u32)], high: u32, to_scratch: bool) -> Vec<(u64, u32)> {
        let (mut data, mut scratch) = (pairs.to_vec(), vec![(0, 0); pairs.len()]);
        let key = |p: &(u64, u32)| p.0;
        let finish = |_: &mut [(u64, u32)]| {};
        let cancel = Cancel::new();
        let region = Region {
            key: &key,
            finish: &finish,
            rebuild: None::<&fn(u64) -> (u64, u32)>,
            low: 0,
            cancel: &cancel,
        };
        region.sort_in_cache(&mut data, &mut scratch, high, to_scratch);
        if to_scratch {
            scratch
        } else {
            data
        }
    }

    #[test]
    fn pieces_in_cache_sort_stably_by_lsd_or_by_msd_when_the_top_bits_do_not_spread() {
        // Pieces long enough for the LSD passes: keys two digits hold (sorted exactly), keys
        // of 40 and 64 bits (diverting LSD on the top bits, then the insertion sort), a cluster
        // the top bits cannot tell apart beside one far key (the insertion sort gives up and
        // MSD steps sort it), duplicates, and keys with bits above `high` that must not count.
        let mut seed = 5;
        let n = 20_000usize;
        let shapes: Vec<(u32, Vec<u64>)> = vec![
            (16, (0..n).map(|_| lcg(&mut seed) % (1 << 16)).collect()),
            (40, (0..n).map(|_| lcg(&mut seed) >> 24).collect()),
            (64, (0..n).map(|_| lcg(&mut seed)).collect()),
            (
                48,
                (0..n)
                    .map(|i| {
                        if i == n / 2 {
                            1 << 47
                        } else {
                            lcg(&mut seed) % (1 << 20)
                        }
                    })
                    .collect(),
            ),
            (40, (0..n).map(|_| (lcg(&mut seed) % 50) << 30).collect()),
            (
                40,
                (0..n).map(|_| (7 << 40) | (lcg(&mut seed) >> 24)).collect(),
            ),
        ];
        for (s, (high, keys)) in shapes.into_iter().enumerate() {
            let pairs: Vec<(u64, u32)> = keys.iter().zip(0..).map(|(&k, i)| (k, i)).collect();
            let mut expected = pairs.clone();
            expected.sort(); // by key, then index: the stable order
            for to_scratch in [false, true] {
                let sorted = sort_piece_in_cache(&pairs, high, to_scratch);
                assert!(sorted == expected, "shape {s}, to_scratch {to_scratch}");
            }
        }
    }

    #[test]
    fn bounded_insertion_sorts_give_up_with_every_key_kept() {
        let reversed: Vec<u32> = (0..1000).rev().collect();
        let mut data = reversed.clone();
        assert!(!insertion_sort_within(&mut data, |&x| x as u64, 2 * 1000));
        data.sort();
        assert_eq!(data, (0..1000).collect::<Vec<_>>());
        let mut dst = vec![0; 1000];
        assert!(!insertion_sort_into_within(
            &reversed,
            &mut dst,
            |&x| x as u64,
            2 * 1000
        ));
        // nearly sorted: a few moves each, well within the budget
        let nearly: Vec<u32> = (0..1000u32).map(|i| i ^ 1).collect();
        let mut data = nearly.clone();
        assert!(insertion_sort_within(&mut data, |&x| x as u64, 2 * 1000));
        assert_eq!(data, (0..1000).collect::<Vec<_>>());
        assert!(insertion_sort_into_within(
            &nearly,
            &mut dst,
            |&x| x as u64,
            2 * 1000
        ));
        assert_eq!(dst, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn keys_in_a_small_range_are_sorted_by_counting() {
        // Keys that are their own items (so `rebuild` is given): power-law small integers
        // (one bucket of the first step spans a 14-bit range), a 16-bit range with constant
        // bits below and above it, a range of 17 bits (too wide to count), and pieces short
        // enough to fit in cache; each against std's sort, `finish` seeing every key once.
        let mut seed = 5;
        let shapes: Vec<Vec<u64>> = vec![
            (0..1_000_000)
                .map(|_| (unit(&mut seed).powi(8) * 1e9) as u64)
                .collect(),
            (0..700_000)
                .map(|_| 0xabc0_0000_0000_0005 | (lcg(&mut seed) >> 48) << 7)
                .collect(),
            (0..700_000)
                .map(|_| 1 << 40 | lcg(&mut seed) >> 47)
                .collect(),
            (0..3000).map(|_| lcg(&mut seed) % 2000).collect(),
            (0..300_000).map(|_| lcg(&mut seed) % 5000).collect(),
        ];
        for (s, keys) in shapes.into_iter().enumerate() {
            let mut expected = keys.clone();
            expected.sort_unstable();
            let mut data = keys;
            let mut scratch = vec![0; data.len()];
            let varying = varying_bits(&data, &|x: &u64| *x);
            let seen = std::sync::atomic::AtomicUsize::new(0);
            let finish = |piece: &mut [u64]| {
                seen.fetch_add(piece.len(), std::sync::atomic::Ordering::Relaxed);
            };
            let cancel = Cancel::new();
            let bits = 64;
            radix_sort(
                &mut data,
                &mut scratch,
                |x| *x,
                0,
                bits,
                varying,
                finish,
                Some(|k| k),
                &cancel,
            )
            .unwrap();
            assert!(data == expected, "shape {s}");
            assert_eq!(seen.into_inner(), data.len(), "shape {s}");
        }
        // The counts give back exactly what was counted.
        let keys = [9u64 << 3 | 1, 2 << 3 | 1, 9 << 3 | 1, 0b1];
        let counts = count_range(&keys, |k| *k, 3, 4, &Cancel::new()).unwrap();
        let mut out = [0u64; 4];
        fill_counted(&mut out, &counts, |v| (v as u64) << 3 | 1);
        assert_eq!(out, [0b1, 2 << 3 | 1, 9 << 3 | 1, 9 << 3 | 1]);
        // A cancelled count stops.
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(count_range(&keys, |k| *k, 3, 4, &cancel).is_err());
    }

    #[test]
    fn uneven_and_repeated_keys_sort_stably() {
        // Float bit patterns (few exponents), a skewed tail, long runs of one key, and a few
        // distinct keys (large buckets that share all their remaining bits): order, stability,
        // and `finish` seeing each element once.
        let mut seed = 11;
        let n = 600_000usize;
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
    fn bucket_plans_keep_key_order_for_keys_the_sample_missed() {
        let mut seed = 5;
        // Float keys (a few exponents hold most keys), and keys that mostly share a narrow range.
        let shapes: Vec<Vec<u64>> = vec![
            (0..300_000)
                .map(|_| (unit(&mut seed) * 2e6 - 1e6).to_bits() ^ (1 << 63))
                .collect(),
            (0..300_000)
                .map(|_| (1 << 40) + lcg(&mut seed) % 5000)
                .collect(),
        ];
        for keys in shapes {
            let plan = BucketPlan::new(&keys, &|k: &u64| *k, 56, 4096);
            assert!(plan.buckets() <= MAX_BUCKETS);
            // Keys never sampled: outside the sample's range and between its keys.
            let mut probe: Vec<u64> = keys.iter().step_by(7).copied().collect();
            probe.extend([0, 1, u64::MAX, u64::MAX - 1, 1 << 40, (1 << 40) - 1]);
            probe.extend((0..10_000).map(|_| lcg(&mut seed)));
            probe.sort_unstable();
            let buckets: Vec<usize> = probe.iter().map(|&k| plan.bucket(k)).collect();
            assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
            assert!(buckets.iter().all(|&b| b < plan.buckets()));
        }
    }

    #[test]
    fn sorts_stably_with_outliers_the_sample_misses() {
        // The plan samples every (n / SAMPLE)-th key; outliers sit between the sampled ones.
        let mut seed = 9;
        let n = 600_000usize;
        let step = n / SAMPLE;
        let mut pairs: Vec<(u64, u32)> = (0..n)
            .map(|i| {
                let k = match i % (5 * step) {
                    1 => u64::MAX - (i as u64 % 3),
                    2 => i as u64 % 5,
                    _ => (1 << 50) + lcg(&mut seed) % 3000,
                };
                (k, i as u32)
            })
            .collect();
        let mut expected = pairs.clone();
        expected.sort();
        assert_eq!(sort_pairs_by_key(&mut pairs, 64), n);
        assert!(pairs == expected);
    }

    #[test]
    fn small_pieces_sort_stably_or_are_left_alone() {
        let mut seed = 13;
        for n in [17usize, 40, 100, 256] {
            for spread in [4u64, 1 << 12, 1 << 20] {
                for to_scratch in [false, true] {
                    let data: Vec<(u64, u32)> = (0..n as u32)
                        .map(|i| (lcg(&mut seed) % spread, i))
                        .collect();
                    let mut expected = data.clone();
                    expected.sort();
                    let (mut d, mut s) = (data.clone(), vec![(0, 0); n]);
                    if sort_small(&mut d, &mut s, |p: &(u64, u32)| p.0, 20, to_scratch) {
                        let got = if to_scratch { &s } else { &d };
                        assert!(got == &expected, "n {n} spread {spread}");
                    } else {
                        // Only when some digit holds many keys, and then untouched.
                        assert!(spread <= 1 << 12, "n {n} spread {spread}");
                        assert!(d == data);
                    }
                }
            }
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
