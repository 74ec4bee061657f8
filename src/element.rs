//! The eleven numeric typed-array element types, with what the kernels need of each: a
//! conversion to `f64` for statistics, and an order-preserving unsigned key for radix sorting.

/// An unsigned radix key: `u8`, `u16`, `u32` or `u64`.
pub trait RadixKey: Copy + Send + Sync + Ord + crate::error::Zeroable + 'static {
    /// Key width in bytes, so the number of 8-bit radix passes.
    const BYTES: usize;
    const MAX: Self;
    fn to_u64(self) -> u64;
    /// The key whose `to_u64` is `v` (`v` must be one).
    fn from_u64(v: u64) -> Self;
}

macro_rules! radix_key {
    ($($t:ty),*) => {$(
        impl RadixKey for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
        }
    )*};
}
radix_key!(u8, u16, u32, u64);

/// An element of a numeric typed array.
///
/// `key` maps values to unsigned integers whose order is the order JS's
/// `TypedArray.prototype.sort()` gives (NaN last, -0 before +0); with `descending` the order of
/// the numbers is reversed and NaN stays last. `Key` has the size and alignment of `Self`, so a
/// slice of elements can be rewritten as keys in place.
pub trait Element: Copy + Send + Sync + PartialOrd + 'static {
    type Key: RadixKey;
    fn to_f64(self) -> f64;
    fn key(self, descending: bool) -> Self::Key;
    fn from_key(key: Self::Key, descending: bool) -> Self;
}

macro_rules! int_element {
    ($t:ty, $k:ty, $flip:expr) => {
        impl Element for $t {
            type Key = $k;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn key(self, descending: bool) -> $k {
                let k = (self as $k) ^ $flip;
                if descending {
                    !k
                } else {
                    k
                }
            }
            #[inline(always)]
            fn from_key(key: $k, descending: bool) -> Self {
                let k = if descending { !key } else { key };
                (k ^ $flip) as $t
            }
        }
    };
}
int_element!(i8, u8, 0x80);
int_element!(u8, u8, 0);
int_element!(i16, u16, 0x8000);
int_element!(u16, u16, 0);
int_element!(i32, u32, 0x8000_0000);
int_element!(u32, u32, 0);
int_element!(i64, u64, 1 << 63);
int_element!(u64, u64, 0);

macro_rules! float_element {
    ($t:ty, $k:ty, $sign:expr, $nan:expr) => {
        impl Element for $t {
            type Key = $k;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn key(self, descending: bool) -> $k {
                // Every NaN (whatever its sign or payload) maps to the largest key: last.
                // No number maps there: the largest key of a number is +Infinity's.
                // Negative numbers flip every bit, others only the sign; written without
                // branches so that the loops over whole arrays vectorise.
                let bits = self.to_bits();
                let negative = (bits >> (<$k>::BITS - 1)).wrapping_neg();
                let order = (descending as $k).wrapping_neg();
                let k = bits ^ (negative | $sign) ^ order;
                if self.is_nan() {
                    <$k>::MAX
                } else {
                    k
                }
            }
            #[inline(always)]
            fn from_key(key: $k, descending: bool) -> Self {
                let k = key ^ (descending as $k).wrapping_neg();
                // Keys with the sign bit set are non-negative numbers: clear it; flip the rest.
                let negative = ((k >> (<$k>::BITS - 1)) ^ 1).wrapping_neg();
                let bits = k ^ (negative | $sign);
                if key == <$k>::MAX {
                    <$t>::from_bits($nan)
                } else {
                    <$t>::from_bits(bits)
                }
            }
        }
    };
}
float_element!(f32, u32, 0x8000_0000, 0x7fc0_0000);
float_element!(f64, u64, 1 << 63, 0x7ff8_0000_0000_0000);

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<T: Element + std::fmt::Debug>(values: &[T]) {
        for &v in values {
            for desc in [false, true] {
                let back = T::from_key(v.key(desc), desc);
                let is_nan = |x: T| x.partial_cmp(&x).is_none();
                assert!(
                    back == v || (is_nan(back) && is_nan(v)),
                    "{v:?} -> {back:?}"
                );
            }
        }
    }

    #[test]
    fn keys_round_trip() {
        roundtrip(&[i8::MIN, -1, 0, 1, i8::MAX]);
        roundtrip(&[0u8, 7, 255]);
        roundtrip(&[i32::MIN, -5, 0, 5, i32::MAX]);
        roundtrip(&[i64::MIN, -1, 0, i64::MAX]);
        roundtrip(&[u64::MAX, 0]);
        roundtrip(&[
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1e-310,
            f64::INFINITY,
            f64::NAN,
        ]);
        roundtrip(&[f32::NEG_INFINITY, -0.0f32, 0.0, f32::MAX, f32::NAN]);
    }

    #[test]
    fn float_keys_order_like_js() {
        let ordered = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -1e-320,
            -0.0,
            0.0,
            1e-320,
            2.0,
            f64::INFINITY,
        ];
        for w in ordered.windows(2) {
            assert!(w[0].key(false) < w[1].key(false), "{} < {}", w[0], w[1]);
            assert!(w[0].key(true) > w[1].key(true), "desc {} > {}", w[0], w[1]);
        }
        let neg_nan = f64::from_bits(0xfff8_0000_0000_0001);
        assert_eq!(neg_nan.key(false), u64::MAX);
        assert_eq!(f64::NAN.key(true), u64::MAX);
        assert!(f64::INFINITY.key(false) < u64::MAX);
        assert!(f64::NEG_INFINITY.key(true) < u64::MAX);
    }
}
