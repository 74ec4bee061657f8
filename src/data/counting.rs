//! Sorting arrays that hold only a few distinct values (flags, codes, small categories) by
//! counting: one pass that reads the array and counts each value, one that writes the runs.
//! A radix sort moves every key through memory at least twice for them, and a comparison sort
//! (which is good at them) still does log-many passes; counting reads 1x and writes 1x.
//!
//! The distinct values come from the sample the sort takes anyway; a value the sample missed
//! ends the counting pass early and the sort takes its usual path.

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::element::{Element, RadixKey};
use crate::simd::{compiled_per_level, Level};

/// Most distinct keys the counting sort handles: every key is compared with each of them.
pub const MAX_DISTINCT: usize = 64;
/// Values per task of the counting pass and of the fill.
const CHUNK: usize = 1 << 16;
/// Keys between two polls of the cancel flag (and two checks for a key the table lacks).
const PIECE: usize = 4096;

/// The distinct keys of a sample, sorted, when there are at most [`MAX_DISTINCT`] of them.
pub fn distinct_keys(sample: &[u64]) -> Option<Vec<u64>> {
    let mut keys: Vec<u64> = Vec::with_capacity(MAX_DISTINCT + 1);
    for &k in sample {
        if let Err(at) = keys.binary_search(&k) {
            if keys.len() == MAX_DISTINCT {
                return None;
            }
            keys.insert(at, k);
        }
    }
    (!keys.is_empty()).then_some(keys)
}

/// Adds to `counts[j]` the number of `values` whose key is `distinct[j]`, for every j: the
/// piece's keys are written to `keys` (in L1), then counted entry by entry, each count a loop
/// of compares and adds that vectorises over the keys. (A branch-free binary search per key
/// ran at a tenth of the speed, its steps compiled to branches; comparing each key with the
/// whole table at once vectorised over the table, with shuffles.)
#[inline(always)]
fn count_piece<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[T::Key],
    keys: &mut [T::Key],
    counts: &mut [u64],
) {
    let keys = &mut keys[..values.len()];
    for (k, v) in keys.iter_mut().zip(values) {
        *k = v.key(descending);
    }
    for (count, &entry) in counts.iter_mut().zip(distinct) {
        let hits = keys.iter().map(|&k| usize::from(k == entry)).sum::<usize>();
        *count += hits as u64;
    }
}

/// [`count_piece`] for every piece of a chunk, stopping on abort or at a piece with a key
/// outside the table (its counts then fall short of its length). Inlined into the wrappers
/// below, so that it is compiled for their instruction sets.
#[inline(always)]
fn count_chunk<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[T::Key],
    cancel: &Cancel,
) -> Option<Vec<u64>> {
    let mut counts = vec![0u64; distinct.len()];
    let mut keys = vec![T::Key::from_u64(0); PIECE.min(values.len())];
    let mut seen = 0u64;
    for piece in values.chunks(PIECE) {
        if cancel.is_cancelled() {
            return None;
        }
        count_piece(piece, descending, distinct, &mut keys, &mut counts);
        let total: u64 = counts.iter().sum();
        if total - seen != piece.len() as u64 {
            return None;
        }
        seen = total;
    }
    Some(counts)
}

compiled_per_level! {
    /// [`count_chunk`] for the CPU's widest vectors.
    fn count_chunk_for<T: Element>(
        values: &[T],
        descending: bool,
        distinct: &[T::Key],
        cancel: &Cancel,
    ) -> Option<Vec<u64>> => count_chunk
}

/// How many times each of the `distinct` keys (sorted, at most [`MAX_DISTINCT`]) is the key of
/// a value of `values`; `None` when some value's key is not among them (or on abort).
pub fn count<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    cancel: &Cancel,
) -> Option<Vec<u64>> {
    count_with(values, descending, distinct, cancel, Level::detect())
}

fn count_with<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    cancel: &Cancel,
    level: Level,
) -> Option<Vec<u64>> {
    let chunks = count_chunks_with(values, descending, distinct, cancel, level)?;
    let mut counts = vec![0; distinct.len()];
    for chunk in chunks {
        counts.iter_mut().zip(chunk).for_each(|(a, b)| *a += b);
    }
    Some(counts)
}

/// [`count`] per chunk of [`CHUNK`] values, in order.
pub fn count_chunks<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    cancel: &Cancel,
) -> Option<Vec<Vec<u64>>> {
    count_chunks_with(values, descending, distinct, cancel, Level::detect())
}

fn count_chunks_with<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    cancel: &Cancel,
    level: Level,
) -> Option<Vec<Vec<u64>>> {
    if distinct.len() > MAX_DISTINCT {
        return None;
    }
    let distinct: Vec<T::Key> = distinct.iter().map(|&k| T::Key::from_u64(k)).collect();
    let chunk = count_chunk_for::<T>(level);
    values
        .par_chunks(CHUNK)
        .map(|c| chunk(c, descending, &distinct, cancel))
        .collect()
}

/// Sets `ranks[i]` to the number of `distinct` keys below the key of `values[i]` (its index
/// among them when it is one): a compare-and-add loop per distinct key, vectorised over keys.
#[inline(always)]
fn rank_piece<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[T::Key],
    keys: &mut [T::Key],
    ranks: &mut [u8],
) {
    let keys = &mut keys[..values.len()];
    let ranks = &mut ranks[..values.len()];
    for (k, v) in keys.iter_mut().zip(values) {
        *k = v.key(descending);
    }
    ranks.fill(0);
    for &entry in distinct {
        for (r, &k) in ranks.iter_mut().zip(keys.iter()) {
            *r += u8::from(k > entry);
        }
    }
}

compiled_per_level! {
    /// [`rank_piece`] for the CPU's widest vectors.
    fn rank_piece_for<T: Element>(
        values: &[T],
        descending: bool,
        distinct: &[T::Key],
        keys: &mut [T::Key],
        ranks: &mut [u8],
    ) => rank_piece
}

/// Raw pointer for the chunks' disjoint writes into one index array.
#[derive(Clone, Copy)]
struct SharedIndices(*mut u32);
// SAFETY: each chunk writes only the ranges its offsets give it (checked against each key's
// range before every write).
unsafe impl Send for SharedIndices {}
unsafe impl Sync for SharedIndices {}

impl SharedIndices {
    /// A method (not the field) so closures capture the `Send` wrapper, not the raw pointer.
    fn ptr(&self) -> *mut u32 {
        self.0
    }
}

/// The stable order of `values` by key when all their keys are among `distinct` (sorted, at
/// most [`MAX_DISTINCT`]) and `chunk_counts` is [`count_chunks`] of them: the indices of the
/// values with the first key in index order, then those with the second, and so on, into `out`.
/// `false` when aborted, or when the values no longer give those counts (changed meanwhile).
pub fn stable_indices<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    chunk_counts: &[Vec<u64>],
    out: &mut [u32],
    cancel: &Cancel,
) -> bool {
    stable_indices_with(
        values,
        descending,
        distinct,
        chunk_counts,
        out,
        cancel,
        Level::detect(),
    )
}

fn stable_indices_with<T: Element>(
    values: &[T],
    descending: bool,
    distinct: &[u64],
    chunk_counts: &[Vec<u64>],
    out: &mut [u32],
    cancel: &Cancel,
    level: Level,
) -> bool {
    let d = distinct.len();
    assert!(
        d <= MAX_DISTINCT && out.len() == values.len() && values.len() <= u32::MAX as usize + 1
    );
    if d == 0 || chunk_counts.len() != values.len().div_ceil(CHUNK) {
        return values.is_empty();
    }
    // Per chunk, per key: the part of the key's range of `out` the chunk writes, [start,
    // limit), from the counts of the chunks before it.
    let totals: Vec<usize> = (0..d)
        .map(|j| chunk_counts.iter().map(|c| c[j] as usize).sum())
        .collect();
    if totals.iter().sum::<usize>() != out.len() {
        return false;
    }
    let mut next: Vec<usize> = totals
        .iter()
        .scan(0, |at, &t| {
            let start = *at;
            *at += t;
            Some(start)
        })
        .collect();
    let ranges: Vec<(Vec<usize>, Vec<usize>)> = chunk_counts
        .iter()
        .map(|counts| {
            let start = next.clone();
            next.iter_mut()
                .zip(counts)
                .for_each(|(n, &c)| *n += c as usize);
            (start, next.clone())
        })
        .collect();
    let distinct: Vec<T::Key> = distinct.iter().map(|&k| T::Key::from_u64(k)).collect();
    let rank = rank_piece_for::<T>(level);
    let shared = SharedIndices(out.as_mut_ptr());
    values
        .par_chunks(CHUNK)
        .zip(ranges)
        .enumerate()
        .all(|(c, (chunk, (mut next, limit)))| {
            let mut keys = vec![T::Key::from_u64(0); PIECE.min(chunk.len())];
            let mut ranks = vec![0u8; keys.len()];
            for (p, piece) in chunk.chunks(PIECE).enumerate() {
                if cancel.is_cancelled() {
                    return false;
                }
                rank(piece, descending, &distinct, &mut keys, &mut ranks);
                let base = c * CHUNK + p * PIECE;
                for (i, &r) in ranks[..piece.len()].iter().enumerate() {
                    let r = usize::from(r);
                    if r >= d || next[r] >= limit[r] {
                        return false; // a key outside the table, or more of one than counted
                    }
                    // SAFETY: next[r] < limit[r] <= out.len(), and [start, limit) of each key
                    // is this chunk's own part of that key's range.
                    unsafe { shared.ptr().add(next[r]).write((base + i) as u32) };
                    next[r] += 1;
                }
            }
            cancel.advance(chunk.len() as u64);
            true
        })
}

/// Writes the sorted array: `counts[i]` copies of `values[i]`, in order, over `out` (whose
/// length is the sum of the counts). Stops early when aborted (the caller checks).
pub fn fill<T: Copy + Send + Sync>(out: &mut [T], values: &[T], counts: &[u64], cancel: &Cancel) {
    // ends[i]: one past the last position of values[i].
    let ends: Vec<usize> = counts
        .iter()
        .scan(0, |end, &c| {
            *end += c as usize;
            Some(*end)
        })
        .collect();
    debug_assert_eq!(ends.last().copied(), Some(out.len()));
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            if cancel.is_cancelled() {
                return;
            }
            let mut at = c * CHUNK;
            let end = at + chunk.len();
            let mut v = ends.partition_point(|&e| e <= at);
            while at < end {
                let run_end = ends[v].min(end);
                chunk[at - c * CHUNK..run_end - c * CHUNK].fill(values[v]);
                at = run_end;
                v += 1;
            }
            cancel.advance(chunk.len() as u64);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_of_a_sample() {
        assert_eq!(distinct_keys(&[]), None);
        assert_eq!(distinct_keys(&[5, 1, 5, 3, 1]), Some(vec![1, 3, 5]));
        let many: Vec<u64> = (0..MAX_DISTINCT as u64).rev().collect();
        assert_eq!(distinct_keys(&many).unwrap().len(), MAX_DISTINCT);
        let too_many: Vec<u64> = (0..=MAX_DISTINCT as u64).collect();
        assert_eq!(distinct_keys(&too_many), None);
    }

    #[test]
    fn counts_every_key_or_finds_one_missing() {
        let c = Cancel::new();
        for d in [1usize, 2, 3, 5, 16, 17, 63, 64] {
            // keys spread over the whole range, u64::MAX (NaN's key) among them
            let distinct: Vec<u64> = (0..d as u64)
                .map(|i| u64::MAX - (d as u64 - 1 - i) * (u64::MAX / 64))
                .collect();
            let len = 3 * CHUNK + 1234;
            let keys: Vec<u64> = (0..len).map(|i| distinct[(i * 7 + i / 5) % d]).collect();
            let mut expected = vec![0u64; d];
            for k in &keys {
                expected[distinct.binary_search(k).unwrap()] += 1;
            }
            // (u64 values are their own keys in ascending order)
            for level in Level::available() {
                assert_eq!(
                    count_with(&keys, false, &distinct, &c, level),
                    Some(expected.clone()),
                    "{d} {level:?}"
                );
            }
            // a key below, between or above the table's, at any place, is found
            for (at, odd) in [
                (0, 0),
                (len - 1, distinct[0].wrapping_add(1)),
                (CHUNK + 5, u64::MAX - 1),
            ] {
                if distinct.contains(&odd) {
                    continue;
                }
                let mut keys = keys.clone();
                keys[at] = odd;
                for level in Level::available() {
                    assert_eq!(
                        count_with(&keys, false, &distinct, &c, level),
                        None,
                        "{d} {odd} {level:?}"
                    );
                }
            }
        }
        // floats through their keys, descending: NaN, -0 and +0 apart
        let floats = [f64::NAN, -0.0, 0.0, 1.5, f64::NEG_INFINITY];
        let values: Vec<f64> = (0..1000).map(|i| floats[i % 5]).collect();
        let mut distinct: Vec<u64> = floats.iter().map(|v| v.key(true)).collect();
        distinct.sort_unstable();
        for level in Level::available() {
            assert_eq!(
                count_with(&values, true, &distinct, &c, level),
                Some(vec![200; 5])
            );
        }
        let cancelled = Cancel::new();
        cancelled.cancel();
        assert_eq!(count(&[1u64; 10], false, &[1], &cancelled), None);
    }

    #[test]
    fn stable_indices_at_every_level_or_a_refusal() {
        let c = Cancel::new();
        for d in [1usize, 2, 7, 64] {
            let distinct: Vec<u64> = (0..d as u64).map(|i| i * 1000 + 3).collect();
            let len = 2 * CHUNK + 777;
            let values: Vec<u64> = (0..len).map(|i| distinct[(i * 13 + i / 7) % d]).collect();
            let mut expected: Vec<u32> = (0..len as u32).collect();
            expected.sort_by_key(|&i| values[i as usize]); // stable
            let chunks = count_chunks(&values, false, &distinct, &c).unwrap();
            for level in Level::available() {
                let mut out = vec![0u32; len];
                assert!(stable_indices_with(
                    &values, false, &distinct, &chunks, &mut out, &c, level
                ));
                assert_eq!(out, expected, "{d} {level:?}");
            }
            // values that no longer match their counts: refused, never out of bounds
            let mut changed = values.clone();
            changed[len - 1] = distinct[0] + 1;
            changed[0] = distinct[d - 1];
            let mut out = vec![0u32; len];
            assert!(!stable_indices(
                &changed, false, &distinct, &chunks, &mut out, &c
            ));
        }
        let cancelled = Cancel::new();
        cancelled.cancel();
        let values = vec![5u64; 10];
        let chunks = count_chunks(&values, false, &[5], &c).unwrap();
        assert!(!stable_indices(
            &values,
            false,
            &[5],
            &chunks,
            &mut [0; 10],
            &cancelled
        ));
    }

    #[test]
    fn fills_runs_across_chunks() {
        let c = Cancel::new();
        for counts in [
            vec![0, 5, 0],
            vec![CHUNK, 1, CHUNK - 1, 0, 2 * CHUNK + 3],
            vec![1; 100],
        ] {
            let values: Vec<u32> = (0..counts.len() as u32).collect();
            let mut out = vec![u32::MAX; counts.iter().sum()];
            let counts: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
            fill(&mut out, &values, &counts, &c);
            let expected: Vec<u32> = counts
                .iter()
                .enumerate()
                .flat_map(|(v, &n)| std::iter::repeat_n(v as u32, n as usize))
                .collect();
            assert_eq!(out, expected);
        }
    }
}
