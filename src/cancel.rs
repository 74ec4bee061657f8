use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::KernelError;

/// A flag shared between the JS thread (which sets it on abort) and the kernel (which polls it),
/// and the call's progress, which the kernel advances and the JS thread reads.
///
/// Kernels call [`Cancel::check`] between chunks of a few milliseconds of work, never per
/// element, and [`Cancel::advance`] at the same points: progress costs one relaxed atomic add
/// per chunk whether or not anyone reads it, and needs no callback into JS from the kernel.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<State>);

#[derive(Debug, Default)]
struct State {
    cancelled: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every kernel holding this flag to stop at its next check.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// Sets the amount of work the call will do, in the operation's unit (elements, bytes,
    /// rows, numbers sieved), before it starts.
    pub fn set_total(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// Records `amount` more units of work done.
    #[inline]
    pub fn advance(&self, amount: u64) {
        self.0.done.fetch_add(amount, Ordering::Relaxed);
    }

    /// `(done, total)` so far; `done` may pass `total` when the total was an estimate (a file
    /// that grew while it was read).
    pub fn progress(&self) -> (u64, u64) {
        (
            self.0.done.load(Ordering::Relaxed),
            self.0.total.load(Ordering::Relaxed),
        )
    }

    /// `Err(KernelError::Aborted)` once the flag is set.
    #[inline]
    pub fn check(&self) -> Result<(), KernelError> {
        if PANIC_HOOK_ARMED.load(Ordering::Relaxed) {
            panic_hook_tick();
        }
        if self.is_cancelled() {
            Err(KernelError::Aborted)
        } else {
            Ok(())
        }
    }
}

// A test hook: makes the n-th cancellation check from now panic, wherever it runs (in the task
// or inside a rayon closure), so the tests can show that a panic in any operation becomes a
// rejected Promise. Every kernel checks the flag, so every kernel can be made to panic. Disarmed
// it costs one relaxed load per check (a check guards milliseconds of work).
static PANIC_HOOK_ARMED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK_COUNTDOWN: AtomicU64 = AtomicU64::new(0);

/// Arms the test hook: the `nth` check from now (1 = the next) panics; 0 disarms it.
pub fn panic_at_check(nth: u64) {
    PANIC_HOOK_COUNTDOWN.store(nth, Ordering::SeqCst);
    PANIC_HOOK_ARMED.store(nth > 0, Ordering::SeqCst);
}

#[cold]
fn panic_hook_tick() {
    let fired = PANIC_HOOK_COUNTDOWN
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok_and(|before| before == 1);
    if fired {
        PANIC_HOOK_ARMED.store(false, Ordering::SeqCst);
        panic!("test panic at a cancellation check");
    }
}
