//! Numeric typed arrays of any kind, in and out.
//!
//! [`NumericArray`] accepts any of the eleven numeric typed arrays and keeps a napi reference
//! to it (so its memory stays alive while a task reads it on another thread). [`NumericVec`]
//! is a result of the same kind, handed to JS without a copy.

use napi::bindgen_prelude::*;
use napi::sys;

macro_rules! numeric_kinds {
    ($($variant:ident($ty:ty, $rust:ty) = $tag:literal),* $(,)?) => {
        /// Any numeric typed array, by kind.
        pub enum NumericArray {
            $($variant($ty)),*
        }

        /// A new typed array of a given kind, built from a Rust vector.
        pub enum NumericVec {
            $($variant(Vec<$rust>)),*
        }

        impl FromNapiValue for NumericArray {
            unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
                let mut kind = -1;
                let status = unsafe {
                    sys::napi_get_typedarray_info(
                        env,
                        value,
                        &mut kind,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                };
                if status != sys::Status::napi_ok {
                    return Err(napi::Error::new(Status::InvalidArg, "Expected a numeric typed array"));
                }
                match kind {
                    $($tag => Ok(NumericArray::$variant(unsafe { <$ty>::from_napi_value(env, value)? })),)*
                    _ => Err(napi::Error::new(Status::InvalidArg, "Unsupported typed array kind")),
                }
            }
        }

        impl TypeName for NumericArray {
            fn type_name() -> &'static str {
                "TypedArray"
            }
            fn value_type() -> ValueType {
                ValueType::Object
            }
        }

        impl ToNapiValue for NumericVec {
            unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
                match value {
                    $(NumericVec::$variant(v) => unsafe { <$ty>::to_napi_value(env, <$ty>::new(v)) },)*
                }
            }
        }

        impl TypeName for NumericVec {
            fn type_name() -> &'static str {
                "TypedArray"
            }
            fn value_type() -> ValueType {
                ValueType::Object
            }
        }

    };
}

numeric_kinds! {
    Int8(Int8Array, i8) = 0,
    Uint8(Uint8Array, u8) = 1,
    Uint8Clamped(Uint8ClampedArray, u8) = 2,
    Int16(Int16Array, i16) = 3,
    Uint16(Uint16Array, u16) = 4,
    Int32(Int32Array, i32) = 5,
    Uint32(Uint32Array, u32) = 6,
    Float32(Float32Array, f32) = 7,
    Float64(Float64Array, f64) = 8,
    BigInt64(BigInt64Array, i64) = 9,
    BigUint64(BigUint64Array, u64) = 10,
}

/// Runs `$body` with `$a` bound to the typed array (whatever its kind) and `$V` to the
/// `NumericVec` constructor of the same kind.
macro_rules! with_numeric {
    ($array:expr, |$a:ident, $V:ident| $body:expr) => {
        with_numeric!(@arms $array, $a, $V, $body,
            Int8 Uint8 Uint8Clamped Int16 Uint16 Int32 Uint32 Float32 Float64 BigInt64 BigUint64)
    };
    (@arms $array:expr, $a:ident, $V:ident, $body:expr, $($variant:ident)*) => {
        match $array {
            $($crate::convert::NumericArray::$variant($a) => {
                #[allow(unused_imports)]
                use $crate::convert::NumericVec::$variant as $V;
                $body
            })*
        }
    };
}
pub(crate) use with_numeric;
