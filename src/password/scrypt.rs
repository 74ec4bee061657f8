//! scrypt (RFC 7914), with the cancel flag polled inside ROMix's loops and the p lanes run in
//! parallel on the pool. Our own ROMix over 32-bit words (the RustCrypto `scrypt` crate's
//! cannot be interrupted); PBKDF2-HMAC-SHA256 comes from the `pbkdf2` crate.

use rayon::prelude::*;
use sha2::Sha256;

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError, KernelResult};
use crate::pages::ZeroedBuffer;

/// scrypt's cost parameters: N = 2^log_n, block size r, parallelism p.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptParams {
    pub log_n: u32,
    pub r: u32,
    pub p: u32,
}

/// ROMix polls the cancel flag this often (iterations of 2r Salsa20/8 cores each).
const CANCEL_EVERY: usize = 256;

impl ScryptParams {
    /// `Err` names the first parameter outside RFC 7914's ranges.
    pub fn check(&self) -> KernelResult<()> {
        if self.r == 0 || self.p == 0 {
            return Err(KernelError::OutOfRange(format!(
                "scrypt r and p must be at least 1; got r = {}, p = {}",
                self.r, self.p
            )));
        }
        if (self.r as u64) * (self.p as u64) >= 1 << 30 {
            return Err(KernelError::OutOfRange(format!(
                "scrypt r * p must be below 2^30; got {}",
                self.r as u64 * self.p as u64
            )));
        }
        // N must be above 1 and below 2^(128 r / 8).
        if self.log_n == 0 || self.log_n >= 64 || (self.log_n as u64) >= 16 * self.r as u64 {
            return Err(KernelError::OutOfRange(format!(
                "scrypt N must be a power of two from 2 to below 2^(16 r) = 2^{}; got 2^{}",
                (16 * self.r as u64).min(64),
                self.log_n
            )));
        }
        Ok(())
    }

    /// Bytes of memory one lane takes (the V array): 128 * r * N.
    pub fn lane_bytes(&self) -> u128 {
        128 * self.r as u128 * (1u128 << self.log_n.min(127))
    }
}

// ROMix keeps each 64-byte block in the order of Percival's SSE2 scrypt: word i holds the
// block's word 5i mod 16, so that the 4x4 Salsa matrix's diagonals are vector lanes and a
// round is four vector steps with a lane rotation between.

/// The block word stored at position `i`.
const fn shuffled(i: usize) -> usize {
    i * 5 % 16
}

/// Salsa20/8's core (RFC 7914 section 3) on a block in the shuffled order, in place: the
/// portable code (what arm64 runs; the compiler vectorises it there).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn salsa20_8(block: &mut [u32; 16]) {
    salsa20_8_portable(block)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn salsa20_8_portable(block: &mut [u32; 16]) {
    let mut x = [0u32; 16];
    for (i, word) in block.iter().enumerate() {
        x[shuffled(i)] = *word;
    }
    let input = x;
    macro_rules! quarter {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$b] ^= x[$a].wrapping_add(x[$d]).rotate_left(7);
            x[$c] ^= x[$b].wrapping_add(x[$a]).rotate_left(9);
            x[$d] ^= x[$c].wrapping_add(x[$b]).rotate_left(13);
            x[$a] ^= x[$d].wrapping_add(x[$c]).rotate_left(18);
        };
    }
    for _ in 0..4 {
        quarter!(0, 4, 8, 12);
        quarter!(5, 9, 13, 1);
        quarter!(10, 14, 2, 6);
        quarter!(15, 3, 7, 11);
        quarter!(0, 1, 2, 3);
        quarter!(5, 6, 7, 4);
        quarter!(10, 11, 8, 9);
        quarter!(15, 12, 13, 14);
    }
    for (i, word) in block.iter_mut().enumerate() {
        *word = x[shuffled(i)].wrapping_add(input[shuffled(i)]);
    }
}

/// Salsa20/8 in SSE2 (the x86-64 baseline): rows of the shuffled block are the diagonals.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn salsa20_8(block: &mut [u32; 16]) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; the pointers cover the 16 words of `block`.
    unsafe {
        let p = block.as_mut_ptr() as *mut __m128i;
        let b = [
            _mm_loadu_si128(p),
            _mm_loadu_si128(p.add(1)),
            _mm_loadu_si128(p.add(2)),
            _mm_loadu_si128(p.add(3)),
        ];
        let [mut x0, mut x1, mut x2, mut x3] = b;
        macro_rules! step {
            ($target:ident, $a:ident, $b:ident, $left:literal) => {
                let t = _mm_add_epi32($a, $b);
                $target = _mm_xor_si128($target, _mm_slli_epi32(t, $left));
                $target = _mm_xor_si128($target, _mm_srli_epi32(t, 32 - $left));
            };
        }
        for _ in 0..4 {
            step!(x1, x0, x3, 7);
            step!(x2, x1, x0, 9);
            step!(x3, x2, x1, 13);
            step!(x0, x3, x2, 18);
            x1 = _mm_shuffle_epi32(x1, 0x93);
            x2 = _mm_shuffle_epi32(x2, 0x4e);
            x3 = _mm_shuffle_epi32(x3, 0x39);
            step!(x3, x0, x1, 7);
            step!(x2, x3, x0, 9);
            step!(x1, x2, x3, 13);
            step!(x0, x1, x2, 18);
            x1 = _mm_shuffle_epi32(x1, 0x39);
            x2 = _mm_shuffle_epi32(x2, 0x4e);
            x3 = _mm_shuffle_epi32(x3, 0x93);
        }
        _mm_storeu_si128(p, _mm_add_epi32(b[0], x0));
        _mm_storeu_si128(p.add(1), _mm_add_epi32(b[1], x1));
        _mm_storeu_si128(p.add(2), _mm_add_epi32(b[2], x2));
        _mm_storeu_si128(p.add(3), _mm_add_epi32(b[3], x3));
    }
}

/// BlockMix (section 4): `input` and `output` are 2r blocks of 16 words (shuffled order).
#[inline(always)]
fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x: [u32; 16] = input[(2 * r - 1) * 16..].try_into().unwrap();
    for (i, block) in input.chunks_exact(16).enumerate() {
        for (a, b) in x.iter_mut().zip(block) {
            *a ^= b;
        }
        salsa20_8(&mut x);
        let to = if i % 2 == 0 { i / 2 } else { r + i / 2 };
        output[to * 16..to * 16 + 16].copy_from_slice(&x);
    }
}

/// ROMix (section 5) on one lane's 128 r bytes, in place.
fn ro_mix(lane: &mut [u8], log_n: u32, r: usize, cancel: &Cancel) -> KernelResult<()> {
    let words = 32 * r;
    let n = 1usize << log_n;
    let mut v = ZeroedBuffer::<u32>::reusable(
        n.checked_mul(words).ok_or_else(|| {
            KernelError::OutOfMemory("the scrypt memory does not fit in this process".into())
        })?,
        "the scrypt memory",
    )?;
    let mixed = mix_with(lane, &mut v, log_n, r, cancel);
    if mixed.is_err() {
        // Aborted: the call ends now, the memory is unmapped on the reaper's thread.
        crate::reaper::drop_in_background(v);
    }
    mixed
}

fn mix_with(
    lane: &mut [u8],
    v: &mut [u32],
    log_n: u32,
    r: usize,
    cancel: &Cancel,
) -> KernelResult<()> {
    let words = 32 * r;
    let n = 1usize << log_n;
    let mut x = vec![0u32; words];
    let mut t = vec![0u32; words];
    for (i, word) in x.iter_mut().enumerate() {
        let at = (i & !15) + shuffled(i & 15);
        *word = u32::from_le_bytes(lane[at * 4..at * 4 + 4].try_into().unwrap());
    }
    for (i, slot) in v.chunks_exact_mut(words).enumerate() {
        if i % CANCEL_EVERY == 0 {
            cancel.check()?;
            cancel.advance(CANCEL_EVERY.min(n) as u64);
        }
        slot.copy_from_slice(&x);
        block_mix(slot, &mut x, r);
    }
    let last = (2 * r - 1) * 16;
    for i in 0..n {
        if i % CANCEL_EVERY == 0 {
            cancel.check()?;
            cancel.advance(CANCEL_EVERY.min(n) as u64);
        }
        // Integerify: the last block's words 0 and 1 (stored at 0 and 13).
        let j = ((x[last] as u64 | (x[last + 13] as u64) << 32) & (n as u64 - 1)) as usize;
        for ((t, x), v) in t.iter_mut().zip(&x).zip(&v[j * words..(j + 1) * words]) {
            *t = x ^ v;
        }
        block_mix(&t, &mut x, r);
    }
    for (i, word) in x.iter().enumerate() {
        let at = (i & !15) + shuffled(i & 15);
        lane[at * 4..at * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Ok(())
}

/// Fills `out` with scrypt(password, salt, N, r, p).
pub fn scrypt(
    params: &ScryptParams,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    cancel: &Cancel,
) -> KernelResult<()> {
    params.check()?;
    if out.is_empty() {
        return Err(KernelError::OutOfRange(
            "scrypt hashLength must be at least 1".into(),
        ));
    }
    let r = params.r as usize;
    let lane_bytes = 128 * r;
    crate::error::check_allocation(params.lane_bytes(), "the scrypt memory")?;
    let mut b: Vec<u8> = try_zeroed_vec(lane_bytes * params.p as usize, "the scrypt state")?;
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, 1, &mut b);
    cancel.set_total(2 * params.p as u64 * (1u64 << params.log_n));
    if params.p == 1 {
        ro_mix(&mut b, params.log_n, r, cancel)?;
    } else {
        b.par_chunks_mut(lane_bytes)
            .try_for_each(|lane| ro_mix(lane, params.log_n, r, cancel))?;
    }
    pbkdf2::pbkdf2_hmac::<Sha256>(password, &b, 1, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn run(password: &[u8], salt: &[u8], log_n: u32, r: u32, p: u32) -> String {
        let mut out = [0u8; 64];
        scrypt(
            &ScryptParams { log_n, r, p },
            password,
            salt,
            &mut out,
            &Cancel::new(),
        )
        .unwrap();
        hex(&out)
    }

    /// RFC 7914 section 12 (the fourth vector, N = 2^20, is left to the JS tests' comparison
    /// with node:crypto).
    #[test]
    fn rfc_7914_vectors() {
        assert_eq!(
            run(b"", b"", 4, 1, 1),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
             fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
        assert_eq!(
            run(b"password", b"NaCl", 10, 8, 16),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
             2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
        assert_eq!(
            run(b"pleaseletmein", b"SodiumChloride", 14, 8, 1),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2\
             d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
        );
    }

    #[test]
    fn the_portable_core_equals_the_vector_one() {
        let mut seed = 0x9e37_79b9u32;
        for _ in 0..200 {
            let block: [u32; 16] = std::array::from_fn(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed
            });
            let (mut a, mut b) = (block, block);
            salsa20_8(&mut a);
            salsa20_8_portable(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn parameters_outside_the_rfc_are_refused() {
        for (log_n, r, p) in [
            (0, 8, 1),
            (16, 1, 1),
            (10, 0, 1),
            (10, 8, 0),
            (10, 1 << 15, 1 << 15),
        ] {
            let mut out = [0u8; 32];
            assert!(
                matches!(
                    scrypt(
                        &ScryptParams { log_n, r, p },
                        b"",
                        b"salt",
                        &mut out,
                        &Cancel::new()
                    ),
                    Err(KernelError::OutOfRange(_))
                ),
                "{log_n} {r} {p}"
            );
        }
    }

    #[test]
    fn a_cancelled_hash_stops() {
        let cancel = Cancel::new();
        cancel.cancel();
        let mut out = [0u8; 32];
        assert!(matches!(
            scrypt(
                &ScryptParams {
                    log_n: 14,
                    r: 8,
                    p: 2
                },
                b"pw",
                b"salt",
                &mut out,
                &cancel
            ),
            Err(KernelError::Aborted)
        ));
    }
}
