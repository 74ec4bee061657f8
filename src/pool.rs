//! The rayon pool behind every task. It can be resized at any time: a running task keeps the
//! `Arc` it started with, so resizing never disturbs work in progress.

use std::sync::{Arc, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::KernelError;

/// How many threads per usable core `set_threads` accepts at most. CPU-bound kernels gain
/// nothing past one thread per core; a few more can help when calls also wait on disk
/// (`hashFiles` on a network file system). 1024 threads on 2 cores made every sort 85x slower.
pub const THREADS_PER_CORE: usize = 4;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// Every core the OS lets this process use: its CPU affinity and its cgroup's CPU quota, as
/// `std::thread::available_parallelism` reads them.
pub fn usable_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of threads a default pool gets: `OFFLOAD_THREADS` when it is a whole number from
/// 1 to [`max_threads`] (as `RAYON_NUM_THREADS` and sharp's `VIPS_CONCURRENCY` work), else every
/// usable core.
pub fn default_threads() -> usize {
    threads_from_env(std::env::var("OFFLOAD_THREADS").ok().as_deref()).unwrap_or_else(usable_cores)
}

/// `OFFLOAD_THREADS`, if it names a valid thread count.
pub fn threads_from_env(value: Option<&str>) -> Option<usize> {
    value?
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max_threads()).contains(n))
}

/// The most threads `set_threads` accepts: [`THREADS_PER_CORE`] per usable core.
pub fn max_threads() -> usize {
    usable_cores() * THREADS_PER_CORE
}

fn build(threads: usize) -> Result<ThreadPool, KernelError> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("offload-{i}"))
        .build()
        .map_err(|e| KernelError::OutOfRange(format!("Cannot start {threads} threads: {e}")))
}

/// The pool new tasks should run on, built with [`default_threads`] on first use.
pub fn current() -> Result<Arc<ThreadPool>, KernelError> {
    if let Some(pool) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(pool.clone());
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = slot.as_ref() {
        return Ok(pool.clone());
    }
    let pool = Arc::new(build(default_threads())?);
    *slot = Some(pool.clone());
    Ok(pool)
}

/// Replaces the pool with one of `threads` threads (1 to [`max_threads`]).
pub fn set_threads(threads: usize) -> Result<(), KernelError> {
    let max = max_threads();
    if !(1..=max).contains(&threads) {
        return Err(KernelError::OutOfRange(format!(
            "threads must be an integer from 1 to {max} ({THREADS_PER_CORE} per usable core); received {threads}"
        )));
    }
    let unchanged = POOL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|pool| pool.current_num_threads() == threads);
    if unchanged {
        return Ok(()); // no new threads for the same count
    }
    let pool = Arc::new(build(threads)?);
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(pool);
    Ok(())
}

/// The thread count of the pool new tasks run on.
pub fn threads() -> usize {
    current().map_or(0, |p| p.current_num_threads())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_keeps_running_pools_alive() {
        let before = current().unwrap();
        set_threads(1).unwrap();
        assert_eq!(threads(), 1);
        // the old pool still works for a task that captured it
        assert_eq!(before.install(|| 40 + 2), 42);
        set_threads(default_threads()).unwrap();
        assert!(set_threads(0).is_err());
        assert_eq!(threads_from_env(Some(" 1 ")), Some(1));
        for bad in [
            None,
            Some(""),
            Some("0"),
            Some("-2"),
            Some("1.5"),
            Some("many"),
        ] {
            assert_eq!(threads_from_env(bad), None, "{bad:?}");
        }
        assert_eq!(
            threads_from_env(Some(&(max_threads() + 1).to_string())),
            None
        );
        assert!(set_threads(max_threads() + 1).is_err());
        assert!(set_threads(1024).is_err() || max_threads() >= 1024);
    }
}
