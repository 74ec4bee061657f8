//! Runtime control exported to JS: the pool size and the cancel token each call carries.

use std::sync::atomic::{AtomicBool, Ordering};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::Cancel;
use crate::error::KernelResult;
use crate::pool;
use crate::task::{spawn, Job, Kernel};

/// A cancel flag for one call. `index.js` creates one per call and calls `cancel()` from the
/// `AbortSignal`'s abort listener; the kernel polls it between chunks.
#[napi]
#[derive(Default)]
pub struct CancelToken {
    pub(crate) flag: Cancel,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the running kernel to stop at its next check.
    #[napi]
    pub fn cancel(&self) {
        self.flag.cancel();
    }
}

/// Resizes the rayon pool (1 to 1024 threads). Tasks already running keep their pool.
#[napi]
pub fn set_threads(threads: f64) -> napi::Result<()> {
    if threads.fract() != 0.0 || !(1.0..=pool::MAX_THREADS as f64).contains(&threads) {
        return Err(napi::Error::new(
            Status::InvalidArg,
            format!("threads must be an integer from 1 to {}", pool::MAX_THREADS),
        ));
    }
    pool::set_threads(threads as usize)
        .map_err(|e| napi::Error::new(Status::GenericFailure, e.to_string()))
}

/// The thread count of the pool new tasks run on.
#[napi]
pub fn thread_count() -> u32 {
    pool::threads() as u32
}

/// A kernel that panics, in the task itself or inside a rayon closure: lets the tests prove
/// that panics become rejected Promises. Not part of the public API.
pub struct PanicKernel {
    in_rayon: bool,
}

impl Kernel for PanicKernel {
    type Output = u32;
    fn run(&mut self, _cancel: &Cancel) -> KernelResult<u32> {
        if self.in_rayon {
            use rayon::prelude::*;
            let total: u32 = (0..1000u32)
                .into_par_iter()
                .map(|i| {
                    if i == 777 {
                        panic!("test panic inside a rayon closure")
                    } else {
                        i
                    }
                })
                .sum();
            Ok(total)
        } else {
            panic!("test panic in a kernel")
        }
    }
}

#[napi(js_name = "__panicForTests")]
pub fn panic_for_tests(in_rayon: bool, token: &CancelToken) -> AsyncTask<Job<PanicKernel>> {
    spawn(PanicKernel { in_rayon }, token)
}

/// Test hook: the `nth` cancellation check from now panics (0 disarms). Not part of the public API.
#[napi(js_name = "__panicAtCheck")]
pub fn panic_at_check(nth: u32) {
    crate::cancel::panic_at_check(nth as u64);
}

/// Whether any thread has set the allocation limit yet: the limit is one per process, and a
/// worker thread loading offload must not reset what the main thread configured.
static MAX_ALLOCATION_SET: AtomicBool = AtomicBool::new(false);

fn allocation_limit(bytes: f64) -> napi::Result<usize> {
    if bytes.is_nan() || bytes < 0.0 {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "maxAllocation must be a number >= 0",
        ));
    }
    Ok(if bytes >= usize::MAX as f64 {
        usize::MAX
    } else {
        bytes as usize
    })
}

/// Sets the per-buffer allocation limit in bytes (`Infinity`: none) for the whole process.
#[napi(js_name = "setMaxAllocation")]
pub fn set_max_allocation(bytes: f64) -> napi::Result<()> {
    crate::error::set_max_allocation(allocation_limit(bytes)?);
    MAX_ALLOCATION_SET.store(true, Ordering::SeqCst);
    Ok(())
}

/// Sets the limit to `bytes` unless a thread has set it already; returns the limit in force.
#[napi(js_name = "initMaxAllocation")]
pub fn init_max_allocation(bytes: f64) -> napi::Result<f64> {
    let limit = allocation_limit(bytes)?;
    if !MAX_ALLOCATION_SET.swap(true, Ordering::SeqCst) {
        crate::error::set_max_allocation(limit);
    }
    Ok(max_allocation())
}

/// The per-buffer allocation limit in bytes (`Infinity`: none).
#[napi(js_name = "maxAllocation")]
pub fn max_allocation() -> f64 {
    match crate::error::max_allocation() {
        usize::MAX => f64::INFINITY,
        n => n as f64,
    }
}
