use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::KernelError;

/// A flag shared between the JS thread (which sets it on abort) and the kernel (which polls it).
///
/// Kernels call [`Cancel::check`] between chunks of a few milliseconds of work, never per element.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every kernel holding this flag to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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
