//! The process-wide limit on native calls in flight.
//!
//! Every call holds one libuv thread for its whole run, and libuv has one pool per process,
//! shared by the main thread and every worker thread (and by `fs`, `dns`, `crypto`, `zlib`).
//! So the count of calls in flight lives here, in native memory, and every thread that loads
//! offload takes a [`Slot`] from it before it starts a call: N workers together never hold
//! more than [`limit`] libuv threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::error::KernelError;

/// libuv's own bound on `UV_THREADPOOL_SIZE`.
const LIBUV_MAX_THREADS: usize = 1024;

/// The size of libuv's pool, as libuv computes it from `UV_THREADPOOL_SIZE` (default 4; the
/// value is read with `atoi`, 0 counts as 1, and anything above 1024 as 1024).
pub fn libuv_pool_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| pool_size_from(std::env::var("UV_THREADPOOL_SIZE").ok().as_deref()))
}

fn pool_size_from(value: Option<&str>) -> usize {
    let Some(text) = value else { return 4 };
    // atoi: optional leading blanks and sign, then digits; anything else ends the number.
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    let n = digits
        .parse::<u128>()
        .unwrap_or(if digits.is_empty() { 0 } else { u128::MAX });
    match (negative, n) {
        (_, 0) => 1,
        // libuv keeps the count in an unsigned int: a negative value wraps past the maximum.
        (true, _) => LIBUV_MAX_THREADS,
        (false, n) => n.min(LIBUV_MAX_THREADS as u128) as usize,
    }
}

/// The default limit: two libuv threads left for `fs`, `dns`, `crypto` and `zlib`, at least one call.
pub fn default_limit() -> usize {
    libuv_pool_size().saturating_sub(2).max(1)
}

/// The largest limit `set_limit` accepts: one libuv thread always stays free (with a pool of
/// one thread, one call is still allowed: offload could not run otherwise).
pub fn max_limit() -> usize {
    libuv_pool_size().saturating_sub(1).max(1)
}

static LIMIT: AtomicUsize = AtomicUsize::new(0); // 0: not set yet, use default_limit()
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many calls may be in flight at once in this process.
pub fn limit() -> usize {
    match LIMIT.load(Ordering::Acquire) {
        0 => default_limit(),
        n => n,
    }
}

/// Sets the process-wide limit, from 1 to [`max_limit`]. Calls already running keep their slots.
pub fn set_limit(n: usize) -> Result<(), KernelError> {
    let max = max_limit();
    if !(1..=max).contains(&n) {
        return Err(KernelError::OutOfRange(format!(
            "maxInFlight must be an integer from 1 to {max} (UV_THREADPOOL_SIZE is {} and one libuv thread must stay free for fs, dns, crypto and zlib; raise UV_THREADPOOL_SIZE before Node starts for more); received {n}",
            libuv_pool_size()
        )));
    }
    LIMIT.store(n, Ordering::Release);
    Ok(())
}

/// Calls in flight in this process now, every thread counted.
pub fn running() -> usize {
    RUNNING.load(Ordering::Acquire)
}

/// The right to run one call; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot(());

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A slot, if fewer than [`limit`] calls are in flight.
pub fn try_acquire() -> Option<Slot> {
    let limit = limit();
    RUNNING
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_size_is_read_as_libuv_reads_it() {
        assert_eq!(pool_size_from(None), 4);
        assert_eq!(pool_size_from(Some("8")), 8);
        assert_eq!(pool_size_from(Some("  16x")), 16);
        assert_eq!(pool_size_from(Some("0")), 1);
        assert_eq!(pool_size_from(Some("abc")), 1);
        assert_eq!(pool_size_from(Some("")), 1);
        assert_eq!(pool_size_from(Some("5000")), 1024);
        assert_eq!(pool_size_from(Some("99999999999999999999999999")), 1024);
        assert_eq!(pool_size_from(Some("-3")), 1024);
    }

    #[test]
    fn slots_are_bounded_by_the_limit_and_freed_on_drop() {
        set_limit(1).unwrap();
        let base = running();
        let first = try_acquire().expect("a free slot");
        assert_eq!(running(), base + 1);
        assert!(try_acquire().is_none());
        drop(first);
        assert_eq!(running(), base);
        assert!(try_acquire().is_some());
        assert!(set_limit(0).is_err());
        assert!(set_limit(max_limit() + 1).is_err());
        set_limit(default_limit()).unwrap();
    }
}
