//! Calls still running when their thread ends: `worker.terminate()`, `process.exit()` in a
//! worker, piscina's `destroy()`.
//!
//! Node then runs no more JavaScript in that thread, and before it frees the thread it waits
//! for every native task the thread started: a call with hours of work left (a `countPrimes`
//! near 2^53) kept `terminate()` pending for hours, and the process alive with it. Native
//! cleanup hooks cannot help: Node runs them only after that wait. What does run during the
//! wait is the thread's event loop. So each thread with calls in flight gets a ping every
//! [`PING_INTERVAL`] from a watchdog thread, through a thread-safe function whose callback
//! runs on that thread's loop and calls a no-op JS function. Once Node has stopped the thread,
//! napi refuses the call, and the callback cancels the thread's calls: their kernels stop at
//! their next check, within milliseconds, and the thread ends.

use std::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use napi::{sys, Env};

use crate::cancel::Cancel;

/// How often a thread with calls in flight is asked whether it is ending: the most a
/// terminated worker waits before its calls are cancelled.
pub const PING_INTERVAL: Duration = Duration::from_millis(50);

/// One running call's registration: the watchdog sees the call until this is dropped (when
/// the call's native task ends).
pub struct Running(#[allow(dead_code)] Arc<Cancel>);

/// A JS thread (a napi env) and the calls it has in flight.
struct Watched {
    env: usize,
    /// The thread-safe function whose callback runs on the env's thread.
    ping: usize,
    calls: Vec<Weak<Cancel>>,
    /// A ping is queued and its callback has not run yet: the env's thread is busy, and more
    /// pings would only pile up in its queue.
    pinged: bool,
}

struct Registry {
    threads: Vec<Watched>,
    watchdog_started: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    watchdog_started: false,
});
static WAKE: Condvar = Condvar::new();

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a call of the JS thread `env` (called on that thread), so that its cancel flag is
/// set if the thread ends while the call runs. `None` when the thread's ping could not be set
/// up: the call then runs as before, and a thread ended meanwhile waits for it.
pub fn watch(env: &Env, cancel: &Cancel) -> Option<Running> {
    let env = env.raw();
    let mut registry = registry();
    let key = env as usize;
    let index = match registry.threads.iter().position(|t| t.env == key) {
        Some(index) => index,
        None => {
            // SAFETY: a live env, on its own thread (an Env is only handed to #[napi] calls).
            let ping = unsafe { create_ping(env) }?;
            registry.threads.push(Watched {
                env: key,
                ping,
                calls: Vec::new(),
                pinged: false,
            });
            registry.threads.len() - 1
        }
    };
    if !registry.watchdog_started {
        let started = std::thread::Builder::new()
            .name("offload-watchdog".into())
            .spawn(watchdog)
            .is_ok();
        if !started {
            return None;
        }
        registry.watchdog_started = true;
    }
    let running = Arc::new(cancel.clone());
    registry.threads[index].calls.push(Arc::downgrade(&running));
    WAKE.notify_one();
    Some(Running(running))
}

/// Pings every thread that has calls in flight, every PING_INTERVAL; sleeps while none has.
fn watchdog() {
    let mut registry = registry();
    loop {
        let mut any = false;
        for thread in &mut registry.threads {
            thread.calls.retain(|call| call.strong_count() > 0);
            if thread.calls.is_empty() || thread.pinged {
                any |= !thread.calls.is_empty();
                continue;
            }
            any = true;
            // The registry's lock is held: the ping cannot be freed meanwhile (its finalizer
            // takes the lock first). Non-blocking, into an unbounded queue.
            let status = unsafe {
                sys::napi_call_threadsafe_function(
                    thread.ping as sys::napi_threadsafe_function,
                    std::ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
            thread.pinged = status == sys::Status::napi_ok;
        }
        registry = if any {
            WAKE.wait_timeout(registry, PING_INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0
        } else {
            WAKE.wait(registry).unwrap_or_else(|e| e.into_inner())
        };
    }
}

/// Creates the env's ping: a thread-safe function over a no-op JS function, unref'd so that it
/// never keeps the thread alive.
unsafe fn create_ping(env: sys::napi_env) -> Option<usize> {
    let ok = |status: sys::napi_status| (status == sys::Status::napi_ok).then_some(());
    let name = "offloadPing";
    let mut noop_fn = std::ptr::null_mut();
    let mut resource_name = std::ptr::null_mut();
    let mut ping = std::ptr::null_mut();
    unsafe {
        ok(sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(noop),
            std::ptr::null_mut(),
            &mut noop_fn,
        ))?;
        ok(sys::napi_create_string_utf8(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            &mut resource_name,
        ))?;
        ok(sys::napi_create_threadsafe_function(
            env,
            noop_fn,
            std::ptr::null_mut(),
            resource_name,
            0,
            1,
            std::ptr::null_mut(),
            Some(finalize),
            std::ptr::null_mut(),
            Some(on_ping),
            &mut ping,
        ))?;
        ok(sys::napi_unref_threadsafe_function(env, ping))?;
    }
    Some(ping as usize)
}

unsafe extern "C" fn noop(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    std::ptr::null_mut()
}

/// On the env's thread: a call into JS that napi refuses means Node has stopped the thread.
unsafe extern "C" fn on_ping(
    env: sys::napi_env,
    noop_fn: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the ping is being freed with items still queued
    }
    let mut receiver = std::ptr::null_mut();
    let mut result = std::ptr::null_mut();
    let status = unsafe {
        sys::napi_get_undefined(env, &mut receiver);
        sys::napi_call_function(env, receiver, noop_fn, 0, std::ptr::null(), &mut result)
    };
    let stopped =
        status == sys::Status::napi_pending_exception || status == sys::Status::napi_cannot_run_js;
    let mut registry = registry();
    if let Some(thread) = registry.threads.iter_mut().find(|t| t.env == env as usize) {
        thread.pinged = false;
        if stopped {
            for call in thread.calls.iter().filter_map(Weak::upgrade) {
                call.cancel();
            }
        }
    }
}

/// The env is being freed (its cleanup, after its calls have ended): forget it.
unsafe extern "C" fn finalize(env: sys::napi_env, _data: *mut c_void, _hint: *mut c_void) {
    registry().threads.retain(|t| t.env != env as usize);
}
