//! Argon2 (RFC 9106): argon2d, argon2i and argon2id, versions 0x10 and 0x13.
//!
//! Our own fill loop rather than a crate's, for three things no crate offers together: the
//! cancel flag is polled inside every segment (an aborted hash of 1 GiB stops within a
//! millisecond, not after seconds), the memory is allocated fallibly under the allocation
//! limit, and parallel lanes run on offload's pool. The compression function is compiled for
//! AVX2 and AVX-512 as well as the baseline and picked at run time (`crate::simd`), as the
//! RustCrypto `argon2` crate does for AVX2; `npm run bench:native -- password` compares the two.

use blake2b_simd::Params as Blake2bParams;
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::error::{KernelError, KernelResult, Zeroable};
use crate::pages::ZeroedBuffer;
use crate::simd::Level;

/// The three variants; the numbers are RFC 9106's type field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Argon2d = 0,
    Argon2i = 1,
    Argon2id = 2,
}

impl Variant {
    /// The PHC identifier: `argon2d`, `argon2i`, `argon2id`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Argon2d => "argon2d",
            Variant::Argon2i => "argon2i",
            Variant::Argon2id => "argon2id",
        }
    }
}

/// Version 1.3 (0x13) is the current one; 1.0 (0x10) is read for old hashes.
pub const VERSION_13: u32 = 0x13;
pub const VERSION_10: u32 = 0x10;

/// Argon2's cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub variant: Variant,
    pub version: u32,
    /// Memory in KiB (1 KiB blocks); at least 8 per lane.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub passes: u32,
    /// Lanes, computed in parallel.
    pub lanes: u32,
}

/// The largest lane count RFC 9106 allows (2^24 - 1).
pub const MAX_LANES: u32 = (1 << 24) - 1;
/// Tags shorter than 4 bytes are not Argon2.
pub const MIN_TAG: usize = 4;

impl Argon2Params {
    /// `Err` names the first parameter outside RFC 9106's ranges.
    pub fn check(&self) -> KernelResult<()> {
        if self.version != VERSION_10 && self.version != VERSION_13 {
            return Err(KernelError::OutOfRange(format!(
                "argon2 version must be 16 (0x10) or 19 (0x13); got {}",
                self.version
            )));
        }
        if self.lanes == 0 || self.lanes > MAX_LANES {
            return Err(KernelError::OutOfRange(format!(
                "argon2 parallelism must be from 1 to {MAX_LANES}; got {}",
                self.lanes
            )));
        }
        if self.passes == 0 {
            return Err(KernelError::OutOfRange(
                "argon2 timeCost must be at least 1".into(),
            ));
        }
        if (self.memory_kib as u64) < 8 * self.lanes as u64 {
            return Err(KernelError::OutOfRange(format!(
                "argon2 memoryCost must be at least 8 KiB per lane ({} KiB for parallelism {}); got {}",
                8 * self.lanes as u64,
                self.lanes,
                self.memory_kib
            )));
        }
        Ok(())
    }

    /// The blocks actually used: memory rounded down to a multiple of 4 lanes' segments.
    pub fn block_count(&self) -> usize {
        let sync = 4 * self.lanes as usize;
        self.memory_kib as usize / sync * sync
    }

    /// Bytes of memory one hash takes.
    pub fn memory_bytes(&self) -> u64 {
        self.block_count() as u64 * BLOCK_BYTES as u64
    }
}

const BLOCK_WORDS: usize = 128;
const BLOCK_BYTES: usize = BLOCK_WORDS * 8;
const SYNC_POINTS: usize = 4;
/// The fill loop polls the cancel flag this often (blocks); a block takes about 0.3 us.
const CANCEL_EVERY: usize = 512;

/// One 1 KiB memory block.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u64; BLOCK_WORDS]);

// SAFETY: an all-zero block is a valid block.
unsafe impl Zeroable for Block {}

impl Block {
    const ZERO: Block = Block([0; BLOCK_WORDS]);

    fn from_bytes(bytes: &[u8; BLOCK_BYTES]) -> Block {
        let mut block = Block::ZERO;
        for (word, chunk) in block.0.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().unwrap());
        }
        block
    }

    fn to_bytes(self) -> [u8; BLOCK_BYTES] {
        let mut bytes = [0u8; BLOCK_BYTES];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    fn xor_with(&mut self, other: &Block) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a ^= b;
        }
    }
}

const LOW32: u64 = 0xffff_ffff;

/// BLAKE2b's G with Argon2's multiplication (BlaMka), on four words named as places (array
/// elements), so that the compiler sees the four independent columns of a round side by side
/// and vectorises them.
macro_rules! blamka {
    ($a:expr, $b:expr, $c:expr, $d:expr) => {
        $a = $a
            .wrapping_add($b)
            .wrapping_add(2u64.wrapping_mul(($a & LOW32) * ($b & LOW32)));
        $d = ($d ^ $a).rotate_right(32);
        $c = $c
            .wrapping_add($d)
            .wrapping_add(2u64.wrapping_mul(($c & LOW32) * ($d & LOW32)));
        $b = ($b ^ $c).rotate_right(24);
        $a = $a
            .wrapping_add($b)
            .wrapping_add(2u64.wrapping_mul(($a & LOW32) * ($b & LOW32)));
        $d = ($d ^ $a).rotate_right(16);
        $c = $c
            .wrapping_add($d)
            .wrapping_add(2u64.wrapping_mul(($c & LOW32) * ($d & LOW32)));
        $b = ($b ^ $c).rotate_right(63);
    };
}

/// The permutation P: a BLAKE2b round (columns, then diagonals) over 16 words.
macro_rules! permute {
    ($v0:expr, $v1:expr, $v2:expr, $v3:expr, $v4:expr, $v5:expr, $v6:expr, $v7:expr,
     $v8:expr, $v9:expr, $v10:expr, $v11:expr, $v12:expr, $v13:expr, $v14:expr, $v15:expr) => {
        blamka!($v0, $v4, $v8, $v12);
        blamka!($v1, $v5, $v9, $v13);
        blamka!($v2, $v6, $v10, $v14);
        blamka!($v3, $v7, $v11, $v15);
        blamka!($v0, $v5, $v10, $v15);
        blamka!($v1, $v6, $v11, $v12);
        blamka!($v2, $v7, $v8, $v13);
        blamka!($v3, $v4, $v9, $v14);
    };
}

/// G(x, y) of RFC 9106 section 3.5: P over the rows of x XOR y, then over its columns, XORed
/// with x XOR y again.
#[inline(always)]
fn compress_generic(x: &Block, y: &Block) -> Block {
    let mut r = *x;
    r.xor_with(y);
    let mut q = r;
    for row in q.0.chunks_exact_mut(16) {
        permute!(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
            row[10], row[11], row[12], row[13], row[14], row[15]
        );
    }
    let q = &mut q.0;
    for b in (0..16).step_by(2) {
        permute!(
            q[b],
            q[b + 1],
            q[b + 16],
            q[b + 17],
            q[b + 32],
            q[b + 33],
            q[b + 48],
            q[b + 49],
            q[b + 64],
            q[b + 65],
            q[b + 80],
            q[b + 81],
            q[b + 96],
            q[b + 97],
            q[b + 112],
            q[b + 113]
        );
    }
    let mut out = Block(*q);
    out.xor_with(&r);
    out
}

/// A segment's work, compiled once per instruction-set level so that `compress_generic`
/// inlines into it with that level's instructions.
#[derive(Clone, Copy)]
struct Position {
    pass: usize,
    lane: usize,
    slice: usize,
}

struct Geometry {
    variant: Variant,
    version: u32,
    passes: usize,
    lanes: usize,
    lane_length: usize,
    segment_length: usize,
    block_count: usize,
}

/// The memory, shared by the lanes of one slice. RFC 9106 section 3.4: segments of one slice
/// never reference blocks of each other, so lanes writing their own segment while reading
/// other lanes' finished slices do not race.
#[derive(Clone, Copy)]
struct Memory(*mut Block);
// SAFETY: see above; every write is to the writer's own segment.
unsafe impl Send for Memory {}
unsafe impl Sync for Memory {}

/// The compression function G, as each instruction-set level computes it.
trait Compress {
    /// G(x, y) into `out`, or XORed into it (version 1.3's later passes).
    ///
    /// # Safety
    /// The CPU supports the level's instructions; `out` is neither `x` nor `y`.
    unsafe fn compress_into(out: &mut Block, x: &Block, y: &Block, xor_into: bool);
}

/// Portable code (what the compiler makes of `compress_generic` for the baseline).
struct Portable;
impl Compress for Portable {
    #[inline(always)]
    unsafe fn compress_into(out: &mut Block, x: &Block, y: &Block, xor_into: bool) {
        let block = compress_generic(x, y);
        if xor_into {
            out.xor_with(&block);
        } else {
            *out = block;
        }
    }
}

/// AVX2, written out (see `avx2`): four 64-bit words per register, a permutation's 16 words
/// in four registers, the diagonal step a lane rotation.
#[cfg(target_arch = "x86_64")]
struct Avx2;
#[cfg(target_arch = "x86_64")]
impl Compress for Avx2 {
    #[inline(always)]
    unsafe fn compress_into(out: &mut Block, x: &Block, y: &Block, xor_into: bool) {
        unsafe { compress_avx2(out, x, y, xor_into) }
    }
}

// The intrinsics inline only into functions compiled with their features: these two are the
// functions the whole `avx2` module inlines into, whatever the optimiser decides about the
// fill loop around them.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn compress_avx2(out: &mut Block, x: &Block, y: &Block, xor_into: bool) {
    unsafe { avx2::compress_into::<false>(out, x, y, xor_into) }
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512vl")]
unsafe fn compress_avx512(out: &mut Block, x: &Block, y: &Block, xor_into: bool) {
    unsafe { avx2::compress_into::<true>(out, x, y, xor_into) }
}

macro_rules! fill_segment_fn {
    ($name:ident, $kind:ty $(, $feature:literal)?) => {
        $(#[target_feature(enable = $feature)])?
        unsafe fn $name(g: &Geometry, memory: Memory, at: Position, cancel: &Cancel) -> KernelResult<()> {
            // SAFETY (whole body): indexes stay below g.block_count, and the writes go to this
            // segment only (see `Memory`); the caller checked the CPU's level.
            unsafe { fill_segment_body::<$kind>(g, memory, at, cancel) }
        }
    };
}

fill_segment_fn!(fill_segment_base, Portable);
#[cfg(target_arch = "x86_64")]
fill_segment_fn!(fill_segment_avx2, Avx2, "avx2");
#[cfg(target_arch = "x86_64")]
fill_segment_fn!(fill_segment_avx512, Avx512, "avx2,avx512f,avx512vl");

/// The AVX2 code with AVX-512VL's 64-bit rotations (one instruction instead of a shuffle).
#[cfg(target_arch = "x86_64")]
struct Avx512;
#[cfg(target_arch = "x86_64")]
impl Compress for Avx512 {
    #[inline(always)]
    unsafe fn compress_into(out: &mut Block, x: &Block, y: &Block, xor_into: bool) {
        unsafe { compress_avx512(out, x, y, xor_into) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Block;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn rotr32<const VL: bool>(x: __m256i) -> __m256i {
        if VL {
            return _mm256_ror_epi64(x, 32);
        }
        _mm256_shuffle_epi32(x, 0b10_11_00_01)
    }
    #[inline(always)]
    unsafe fn rotr24<const VL: bool>(x: __m256i) -> __m256i {
        if VL {
            return _mm256_ror_epi64(x, 24);
        }
        let m = _mm256_setr_epi8(
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0, 1, 2, 11, 12,
            13, 14, 15, 8, 9, 10,
        );
        _mm256_shuffle_epi8(x, m)
    }
    #[inline(always)]
    unsafe fn rotr16<const VL: bool>(x: __m256i) -> __m256i {
        if VL {
            return _mm256_ror_epi64(x, 16);
        }
        let m = _mm256_setr_epi8(
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11,
            12, 13, 14, 15, 8, 9,
        );
        _mm256_shuffle_epi8(x, m)
    }
    #[inline(always)]
    unsafe fn rotr63<const VL: bool>(x: __m256i) -> __m256i {
        if VL {
            return _mm256_ror_epi64(x, 63);
        }
        _mm256_xor_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x))
    }
    /// a + b + 2 * lo32(a) * lo32(b), per 64-bit lane.
    #[inline(always)]
    unsafe fn fblamka(a: __m256i, b: __m256i) -> __m256i {
        let product = _mm256_mul_epu32(a, b);
        _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(product, product))
    }
    /// BlaMka's G on four columns at once.
    #[inline(always)]
    unsafe fn g<const VL: bool>(
        a: &mut __m256i,
        b: &mut __m256i,
        c: &mut __m256i,
        d: &mut __m256i,
    ) {
        *a = fblamka(*a, *b);
        *d = rotr32::<VL>(_mm256_xor_si256(*d, *a));
        *c = fblamka(*c, *d);
        *b = rotr24::<VL>(_mm256_xor_si256(*b, *c));
        *a = fblamka(*a, *b);
        *d = rotr16::<VL>(_mm256_xor_si256(*d, *a));
        *c = fblamka(*c, *d);
        *b = rotr63::<VL>(_mm256_xor_si256(*b, *c));
    }
    /// The permutation P on v0..v15 held as a = v0..v3, b = v4..v7, c = v8..v11, d = v12..v15.
    #[inline(always)]
    unsafe fn permute<const VL: bool>(
        a: &mut __m256i,
        b: &mut __m256i,
        c: &mut __m256i,
        d: &mut __m256i,
    ) {
        g::<VL>(a, b, c, d);
        // diagonals: (v0, v5, v10, v15), (v1, v6, v11, v12), ...
        *b = _mm256_permute4x64_epi64(*b, 0b00_11_10_01);
        *c = _mm256_permute4x64_epi64(*c, 0b01_00_11_10);
        *d = _mm256_permute4x64_epi64(*d, 0b10_01_00_11);
        g::<VL>(a, b, c, d);
        *b = _mm256_permute4x64_epi64(*b, 0b10_01_00_11);
        *c = _mm256_permute4x64_epi64(*c, 0b01_00_11_10);
        *d = _mm256_permute4x64_epi64(*d, 0b00_11_10_01);
    }

    /// G(x, y) of RFC 9106 section 3.5, written into `out` (or XORed into it).
    #[inline(always)]
    pub(super) unsafe fn compress_into<const VL: bool>(
        out: &mut Block,
        x: &Block,
        y: &Block,
        xor_into: bool,
    ) {
        // r = x ^ y stays in registers' worth of stack; q is permuted in place.
        let mut r = std::mem::MaybeUninit::<Block>::uninit();
        let mut q = std::mem::MaybeUninit::<Block>::uninit();
        let (xp, yp) = (
            x.0.as_ptr() as *const __m256i,
            y.0.as_ptr() as *const __m256i,
        );
        let (rp, qp) = (
            r.as_mut_ptr() as *mut __m256i,
            q.as_mut_ptr() as *mut __m256i,
        );
        // SAFETY: blocks are 64-byte aligned arrays of 32 registers' worth of words; r and q
        // are written whole before they are read.
        unsafe {
            for i in 0..32 {
                let v =
                    _mm256_xor_si256(_mm256_load_si256(xp.add(i)), _mm256_load_si256(yp.add(i)));
                _mm256_store_si256(rp.add(i), v);
                _mm256_store_si256(qp.add(i), v);
            }
            // rows: 16 consecutive words each
            for row in 0..8 {
                let p = qp.add(4 * row);
                let (mut a, mut b, mut c, mut d) = (
                    _mm256_load_si256(p),
                    _mm256_load_si256(p.add(1)),
                    _mm256_load_si256(p.add(2)),
                    _mm256_load_si256(p.add(3)),
                );
                permute::<VL>(&mut a, &mut b, &mut c, &mut d);
                _mm256_store_si256(p, a);
                _mm256_store_si256(p.add(1), b);
                _mm256_store_si256(p.add(2), c);
                _mm256_store_si256(p.add(3), d);
            }
            // columns: words 2c, 2c + 1 of every row; the result goes straight to `out`
            let w = qp as *mut u64;
            let (rw, ow) = (rp as *const u64, out.0.as_mut_ptr());
            for col in 0..8 {
                let at = |row: usize| 2 * col + 16 * row;
                let load = |lo: usize, hi: usize| {
                    _mm256_set_m128i(
                        _mm_load_si128(w.add(at(hi)) as *const __m128i),
                        _mm_load_si128(w.add(at(lo)) as *const __m128i),
                    )
                };
                let (mut a, mut b, mut c, mut d) = (load(0, 1), load(2, 3), load(4, 5), load(6, 7));
                permute::<VL>(&mut a, &mut b, &mut c, &mut d);
                for (v, lo) in [(a, 0), (b, 2), (c, 4), (d, 6)] {
                    for (half, row) in [
                        (_mm256_castsi256_si128(v), lo),
                        (_mm256_extracti128_si256(v, 1), lo + 1),
                    ] {
                        let o = ow.add(at(row)) as *mut __m128i;
                        let mut value =
                            _mm_xor_si128(half, _mm_load_si128(rw.add(at(row)) as *const __m128i));
                        if xor_into {
                            value = _mm_xor_si128(value, _mm_load_si128(o));
                        }
                        _mm_store_si128(o, value);
                    }
                }
            }
        }
    }
}

#[inline(always)]
unsafe fn fill_segment_body<C: Compress>(
    g: &Geometry,
    memory: Memory,
    at: Position,
    cancel: &Cancel,
) -> KernelResult<()> {
    let Position { pass, lane, slice } = at;
    let independent = g.variant == Variant::Argon2i
        || (g.variant == Variant::Argon2id && pass == 0 && slice < SYNC_POINTS / 2);
    let mut address = Block::ZERO;
    let mut input = Block::ZERO;
    if independent {
        input.0[..6].copy_from_slice(&[
            pass as u64,
            lane as u64,
            slice as u64,
            g.block_count as u64,
            g.passes as u64,
            g.variant as u64,
        ]);
    }
    let next_addresses = |address: &mut Block, input: &mut Block| {
        input.0[6] += 1;
        let mut once = Block::ZERO;
        // SAFETY: the caller checked the CPU's level; the blocks are distinct.
        unsafe {
            C::compress_into(&mut once, &Block::ZERO, input, false);
            C::compress_into(address, &Block::ZERO, &once, false);
        }
    };
    let first = if pass == 0 && slice == 0 {
        if independent {
            next_addresses(&mut address, &mut input);
        }
        2 // the first two blocks of a lane come from H0
    } else {
        0
    };
    let base = memory.0;
    let segment_start = lane * g.lane_length + slice * g.segment_length;
    let mut previous = if (segment_start + first).is_multiple_of(g.lane_length) {
        segment_start + first + g.lane_length - 1
    } else {
        segment_start + first - 1
    };
    for index in first..g.segment_length {
        let current = segment_start + index;
        if index % CANCEL_EVERY == 0 {
            cancel.check()?;
        }
        let pseudo_random = if independent {
            if index % BLOCK_WORDS == 0 {
                next_addresses(&mut address, &mut input);
            }
            address.0[index % BLOCK_WORDS]
        } else {
            // SAFETY: `previous` is a finished block of this lane.
            unsafe { (*base.add(previous)).0[0] }
        };
        let ref_lane = if pass == 0 && slice == 0 {
            lane
        } else {
            (pseudo_random >> 32) as usize % g.lanes
        };
        // RFC 9106 section 3.4.1.2: the blocks this one may reference.
        let area = if pass == 0 {
            if slice == 0 || ref_lane == lane {
                slice * g.segment_length + index - 1
            } else {
                slice * g.segment_length - usize::from(index == 0)
            }
        } else if ref_lane == lane {
            g.lane_length - g.segment_length + index - 1
        } else {
            g.lane_length - g.segment_length - usize::from(index == 0)
        };
        let j1 = pseudo_random & 0xffff_ffff;
        let x = (j1 * j1) >> 32;
        let relative = area - 1 - ((area as u64 * x) >> 32) as usize;
        let start = if pass != 0 && slice != SYNC_POINTS - 1 {
            (slice + 1) * g.segment_length
        } else {
            0
        };
        let reference = ref_lane * g.lane_length + (start + relative) % g.lane_length;
        let xor_into = g.version == VERSION_13 && pass > 0;
        // SAFETY: `current` is in this segment (ours alone); `previous` and `reference` are
        // finished blocks (this lane's earlier ones, or another lane's other slices), and
        // differ from `current`.
        unsafe {
            C::compress_into(
                &mut *base.add(current),
                &*base.add(previous),
                &*base.add(reference),
                xor_into,
            );
        }
        previous = current;
    }
    Ok(())
}

/// H' of RFC 9106 section 3.3: BLAKE2b stretched to any output length.
fn blake2b_long(inputs: &[&[u8]], out: &mut [u8]) {
    let len = out.len();
    let header = (len as u32).to_le_bytes();
    if len <= 64 {
        let mut state = Blake2bParams::new().hash_length(len).to_state();
        state.update(&header);
        for input in inputs {
            state.update(input);
        }
        out.copy_from_slice(state.finalize().as_bytes());
        return;
    }
    let mut state = Blake2bParams::new().hash_length(64).to_state();
    state.update(&header);
    for input in inputs {
        state.update(input);
    }
    let mut v = *state.finalize().as_array();
    out[..32].copy_from_slice(&v[..32]);
    let mut written = 32;
    while len - written > 64 {
        v = *Blake2bParams::new().hash_length(64).hash(&v).as_array();
        out[written..written + 32].copy_from_slice(&v[..32]);
        written += 32;
    }
    let last = len - written;
    let tail = Blake2bParams::new().hash_length(last).hash(&v);
    out[written..].copy_from_slice(tail.as_bytes());
}

/// Inputs of one Argon2 hash.
pub struct Argon2Input<'a> {
    pub password: &'a [u8],
    pub salt: &'a [u8],
    /// The optional secret key K (a "pepper").
    pub secret: &'a [u8],
    /// The optional associated data X.
    pub associated_data: &'a [u8],
}

/// Fills `tag` with the Argon2 hash of `input` (the tag's length is the hash length).
pub fn argon2(
    params: &Argon2Params,
    input: &Argon2Input<'_>,
    tag: &mut [u8],
    cancel: &Cancel,
) -> KernelResult<()> {
    argon2_with(params, input, tag, cancel, Level::detect())
}

/// [`argon2`] with a chosen instruction-set level (the tests run each one).
pub fn argon2_with(
    params: &Argon2Params,
    input: &Argon2Input<'_>,
    tag: &mut [u8],
    cancel: &Cancel,
    level: Level,
) -> KernelResult<()> {
    params.check()?;
    if tag.len() < MIN_TAG {
        return Err(KernelError::OutOfRange(format!(
            "argon2 hashLength must be at least {MIN_TAG} bytes; got {}",
            tag.len()
        )));
    }
    let lanes = params.lanes as usize;
    let block_count = params.block_count();
    let lane_length = block_count / lanes;
    let geometry = Geometry {
        variant: params.variant,
        version: params.version,
        passes: params.passes as usize,
        lanes,
        lane_length,
        segment_length: lane_length / SYNC_POINTS,
        block_count,
    };

    // H0, section 3.2.
    let field = |n: usize| (n as u32).to_le_bytes();
    let mut h0 = Blake2bParams::new().hash_length(64).to_state();
    for value in [
        params.lanes as usize,
        tag.len(),
        params.memory_kib as usize,
        params.passes as usize,
        params.version as usize,
        params.variant as usize,
    ] {
        h0.update(&field(value));
    }
    for data in [
        input.password,
        input.salt,
        input.secret,
        input.associated_data,
    ] {
        h0.update(&field(data.len()));
        h0.update(data);
    }
    let h0 = *h0.finalize().as_array();

    let mut blocks = ZeroedBuffer::<Block>::reusable(block_count, "the argon2 memory")?;
    cancel.set_total(block_count as u64 * params.passes as u64);
    for lane in 0..lanes {
        for i in 0..2u32 {
            let mut bytes = [0u8; BLOCK_BYTES];
            blake2b_long(
                &[&h0, &i.to_le_bytes(), &(lane as u32).to_le_bytes()],
                &mut bytes,
            );
            blocks[lane * lane_length + i as usize] = Block::from_bytes(&bytes);
        }
    }

    let fill: unsafe fn(&Geometry, Memory, Position, &Cancel) -> KernelResult<()> = match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => fill_segment_avx512,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => fill_segment_avx2,
        _ => fill_segment_base,
    };
    let memory = Memory(blocks.as_mut_ptr());
    let filled = (|| {
        for pass in 0..geometry.passes {
            for slice in 0..SYNC_POINTS {
                let segment = |lane: usize| {
                    // SAFETY: the level was detected on this CPU; lanes of one slice write
                    // disjoint segments (see `Memory`).
                    unsafe { fill(&geometry, memory, Position { pass, lane, slice }, cancel) }
                };
                if lanes == 1 {
                    segment(0)?;
                } else {
                    (0..lanes).into_par_iter().try_for_each(segment)?;
                }
                cancel.advance((geometry.segment_length * lanes) as u64);
            }
        }
        Ok(())
    })();
    if let Err(error) = filled {
        // Aborted: the call ends now, the memory is unmapped on the reaper's thread. (A
        // finished hash frees it here: unmapping beside the next hash's page faults slows both.)
        crate::reaper::drop_in_background(blocks);
        return Err(error);
    }

    let mut last = blocks[lane_length - 1];
    for lane in 1..lanes {
        last.xor_with(&blocks[lane * lane_length + lane_length - 1]);
    }
    drop(blocks);
    blake2b_long(&[&last.to_bytes()], tag);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 9106 section 5: m = 32 KiB, t = 3, p = 4, 32-byte tag, password 32 x 0x01, salt
    /// 16 x 0x02, secret 8 x 0x03, associated data 12 x 0x04.
    fn rfc_vector(variant: Variant, level: Level) -> String {
        let params = Argon2Params {
            variant,
            version: VERSION_13,
            memory_kib: 32,
            passes: 3,
            lanes: 4,
        };
        let input = Argon2Input {
            password: &[1; 32],
            salt: &[2; 16],
            secret: &[3; 8],
            associated_data: &[4; 12],
        };
        let mut tag = [0u8; 32];
        argon2_with(&params, &input, &mut tag, &Cancel::new(), level).unwrap();
        hex(&tag)
    }

    #[test]
    fn rfc_9106_vectors_at_every_level() {
        for level in Level::available() {
            assert_eq!(
                rfc_vector(Variant::Argon2d, level),
                "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb",
                "{level:?}"
            );
            assert_eq!(
                rfc_vector(Variant::Argon2i, level),
                "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8",
                "{level:?}"
            );
            assert_eq!(
                rfc_vector(Variant::Argon2id, level),
                "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
                "{level:?}"
            );
        }
    }

    /// The reference implementation's test.c vectors ("password"/"somesalt", t = 2,
    /// m = 64 MiB, p = 1), both versions.
    #[test]
    fn reference_vectors_both_versions() {
        let input = Argon2Input {
            password: b"password",
            salt: b"somesalt",
            secret: &[],
            associated_data: &[],
        };
        let run = |variant, version, memory_kib, passes, lanes| {
            let params = Argon2Params {
                variant,
                version,
                memory_kib,
                passes,
                lanes,
            };
            let mut tag = [0u8; 32];
            argon2(&params, &input, &mut tag, &Cancel::new()).unwrap();
            hex(&tag)
        };
        assert_eq!(
            run(Variant::Argon2i, VERSION_10, 1 << 16, 2, 1),
            "f6c4db4a54e2a370627aff3db6176b94a2a209a62c8e36152711802f7b30c694"
        );
        assert_eq!(
            run(Variant::Argon2i, VERSION_13, 1 << 16, 2, 1),
            "c1628832147d9720c5bd1cfd61367078729f6dfb6f8fea9ff98158e0d7816ed0"
        );
        assert_eq!(
            run(Variant::Argon2id, VERSION_13, 1 << 16, 2, 1),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
        assert_eq!(
            run(Variant::Argon2d, VERSION_13, 1 << 16, 2, 1),
            "955e5d5b163a1b60bba35fc36d0496474fba4f6b59ad53628666f07fb2f93eaf"
        );
    }

    #[test]
    fn long_tags_use_the_stretched_hash() {
        // argon2id with a 100-byte tag: deterministic, and its first 32 bytes differ from
        // the 32-byte tag (the tag length is hashed into H0).
        let params = Argon2Params {
            variant: Variant::Argon2id,
            version: VERSION_13,
            memory_kib: 64,
            passes: 1,
            lanes: 2,
        };
        let input = Argon2Input {
            password: b"pw",
            salt: b"saltsalt",
            secret: &[],
            associated_data: &[],
        };
        let mut long = [0u8; 100];
        let mut again = [0u8; 100];
        let mut short = [0u8; 32];
        argon2(&params, &input, &mut long, &Cancel::new()).unwrap();
        argon2(&params, &input, &mut again, &Cancel::new()).unwrap();
        argon2(&params, &input, &mut short, &Cancel::new()).unwrap();
        assert_eq!(long, again);
        assert_ne!(long[..32], short);
    }

    #[test]
    fn parameters_outside_the_rfc_are_refused_before_allocating() {
        let input = Argon2Input {
            password: b"",
            salt: b"saltsalt",
            secret: &[],
            associated_data: &[],
        };
        let mut tag = [0u8; 32];
        for (memory_kib, passes, lanes) in [(15, 1, 2), (64, 0, 1), (64, 1, 0)] {
            let params = Argon2Params {
                variant: Variant::Argon2id,
                version: VERSION_13,
                memory_kib,
                passes,
                lanes,
            };
            assert!(matches!(
                argon2(&params, &input, &mut tag, &Cancel::new()),
                Err(KernelError::OutOfRange(_))
            ));
        }
    }

    #[test]
    fn a_cancelled_hash_stops() {
        let cancel = Cancel::new();
        cancel.cancel();
        let params = Argon2Params {
            variant: Variant::Argon2id,
            version: VERSION_13,
            memory_kib: 1 << 16,
            passes: 100,
            lanes: 1,
        };
        let input = Argon2Input {
            password: b"pw",
            salt: b"saltsalt",
            secret: &[],
            associated_data: &[],
        };
        let mut tag = [0u8; 32];
        assert!(matches!(
            argon2(&params, &input, &mut tag, &cancel),
            Err(KernelError::Aborted)
        ));
    }
}
