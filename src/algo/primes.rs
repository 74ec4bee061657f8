//! `countPrimes` and `primes`: a segmented sieve of Eratosthenes over the rayon pool.
//!
//! Only odd numbers are stored, one bit each (bit i of the sieve stands for 2i + 1), in
//! segments of 32 KiB that stay in L1. Each segment starts as a copy of a precomputed pattern
//! with the multiples of 3, 5, 7, 11 and 13 already crossed off (a small wheel). Primes up to
//! the segment span are crossed off segment by segment; larger primes, which hit a segment at
//! most once, wait in buckets keyed by the segment they hit next (bucket sieving), so a segment
//! only touches the primes that hit it. Contiguous runs of segments go to separate rayon tasks,
//! each with its own state. Memory is bounded by the segment size and sqrt(n), not by n.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::{try_reserve, KernelError};

const SEG_WORDS: usize = 4096;
/// Odd numbers per segment (32 KiB of bits).
const SEG_BITS: u64 = SEG_WORDS as u64 * 64;
/// The primes whose multiples the pattern removes, and the pattern's period in bits (and words).
const WHEEL: [u64; 5] = [3, 5, 7, 11, 13];
const PERIOD: usize = 3 * 5 * 7 * 11 * 13;

/// The largest `n` accepted: `Number.MAX_SAFE_INTEGER`.
pub const MAX_N: u64 = (1 << 53) - 1;

/// Words with the multiples of the wheel primes set; word w of any segment is
/// `pattern[w_global % PERIOD]`. Long enough to copy a whole segment from any phase.
fn pattern() -> &'static [u64] {
    static PATTERN: OnceLock<Vec<u64>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..PERIOD + SEG_WORDS)
            .map(|w| {
                let mut word = 0u64;
                for b in 0..64 {
                    let g = w as u64 * 64 + b;
                    // bit g stands for 2g + 1, a multiple of p when g = (p - 1) / 2 mod p
                    if WHEEL.iter().any(|p| g % p == (p - 1) / 2) {
                        word |= 1 << b;
                    }
                }
                word
            })
            .collect()
    })
}

/// Odd primes up to `limit`, by a plain sieve (limit is at most sqrt(2^53), about 9.5e7).
fn odd_primes_up_to(limit: u64) -> Vec<u32> {
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

/// The sieve of the odd numbers up to `n`: bit indices `0..=last`, where `last = (n - 1) / 2`.
struct Sieve {
    last: u64,
    /// Odd primes up to sqrt(n) not removed by the pattern.
    sieving: Vec<u32>,
}

impl Sieve {
    fn new(n: u64) -> Self {
        let sieving = odd_primes_up_to(isqrt(n))
            .into_iter()
            .filter(|&p| p > 13)
            .collect();
        Sieve {
            last: (n - 1) / 2,
            sieving,
        }
    }

    fn segments(&self) -> u64 {
        self.last / SEG_BITS + 1
    }

    /// Sieves segments `from..to`, calling `visit(segment, words)` with each one's words, where
    /// a set bit marks a composite (or 1); bits past `last` are set too.
    fn run(
        &self,
        from: u64,
        to: u64,
        cancel: &Cancel,
        mut visit: impl FnMut(u64, &[u64]),
    ) -> Result<(), KernelError> {
        let base = from * SEG_BITS; // first bit index of this run
        let split = self.sieving.partition_point(|&p| (p as u64) <= SEG_BITS);
        let (medium, large) = self.sieving.split_at(split);
        // The first multiple at or after `base` to cross off, as a bit index: p * p or later.
        let first = |p: u64| -> u64 {
            let start_num = 2 * base + 1;
            let mut m = start_num.div_ceil(p).max(p) * p;
            if m.is_multiple_of(2) {
                m += p;
            }
            (m - 1) / 2
        };
        // Medium primes: the offset of the next multiple from the current segment's start.
        let mut next: Vec<u64> = medium.iter().map(|&p| first(p as u64) - base).collect();
        // Large primes: bucket k % ring holds (prime, offset) pairs that hit segment k next.
        let ring = (large.last().copied().unwrap_or(0) as u64 / SEG_BITS + 2) as usize;
        let mut buckets: Vec<Vec<(u32, u32)>> = vec![Vec::new(); ring];
        let end_bit = to * SEG_BITS;
        for &p in large {
            let f = first(p as u64);
            if f < end_bit {
                buckets[((f / SEG_BITS) % ring as u64) as usize].push((p, (f % SEG_BITS) as u32));
            }
        }
        let pattern = pattern();
        let mut words = vec![0u64; SEG_WORDS];
        for seg in from..to {
            cancel.check()?;
            let seg_base = seg * SEG_BITS;
            let phase = ((seg_base / 64) % PERIOD as u64) as usize;
            words.copy_from_slice(&pattern[phase..phase + SEG_WORDS]);
            if seg == 0 {
                words[0] |= 1; // 1 is not prime
                for p in WHEEL {
                    let g = (p - 1) / 2; // the wheel primes themselves are
                    words[(g / 64) as usize] &= !(1 << (g % 64));
                }
            }
            for (p, off) in medium.iter().zip(next.iter_mut()) {
                let p = *p as u64;
                let mut j = *off;
                while j < SEG_BITS {
                    words[(j / 64) as usize] |= 1 << (j % 64);
                    j += p;
                }
                *off = j - SEG_BITS;
            }
            // A large prime advances by 1 to ring - 2 segments, so it never lands back in the
            // slot being drained: the drained vector can be reused as is.
            let slot = (seg % ring as u64) as usize;
            let mut hits = std::mem::take(&mut buckets[slot]);
            for &(p, off) in &hits {
                words[(off / 64) as usize] |= 1 << (off % 64);
                let n = seg_base + off as u64 + p as u64;
                if n < end_bit {
                    buckets[((n / SEG_BITS) % ring as u64) as usize]
                        .push((p, (n % SEG_BITS) as u32));
                }
            }
            debug_assert!(buckets[slot].is_empty());
            hits.clear();
            buckets[slot] = hits;
            if seg_base + SEG_BITS > self.last + 1 {
                // mark the bits past `last`
                let valid = self.last + 1 - seg_base;
                for (w, word) in words.iter_mut().enumerate() {
                    let lo = w as u64 * 64;
                    if lo >= valid {
                        *word = u64::MAX;
                    } else if lo + 64 > valid {
                        *word |= u64::MAX << (valid - lo);
                    }
                }
            }
            visit(seg, &words);
        }
        Ok(())
    }

    /// Splits the segments into runs for parallel tasks: a few per thread, and not so many
    /// that re-initialising the bucket state for each run costs more than sieving it.
    fn runs(&self) -> Vec<(u64, u64)> {
        let segments = self.segments();
        let tasks = (rayon::current_num_threads() as u64 * 8)
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

/// π(n): the number of primes <= n, for n up to 2^53 - 1.
pub fn count_primes(n: u64, cancel: &Cancel) -> Result<u64, KernelError> {
    check_n(n, MAX_N)?;
    if n < 2 {
        return Ok(0);
    }
    let sieve = Sieve::new(n);
    let odd: u64 = sieve
        .runs()
        .into_par_iter()
        .map(|(from, to)| {
            let mut count = 0u64;
            sieve.run(from, to, cancel, |_, words| {
                count += words.iter().map(|w| (!w).count_ones() as u64).sum::<u64>();
            })?;
            Ok(count)
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(odd + 1) // and 2
}

/// The largest `n` for [`primes`]: the primes are returned as `u32`.
pub const MAX_PRIMES_N: u64 = u32::MAX as u64;

/// Every prime <= n, in order, for n up to 2^32 - 1.
pub fn primes(n: u64, cancel: &Cancel) -> Result<Vec<u32>, KernelError> {
    check_n(n, MAX_PRIMES_N)?;
    if n < 2 {
        return Ok(Vec::new());
    }
    let sieve = Sieve::new(n);
    let parts: Vec<Vec<u32>> = sieve
        .runs()
        .into_par_iter()
        .map(|(from, to)| {
            let mut out = Vec::new();
            sieve.run(from, to, cancel, |seg, words| {
                for (w, &word) in words.iter().enumerate() {
                    let mut free = !word;
                    while free != 0 {
                        let b = free.trailing_zeros() as u64;
                        out.push((2 * (seg * SEG_BITS + w as u64 * 64 + b) + 1) as u32);
                        free &= free - 1;
                    }
                }
            })?;
            Ok(out)
        })
        .collect::<Result<_, KernelError>>()?;
    let total = 1 + parts.iter().map(Vec::len).sum::<usize>();
    let mut all = Vec::new();
    try_reserve(&mut all, total, "the primes")?;
    all.push(2);
    for p in parts {
        all.extend_from_slice(&p);
    }
    Ok(all)
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
        let seg_num = 2 * SEG_BITS; // numbers per segment
        let mut ns = vec![
            seg_num - 2,
            seg_num - 1,
            seg_num,
            seg_num + 1,
            2 * seg_num + 1,
            1_999_993,
            2_999_999,
            169,
            168,
            170,
        ];
        ns.extend((1..30).map(|k| k * 100_003));
        for n in ns {
            let want = reference.partition_point(|&p| p as u64 <= n);
            assert_eq!(count_primes(n, &c).unwrap() as usize, want, "pi({n})");
            assert_eq!(primes(n, &c).unwrap(), reference[..want], "primes({n})");
        }
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
