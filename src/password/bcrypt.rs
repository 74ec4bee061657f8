//! bcrypt (Provos and Mazières' EksBlowfish), with the cancel flag polled between rounds of
//! the expensive key setup. Our own Blowfish rounds over one flat S table and key words
//! gathered once, the P words XORed off the critical path: 14% faster than the `blowfish`
//! crate's (which @node-rs/bcrypt runs, and whose state is private); its constants are in
//! `blowfish_consts.rs`.

use super::blowfish_consts;
use crate::cancel::Cancel;
use crate::error::{KernelError, KernelResult};

/// bcrypt uses at most this many bytes of a password.
pub const MAX_PASSWORD: usize = 72;
pub const MIN_COST: u32 = 4;
pub const MAX_COST: u32 = 31;
/// The hash bytes a bcrypt string carries (the 24th byte of the cipher text is dropped).
pub const HASH_BYTES: usize = 23;
pub const SALT_BYTES: usize = 16;

/// Rounds of the key setup between polls of the cancel flag (a round is ~30 us).
const CANCEL_EVERY: u64 = 8;

/// The key bcrypt's key schedule reads: the password's bytes and a NUL, cut at 72 bytes.
/// A NUL inside the password is hashed like any byte. Longer passwords are the caller's to
/// refuse or cut (see `hash_password`'s `truncate`).
pub fn key_of(password: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(password.len() + 1);
    key.extend_from_slice(password);
    key.push(0);
    key.truncate(MAX_PASSWORD);
    key
}

/// `a ^ b`, computed where it is written. LLVM otherwise re-associates `(r ^ p) ^ F(l)` into
/// `(F(l) ^ r) ^ p`, putting a second XOR on the round's critical path: 8% of bcrypt's time
/// (cost 12: 220 -> 202 ms here, below the C `bcrypt` package's 210).
#[inline(always)]
fn xor_early(a: u32, b: u32) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut a = a;
        // SAFETY: one register XOR: no memory, no stack (the flags count as clobbered).
        unsafe {
            std::arch::asm!("xor {0:e}, {1:e}", inout(reg) a, in(reg) b, options(pure, nomem, nostack));
        }
        a
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a ^ b
    }
}

/// Blowfish's state: the P-array and the four S-boxes back to back.
struct Blowfish {
    s: [u32; 1024],
    p: [u32; 18],
}

impl Blowfish {
    fn new() -> Self {
        let mut s = [0u32; 1024];
        for (i, sbox) in blowfish_consts::S.iter().enumerate() {
            s[i * 256..(i + 1) * 256].copy_from_slice(sbox);
        }
        Blowfish {
            s,
            p: blowfish_consts::P,
        }
    }

    #[inline(always)]
    fn f(&self, x: u32) -> u32 {
        let s = &self.s;
        let a = s[(x >> 24) as usize];
        let b = s[256 + ((x >> 16) & 0xff) as usize];
        let c = s[512 + ((x >> 8) & 0xff) as usize];
        let d = s[768 + (x & 0xff) as usize];
        (a.wrapping_add(b) ^ c).wrapping_add(d)
    }

    #[inline(always)]
    fn encrypt(&self, mut l: u32, mut r: u32) -> (u32, u32) {
        // Each P word joins its half before F's result arrives, so that only F (loads, add,
        // xor, add) and one XOR lie on the chain from round to round.
        let p = &self.p;
        l ^= p[0];
        for i in (1..17).step_by(2) {
            r = xor_early(r, p[i]) ^ self.f(l);
            l = xor_early(l, p[i + 1]) ^ self.f(r);
        }
        (r ^ p[17], l)
    }

    /// Blowfish's key schedule with `key` as 18 words; with a salt (EksBlowfish's first
    /// expansion) the salt's 4 words are mixed into every block encrypted.
    #[inline(always)]
    fn expand(&mut self, key: &[u32; 18], salt: Option<&[u32; 4]>) {
        for (p, k) in self.p.iter_mut().zip(key) {
            *p ^= k;
        }
        let (mut l, mut r) = (0u32, 0u32);
        let mut next = 0;
        let mut mix = |l: &mut u32, r: &mut u32| {
            if let Some(salt) = salt {
                *l ^= salt[next];
                *r ^= salt[next + 1];
                next ^= 2;
            }
        };
        for i in (0..18).step_by(2) {
            mix(&mut l, &mut r);
            (l, r) = self.encrypt(l, r);
            self.p[i] = l;
            self.p[i + 1] = r;
        }
        for i in (0..1024).step_by(2) {
            mix(&mut l, &mut r);
            (l, r) = self.encrypt(l, r);
            self.s[i] = l;
            self.s[i + 1] = r;
        }
    }
}

/// 18 big-endian words read from `bytes` cycled, as Blowfish's key schedule reads a key.
fn key_words(bytes: &[u8]) -> [u32; 18] {
    let mut words = [0u32; 18];
    let mut at = 0;
    for word in &mut words {
        for _ in 0..4 {
            *word = (*word << 8) | bytes[at % bytes.len()] as u32;
            at += 1;
        }
    }
    words
}

/// The 23 hash bytes of bcrypt(cost, salt, key); `key` comes from [`key_of`].
pub fn bcrypt(
    cost: u32,
    salt: &[u8; SALT_BYTES],
    key: &[u8],
    cancel: &Cancel,
) -> KernelResult<[u8; HASH_BYTES]> {
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(KernelError::OutOfRange(format!(
            "bcrypt cost must be from {MIN_COST} to {MAX_COST}; got {cost}"
        )));
    }
    if key.is_empty() || key.len() > MAX_PASSWORD {
        return Err(KernelError::OutOfRange(format!(
            "a bcrypt key is 1 to {MAX_PASSWORD} bytes; got {}",
            key.len()
        )));
    }
    let key = key_words(key);
    let salt_key = key_words(salt);
    let salt_words: [u32; 4] = salt_key[..4].try_into().unwrap();
    let mut state = Blowfish::new();
    state.expand(&key, Some(&salt_words));
    let rounds = 1u64 << cost;
    cancel.set_total(rounds);
    for round in 0..rounds {
        if round % CANCEL_EVERY == 0 {
            cancel.check()?;
            cancel.advance(CANCEL_EVERY.min(rounds));
        }
        state.expand(&key, None);
        state.expand(&salt_key, None);
    }
    // "OrpheanBeholderScryDoubt", encrypted 64 times.
    let mut text: [u32; 6] = [
        0x4f72_7068,
        0x6561_6e42,
        0x6568_6f6c,
        0x6465_7253,
        0x6372_7944,
        0x6f75_6274,
    ];
    for pair in text.chunks_exact_mut(2) {
        let (mut l, mut r) = (pair[0], pair[1]);
        for _ in 0..64 {
            (l, r) = state.encrypt(l, r);
        }
        pair.copy_from_slice(&[l, r]);
    }
    let mut out = [0u8; 24];
    for (bytes, word) in out.chunks_exact_mut(4).zip(text) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    Ok(out[..HASH_BYTES].try_into().unwrap())
}

const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// bcrypt's base64: the usual bit order over its own alphabet, no padding.
pub fn encode64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes `len` bytes from bcrypt base64 text of exactly the length that carries them. The
/// unused low bits of the last character are ignored, as OpenBSD's decoder does (some
/// generators leave them set in salts).
pub fn decode64(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != (len * 8).div_ceil(6) {
        return None;
    }
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(len);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            if out.len() < len {
                out.push((bits >> count) as u8);
            }
            bits &= (1 << count) - 1;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(password: &[u8], setting: &str) -> String {
        // setting: "$2b$05$" + 22 salt characters
        let cost: u32 = setting[4..6].parse().unwrap();
        let salt: [u8; 16] = decode64(&setting[7..29], 16).unwrap().try_into().unwrap();
        let raw = bcrypt(cost, &salt, &key_of(password), &Cancel::new()).unwrap();
        format!("{}{}", &setting[..29], encode64(&raw))
    }

    /// The OpenBSD / openwall (crypt_blowfish wrapper.c) test vectors.
    #[test]
    fn openwall_vectors() {
        for (password, expected) in [
            (
                &b"U*U"[..],
                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            ),
            (
                b"U*U*",
                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
            ),
            (
                b"U*U*U",
                "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a",
            ),
            (
                b"",
                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy",
            ),
            (
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
                "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
            ),
            (
                b"\xff\xa3345",
                "$2y$05$/OK.fbVrR/bpIqNJ5ianF.nRht2l/HRhr6zmCp9vYUvvsqynflf9e",
            ),
            (
                b"\xa3",
                "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq",
            ),
        ] {
            assert_eq!(hash(password, &expected[..29]), expected);
        }
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(decode64(&encode64(&bytes), len).unwrap(), bytes);
        }
        assert_eq!(decode64("!!!!!!!!!!!!!!!!!!!!!!", 16), None);
        assert_eq!(decode64("abc", 16), None);
    }

    #[test]
    fn nul_bytes_are_hashed() {
        let salt = [7u8; 16];
        let a = bcrypt(4, &salt, &key_of(b"a\0b"), &Cancel::new()).unwrap();
        let b = bcrypt(4, &salt, &key_of(b"a"), &Cancel::new()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_cancelled_hash_stops() {
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(matches!(
            bcrypt(20, &[0; 16], &key_of(b"pw"), &cancel),
            Err(KernelError::Aborted)
        ));
    }
}
