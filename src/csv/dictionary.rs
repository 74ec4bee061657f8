//! One category dictionary from the dictionaries of a column's chunks, joined on all cores.
//!
//! Each chunk interns its own values while it parses; the join then gives every distinct text
//! one code, in order of first appearance over the chunks in file order. Done on one thread,
//! a join of millions of distinct values was the longest serial step of a parse (each value a
//! cache miss or two in a table of millions), so the texts are split by hash into shards that
//! are interned side by side, and one ordered walk numbers them.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use rayon::prelude::*;

use super::Texts;
use crate::cancel::Cancel;
use crate::error::{check_allocation, try_reserve, try_zeroed_vec, KernelError};

/// The 32 bits of a text's hash that a table entry keeps beside its code.
#[inline(always)]
pub(super) fn kept_hash(hasher: &DefaultHashBuilder, text: &[u8]) -> u32 {
    let full = hasher.hash_one(text);
    (full >> 32) as u32 ^ full as u32
}

/// The table's hash from the 32 bits kept, spread over all 64 (hashbrown takes a bucket from
/// the low bits and a tag from the top seven).
#[inline(always)]
pub(super) fn spread(kept: u32) -> u64 {
    u64::from(kept).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The joined dictionary and, per chunk, the joined code of each of its codes.
pub(super) struct Joined {
    pub values: Texts,
    pub maps: Vec<Vec<u32>>,
}

/// Joins `dicts` (each chunk's distinct texts, in order of first appearance) into one
/// dictionary in order of first appearance over the chunks in order. `None` when it would
/// hold more than `max_values` texts.
pub(super) fn join_dictionaries(
    dicts: &[&Texts],
    max_values: usize,
    cancel: &Cancel,
) -> Result<Option<Joined>, KernelError> {
    let total: usize = dicts.iter().map(|d| d.len()).sum();
    // A few shards a thread, so that uneven shards still share out; one for small joins.
    let shards = if total < 1 << 16 {
        1
    } else {
        (rayon::current_num_threads() * 4)
            .next_power_of_two()
            .min(256)
    };
    join_in_shards(dicts, max_values, shards, cancel)
}

/// What one shard interned: for each distinct text of its share, where it first appears
/// (chunk, code in that chunk); for each text of its share in chunk order, its code in the
/// shard, with [`FIRST`] where it first appears; and where each chunk's texts start in
/// `codes`.
struct Shard {
    firsts: Vec<(u32, u32)>,
    codes: Vec<u32>,
    starts: Vec<usize>,
}

/// Marks a shard's code where its text first appears.
const FIRST: u32 = 1 << 31;

/// Values between polls of the cancel flag.
const POLL_EVERY: usize = 1 << 14;

fn join_in_shards(
    dicts: &[&Texts],
    max_values: usize,
    shards: usize,
    cancel: &Cancel,
) -> Result<Option<Joined>, KernelError> {
    assert!(shards.is_power_of_two() && shards <= 1 << 16);
    let what = "a category column's dictionary";
    let hasher = DefaultHashBuilder::default();
    let hashes = dicts
        .par_iter()
        .map(|d| {
            let mut kept = Vec::new();
            try_reserve(&mut kept, d.len(), what)?;
            for i in 0..d.len() {
                if i % POLL_EVERY == POLL_EVERY - 1 {
                    cancel.check()?;
                }
                kept.push(kept_hash(&hasher, d.get(i).expect("a value")));
            }
            Ok(kept)
        })
        .collect::<Result<Vec<Vec<u32>>, KernelError>>()?;

    let shard_bits = shards.trailing_zeros();
    // Room for the largest chunk's values at least, all of them at most: four chunks' worth
    // (a table grows from its kept bits, without reading texts, when that is too little).
    let sizes = dicts.iter().map(|d| d.len());
    let largest = sizes.clone().max().unwrap_or(0);
    let expected = sizes.sum::<usize>().min(4 * largest).div_ceil(shards);
    // Eight bytes an entry and one of control, at the table's load of 7/8; the first
    // appearances, eight more.
    check_allocation(expected as u128 * shards as u128 * 19, what)?;

    let text = |(chunk, code): (u32, u32)| dicts[chunk as usize].get(code as usize);
    // Set once a shard alone holds more than `max_values` texts: the others stop too.
    let too_many = AtomicBool::new(false);
    let interned = (0..shards)
        .into_par_iter()
        .map(|s| {
            let mut table: HashTable<(u32, u32)> = HashTable::new();
            table
                .try_reserve(expected, |&(_, kept)| spread(kept))
                .map_err(|_| too_big(what, expected))?;
            let mut shard = Shard {
                firsts: Vec::new(),
                codes: Vec::new(),
                starts: Vec::with_capacity(dicts.len()),
            };
            try_reserve(&mut shard.firsts, expected, what)?;
            try_reserve(&mut shard.codes, expected, what)?;
            let mut seen = 0;
            for (chunk, (dict, kept)) in dicts.iter().zip(&hashes).enumerate() {
                shard.starts.push(shard.codes.len());
                for (code, &k) in kept.iter().enumerate() {
                    if shard_of(k, shard_bits) != s {
                        continue;
                    }
                    seen += 1;
                    if seen % POLL_EVERY == 0 {
                        cancel.check()?;
                        if too_many.load(Ordering::Relaxed) {
                            return Ok(None);
                        }
                    }
                    let t = dict.get(code).expect("a value");
                    let firsts = &shard.firsts;
                    let entry = table.entry(
                        spread(k),
                        |&(c, kk)| kk == k && text(firsts[c as usize]) == Some(t),
                        |&(_, kk)| spread(kk),
                    );
                    let joined = match entry {
                        Entry::Occupied(e) => e.get().0,
                        Entry::Vacant(e) => {
                            let c = shard.firsts.len() as u32;
                            let len = shard.firsts.len();
                            if len == FIRST as usize {
                                return Err(too_big(what, len));
                            }
                            if len == max_values {
                                too_many.store(true, Ordering::Relaxed);
                                return Ok(None);
                            }
                            if len == shard.firsts.capacity() {
                                try_reserve(&mut shard.firsts, len.max(64), what)?;
                            }
                            shard.firsts.push((chunk as u32, code as u32));
                            e.insert((c, k));
                            c | FIRST
                        }
                    };
                    let len = shard.codes.len();
                    if len == shard.codes.capacity() {
                        try_reserve(&mut shard.codes, len.max(64), what)?;
                    }
                    shard.codes.push(joined);
                }
            }
            Ok(Some(shard))
        })
        .collect::<Result<Option<Vec<Shard>>, KernelError>>()?;
    let Some(interned) = interned else {
        return Ok(None);
    };

    let distinct: usize = interned.iter().map(|s| s.firsts.len()).sum();
    if distinct > max_values {
        return Ok(None);
    }
    // Number the texts in order of first appearance. A chunk's first appearances take
    // consecutive codes (and bytes of the dictionary), after those of the chunks before it,
    // so each chunk is walked on its own: once to count its new texts, once to write them
    // and their codes, once for its map.
    let walk = |chunk: usize, each: &mut dyn FnMut(usize, usize, usize, bool)| {
        walk_chunk(&interned, &hashes[chunk], chunk, shard_bits, cancel, each)
    };
    let counted = (0..dicts.len())
        .into_par_iter()
        .map(|chunk| {
            let (mut count, mut bytes) = (0, 0);
            walk(chunk, &mut |code, _, _, first| {
                if first {
                    count += 1;
                    bytes += dicts[chunk].get(code).expect("a value").len();
                }
            })?;
            Ok((count, bytes))
        })
        .collect::<Result<Vec<(usize, usize)>, KernelError>>()?;
    let total_bytes = counted.iter().map(|c| c.1).sum();
    let mut values = Texts {
        bytes: try_zeroed_vec(total_bytes, what)?,
        ends: try_zeroed_vec(distinct, what)?,
    };
    let mut numbered: Vec<Vec<AtomicU32>> = Vec::with_capacity(shards);
    for s in &interned {
        let mut n = Vec::new();
        try_reserve(&mut n, s.firsts.len(), what)?;
        n.extend((0..s.firsts.len()).map(|_| AtomicU32::new(u32::MAX)));
        numbered.push(n);
    }
    // Each chunk's stretch of the dictionary: (first code, first byte, ends, bytes).
    let mut stretches = Vec::with_capacity(dicts.len());
    let (mut ends, mut bytes): (&mut [usize], &mut [u8]) = (&mut values.ends, &mut values.bytes);
    let (mut code_base, mut byte_base) = (0, 0);
    for &(count, len) in &counted {
        let (e, rest_ends) = std::mem::take(&mut ends).split_at_mut(count);
        let (b, rest_bytes) = std::mem::take(&mut bytes).split_at_mut(len);
        stretches.push((code_base as u32, byte_base, e, b));
        (ends, bytes) = (rest_ends, rest_bytes);
        code_base += count;
        byte_base += len;
    }
    stretches.into_par_iter().enumerate().try_for_each(
        |(chunk, (mut next, byte_base, ends, bytes))| {
            let (mut at, mut written) = (0, 0);
            walk(chunk, &mut |code, s, in_shard, first| {
                if first {
                    let t = dicts[chunk].get(code).expect("a value");
                    bytes[written..written + t.len()].copy_from_slice(t);
                    written += t.len();
                    ends[at] = byte_base + written;
                    at += 1;
                    numbered[s][in_shard].store(next, Ordering::Relaxed);
                    next += 1;
                }
            })
        },
    )?;
    let maps = (0..dicts.len())
        .into_par_iter()
        .map(|chunk| {
            let mut map = Vec::new();
            try_reserve(&mut map, dicts[chunk].len(), what)?;
            walk(chunk, &mut |_, s, in_shard, _| {
                map.push(numbered[s][in_shard].load(Ordering::Relaxed));
            })?;
            Ok(map)
        })
        .collect::<Result<Vec<Vec<u32>>, KernelError>>()?;
    Ok(Some(Joined { values, maps }))
}

/// Calls `each(code, shard, code in the shard, whether it is the text's first appearance)`
/// for each of `chunk`'s texts in order.
fn walk_chunk(
    interned: &[Shard],
    kept: &[u32],
    chunk: usize,
    shard_bits: u32,
    cancel: &Cancel,
    each: &mut dyn FnMut(usize, usize, usize, bool),
) -> Result<(), KernelError> {
    // Where this chunk's texts start in each shard's codes.
    let mut taken: Vec<usize> = interned.iter().map(|s| s.starts[chunk]).collect();
    for (code, &k) in kept.iter().enumerate() {
        if code % POLL_EVERY == POLL_EVERY - 1 {
            cancel.check()?;
        }
        let s = shard_of(k, shard_bits);
        let in_shard = interned[s].codes[taken[s]];
        taken[s] += 1;
        let first = in_shard & FIRST != 0;
        let in_shard = (in_shard & !FIRST) as usize;
        each(code, s, in_shard, first);
    }
    Ok(())
}

/// The shard of a text by the top `shard_bits` of its kept hash: the table's bucket comes
/// from the low bits of [`spread`], which depend on the low bits of the kept hash only.
#[inline(always)]
fn shard_of(kept: u32, shard_bits: u32) -> usize {
    if shard_bits == 0 {
        0
    } else {
        (kept >> (32 - shard_bits)) as usize
    }
}

fn too_big(what: &str, values: usize) -> KernelError {
    KernelError::OutOfMemory(format!(
        "Cannot allocate {what}: {values} values do not fit in memory"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn texts(words: &[String]) -> Texts {
        let mut t = Texts::default();
        for w in words {
            t.push(w.as_bytes());
        }
        t
    }

    /// The join done the plain way: one map, chunk after chunk.
    fn reference(chunks: &[Vec<String>]) -> (Vec<String>, Vec<Vec<u32>>) {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut values = Vec::new();
        let maps = chunks
            .iter()
            .map(|c| {
                c.iter()
                    .map(|w| {
                        *index.entry(w).or_insert_with(|| {
                            values.push(w.clone());
                            values.len() as u32 - 1
                        })
                    })
                    .collect()
            })
            .collect();
        (values, maps)
    }

    fn strings(t: &Texts) -> Vec<String> {
        t.strings()
            .into_iter()
            .map(|s| s.expect("a value"))
            .collect()
    }

    #[test]
    fn joins_in_order_of_first_appearance_whatever_the_shards() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let cancel = Cancel::new();
        for round in 0..20 {
            let chunk_count = 1 + (next() % 6) as usize;
            let spread_of_values = 1 + next() % if round % 2 == 0 { 50 } else { 5000 };
            let chunks: Vec<Vec<String>> = (0..chunk_count)
                .map(|_| {
                    // Each chunk's values distinct, in its own order; chunks overlap.
                    let len = (next() % 2000) as usize;
                    let mut seen = std::collections::HashSet::new();
                    (0..len)
                        .map(|_| format!("v{}", next() % spread_of_values))
                        .filter(|w| seen.insert(w.clone()))
                        .collect()
                })
                .collect();
            let dicts: Vec<Texts> = chunks.iter().map(|c| texts(c)).collect();
            let refs: Vec<&Texts> = dicts.iter().collect();
            let (values, maps) = reference(&chunks);
            for shards in [1, 2, 8, 64] {
                let joined = join_in_shards(&refs, usize::MAX, shards, &cancel)
                    .unwrap()
                    .expect("no limit");
                assert_eq!(
                    strings(&joined.values),
                    values,
                    "round {round}, {shards} shards"
                );
                assert_eq!(joined.maps, maps, "round {round}, {shards} shards");
            }
            // One value fewer than the join holds is too many.
            let limit = values.len().saturating_sub(1);
            if !values.is_empty() {
                assert!(join_in_shards(&refs, limit, 8, &cancel).unwrap().is_none());
            }
            assert!(join_in_shards(&refs, values.len(), 8, &cancel)
                .unwrap()
                .is_some());
        }
    }

    #[test]
    fn similar_texts_stay_apart() {
        // Empty texts, prefixes and long texts side by side; and a join over many chunks
        // that share every value.
        let words: Vec<String> = ["", "a", "aa", "a\u{0}", "é", "e\u{301}"]
            .iter()
            .map(|s| s.to_string())
            .chain((0..300).map(|i| "x".repeat(i)))
            .collect();
        let chunks: Vec<Vec<String>> = (0..7)
            .map(|r| {
                let mut w = words.clone();
                w.rotate_left(r * 13);
                w
            })
            .collect();
        let dicts: Vec<Texts> = chunks.iter().map(|c| texts(c)).collect();
        let refs: Vec<&Texts> = dicts.iter().collect();
        let (values, maps) = reference(&chunks);
        for shards in [1, 4, 256] {
            let joined = join_in_shards(&refs, usize::MAX, shards, &Cancel::new())
                .unwrap()
                .unwrap();
            assert_eq!(strings(&joined.values), values);
            assert_eq!(joined.maps, maps);
        }
    }

    #[test]
    fn stops_when_cancelled() {
        let chunk: Vec<String> = (0..100_000).map(|i| format!("value {i}")).collect();
        let dict = texts(&chunk);
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(join_dictionaries(&[&dict, &dict], usize::MAX, &cancel).is_err());
    }
}
