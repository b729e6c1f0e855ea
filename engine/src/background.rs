//! Background threads that wake up periodically (the log flusher, the
//! checkpointer) and stop, joined, when their owner drops them.

use std::time::Duration;

use crate::sync::{lock, Arc, Condvar, Mutex};
use crate::{Error, Result};

/// Lets a tick ask whether its thread is being stopped, so that a long one
/// (a checkpoint pass run back to back) can end early.
pub(crate) struct Stopping<'a>(&'a Mutex<bool>);

impl Stopping<'_> {
    pub(crate) fn requested(&self) -> bool {
        *lock(self.0)
    }
}

/// A thread running `tick` every period until dropped.
pub(crate) struct Periodic {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Periodic {
    /// Starts thread `name`, calling `tick` every `every` (first after one
    /// period). Dropping the returned handle stops the thread and waits for a
    /// running tick to finish.
    pub(crate) fn start(
        name: &str,
        every: Duration,
        mut tick: impl FnMut(&Stopping<'_>) + Send + 'static,
    ) -> Result<Periodic> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let (stopped, cv) = &*signal;
                let mut guard = lock(stopped);
                while !*guard {
                    guard = cv.wait_timeout(guard, every).unwrap_or_else(|e| e.into_inner()).0;
                    if *guard {
                        break;
                    }
                    drop(guard);
                    tick(&Stopping(stopped));
                    guard = lock(stopped);
                }
            })
            .map_err(|e| Error::io("spawn a background thread", name, e))?;
        Ok(Periodic {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{AtomicUsize, Ordering};

    #[test]
    fn ticks_until_dropped() {
        let n = Arc::new(AtomicUsize::new(0));
        let counter = n.clone();
        let p = Periodic::start("test-periodic", Duration::from_millis(1), move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        while n.load(Ordering::Relaxed) < 3 {
            std::thread::yield_now();
        }
        drop(p);
        let after = n.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(n.load(Ordering::Relaxed), after, "no tick after drop");
    }

    #[test]
    fn a_long_tick_sees_the_stop_request() {
        let saw = Arc::new(AtomicUsize::new(0));
        let seen = saw.clone();
        let p = Periodic::start("test-periodic", Duration::from_millis(1), move |stopping| {
            // Far longer than the test waits, unless the request comes through.
            for _ in 0..10_000 {
                if stopping.requested() {
                    seen.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(p);
        assert_eq!(
            saw.load(Ordering::Relaxed),
            1,
            "the running tick saw the stop request"
        );
    }
}
