//! offload: CPU-heavy kernels for Node.js, spread over a rayon pool and run off the event loop.
//!
//! The kernels are plain Rust over slices and build without Node (`cargo test`); everything
//! that touches napi sits behind the `napi` feature, which `npm run build` turns on.

/// Intensive algorithms: primes, matrix multiply, Mandelbrot.
pub mod algo;
/// Cooperative cancellation flag that kernels poll between chunks.
pub mod cancel;
/// Compression: gzip, deflate, zstd, brotli; buffers, files and streams.
pub mod compress;
/// CSV into typed columns.
pub mod csv;
/// Data crunching: sort, argsort, describe, quantiles, histogram.
pub mod data;
/// Element kinds (the eleven numeric typed-array types) and their order-preserving keys.
pub mod element;
/// Kernel failures, independent of how they are shown to JavaScript.
pub mod error;
/// Files read and written by kernels, with the semantics and errors of `fs`.
pub mod fsio;
/// Hashing: buffers, batches and files (BLAKE3, SHA-256, SHA-512, xxh3).
pub mod hash;
/// Image processing on raw pixels: grayscale, blur, resize.
pub mod image;
/// The process-wide count of native calls in flight, which guards libuv's pool.
pub mod inflight;
/// Large zeroed working buffers from the OS, in huge pages where offered.
pub mod pages;
/// Password hashing: argon2id, scrypt and bcrypt, bounded before any memory is taken.
pub mod password;
/// The rayon pool every task runs on; resizable at run time.
pub mod pool;
/// Large buffers freed on a background thread, so an aborted call ends at once.
pub mod reaper;
/// Run-time choice of vector instructions (SSE2, AVX2, AVX-512) for the hottest loops.
pub mod simd;

/// Runtime control exported to JS: thread count, cancel tokens.
#[cfg(feature = "napi")]
pub mod control;
/// JS values in and out: numeric typed arrays of any kind.
#[cfg(feature = "napi")]
pub mod convert;
/// The one generic napi task every operation runs through.
#[cfg(feature = "napi")]
pub mod task;
/// Calls still running when their JS thread ends (a terminated worker) are cancelled.
#[cfg(feature = "napi")]
pub mod teardown;
