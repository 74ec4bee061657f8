//! Intensive algorithms: prime sieving, dense matrix multiply, the Mandelbrot set.

pub mod mandelbrot;
pub mod matmul;
pub mod primes;
pub mod topk;

#[cfg(feature = "napi")]
mod binding;
