use std::sync::atomic::{AtomicBool, Ordering};
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
        if self.is_cancelled() {
            Err(KernelError::Aborted)
        } else {
            Ok(())
        }
    }
}
