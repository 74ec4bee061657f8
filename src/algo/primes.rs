//! `countPrimes` and `primes`: a segmented sieve of Eratosthenes over the rayon pool, built
//! the way primesieve builds its own.
//!
//! - A mod-30 wheel: each byte stands for the 30 numbers 30i..30i+29, one bit for each of the
//!   8 residues coprime to 30 (1, 7, 11, 13, 17, 19, 23, 29), so multiples of 2, 3 and 5 take
//!   neither space nor time.
//! - A pre-sieve: each chunk (the size of the machine's L1 data cache) starts as the OR of
//!   precomputed patterns that have the multiples of the primes 7 to 163 crossed off already,
//!   all ORed in one pass.
//! - Small primes (up to 0.175 of the chunk size) cross off chunk by chunk while it sits in L1;
//!   medium ones (up to 358,000) a segment (4 to 16 chunks, in L2) at a time. Their loop is unrolled
//!   over one turn of the wheel: in each turn the 8 multiples of p sit at byte offsets and bits
//!   that depend only on p mod 30, so each residue class has its own loop with constant masks,
//!   and primes wait in lists by the wheel position of their next multiple (as primesieve's
//!   medium primes do), so a list enters its loop at the same place prime after prime; the
//!   last, partial turn has no branch (the multiples past the end mark spare bytes).
//! - Large primes, which hit a segment a few times at most, wait in buckets keyed by the
//!   segment they hit next (bucket sieving), so a segment only touches the primes that hit it.
//!
//! Contiguous runs of segments go to separate rayon tasks, each with its own state. Memory is
//! bounded by the segment size and sqrt(n), not by n.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::{check_allocation, try_reserve, try_zeroed_vec, KernelError};
use crate::reaper::FreeLater;
use crate::simd::Level;

/// The residues coprime to 30, one per bit of a byte.
const RES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];
/// The primes the pre-sieve removes, in groups: each group's multiples repeat every
/// product-of-the-group bytes, and a segment starts as the OR of the groups' patterns.
const PRESIEVE: [&[u64]; 17] = [
    &[7, 11, 13, 17],
    &[19, 23],
    &[29, 31],
    &[37, 41],
    &[43, 47],
    &[53, 59],
    &[61, 67],
    &[71, 73],
    &[79, 83],
    &[89, 97],
    &[101, 163],
    &[103, 157],
    &[107, 151],
    &[109, 149],
    &[113, 139],
    &[127, 137],
    &[131],
];
/// The first prime the segments cross off themselves.
const FIRST_SIEVING: u32 = 167;

/// The sieve's sizes, from the L1 data cache of the machine it runs on.
#[derive(Clone, Copy)]
struct Geometry {
    /// Bytes per L1-sized chunk: the small primes cross off one chunk at a time.
    chunk: usize,
    /// Bytes per segment (4 to 16 chunks, in L2): the medium primes cross off a whole segment
    /// at a time.
    seg: usize,
    /// Primes up to this cross off chunk by chunk.
    small_limit: u64,
    /// Primes up to this cross off segment by segment; larger ones go through buckets.
    medium_limit: u64,
}

impl Geometry {
    /// The sizes for chunks of `chunk` bytes, `chunks` a segment. Small primes go up to 0.175
    /// of a chunk, as in
    /// primesieve, so that a visit to one crosses off 45 or more multiples: a larger prime's
    /// few hits per chunk cost more in loop entries and exits than its stores into the
    /// segment in L2 do.
    ///
    /// Medium primes go up to 358,000, past the segment size: such a prime still hits every
    /// segment a few times, so visiting it each segment costs less than bucketing its hits;
    /// and its first multiple, up to p * p / 30 bytes on, still fits in a u32.
    fn new(chunk: usize, chunks: usize) -> Self {
        Self::with_limits(chunk, chunks, chunk as u64 * 175 / 1000, MEDIUM_LIMIT)
    }

    fn with_limits(chunk: usize, chunks: usize, small_limit: u64, medium_limit: u64) -> Self {
        Geometry {
            chunk,
            seg: chunks * chunk,
            small_limit,
            medium_limit,
        }
    }

    /// Numbers per segment.
    fn span(&self) -> u64 {
        self.seg as u64 * 30
    }
}

/// The sizes for sieving up to `n` on this machine: chunks of its L1 data cache (as Linux
/// reports it; 32 KiB when it does not), between 16 and 64 KiB, and segments of
/// [`segment_chunks`] chunks.
fn geometry(n: u64) -> Geometry {
    if cfg!(test) {
        // Tiny chunks, and primes on every path (small, medium, bucketed) from small n.
        // (Medium primes past the segment size too, as on machines.)
        return Geometry::with_limits(512, 4, 512, 3000);
    }
    static CACHES: OnceLock<(usize, Option<usize>)> = OnceLock::new();
    let (chunk, l2) = *CACHES.get_or_init(|| {
        let l1 = cache_size(1, "Data").map_or(32 << 10, |(size, _)| size);
        // Per core: a cache shared by 2 CPUs (SMT siblings) gives each half of it.
        let l2 = cache_size(2, "Unified").map(|(size, sharing)| size / sharing.max(1));
        (l1.clamp(16 << 10, 64 << 10) & !4095, l2)
    });
    Geometry::new(chunk, segment_chunks(n, chunk, l2))
}

/// Chunks per segment, primesieve's rule for its sieve: a segment of about 2 sqrt(n) bytes
/// (the medium primes' visits per segment get fewer as the segment grows), within the largest
/// power of two up to the L2 cache per core, and at most 16 chunks; but at least 4 (fewer were
/// 10-20% slower at 1e9 here). On a Zen 3 (32 KiB L1, 512 KiB L2): 6 chunks at 1e10, where
/// the medium primes took 5-15% less time than in 4, and 16 (the whole L2) at 1e11, where
/// `countPrimes` took 10.0-10.8 s against 11.1-11.7 s in 8 chunks (half the L2), alternating.
fn segment_chunks(n: u64, chunk: usize, l2_per_core: Option<usize>) -> usize {
    let most = match l2_per_core {
        Some(l2) if l2 > 0 => {
            ((1usize << (usize::BITS - 1 - l2.leading_zeros())) / chunk).clamp(4, 16)
        }
        _ => 4,
    };
    (2 * isqrt(n) as usize / chunk).clamp(4, most)
}
/// The largest medium prime (see Geometry::new).
const MEDIUM_LIMIT: u64 = 358_000;
const _: () = assert!(MEDIUM_LIMIT * MEDIUM_LIMIT / 30 < 1 << 32 && 16 * (64 << 10) < 1 << 24);

/// The first CPU's cache of this level and type ("Data", "Unified") from sysfs: its size in
/// bytes and how many CPUs share it.
fn cache_size(level: u32, kind: &str) -> Option<(usize, usize)> {
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).ok();
        let (Some(l), Some(k), Some(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if l.trim() == level.to_string() && k.trim() == kind {
            let size = size.trim();
            let (digits, unit) = match size.as_bytes().last() {
                Some(b'K') => (&size[..size.len() - 1], 1 << 10),
                Some(b'M') => (&size[..size.len() - 1], 1 << 20),
                _ => (size, 1),
            };
            let sharing = read("shared_cpu_list").map_or(1, |list| cpus_in_list(list.trim()));
            return digits.parse::<usize>().ok().map(|v| (v * unit, sharing));
        }
    }
    None
}

/// How many CPUs a sysfs CPU list ("0", "0-1", "0,4", "0-3,8-11") names.
fn cpus_in_list(list: &str) -> usize {
    list.split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((a, b)) => {
                Some(b.trim().parse::<usize>().ok()? + 1 - a.trim().parse::<usize>().ok()?)
            }
            None => part.trim().parse::<usize>().ok().map(|_| 1),
        })
        .sum::<usize>()
        .max(1)
}

/// The largest `n` accepted: `Number.MAX_SAFE_INTEGER`.
pub const MAX_N: u64 = (1 << 53) - 1;

/// The bit of residue `r` (0..30) in a byte (`u8::MAX` when `r` is not coprime to 30).
const BIT_OF: [u8; 30] = {
    let mut t = [u8::MAX; 30];
    let mut k = 0;
    while k < 8 {
        t[RES[k] as usize] = k as u8;
        k += 1;
    }
    t
};

/// For a prime p = 30q + RES[ri]: the multiples p * (30c + RES[j]) lie in byte
/// p*c + q*RES[j] + FLOOR[ri][j], at bit MASK[ri][j].
const FLOOR: [[u64; 8]; 8] = {
    let mut t = [[0u64; 8]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            t[ri][j] = RES[ri] * RES[j] / 30;
            j += 1;
        }
        ri += 1;
    }
    t
};
const MASK: [[u8; 8]; 8] = {
    let mut t = [[0u8; 8]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            t[ri][j] = 1 << BIT_OF[(RES[ri] * RES[j] % 30) as usize];
            j += 1;
        }
        ri += 1;
    }
    t
};

/// In a turn of the wheel (the multiples p * (30c + RES[j]), j = 0..8, of p = 30q + RES[ri]),
/// the byte offset of the j-th from the turn's first; j = 8 is the next turn's first, p on.
#[inline(always)]
const fn turn_offset(q: u64, ri: usize, j: usize) -> u64 {
    if j == 8 {
        30 * q + RES[ri]
    } else {
        q * (RES[j] - 1) + FLOOR[ri][j]
    }
}

/// Crosses off the multiples of p = 30q + RES[RI] in `seg` but its last 8 bytes (spare), from
/// byte `i`, wheel position `K`; returns the position of the first multiple past the end,
/// relative to it, and its wheel position.
///
/// A turn of the wheel (30 multiples of p, 8 of them coprime to 30) spans p bytes; within a
/// turn the 8 multiples sit at offsets `turn_offset(q, RI, j)` from its first one, at bits that
/// depend only on RI. With RI and K constant, every loop over j unrolls with constant masks.
#[inline(always)]
fn cross_turns<const RI: usize, const K: usize>(
    seg: &mut [u8],
    q: usize,
    i: usize,
) -> (usize, usize) {
    let len = seg.len() - 8;
    let d: [usize; 8] = std::array::from_fn(|j| turn_offset(q as u64, RI, j) as usize);
    let p = turn_offset(q as u64, RI, 8) as usize;
    // The turn's first multiple may lie before the segment: keep it as `start - d[K]`
    // with wrapping arithmetic, and only ever index at `turn + d[j]` for j >= K.
    let mut turn = i.wrapping_sub(d[K]);
    for j in K..8 {
        let at = turn.wrapping_add(d[j]);
        if at >= len {
            return (at - len, j);
        }
        seg[at] |= MASK[RI][j];
    }
    turn = turn.wrapping_add(p);
    while turn + d[7] < len {
        for j in 0..8 {
            // SAFETY: d is increasing, so turn + d[j] <= turn + d[7] < len.
            unsafe { *seg.get_unchecked_mut(turn + d[j]) |= MASK[RI][j] };
        }
        turn += p;
    }
    // The last turn, without a branch: the multiples before the end are a prefix of
    // j = 0..8 (at most 7 of them); the others mark spare bytes past the end.
    let mut inside = 0;
    for j in 0..8 {
        let at = turn + d[j];
        let before = at < len;
        inside += before as usize;
        let to = if before { at } else { len + j };
        // SAFETY: at < len, or len + j < len + 8 = seg.len().
        unsafe { *seg.get_unchecked_mut(to) |= MASK[RI][j] };
    }
    let next = turn + (q as u64 * (RES[inside] - 1) + FLOOR[RI][inside]) as usize;
    (next - len, inside)
}

/// A small or medium prime p = 30q + RES[ri] and its next multiple, byte `i` from the start
/// of the next chunk or segment (its residue class and wheel position are its list's).
#[derive(Clone, Copy)]
struct Crosser {
    q: u32,
    i: u32,
}

/// Crosses off the multiples of the primes of residue class RI whose next multiple is at
/// wheel position K, and moves each to the list of its next position in `next`.
fn cross_list<const RI: usize, const K: usize>(
    seg: &mut [u8],
    primes: &mut Vec<Crosser>,
    next: &mut [Vec<Crosser>; 8],
) {
    for c in primes.drain(..) {
        let (i, k) = cross_turns::<RI, K>(seg, c.q as usize, c.i as usize);
        next[k].push(Crosser {
            q: c.q,
            i: i as u32,
        });
    }
}

fn cross_class<const RI: usize>(
    seg: &mut [u8],
    lists: &mut [Vec<Crosser>; 8],
    next: &mut [Vec<Crosser>; 8],
) {
    let [l0, l1, l2, l3, l4, l5, l6, l7] = lists;
    cross_list::<RI, 0>(seg, l0, next);
    cross_list::<RI, 1>(seg, l1, next);
    cross_list::<RI, 2>(seg, l2, next);
    cross_list::<RI, 3>(seg, l3, next);
    cross_list::<RI, 4>(seg, l4, next);
    cross_list::<RI, 5>(seg, l5, next);
    cross_list::<RI, 6>(seg, l6, next);
    cross_list::<RI, 7>(seg, l7, next);
}

/// The primes of a size range in 64 lists, by residue class and the wheel position of their
/// next multiple, as primesieve keeps its medium primes: each list runs one specialised loop
/// (constant masks, the same entry for every prime), so the branches into a turn go the same
/// way prime after prime. 3-4% at 1e11, where medium primes hit a segment a few times each.
struct Classes {
    lists: [[Vec<Crosser>; 8]; 8],
    /// The lists being filled while `lists` is crossed off (kept for their capacity).
    spare: [[Vec<Crosser>; 8]; 8],
}

impl Classes {
    /// `primes` with their first multiple at or after byte `base`.
    fn new(primes: &[u32], base: u64) -> Self {
        let mut lists: [[Vec<Crosser>; 8]; 8] = Default::default();
        for &p in primes {
            let (b, k) = first_multiple(p as u64, base * 30);
            lists[BIT_OF[(p % 30) as usize] as usize][k].push(Crosser {
                q: p / 30,
                i: (b - base) as u32,
            });
        }
        Classes {
            lists,
            spare: Default::default(),
        }
    }

    /// Crosses off every prime's multiples in `seg` but its last 8 (spare) bytes.
    fn cross(&mut self, seg: &mut [u8]) {
        let [c0, c1, c2, c3, c4, c5, c6, c7] = &mut self.lists;
        let [n0, n1, n2, n3, n4, n5, n6, n7] = &mut self.spare;
        cross_class::<0>(seg, c0, n0);
        cross_class::<1>(seg, c1, n1);
        cross_class::<2>(seg, c2, n2);
        cross_class::<3>(seg, c3, n3);
        cross_class::<4>(seg, c4, n4);
        cross_class::<5>(seg, c5, n5);
        cross_class::<6>(seg, c6, n6);
        cross_class::<7>(seg, c7, n7);
        std::mem::swap(&mut self.lists, &mut self.spare);
    }
}

/// Bytes the pre-sieve fills per step: each pattern carries this much past its period, so a
/// step reads every pattern contiguously from any phase (and the patterns, about 220 KiB in
/// all, stay in L2 beside the segment).
const PRESIEVE_BLOCK: usize = 4096;

/// Per pre-sieve group: its period in bytes and its pattern, the bytes with the group's
/// multiples set (byte b of the number line is `pattern[b % period]`), PRESIEVE_BLOCK bytes
/// past one period.
fn patterns() -> &'static [(usize, Vec<u8>)] {
    static PATTERNS: OnceLock<Vec<(usize, Vec<u8>)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        PRESIEVE
            .iter()
            .map(|group| {
                let period = group.iter().product::<u64>() as usize;
                let len = period + PRESIEVE_BLOCK;
                let mut bytes = vec![0u8; len];
                for &p in *group {
                    // Every multiple of p below 30 * len whose cofactor is coprime to 30.
                    for x in (p..30 * len as u64).step_by(p as usize) {
                        let bit = BIT_OF[(x % 30) as usize];
                        if bit != u8::MAX {
                            bytes[(x / 30) as usize] |= 1 << bit;
                        }
                    }
                }
                (period, bytes)
            })
            .collect()
    })
}

/// Starts a chunk (its first byte `seg_base`) with the pre-sieve groups crossed off: each
/// block is the OR of every group's pattern, in one pass (`kernels.or_patterns`).
fn presieve(seg: &mut [u8], seg_base: u64, kernels: SegmentKernels) {
    let patterns = patterns();
    for (b, block) in seg.chunks_mut(PRESIEVE_BLOCK).enumerate() {
        let at = seg_base + (b * PRESIEVE_BLOCK) as u64;
        let len = block.len();
        let starts: [&[u8]; PRESIEVE.len()] = std::array::from_fn(|g| {
            let (period, pattern) = &patterns[g];
            let phase = (at % *period as u64) as usize;
            &pattern[phase..phase + len]
        });
        (kernels.or_patterns)(block, &starts);
    }
    if seg_base == 0 {
        // 1 is not prime; the pre-sieve primes are (all in the first 6 bytes).
        seg[0] |= 1;
        for p in PRESIEVE.iter().flat_map(|g| g.iter()) {
            seg[(p / 30) as usize] &= !(1 << BIT_OF[(p % 30) as usize]);
        }
    }
}

/// The pattern slices a pre-sieve block is the OR of, one per group.
type Patterns<'a> = [&'a [u8]; PRESIEVE.len()];

/// The per-segment loops that are not crossing off, compiled for the CPU's vectors: the
/// baseline build ORs the pre-sieve 16 bytes at a time and has no popcnt instruction (its
/// `count_ones` is a dozen SSE2 steps per 16 bytes). In `countPrimes(1e10)` on a Zen 3 they
/// took 15% of the CPU time in the baseline build and 8% compiled for AVX2, the crossing off
/// the same (so the whole count about 7% less CPU time).
#[derive(Clone, Copy)]
struct SegmentKernels {
    or_patterns: fn(&mut [u8], &Patterns),
    count_free: fn(&[u8]) -> u64,
}

impl SegmentKernels {
    fn for_level(level: Level) -> Self {
        match level {
            // SAFETY (both): `Level::detect` saw AVX2 on this CPU (AVX-512 CPUs have it too).
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 | Level::Avx512 => SegmentKernels {
                or_patterns: |out, pats| unsafe { or_patterns_avx2(out, pats) },
                count_free: |seg| unsafe { count_free_avx2(seg) },
            },
            _ => SegmentKernels {
                or_patterns,
                count_free,
            },
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn or_patterns_avx2(out: &mut [u8], pats: &Patterns) {
    or_patterns(out, pats)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn count_free_avx2(seg: &[u8]) -> u64 {
    count_free(seg)
}

/// The clear bits of `seg` (its primes), 8 bytes at a time (vectorised).
#[inline(always)]
fn count_free(seg: &[u8]) -> u64 {
    let words = seg.chunks_exact(8);
    let tail = words.remainder();
    words
        .map(|w| (!u64::from_le_bytes(w.try_into().unwrap())).count_ones() as u64)
        .sum::<u64>()
        + tail.iter().map(|b| b.count_zeros() as u64).sum::<u64>()
}

/// `out[i] = OR of pats[g][i]`, 32 bytes at a time (vectorised).
#[inline(always)]
fn or_patterns(out: &mut [u8], pats: &Patterns) {
    const W: usize = 32;
    let whole = out.len() / W * W;
    for b in (0..whole).step_by(W) {
        let mut acc = [0u8; W];
        for pat in pats {
            let block: &[u8; W] = pat[b..b + W].try_into().unwrap();
            for t in 0..W {
                acc[t] |= block[t];
            }
        }
        out[b..b + W].copy_from_slice(&acc);
    }
    for t in whole..out.len() {
        out[t] = pats.iter().fold(0, |acc, pat| acc | pat[t]);
    }
}

/// Odd primes up to `limit`, by a plain sieve (for the few up to sqrt(sqrt(2^53)), about 9,700).
fn plain_odd_primes_up_to(limit: u64) -> Vec<u32> {
    if limit < 3 {
        return Vec::new();
    }
    let half = ((limit - 1) / 2) as usize;
    let mut composite = vec![false; half + 1];
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= limit as usize {
        if !composite[i] {
            let p = 2 * i + 1;
            let mut j = (p * p - 1) / 2;
            while j <= half {
                composite[j] = true;
                j += p;
            }
        }
        i += 1;
    }
    (1..=half)
        .filter(|&i| !composite[i])
        .map(|i| (2 * i + 1) as u32)
        .collect()
}

/// Odd primes up to `limit` (the sieving primes, up to sqrt(2^53), about 9.5e7): a sieve of
/// the odd numbers in segments that stay in L1, with a cancel check between them. (At the
/// largest n a sieve of the whole range at once took 0.4 s with no check.)
fn odd_primes_up_to(limit: u64, cancel: &Cancel) -> Result<Vec<u32>, KernelError> {
    const SEGMENT: usize = 1 << 15; // odd numbers per segment
    if limit < 3 {
        return Ok(Vec::new());
    }
    let roots = plain_odd_primes_up_to(isqrt(limit));
    // Index i stands for 2i + 1; 1 is index 0, left out.
    let half = ((limit - 1) / 2) as usize;
    let mut next: Vec<usize> = roots.iter().map(|&p| (p as usize).pow(2) / 2).collect();
    let mut out = Vec::with_capacity((1.26 * limit as f64 / (limit as f64).ln()) as usize + 8);
    let mut composite = [false; SEGMENT];
    let mut lo = 1;
    while lo <= half {
        cancel.check()?;
        let hi = (lo + SEGMENT).min(half + 1);
        composite[..hi - lo].fill(false);
        for (&p, at) in roots.iter().zip(&mut next) {
            let mut j = *at;
            while j < hi {
                composite[j - lo] = true;
                j += p as usize;
            }
            *at = j;
        }
        out.extend(
            (lo..hi)
                .filter(|&i| !composite[i - lo])
                .map(|i| (2 * i + 1) as u32),
        );
        lo = hi;
    }
    Ok(out)
}

fn isqrt(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

/// The first multiple p * m >= max(p * p, from) with m coprime to 30, as (byte, wheel index).
fn first_multiple(p: u64, from: u64) -> (u64, usize) {
    let start = (p * p).max(from);
    let m = start.div_ceil(p);
    let (c, rem) = (m / 30, m % 30);
    let k = RES.iter().position(|&r| r >= rem).unwrap_or(8);
    let (c, k) = if k == 8 { (c + 1, 0) } else { (c, k) };
    let ri = BIT_OF[(p % 30) as usize] as usize;
    // p * (30c + RES[k]) / 30 = p*c + q*RES[k] + RES[ri]*RES[k] / 30, with p = 30q + RES[ri]
    (p * c + (p / 30) * RES[k] + FLOOR[ri][k], k)
}

/// A large prime's next multiple: (prime, byte offset in its segment | wheel index << 24).
#[derive(Clone, Copy)]
struct Hit {
    p: u32,
    at: u32,
}

/// The sieve of the numbers up to `n` (n >= 7): bytes `0..=last_byte`.
struct Sieve {
    n: u64,
    last_byte: u64,
    /// Primes from FIRST_SIEVING up to sqrt(n).
    sieving: Vec<u32>,
    geo: Geometry,
    kernels: SegmentKernels,
}

impl Sieve {
    fn new(n: u64, geo: Geometry, level: Level, cancel: &Cancel) -> Result<Self, KernelError> {
        let mut sieving = odd_primes_up_to(isqrt(n), cancel)?;
        sieving.retain(|&p| p >= FIRST_SIEVING);
        Ok(Sieve {
            n,
            last_byte: n / 30,
            sieving,
            geo,
            kernels: SegmentKernels::for_level(level),
        })
    }

    fn segments(&self) -> u64 {
        self.last_byte / self.geo.seg as u64 + 1
    }

    /// Sieves segments `from..to`, calling `visit(first_byte, bytes)` with each one, where a
    /// set bit marks a composite (or 1, or a number past n).
    fn run(
        &self,
        from: u64,
        to: u64,
        cancel: &Cancel,
        mut visit: impl FnMut(u64, &[u8]) -> Result<(), KernelError>,
    ) -> Result<(), KernelError> {
        let geo = self.geo;
        let base = from * geo.seg as u64; // first byte of this run
        let (small, rest) = self.sieving.split_at(
            self.sieving
                .partition_point(|&p| (p as u64) <= geo.small_limit),
        );
        let (medium, large) =
            rest.split_at(rest.partition_point(|&p| (p as u64) <= geo.medium_limit));
        // Small and medium primes with their next multiples, from this run's first byte.
        // (A medium prime's first multiple can be up to p * p bytes on: it fits in a u32, as
        // medium_limit^2 / 30 < 2^32.)
        let mut small = Classes::new(small, base);
        let mut medium = Classes::new(medium, base);
        // Large primes: bucket s % ring holds the hits on segment s.
        let seg_bytes = geo.seg as u64;
        let ring = (large.last().copied().unwrap_or(0) as u64 / seg_bytes + 2) as usize;
        let mut buckets: Vec<Vec<Hit>> = vec![Vec::new(); ring];
        let end_byte = to * seg_bytes;
        let place = |buckets: &mut Vec<Vec<Hit>>, p: u32, byte: u64, k: usize| {
            if byte < end_byte {
                let slot = ((byte / seg_bytes) % ring as u64) as usize;
                buckets[slot].push(Hit {
                    p,
                    at: (byte % seg_bytes) as u32 | (k as u32) << 24,
                });
            }
        };
        // First hits within the ring's reach go straight into their buckets (a prime whose
        // square is behind this run's start hits it within p bytes). Those farther on (p * p,
        // far beyond the start) wait here, latest first, until they are close enough. Far
        // from 0 that is millions of primes, so the setup checks the cancel flag as it goes.
        let mut pending: Vec<(u64, u32, usize)> = Vec::new();
        for primes in large.chunks(1 << 16) {
            cancel.check()?;
            for &p in primes {
                let (b, k) = first_multiple(p as u64, base * 30);
                if b >= end_byte {
                    continue;
                }
                if b / seg_bytes < from + ring as u64 - 1 {
                    place(&mut buckets, p, b, k);
                } else {
                    pending.push((b, p, k));
                }
            }
        }
        pending.sort_unstable_by_key(|hit| std::cmp::Reverse(hit.0));
        // 8 spare bytes past the end, where the last turn of a crossing marks the multiples
        // that are past it (see cross_turns).
        let mut seg = vec![0u8; geo.seg + 8];
        for s in from..to {
            cancel.check()?;
            let seg_base = s * seg_bytes;
            while let Some(&(b, p, k)) = pending.last() {
                if b / seg_bytes >= s + ring as u64 - 1 {
                    break;
                }
                place(&mut buckets, p, b, k);
                pending.pop();
            }
            for at in (0..geo.seg).step_by(geo.chunk) {
                presieve(
                    &mut seg[at..at + geo.chunk],
                    seg_base + at as u64,
                    self.kernels,
                );
                // The chunk's spare bytes are the next chunk's first, which its pre-sieve
                // then overwrites.
                small.cross(&mut seg[at..at + geo.chunk + 8]);
            }
            medium.cross(&mut seg);
            // A large prime hits a segment fewer than 8 times; its next hit past this segment
            // is fewer than ring - 1 segments on, so it never lands back in the slot being
            // drained.
            let slot = (s % ring as u64) as usize;
            let mut hits = std::mem::take(&mut buckets[slot]);
            for hit in &hits {
                let (mut off, mut k) = ((hit.at & 0xff_ffff) as usize, (hit.at >> 24) as usize);
                let p = hit.p as u64;
                let (q, ri) = (p / 30, BIT_OF[(p % 30) as usize] as usize);
                loop {
                    seg[off] |= MASK[ri][k];
                    off += (turn_offset(q, ri, k + 1) - turn_offset(q, ri, k)) as usize;
                    k = (k + 1) & 7;
                    if off >= geo.seg {
                        break;
                    }
                }
                place(&mut buckets, hit.p, seg_base + off as u64, k);
            }
            debug_assert!(buckets[slot].is_empty());
            hits.clear();
            buckets[slot] = hits;
            if seg_base + seg_bytes > self.last_byte {
                self.mark_past_n(&mut seg, seg_base);
            }
            visit(seg_base, &seg[..geo.seg])?;
        }
        Ok(())
    }

    /// Sets the bits of the numbers past n in the last segment.
    fn mark_past_n(&self, seg: &mut [u8], seg_base: u64) {
        let last = (self.last_byte - seg_base) as usize;
        let mut keep = 0u8;
        for (k, r) in RES.iter().enumerate() {
            if 30 * self.last_byte + r <= self.n {
                keep |= 1 << k;
            }
        }
        seg[last] |= !keep;
        seg[last + 1..self.geo.seg].fill(u8::MAX);
    }

    /// Splits the segments into runs for parallel tasks: 32 per thread (so that the last ones
    /// to finish leave a core idle only briefly), and not so many that re-initialising the
    /// bucket state for each run costs more than sieving it.
    fn runs(&self) -> Vec<(u64, u64)> {
        let segments = self.segments();
        let tasks = (rayon::current_num_threads() as u64 * 32)
            .max(segments / 2048)
            .clamp(1, segments);
        let per = segments.div_ceil(tasks);
        (0..tasks)
            .map(|t| (t * per, ((t + 1) * per).min(segments)))
            .filter(|(a, b)| a < b)
            .collect()
    }
}

fn check_n(n: u64, max: u64) -> Result<(), KernelError> {
    if n > max {
        return Err(KernelError::OutOfRange(format!(
            "n must be at most {max}; received {n}"
        )));
    }
    Ok(())
}

/// The primes below 7, which the wheel and the pre-sieve leave out of the sieve.
const SMALL: [u32; 3] = [2, 3, 5];

/// π(n): the number of primes <= n, for n up to 2^53 - 1.
pub fn count_primes(n: u64, cancel: &Cancel) -> Result<u64, KernelError> {
    count_primes_with(n, geometry(n), Level::detect(), cancel)
}

fn count_primes_with(
    n: u64,
    geo: Geometry,
    level: Level,
    cancel: &Cancel,
) -> Result<u64, KernelError> {
    check_n(n, MAX_N)?;
    let small = SMALL.iter().filter(|&&p| p as u64 <= n).count() as u64;
    if n < 7 {
        return Ok(small);
    }
    // Progress: numbers sieved (of n; the last segment may count a little past it).
    cancel.set_total(n);
    let sieve = Sieve::new(n, geo, level, cancel)?;
    let count_free = sieve.kernels.count_free;
    let sieved: u64 = sieve
        .runs()
        .into_par_iter()
        .map(|(from, to)| {
            let mut count = 0u64;
            sieve.run(from, to, cancel, |_, seg| {
                cancel.advance(30 * seg.len() as u64);
                count += count_free(seg);
                Ok(())
            })?;
            Ok(count)
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(small + sieved)
}

/// The largest `n` for [`primes`]: the primes are returned as `u32`.
pub const MAX_PRIMES_N: u64 = u32::MAX as u64;

/// An upper bound on the primes in [a, b): 2(b - a) / ln(b - a) for intervals of 17 or more
/// (Montgomery and Vaughan's Brun-Titchmarsh bound), else the interval's length.
fn primes_in_interval_bound(len: u64) -> usize {
    if len < 17 {
        len as usize
    } else {
        (2.0 * len as f64 / (len as f64).ln()) as usize + 1
    }
}

/// Every prime <= n, in order, for n up to 2^32 - 1.
pub fn primes(n: u64, cancel: &Cancel) -> Result<Vec<u32>, KernelError> {
    check_n(n, MAX_PRIMES_N)?;
    let small: Vec<u32> = SMALL.iter().copied().filter(|&p| p as u64 <= n).collect();
    if n < 7 {
        return Ok(small);
    }
    // The result is known to within a small factor before sieving (pi(x) < 1.25506 x / ln x,
    // Rosser and Schoenfeld): a request past the allocation limit fails before the work.
    let estimate = 1.25506 * n as f64 / (n as f64).ln();
    check_allocation(estimate as u128 * 4, "the primes")?;
    cancel.set_total(n);
    let sieve = Sieve::new(n, geometry(n), Level::detect(), cancel)?;
    // Each run's primes; freed in the background (an aborted call returns at once).
    let parts: Vec<FreeLater<u32>> = sieve
        .runs()
        .into_par_iter()
        .map(|(from, to)| {
            let span = sieve.geo.span();
            let numbers = (to * span).min(n + 1) - from * span;
            let mut out = Vec::new();
            try_reserve(&mut out, primes_in_interval_bound(numbers), "the primes")?;
            sieve.run(from, to, cancel, |first_byte, seg| {
                cancel.advance(30 * seg.len() as u64);
                for (w, chunk) in seg.chunks_exact(8).enumerate() {
                    let mut free = !u64::from_le_bytes(chunk.try_into().unwrap());
                    while free != 0 {
                        let b = free.trailing_zeros() as u64;
                        let byte = first_byte + w as u64 * 8 + b / 8;
                        if out.len() == out.capacity() {
                            let more = out.len().max(1024); // past the bound: never expected
                            try_reserve(&mut out, more, "the primes")?;
                        }
                        out.push((30 * byte + RES[(b % 8) as usize]) as u32);
                        free &= free - 1;
                    }
                }
                Ok(())
            })?;
            Ok(FreeLater::new(out))
        })
        .collect::<Result<_, KernelError>>()?;
    // Joined in parallel, each part copied in pieces between abort checks: the result can be
    // 800 MB of fresh pages, hundreds of milliseconds to fill.
    let total = small.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut all = FreeLater::new(try_zeroed_vec::<u32>(total, "the primes")?);
    let (head, mut rest) = all.split_at_mut(small.len());
    head.copy_from_slice(&small);
    let mut places = Vec::with_capacity(parts.len());
    for part in &parts {
        let (place, tail) = rest.split_at_mut(part.len());
        places.push(place);
        rest = tail;
    }
    places
        .into_par_iter()
        .zip(parts.par_iter())
        .try_for_each(|(place, part)| {
            for (to, from) in place.chunks_mut(1 << 18).zip(part.chunks(1 << 18)) {
                cancel.check()?;
                to.copy_from_slice(from);
            }
            Ok::<(), KernelError>(())
        })?;
    Ok(all.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(n: u64) -> Vec<u32> {
        let n = n as usize;
        let mut is = vec![true; n + 1];
        let mut out = Vec::new();
        for i in 2..=n {
            if is[i] {
                out.push(i as u32);
                let mut j = i * i;
                while j <= n {
                    is[j] = false;
                    j += i;
                }
            }
        }
        out
    }

    #[test]
    fn small_and_boundary_values() {
        let c = Cancel::new();
        let by_hand = [
            0, 0, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9,
            10, 10,
        ];
        for (n, want) in by_hand.iter().enumerate() {
            assert_eq!(count_primes(n as u64, &c).unwrap(), *want, "pi({n})");
        }
        let reference = plain(3_000_000);
        let seg_num = geometry(0).span(); // numbers per segment
        let mut ns = vec![
            seg_num - 2,
            seg_num - 1,
            seg_num,
            seg_num + 1,
            2 * seg_num + 1,
            2 * seg_num - 1,
            3 * seg_num + 7,
            30 * 17017 + 1,
            1_999_993,
            2_999_999,
            169,
            168,
            170,
            162,
            163,
            26_568, // 163^2 - 1
            26_569,
            27_888, // 167^2 - 1
            27_889,
        ];
        ns.extend((1..30).map(|k| k * 100_003));
        for n in ns {
            let want = reference.partition_point(|&p| p as u64 <= n);
            assert_eq!(count_primes(n, &c).unwrap() as usize, want, "pi({n})");
            assert_eq!(primes(n, &c).unwrap(), reference[..want], "primes({n})");
        }
    }

    #[test]
    fn every_path_matches_a_plain_sieve() {
        // With the test-sized chunks, primes above the medium limit (3000) are bucketed once
        // n > 3000^2: compare the whole list there, and at a run and segment boundary.
        let c = Cancel::new();
        let (medium, span) = (geometry(0).medium_limit, geometry(0).span());
        assert!(medium * medium < 20_000_000);
        let reference = plain(20_000_000);
        for n in [20_000_000, 19_999_999, medium * medium + 1, 7 * span - 1] {
            let want = reference.partition_point(|&p| p as u64 <= n);
            assert_eq!(primes(n, &c).unwrap(), reference[..want], "primes({n})");
            assert_eq!(count_primes(n, &c).unwrap() as usize, want, "pi({n})");
        }
    }

    #[test]
    fn sieving_primes_match_a_plain_sieve_across_segments() {
        let c = Cancel::new();
        let reference = plain(3_000_000);
        // Around the ends of the first segments (2^15 odd numbers each) and of small limits.
        for limit in [
            0, 1, 2, 3, 4, 8, 9, 25, 1000, 65_535, 65_536, 65_537, 65_539, 3_000_000,
        ] {
            let want: Vec<u32> = reference
                .iter()
                .copied()
                .filter(|&p| p > 2 && p as u64 <= limit)
                .collect();
            assert_eq!(odd_primes_up_to(limit, &c).unwrap(), want, "limit {limit}");
        }
        // pi(94,906,265) = 5,484,598 (primesieve), less the prime 2.
        assert_eq!(
            odd_primes_up_to(94_906_265, &c).unwrap().len(),
            5_484_598 - 1
        );
        let stop = Cancel::new();
        stop.cancel();
        assert!(matches!(
            odd_primes_up_to(1_000_000, &stop),
            Err(KernelError::Aborted)
        ));
    }

    #[test]
    fn every_machine_size_matches_a_plain_sieve() {
        // The sizes machines get (L1 of 16 to 64 KiB), with their own small-prime limits.
        let c = Cancel::new();
        let reference = plain(30_000_000);
        for (chunk, chunks) in [
            (16 << 10, 4),
            (32 << 10, 6),
            (32 << 10, 16),
            (48 << 10, 16),
            (64 << 10, 16),
        ] {
            let geo = Geometry::new(chunk, chunks);
            let ends = [3 * geo.span() + 29, geo.span() + 29, geo.span() - 1];
            for level in Level::available() {
                for n in [30_000_000, 26_569, 27_889, 27_890]
                    .into_iter()
                    .chain(ends.into_iter().filter(|&n| n <= 30_000_000))
                {
                    let want = reference.partition_point(|&p| p as u64 <= n);
                    let got = count_primes_with(n, geo, level, &c).unwrap() as usize;
                    assert_eq!(got, want, "pi({n}) in chunks of {chunk}, {level:?}");
                }
            }
            assert_eq!(
                count_primes_with(1_000_000_000, geo, Level::detect(), &c).unwrap(),
                50_847_534
            );
        }
    }

    #[test]
    fn segment_kernels_agree_with_their_definition_at_every_level() {
        // Random bytes (xorshift), at lengths around the vector widths and odd offsets.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let bytes: Vec<u8> = (0..PRESIEVE.len() * 5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly set bits, as in a sieved segment.
                (x as u8) | ((x >> 8) as u8)
            })
            .collect();
        for level in Level::available() {
            let kernels = SegmentKernels::for_level(level);
            for len in [0, 1, 7, 8, 31, 32, 33, 64, 100, 4095, 4096] {
                let pats: Patterns = std::array::from_fn(|g| &bytes[g * 5000 + g..][..len]);
                let mut out = vec![0u8; len];
                (kernels.or_patterns)(&mut out, &pats);
                let want: Vec<u8> = (0..len)
                    .map(|i| pats.iter().fold(0, |acc, p| acc | p[i]))
                    .collect();
                assert_eq!(out, want, "or_patterns of {len} bytes, {level:?}");
                let seg = &bytes[3..3 + len];
                let zeros: u64 = seg.iter().map(|b| b.count_zeros() as u64).sum();
                assert_eq!((kernels.count_free)(seg), zeros, "{len} bytes, {level:?}");
            }
        }
    }

    #[test]
    fn segments_grow_with_n_within_the_l2_cache() {
        let (k32, k48) = (32 << 10, 48 << 10);
        // Zen 3: 512 KiB of L2 per core, so at most 16 chunks of 32 KiB.
        assert_eq!(segment_chunks(1_000_000_000, k32, Some(512 << 10)), 4);
        assert_eq!(segment_chunks(10_000_000_000, k32, Some(512 << 10)), 6);
        assert_eq!(segment_chunks(30_000_000_000, k32, Some(512 << 10)), 10);
        assert_eq!(segment_chunks(100_000_000_000, k32, Some(512 << 10)), 16);
        // 256 KiB of L2 (Skylake clients): 8 chunks; 1.25 MiB (Ice Lake servers): 1 MiB.
        assert_eq!(segment_chunks(100_000_000_000, k32, Some(256 << 10)), 8);
        assert_eq!(segment_chunks(1 << 52, k48, Some(1280 << 10)), 16);
        assert_eq!(segment_chunks(1 << 52, 64 << 10, Some(1280 << 10)), 16);
        // 2 MiB of L2: at most 16 chunks.
        assert_eq!(segment_chunks(100_000_000_000, k48, Some(2 << 20)), 12);
        assert_eq!(segment_chunks(1 << 52, k48, Some(2 << 20)), 16);
        // Unknown or tiny L2, tiny n: 4 chunks.
        assert_eq!(segment_chunks(1 << 52, k32, None), 4);
        assert_eq!(segment_chunks(1 << 52, k32, Some(64 << 10)), 4);
        assert_eq!(segment_chunks(10, k32, Some(512 << 10)), 4);
        assert_eq!(cpus_in_list("0"), 1);
        assert_eq!(cpus_in_list("0-1"), 2);
        assert_eq!(cpus_in_list("0,4"), 2);
        assert_eq!(cpus_in_list("0-3,8-11"), 8);
        assert_eq!(cpus_in_list(""), 1);
    }

    #[test]
    fn powers_of_ten() {
        let c = Cancel::new();
        let known = [4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534];
        for (k, want) in known.iter().enumerate() {
            assert_eq!(count_primes(10u64.pow(k as u32 + 1), &c).unwrap(), *want);
        }
    }

    #[test]
    fn limits_and_cancel() {
        let c = Cancel::new();
        assert!(count_primes(MAX_N + 1, &c).is_err());
        assert!(primes(MAX_PRIMES_N + 1, &c).is_err());
        let stop = Cancel::new();
        stop.cancel();
        assert!(matches!(
            count_primes(1_000_000_000, &stop),
            Err(KernelError::Aborted)
        ));
    }
}
