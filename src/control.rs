//! Runtime control exported to JS: the process-wide settings and the cancel token each call carries.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::Cancel;
use crate::error::{KernelError, KernelResult};
use crate::inflight::{self, Slot};
use crate::pool;
use crate::task::{spawn, Call, Kernel};
use crate::teardown::{self, Running};

/// One call's cancel flag and its place among the calls in flight. `lib/scheduler.js` gets one
/// from [`try_start_call`] when the process has a free slot, and calls `cancel()` from the
/// `AbortSignal`'s abort listener; the kernel polls the flag between chunks. The slot passes to
/// the native task, which frees it the moment its work ends (so a slot is never held by a
/// thread that is busy or gone); `release()` frees it if no task took it.
#[napi]
#[derive(Default)]
pub struct CancelToken {
    pub(crate) flag: Cancel,
    slot: Mutex<Option<Slot>>,
    /// The call's registration with the watchdog that cancels it if its thread ends first.
    running: Mutex<Option<Running>>,
    /// Run the call's kernel now, on the calling thread (tiny inputs): no slot, no task.
    pub(crate) inline: bool,
}

impl CancelToken {
    /// The slot, for the task that runs this call.
    pub(crate) fn take_slot(&self) -> Option<Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The watchdog registration, for the task that runs this call.
    pub(crate) fn take_running(&self) -> Option<Running> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

#[napi]
impl CancelToken {
    /// A token that holds no slot: for an inline call (`inline: true`, the kernel runs during
    /// the call itself), or for tests and benchmarks that call the binding directly.
    #[napi(constructor)]
    pub fn new(env: Env, inline: Option<bool>) -> Self {
        let inline = inline.unwrap_or(false);
        let flag = Cancel::new();
        let running = if inline {
            None
        } else {
            teardown::watch(&env, &flag)
        };
        Self {
            flag,
            slot: Mutex::new(None),
            running: Mutex::new(running),
            inline,
        }
    }

    /// Asks the running kernel to stop at its next check.
    #[napi]
    pub fn cancel(&self) {
        self.flag.cancel();
    }

    /// `[done, total]` of the running kernel, in its operation's unit (0 and 0 before it
    /// starts). Read by `onProgress`'s timer: two relaxed atomic loads.
    #[napi]
    pub fn progress(&self) -> Vec<f64> {
        let (done, total) = self.flag.progress();
        vec![done as f64, total as f64]
    }

    /// Frees the slot if no native task has taken it (a call that failed before it started).
    #[napi]
    pub fn release(&self) {
        drop(self.take_slot());
        drop(self.take_running());
    }
}

/// A token holding one of the process's slots, or `null` when `maxInFlight` calls are in
/// flight already (in this thread or any other).
#[napi]
pub fn try_start_call(env: Env) -> Option<CancelToken> {
    inflight::try_acquire().map(|slot| {
        let flag = Cancel::new();
        let running = teardown::watch(&env, &flag);
        CancelToken {
            flag,
            slot: Mutex::new(Some(slot)),
            running: Mutex::new(running),
            inline: false,
        }
    })
}

fn range_error(e: KernelError) -> napi::Error {
    napi::Error::new(Status::InvalidArg, e.to_string())
}

/// Whole numbers only: a fraction, NaN or a negative number would wrap in a cast.
fn whole(value: f64, name: &str) -> napi::Result<usize> {
    if value.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&value) {
        return Err(napi::Error::new(
            Status::InvalidArg,
            format!("{name} must be a whole number; received {value}"),
        ));
    }
    Ok(value as usize)
}

/// Resizes the rayon pool (1 to `maxThreads()`). Tasks already running keep their pool.
#[napi]
pub fn set_threads(threads: f64) -> napi::Result<()> {
    pool::set_threads(whole(threads, "threads")?).map_err(range_error)
}

/// The thread count of the pool new tasks run on.
#[napi]
pub fn thread_count() -> u32 {
    pool::threads() as u32
}

/// The most threads `setThreads` accepts: a few per usable core.
#[napi]
pub fn max_threads() -> u32 {
    pool::max_threads() as u32
}

/// Runs the pool's threads `increment` (0 to 19) nice levels below the process (Linux).
#[napi]
pub fn set_nice_increment(increment: f64) -> napi::Result<()> {
    let increment = whole(increment, "niceIncrement")?.min(i32::MAX as usize) as i32;
    pool::set_nice_increment(increment)
        .map_err(|e| napi::Error::new(Status::GenericFailure, e.to_string()))
}

/// The pool threads' nice increment.
#[napi]
pub fn nice_increment() -> u32 {
    pool::nice_increment() as u32
}

/// The size of libuv's thread pool, as libuv reads `UV_THREADPOOL_SIZE`.
#[napi]
pub fn libuv_pool_size() -> u32 {
    inflight::libuv_pool_size() as u32
}

/// Sets how many calls may be in flight in the whole process (1 to `UV_THREADPOOL_SIZE` - 1).
#[napi]
pub fn set_max_in_flight(limit: f64) -> napi::Result<()> {
    inflight::set_limit(whole(limit, "maxInFlight")?).map_err(range_error)
}

/// How many calls may be in flight in the whole process.
#[napi]
pub fn max_in_flight() -> u32 {
    inflight::limit() as u32
}

/// The largest `maxInFlight` this process accepts.
#[napi]
pub fn max_in_flight_limit() -> u32 {
    inflight::max_limit() as u32
}

/// Calls in flight now in the whole process, every thread counted.
#[napi]
pub fn in_flight() -> u32 {
    inflight::running() as u32
}

/// Infinity, as bits: the per-thread queue has no limit until one is set.
static MAX_QUEUE_BITS: AtomicU64 = AtomicU64::new(0x7ff0_0000_0000_0000);

/// Sets how many calls may wait in each thread's queue (`Infinity`: no limit), process-wide.
#[napi]
pub fn set_max_queue(limit: f64) -> napi::Result<()> {
    // Any whole number >= 0 (JS checks for safe integers), not only those that fit a u32.
    if !(limit >= 0.0 && (limit == f64::INFINITY || limit.fract() == 0.0)) {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "maxQueue must be a whole number >= 0 or Infinity",
        ));
    }
    MAX_QUEUE_BITS.store(limit.to_bits(), Ordering::Release);
    Ok(())
}

/// How many calls may wait in each thread's queue.
#[napi]
pub fn max_queue() -> f64 {
    f64::from_bits(MAX_QUEUE_BITS.load(Ordering::Acquire))
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
pub fn panic_for_tests(in_rayon: bool, token: &CancelToken) -> Call<PanicKernel> {
    spawn(PanicKernel { in_rayon }, token)
}

/// Test hook: the `nth` cancellation check from now panics (0 disarms). Not part of the public API.
#[napi(js_name = "__panicAtCheck")]
pub fn panic_at_check(nth: u32) {
    crate::cancel::panic_at_check(nth as u64);
}

/// Diagnostics: the vector instructions the kernels chose on this CPU ("Base", "Avx2",
/// "Avx512"). Not part of the public API.
#[napi(js_name = "__simdLevel")]
pub fn simd_level() -> String {
    format!("{:?}", crate::simd::Level::detect())
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
