//! `watch_prefix` subscriptions: bounded queues that writers never wait on.
//!
//! A writer publishes an event while it still holds the lock of the leaf it
//! changed, so the events of one key reach every subscriber in write order. The
//! queue is bounded: when it is full the event is dropped and counted, and the
//! subscriber receives [`Event::Lagged`] with the count before anything newer.
//! That is a deliberate deviation from sled, whose subscribers block writers.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::RecvTimeoutError;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::sync::{lock, read, write, Arc, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, RwLock};
use crate::IVec;

/// Events a subscriber may fall behind by before it starts missing them.
pub(crate) const QUEUE_CAPACITY: usize = 16 * 1024;

/// A change observed by a [`Subscriber`].
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let mut sub = db.watch_prefix(b"user/");
/// db.insert(b"user/1", b"ada")?;
/// db.insert(b"other", b"x")?;
/// db.remove(b"user/1")?;
/// match sub.next() {
///     Some(skiff_engine::Event::Insert { key, value }) => {
///         assert_eq!(&*key, b"user/1");
///         assert_eq!(&*value, b"ada");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(matches!(sub.next(), Some(skiff_engine::Event::Remove { .. })));
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `key` was set to `value`.
    Insert {
        /// The key written.
        key: IVec,
        /// Its new value.
        value: IVec,
    },
    /// `key` was removed.
    Remove {
        /// The key removed.
        key: IVec,
    },
    /// The subscriber fell more than its buffer behind and `missed` events were
    /// dropped at this point of the stream (not in sled: sled blocks the writer).
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
}

impl Event {
    /// The key this event is about; `None` for [`Event::Lagged`].
    pub fn key(&self) -> Option<&IVec> {
        match self {
            Event::Insert { key, .. } | Event::Remove { key } => Some(key),
            Event::Lagged { .. } => None,
        }
    }
}

struct QueueState {
    events: VecDeque<Event>,
    missed: u64,
    closed: bool,
    waker: Option<Waker>,
}

struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

impl Queue {
    fn push_all(&self, events: impl Iterator<Item = Event>) {
        let mut s = lock(&self.state);
        let before = s.events.len();
        for event in events {
            if s.events.len() >= QUEUE_CAPACITY {
                s.missed += 1;
                continue;
            }
            if s.missed > 0 {
                let missed = std::mem::take(&mut s.missed);
                s.events.push_back(Event::Lagged { missed });
            }
            s.events.push_back(event);
        }
        if s.events.len() == before {
            return;
        }
        let waker = s.waker.take();
        drop(s);
        self.ready.notify_one();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        let waker = s.waker.take();
        drop(s);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn pop(s: &mut QueueState) -> Option<Event> {
    if let Some(e) = s.events.pop_front() {
        return Some(e);
    }
    if s.missed > 0 {
        return Some(Event::Lagged {
            missed: std::mem::take(&mut s.missed),
        });
    }
    None
}

/// The subscriptions of one tree.
#[derive(Default)]
pub(crate) struct Subscribers {
    count: AtomicUsize,
    next_id: AtomicU64,
    list: RwLock<Vec<(u64, IVec, Arc<Queue>)>>,
}

impl Subscribers {
    /// Whether anyone is listening: one relaxed load on the write path.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Publishes the writes of one atomic unit (a batch or a transaction):
    /// each subscriber gets its matching events together, with nothing of
    /// another unit in between.
    pub(crate) fn publish_all<'a, I>(&self, writes: I)
    where
        I: Iterator<Item = (&'a IVec, Option<&'a IVec>)> + Clone,
    {
        if !self.any() {
            return;
        }
        for (_, prefix, queue) in read(&self.list).iter() {
            if !writes.clone().any(|(k, _)| k.starts_with(prefix)) {
                continue;
            }
            let events =
                writes
                    .clone()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(key, value)| match value {
                        Some(v) => Event::Insert {
                            key: key.clone(),
                            value: v.clone(),
                        },
                        None => Event::Remove { key: key.clone() },
                    });
            queue.push_all(events);
        }
    }

    /// Publishes one write.
    pub(crate) fn publish(&self, key: &IVec, value: Option<&IVec>) {
        self.publish_all(std::iter::once((key, value)));
    }

    pub(crate) fn subscribe(self: &Arc<Self>, prefix: IVec) -> Subscriber {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                events: VecDeque::new(),
                missed: 0,
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut list = write(&self.list);
        list.push((id, prefix, queue.clone()));
        self.count.store(list.len(), Ordering::Relaxed);
        Subscriber {
            queue,
            owner: Arc::downgrade(self),
            id,
        }
    }

    /// Ends every subscription (the tree was dropped or the database closed).
    pub(crate) fn close_all(&self) {
        let mut list = write(&self.list);
        for (_, _, q) in list.drain(..) {
            q.close();
        }
        self.count.store(0, Ordering::Relaxed);
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        self.close_all();
    }
}

/// A stream of [`Event`]s for keys under a prefix, from [`Tree::watch_prefix`].
///
/// Use it as a blocking `Iterator` (ends when the tree or database is gone), with
/// [`Subscriber::next_timeout`], or `.await` it as a `Future` resolving to the next
/// event. Dropping it unsubscribes.
///
/// [`Tree::watch_prefix`]: crate::Tree::watch_prefix
pub struct Subscriber {
    queue: Arc<Queue>,
    owner: std::sync::Weak<Subscribers>,
    id: u64,
}

impl Subscriber {
    /// Waits up to `timeout` for the next event.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// let mut sub = db.watch_prefix(b"");
    /// assert!(sub.next_timeout(Duration::from_millis(10)).is_err());
    /// db.insert(b"k", b"v")?;
    /// assert!(sub.next_timeout(Duration::from_millis(10)).is_ok());
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.queue.state);
        loop {
            if let Some(e) = pop(&mut s) {
                return Ok(e);
            }
            if s.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            s = self
                .queue
                .ready
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Iterator for Subscriber {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let mut s = lock(&self.queue.state);
        loop {
            if let Some(e) = pop(&mut s) {
                return Some(e);
            }
            if s.closed {
                return None;
            }
            s = self.queue.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Future for Subscriber {
    type Output = Option<Event>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut s = lock(&self.queue.state);
        if let Some(e) = pop(&mut s) {
            return Poll::Ready(Some(e));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.upgrade() {
            let mut list = write(&owner.list);
            list.retain(|(id, _, _)| *id != self.id);
            owner.count.store(list.len(), Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_reports_lag_in_place() {
        let subs = Arc::new(Subscribers::default());
        let mut sub = subs.subscribe(IVec::from(b"k"));
        for i in 0..QUEUE_CAPACITY + 10 {
            subs.publish(&IVec::from(format!("k{i}")), None);
        }
        subs.publish(&IVec::from(b"k-after"), None);
        for i in 0..QUEUE_CAPACITY {
            assert_eq!(sub.next().unwrap().key().unwrap(), &IVec::from(format!("k{i}")));
        }
        assert_eq!(sub.next(), Some(Event::Lagged { missed: 11 }));
        assert!(sub.next_timeout(Duration::from_millis(1)).is_err());
        drop(sub);
        assert!(!subs.any(), "dropping the subscriber unsubscribes");
    }

    #[test]
    fn prefix_filters_and_close_ends_iteration() {
        let subs = Arc::new(Subscribers::default());
        let mut sub = subs.subscribe(IVec::from(b"a"));
        subs.publish(&IVec::from(b"b1"), Some(&IVec::from(b"x")));
        subs.publish(&IVec::from(b"a1"), Some(&IVec::from(b"y")));
        subs.close_all();
        assert_eq!(
            sub.next(),
            Some(Event::Insert {
                key: IVec::from(b"a1"),
                value: IVec::from(b"y")
            })
        );
        assert_eq!(sub.next(), None);
    }
}
