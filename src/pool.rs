//! The rayon pool behind every task. It can be resized at any time: a running task keeps the
//! `Arc` it started with, so resizing never disturbs work in progress.

use std::sync::atomic::{AtomicI32, Ordering};
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

/// The largest nice increment: Linux's nice values end at 19.
pub const MAX_NICE_INCREMENT: i32 = 19;

/// How much lower than the process the pool's threads run (Linux nice values, added to the
/// process's own); 0 = the same priority. The default, 10, measured best in the server
/// scenario (`npm run demo:server`): the event loop's delay p99 under load fell by a quarter,
/// with the same throughput.
pub const DEFAULT_NICE_INCREMENT: i32 = 10;
static NICE_INCREMENT: AtomicI32 = AtomicI32::new(DEFAULT_NICE_INCREMENT);
/// Thread ids of every live pool thread (of every pool: a replaced pool's threads finish their
/// work first), so a new nice increment reaches threads already running.
#[cfg(target_os = "linux")]
static POOL_THREADS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// The live pool threads' ids (a panic elsewhere never leaves them unusable).
#[cfg(target_os = "linux")]
fn pool_threads() -> std::sync::MutexGuard<'static, Vec<i32>> {
    POOL_THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(target_os = "linux")]
mod priority {
    /// The kernel's id of the calling thread.
    pub fn thread_id() -> i32 {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() }
    }

    /// The nice value of the process's main thread (the base the increment is added to).
    pub fn process_nice() -> i32 {
        // SAFETY: getpriority has no preconditions; for PRIO_PROCESS and the pid it reads the
        // main thread's value (Linux keeps one per thread).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) }
    }

    /// Sets thread `tid`'s nice value.
    pub fn set(tid: i32, nice: i32) -> std::io::Result<()> {
        // SAFETY: setpriority has no preconditions; an unknown tid is an error, not UB.
        match unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }
}

/// The nice value pool threads get for `increment`.
#[cfg(target_os = "linux")]
fn pool_nice(increment: i32) -> i32 {
    (priority::process_nice() + increment).min(MAX_NICE_INCREMENT)
}

fn on_thread_start() {
    #[cfg(target_os = "linux")]
    {
        let tid = priority::thread_id();
        pool_threads().push(tid);
        let increment = NICE_INCREMENT.load(Ordering::Relaxed);
        if increment != 0 {
            // Raising a nice value needs no privilege; a failure leaves the default priority.
            let _ = priority::set(tid, pool_nice(increment));
        }
    }
}

fn on_thread_exit() {
    #[cfg(target_os = "linux")]
    {
        let tid = priority::thread_id();
        pool_threads().retain(|&t| t != tid);
    }
}

/// Runs the pool's threads `increment` nice levels below the process (0 to 19), like
/// piscina's `niceIncrement`: with every core busy, the event loop's thread then wins the CPU
/// whenever it has work. Raising it re-prioritises the running threads (no privilege needed);
/// lowering it starts a new pool of the same size (new threads inherit the process's priority,
/// and no privilege is needed for that either), while calls already running finish on the old
/// one. On Linux only; elsewhere it is recorded and has no effect.
pub fn set_nice_increment(increment: i32) -> Result<(), KernelError> {
    if !(0..=MAX_NICE_INCREMENT).contains(&increment) {
        return Err(KernelError::OutOfRange(format!(
            "niceIncrement must be an integer from 0 to {MAX_NICE_INCREMENT}; received {increment}"
        )));
    }
    let before = NICE_INCREMENT.swap(increment, Ordering::Relaxed);
    #[cfg(target_os = "linux")]
    {
        if increment < before {
            let running = POOL.read().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(pool) = running {
                let fresh = Arc::new(build(pool.current_num_threads())?);
                *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
            }
        } else if increment > before {
            let nice = pool_nice(increment);
            for &tid in pool_threads().iter() {
                // A thread that is exiting (ESRCH) needs nothing; any other failure leaves that
                // thread at its priority, which only makes it compete as before.
                let _ = priority::set(tid, nice);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = before;
    Ok(())
}

/// The nice increment set by [`set_nice_increment`].
pub fn nice_increment() -> i32 {
    NICE_INCREMENT.load(Ordering::Relaxed)
}

fn build(threads: usize) -> Result<ThreadPool, KernelError> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("offload-{i}"))
        .start_handler(|_| on_thread_start())
        .exit_handler(|_| on_thread_exit())
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
