//! A bounded queue of change batches that never blocks its producer.
//!
//! A full queue drops what arrives and counts it; the consumer then receives
//! what was queued before the gap, then `Lagged { missed }`, then the end. A
//! stream with a gap cannot be trusted to mirror the data, so the subscriber
//! resubscribes (and rereads what it needs) instead of carrying on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::Waker;
use std::time::Instant;

use super::hub::RawBatch;

/// What a consumer takes from the queue.
pub(crate) enum Next {
    Batch(RawBatch),
    Lagged(u64),
    /// Nothing yet (only from non-blocking calls).
    Empty,
    /// Closed: the database was dropped, or the stream ended after a lag.
    Closed,
}

struct State {
    batches: VecDeque<RawBatch>,
    missed: u64,
    lag_reported: bool,
    closed: bool,
    /// Consumers blocked in `pop`: only then does a push pay for a wake-up.
    sleepers: usize,
    waker: Option<Waker>,
}

pub(crate) struct Queue {
    capacity: usize,
    state: Mutex<State>,
    ready: Condvar,
    /// Set once the queue lags: nothing it receives afterwards is delivered,
    /// so writers only count it (`late`), without taking the lock.
    lagging: AtomicBool,
    late: AtomicU64,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Arc<Queue> {
        Arc::new(Queue {
            capacity,
            state: Mutex::new(State {
                batches: VecDeque::new(),
                missed: 0,
                lag_reported: false,
                closed: false,
                sleepers: 0,
                waker: None,
            }),
            ready: Condvar::new(),
            lagging: AtomicBool::new(false),
            late: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by writers (under the commit): never waits for the consumer.
    /// Returns true when this push made the queue lag: its stream has ended,
    /// and the hub stops dispatching to it.
    pub(crate) fn push(&self, batch: RawBatch) -> bool {
        if self.lagging.load(Ordering::Acquire) {
            self.late.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut s = self.lock();
        if s.closed {
            return false;
        }
        let mut lagged = false;
        if s.missed > 0 || s.batches.len() >= self.capacity {
            s.missed += 1;
            self.lagging.store(true, Ordering::Release);
            lagged = true;
        } else {
            s.batches.push_back(batch);
        }
        let wake = s.sleepers > 0;
        let waker = s.waker.take();
        drop(s);
        if wake {
            self.ready.notify_one();
        }
        if let Some(w) = waker {
            w.wake();
        }
        lagged
    }

    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        let waker = s.waker.take();
        drop(s);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn take(&self, s: &mut State) -> Next {
        if let Some(b) = s.batches.pop_front() {
            return Next::Batch(b);
        }
        if s.missed > 0 && !s.lag_reported {
            s.lag_reported = true;
            return Next::Lagged(s.missed + self.late.load(Ordering::Relaxed));
        }
        if s.closed || s.lag_reported {
            return Next::Closed;
        }
        Next::Empty
    }

    /// The next item, waiting until `deadline` (forever if `None`).
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Next {
        let mut s = self.lock();
        loop {
            match self.take(&mut s) {
                Next::Empty => {}
                next => return next,
            }
            match deadline {
                None => s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Next::Empty;
                    }
                    s = self
                        .ready
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    /// The next item without waiting; registers `waker` if there is none.
    pub(crate) fn poll(&self, waker: Option<&Waker>) -> Next {
        let mut s = self.lock();
        let next = self.take(&mut s);
        if let (Next::Empty, Some(w)) = (&next, waker) {
            s.waker = Some(w.clone());
        }
        next
    }
}
