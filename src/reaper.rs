//! Freeing large buffers off the task's thread.
//!
//! Giving back hundreds of megabytes of touched memory takes the kernel milliseconds per
//! hundred megabytes (every page is unmapped). A call that is aborted, or that is done with a
//! working buffer, should not make its caller wait for that: [`FreeLater`] hands the buffer to
//! one background thread that drops it, so the task ends (and its slot frees) at once.

use std::ops::{Deref, DerefMut};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Buffers smaller than this are dropped where they are: freeing them is cheap.
const BACKGROUND_BYTES: usize = 8 << 20;

type Garbage = Box<dyn Send>;

fn reaper() -> Option<&'static Mutex<Sender<Garbage>>> {
    static REAPER: OnceLock<Option<Mutex<Sender<Garbage>>>> = OnceLock::new();
    REAPER
        .get_or_init(|| {
            let (send, receive) = channel::<Garbage>();
            std::thread::Builder::new()
                .name("offload-free".into())
                .spawn(move || receive.into_iter().for_each(drop))
                .ok()
                .map(|_| Mutex::new(send))
        })
        .as_ref()
}

/// Drops `value` on the background thread (or here, if that thread could not start).
pub fn drop_in_background<T: Send + 'static>(value: T) {
    match reaper() {
        Some(sender) => {
            let sent = sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(Box::new(value));
            drop(sent); // on failure the value comes back inside the error and is dropped here
        }
        None => drop(value),
    }
}

/// A vector whose allocation, when large, is freed by the background thread when it drops.
pub struct FreeLater<T: Send + 'static>(Option<Vec<T>>);

impl<T: Send + 'static> FreeLater<T> {
    pub fn new(vec: Vec<T>) -> Self {
        Self(Some(vec))
    }

    /// The vector itself, to return as a result (then it is not freed at all).
    pub fn into_inner(mut self) -> Vec<T> {
        self.0.take().expect("present until dropped")
    }
}

impl<T: Send + 'static> Deref for FreeLater<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> DerefMut for FreeLater<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        self.0.as_mut().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for FreeLater<T> {
    fn drop(&mut self) {
        if let Some(vec) = self.0.take() {
            if std::mem::size_of_val(vec.as_slice()) >= BACKGROUND_BYTES {
                drop_in_background(vec);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn everything_is_dropped_exactly_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let small = FreeLater::new(vec![Counted(drops.clone())]);
        drop(small);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let big: Vec<u8> = vec![1; BACKGROUND_BYTES];
        drop(FreeLater::new(big));
        drop_in_background(Counted(drops.clone()));
        let kept = FreeLater::new(vec![5u8; 3]).into_inner();
        assert_eq!(kept, [5, 5, 5]);
        for _ in 0..1000 {
            if drops.load(Ordering::SeqCst) == 2 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the background drop did not happen");
    }
}
