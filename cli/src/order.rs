//! Reading files in parallel and merging them in order, without a merging thread.
//!
//! Workers take the next file, read it, and queue the result. Whichever worker finds the
//! next file in order ready takes the merge lock and applies every file that is ready, in
//! order; the others go on reading. So there are as many busy threads as workers (on a
//! machine with as many cores, none waits for a core), no thread is woken per file, and a
//! file is usually merged by the thread that just read it, while its batch is still in that
//! core's caches.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Results read ahead of the next file to merge, and that file's index.
struct Queue<R> {
    ready: BTreeMap<usize, R>,
    next: usize,
}

/// Shared state of one [`for_each_in_order`] run.
struct Run<'a, T, R, F> {
    items: &'a [T],
    /// Index of the next item to read.
    taken: AtomicUsize,
    /// Set once `apply` asked to stop.
    stop: AtomicBool,
    queue: Mutex<Queue<R>>,
    /// Signalled when the next index to merge moves (or on stop): readers far ahead wait on it.
    moved: Condvar,
    /// Held by the worker merging; `apply` lives in it.
    merge: Mutex<F>,
    /// How far ahead of the merge a worker may read.
    ahead: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a worker panicked while holding it: the scope re-raises that
    // panic when it ends, so the data is only read on the way out.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads each item with `read` on `threads` workers and passes the results to `apply` in the
/// items' order, one at a time. `apply` returns `false` to stop: no later item is applied.
/// At most `4 × threads` results wait to be merged at any time.
pub fn for_each_in_order<T, R, F>(items: &[T], threads: usize, read: impl Fn(&T) -> R + Sync, apply: F)
where
    T: Sync,
    R: Send,
    F: FnMut(&T, R) -> bool + Send,
{
    let threads = threads.max(1);
    let run = Run {
        items,
        taken: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        queue: Mutex::new(Queue { ready: BTreeMap::new(), next: 0 }),
        moved: Condvar::new(),
        merge: Mutex::new(apply),
        ahead: threads * 4,
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| run.work(&read));
        }
        run.work(&read);
    });
}

impl<T, R, F> Run<'_, T, R, F>
where
    F: FnMut(&T, R) -> bool,
{
    fn work(&self, read: &impl Fn(&T) -> R) {
        loop {
            let i = self.taken.fetch_add(1, Ordering::Relaxed);
            let Some(item) = self.items.get(i) else {
                return;
            };
            {
                let mut q = lock(&self.queue);
                while i >= q.next + self.ahead && !self.stop.load(Ordering::Relaxed) {
                    q = self.moved.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let result = read(item);
            lock(&self.queue).ready.insert(i, result);
            self.merge_ready();
        }
    }

    /// Applies every result that is next in order, unless another worker is doing so.
    fn merge_ready(&self) {
        loop {
            let Ok(mut apply) = self.merge.try_lock() else {
                // The merging worker looks for ready results again after it lets go.
                return;
            };
            loop {
                // A stop is set under this lock by the worker that held it last.
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                let (i, result) = {
                    let mut q = lock(&self.queue);
                    let i = q.next;
                    match q.ready.remove(&i) {
                        Some(r) => (i, r),
                        None => break,
                    }
                };
                let go_on = match self.items.get(i) {
                    Some(item) => apply(item, result),
                    None => false,
                };
                lock(&self.queue).next = i + 1;
                if !go_on {
                    self.stop.store(true, Ordering::Relaxed);
                }
                self.moved.notify_all();
                if !go_on {
                    return;
                }
            }
            drop(apply);
            // A result queued while this worker held the lock was left to it: look again.
            let q = lock(&self.queue);
            if self.stop.load(Ordering::Relaxed) || !q.ready.contains_key(&q.next) {
                return;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn results_are_applied_in_order_once_each_whatever_the_reading_order() {
        // Given items whose reading takes longer for some than for others
        let items: Vec<u64> = (0..500).collect();
        let read = |x: &u64| {
            if x % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            x * 2
        };
        // When they are read on several workers
        for threads in [1, 2, 3, 8] {
            let mut seen = vec![];
            for_each_in_order(&items, threads, read, |x, doubled| {
                assert_eq!(doubled, x * 2);
                seen.push(*x);
                true
            });
            // Then every result is applied once, in the items' order
            assert_eq!(seen, items, "{threads} threads");
        }
    }

    #[test]
    fn nothing_after_a_stop_is_applied() {
        for threads in [2, 3, 4] {
            // Given an apply that stops at the 100th item
            let items: Vec<u32> = (0..1000).collect();
            let mut seen = vec![];
            // When the items are read on several workers
            for_each_in_order(
                &items,
                threads,
                |x| *x,
                |x, _| {
                    seen.push(*x);
                    *x < 99
                },
            );
            // Then the items up to the stop, and only those, were applied
            assert_eq!(seen, (0..100).collect::<Vec<_>>(), "{threads} threads");
        }
    }
}
