//! Data crunching on numeric typed arrays. Pure Rust over slices; `binding.rs` is the napi glue.

pub mod counting;
pub mod describe;
pub mod groupby;
pub mod histogram;
pub mod quantiles;
pub mod radix;
pub mod sort;

#[cfg(feature = "napi")]
mod binding;
