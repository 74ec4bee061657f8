//! Hashing: buffers, batches and files, on well-kept crates (`blake3`, `sha2`, `xxhash-rust`).
//! Pure Rust over byte slices and paths; `binding.rs` is the napi glue.

pub mod kernel;

#[cfg(feature = "napi")]
mod binding;
