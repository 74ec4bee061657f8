//! The one napi task every operation runs through.
//!
//! An operation is a [`Kernel`]: its inputs and a `run` that does the work. [`Job`] wraps it
//! in a napi `AsyncTask` and gives every operation the same behaviour:
//! - `compute` (on a libuv thread) checks the cancel flag, then runs the kernel inside the
//!   current rayon pool, under `catch_unwind`: a panic anywhere, rayon closures included,
//!   becomes a rejected Promise instead of an aborted process;
//! - `reject` (on the JS thread) turns the [`KernelError`] into a JS error of the right class
//!   with a Node-style `code`.
//!
//! A call whose token is marked inline (tiny inputs, chosen by the JS front) runs its kernel
//! right away on the calling thread instead, under the same `catch_unwind` and error mapping,
//! and returns an already-settled Promise: a thread hop costs far more than such work.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;
use napi::{sys, Env, Task};

use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::inflight::Slot;
use crate::pool;
use crate::teardown::Running;

/// A unit of work: owns its inputs (napi references keep JS memory alive) and produces a value
/// napi can hand to JS (typed arrays built from a `Vec` are handed over without a copy).
pub trait Kernel: Send + 'static {
    type Output: ToNapiValue + TypeName + Send + 'static;
    /// The kernel's work is visible outside the process once `run` returns (a file renamed
    /// into place): its result stands even if the call was cancelled meanwhile. Others are
    /// rejected when cancelled as they finish, so that no result is built for them.
    const COMMITS: bool = false;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Self::Output>;
}

pub struct Job<K: Kernel> {
    kernel: K,
    cancel: Cancel,
    /// The call's place among the process's calls in flight, freed as soon as `compute` ends:
    /// that is when the libuv thread is free again, whatever the JS thread is doing.
    slot: Option<Slot>,
    /// Seen by the watchdog that cancels the call if its JS thread ends first; dropped with the
    /// slot.
    running: Option<Running>,
    failure: Option<KernelError>,
}

/// What an exported operation returns: a Promise either way, settled later by a libuv task or
/// already settled by an inline run.
pub enum Call<K: Kernel> {
    Queued(AsyncTask<Job<K>>),
    Inline(KernelResult<K::Output>),
}

/// Wraps `kernel` in an `AsyncTask` that stops when `token` is cancelled and takes the
/// token's in-flight slot; or, for an inline token, runs it now on this thread.
pub fn spawn<K: Kernel>(mut kernel: K, token: &CancelToken) -> Call<K> {
    if token.inline {
        return Call::Inline(run_inline(&mut kernel, &token.flag));
    }
    Call::Queued(AsyncTask::new(Job {
        kernel,
        cancel: token.flag.clone(),
        slot: token.take_slot(),
        running: token.take_running(),
        failure: None,
    }))
}

fn run_inline<K: Kernel>(kernel: &mut K, cancel: &Cancel) -> KernelResult<K::Output> {
    // Tiny inputs make one chunk, so rayon runs them on this thread; a kernel that asks rayon
    // for its thread count meets a global pool of one thread, not a pool per core.
    static GLOBAL_POOL: std::sync::Once = std::sync::Once::new();
    GLOBAL_POOL.call_once(|| {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "offload-inline".into())
            .build_global();
    });
    match catch_unwind(AssertUnwindSafe(|| {
        cancel.check()?;
        kernel.run(cancel)
    })) {
        Ok(result) => result,
        Err(payload) => Err(KernelError::Panic(panic_message(payload.as_ref()))),
    }
}

impl<K: Kernel> TypeName for Call<K> {
    fn type_name() -> &'static str {
        "Promise"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<K: Kernel> ToNapiValue for Call<K> {
    unsafe fn to_napi_value(env: sys::napi_env, call: Self) -> napi::Result<sys::napi_value> {
        let result = match call {
            Call::Queued(task) => return unsafe { AsyncTask::to_napi_value(env, task) },
            Call::Inline(result) => result,
        };
        let mut deferred = std::ptr::null_mut();
        let mut promise = std::ptr::null_mut();
        check_status!(unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) })?;
        match result {
            Ok(output) => {
                let value = unsafe { K::Output::to_napi_value(env, output)? };
                check_status!(unsafe { sys::napi_resolve_deferred(env, deferred, value) })?;
            }
            Err(failure) => {
                let error = unsafe { build_error(env, &failure)? };
                check_status!(unsafe { sys::napi_reject_deferred(env, deferred, error) })?;
            }
        }
        Ok(promise)
    }
}

impl<K: Kernel> Task for Job<K> {
    type Output = K::Output;
    type JsValue = K::Output;

    fn compute(&mut self) -> napi::Result<K::Output> {
        let (kernel, cancel) = (&mut self.kernel, &self.cancel);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            cancel.check()?;
            // The pool is captured here: resizing it later does not disturb this task.
            let pool = pool::current()?;
            let output = pool.install(|| kernel.run(cancel))?;
            // Cancelled while the kernel finished: the result is not built on the JS thread
            // (strings, objects) for a call that has already been rejected.
            if !K::COMMITS {
                cancel.check()?;
            }
            Ok(output)
        }));
        drop(self.slot.take());
        drop(self.running.take());
        let failure = match outcome {
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(e)) => e,
            Err(payload) => KernelError::Panic(panic_message(payload.as_ref())),
        };
        let reason = failure.to_string();
        self.failure = Some(failure);
        Err(napi::Error::from_reason(reason))
    }

    fn resolve(&mut self, _env: Env, output: K::Output) -> napi::Result<K::Output> {
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<K::Output> {
        let failure = self
            .failure
            .take()
            .unwrap_or(KernelError::Panic(err.reason.clone()));
        Err(to_js_error(&env, &failure))
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

enum Class {
    Error,
    TypeError,
    RangeError,
}

/// The JS error for a kernel failure: class, `code`, message, and for I/O the `errno`,
/// `syscall` and `path` that `fs` would give.
pub fn to_js_error(env: &Env, failure: &KernelError) -> napi::Error {
    let raw = env.raw();
    // SAFETY: called on the JS thread with a live env.
    match unsafe { build_error(raw, failure) } {
        Ok(value) => napi::Error::from(unsafe { Unknown::from_raw_unchecked(raw, value) }),
        Err(e) => e,
    }
}

unsafe fn string(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
    })?;
    Ok(out)
}

unsafe fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> napi::Result<()> {
    let key = unsafe { string(env, key)? };
    check_status!(unsafe { sys::napi_set_property(env, obj, key, value) })
}

unsafe fn build_error(env: sys::napi_env, failure: &KernelError) -> napi::Result<sys::napi_value> {
    let io_code;
    let (class, code, message) = match failure {
        KernelError::InvalidValue(m) => (Class::TypeError, "ERR_INVALID_ARG_VALUE", m.clone()),
        KernelError::OutOfRange(m) => (Class::RangeError, "ERR_OUT_OF_RANGE", m.clone()),
        KernelError::OutOfMemory(m) => (Class::RangeError, "ERR_OUT_OF_MEMORY", m.clone()),
        KernelError::Aborted => (Class::Error, "ABORT_ERR", failure.to_string()),
        KernelError::Panic(_) => (Class::Error, "ERR_OFFLOAD_PANIC", failure.to_string()),
        KernelError::Codec { code, message, .. } | KernelError::Csv { code, message, .. } => {
            (Class::Error, *code, message.clone())
        }
        KernelError::BufferTooLarge(m) => (Class::RangeError, "ERR_BUFFER_TOO_LARGE", m.clone()),
        KernelError::Io {
            error,
            syscall,
            path,
        } => {
            let errno = crate::error::errno_info(error);
            // As fs words it: "ENOENT: no such file or directory, open '/x'". A failed read
            // names its path too, as fs does from Node 26 on (before, it named none).
            let message = format!(
                "{}: {}, {} '{}'",
                errno.code, errno.description, syscall, path
            );
            io_code = errno.code;
            (Class::Error, io_code.as_str(), message)
        }
    };
    let (code_value, message_value) = unsafe { (string(env, code)?, string(env, &message)?) };
    let mut error = std::ptr::null_mut();
    let status = unsafe {
        match class {
            Class::Error => sys::napi_create_error(env, code_value, message_value, &mut error),
            Class::TypeError => {
                sys::napi_create_type_error(env, code_value, message_value, &mut error)
            }
            Class::RangeError => {
                sys::napi_create_range_error(env, code_value, message_value, &mut error)
            }
        }
    };
    check_status!(status)?;
    match failure {
        KernelError::Aborted => unsafe { set(env, error, "name", string(env, "AbortError")?)? },
        KernelError::Io {
            error: io,
            syscall,
            path,
        } => unsafe {
            let mut errno = std::ptr::null_mut();
            check_status!(sys::napi_create_int32(
                env,
                crate::error::errno_info(io).errno,
                &mut errno
            ))?;
            set(env, error, "errno", errno)?;
            set(env, error, "syscall", string(env, syscall)?)?;
            set(env, error, "path", string(env, path)?)?;
        },
        KernelError::Csv {
            line, column, text, ..
        } => unsafe {
            let mut value = std::ptr::null_mut();
            check_status!(sys::napi_create_double(env, *line as f64, &mut value))?;
            set(env, error, "line", value)?;
            set(env, error, "column", string(env, column)?)?;
            set(env, error, "text", string(env, text)?)?;
        },
        KernelError::Codec { errno, .. } => unsafe {
            let mut value = std::ptr::null_mut();
            check_status!(sys::napi_create_int32(env, *errno, &mut value))?;
            set(env, error, "errno", value)?;
        },
        _ => {}
    }
    Ok(error)
}
