//! scrypt (RFC 7914), with the cancel flag polled inside ROMix's loops and the p lanes run in
//! parallel on the pool. Our own ROMix over 32-bit words (the RustCrypto `scrypt` crate's
//! cannot be interrupted); PBKDF2-HMAC-SHA256 comes from the `pbkdf2` crate.

use rayon::prelude::*;
use sha2::Sha256;

use crate::cancel::Cancel;
use crate::error::{try_zeroed_vec, KernelError, KernelResult};

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

/// Salsa20/8's core (RFC 7914 section 3), in place.
#[inline(always)]
fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
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
    for (word, mixed) in b.iter_mut().zip(x) {
        *word = word.wrapping_add(mixed);
    }
}

/// BlockMix (section 4): `input` and `output` are 2r blocks of 16 words.
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
    let mut v: Vec<u32> = try_zeroed_vec(
        n.checked_mul(words).ok_or_else(|| {
            KernelError::OutOfMemory("the scrypt memory does not fit in this process".into())
        })?,
        "the scrypt memory",
    )?;
    let mut x = vec![0u32; words];
    let mut t = vec![0u32; words];
    for (word, bytes) in x.iter_mut().zip(lane.chunks_exact(4)) {
        *word = u32::from_le_bytes(bytes.try_into().unwrap());
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
        let j = ((x[last] as u64 | (x[last + 1] as u64) << 32) & (n as u64 - 1)) as usize;
        for ((t, x), v) in t.iter_mut().zip(&x).zip(&v[j * words..(j + 1) * words]) {
            *t = x ^ v;
        }
        block_mix(&t, &mut x, r);
    }
    for (bytes, word) in lane.chunks_exact_mut(4).zip(&x) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
    crate::reaper::drop_in_background(v);
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
