//! Change streams: subscriptions to a collection's committed changes.
//!
//! A [`Subscription`] receives one [`ChangeBatch`] per committed transaction
//! that touched what it watches, in commit order, never for an aborted
//! transaction or a failed operation. A filter matches a change if the old or
//! the new record matches, so a record that leaves the watched set is
//! reported. Writers never wait for subscribers: a subscriber that falls more
//! than its buffer behind gets `Error::Lagged` and resubscribes.

pub(crate) mod hub;
mod queue;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use hub::{Filter, Hub, RawBatch};
use queue::{Next, Queue};

use crate::model::Model;
use crate::records::{HistoryFn, Meta};
use crate::{records, Error, Result};

/// Batches a subscription may fall behind by before it lags.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Hit { #[model(key)] id: u32 }
///
/// let db = skiff::Db::temporary()?;
/// let hits = db.collection::<Hit>()?;
/// let mut slow = hits.watch()?;
/// for id in 0..=skiff::SUBSCRIPTION_CAPACITY as u32 {
///     hits.insert(&Hit { id })?; // one batch per transaction, none read
/// }
/// let delivered = slow.by_ref().take_while(|b| b.is_ok()).count();
/// assert_eq!(delivered, skiff::SUBSCRIPTION_CAPACITY); // then `Error::Lagged`
/// assert!(slow.next().is_none(), "the stream has ended: resubscribe");
/// # Ok::<(), skiff::Error>(())
/// ```
pub const SUBSCRIPTION_CAPACITY: usize = 4096;

/// One record's change.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # struct Task { #[model(key)] id: u32, done: bool }
/// # let db = skiff::Db::temporary()?;
/// # let tasks = db.collection::<Task>()?;
/// use skiff::Change;
///
/// let mut all = tasks.watch()?;
/// tasks.insert(&Task { id: 1, done: false })?;
/// tasks.update(&1, |t| t.done = true)?;
/// tasks.remove(&1)?;
/// let mut changes: Vec<Change<Task>> = Vec::new();
/// for batch in all.by_ref().take(3) {
///     changes.extend(batch?.changes);
/// }
/// assert_eq!(changes, [
///     Change::Inserted(Task { id: 1, done: false }),
///     Change::Updated { old: Task { id: 1, done: false }, new: Task { id: 1, done: true } },
///     Change::Removed(Task { id: 1, done: true }),
/// ]);
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    /// A new record.
    Inserted(T),
    /// A record replaced.
    Updated {
        /// Before.
        old: T,
        /// After.
        new: T,
    },
    /// A record removed.
    Removed(T),
}

/// The changes one committed transaction made to what a subscription
/// watches.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # struct Task { #[model(key)] id: u32, done: bool }
/// # let db = skiff::Db::temporary()?;
/// # let tasks = db.collection::<Task>()?;
/// let mut all = tasks.watch()?;
/// db.transaction(|tx| {
///     let tasks = tx.collection::<Task>()?;
///     tasks.insert(&Task { id: 1, done: false })?;
///     tasks.insert(&Task { id: 2, done: false })
/// })?;
/// tasks.remove(&1)?;
/// let (first, second) = (all.next().unwrap()?, all.next().unwrap()?);
/// assert_eq!(first.changes.len(), 2); // one batch for the whole transaction
/// assert!(second.seq > first.seq);
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeBatch<T> {
    /// The commit's sequence number: increasing in commit order.
    pub seq: u64,
    /// The changes, in the order the transaction made them.
    pub changes: Vec<Change<T>>,
}

/// A stream of [`ChangeBatch`]es: a blocking `Iterator`, with
/// [`next_timeout`](Self::next_timeout), [`try_next`](Self::try_next) and
/// [`next_batch`](Self::next_batch) (a future, for async code; no runtime
/// needed). Dropping it unsubscribes.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # use skiff::Model;
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// struct Task { #[model(key)] id: u32, #[model(index)] done: bool }
///
/// let db = skiff::Db::temporary()?;
/// let tasks = db.collection::<Task>()?;
/// let mut open = tasks.index(Task::DONE).watch(&false)?;
/// tasks.insert(&Task { id: 1, done: false })?;
/// tasks.update(&1, |t| t.done = true)?; // leaves the watched set: reported
/// let first = open.next().unwrap()?;
/// assert_eq!(first.changes, [skiff::Change::Inserted(Task { id: 1, done: false })]);
/// let second = open.next().unwrap()?;
/// assert!(second.seq > first.seq);
/// assert!(matches!(second.changes[0], skiff::Change::Updated { .. }));
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Subscription<T> {
    hub: Arc<Hub>,
    id: u64,
    queue: Arc<Queue>,
    filter: Filter,
    history: Option<HistoryFn>,
    /// Batches read from the change log by `since`, delivered first.
    backlog: VecDeque<RawBatch>,
    /// Live batches at or below this were in the backlog's snapshot.
    floor: u64,
    marker: PhantomData<fn() -> T>,
}

fn decode<T: Model>(pk: &[u8], bytes: &Option<Vec<u8>>) -> Result<Option<T>> {
    bytes.as_ref().map(|b| records::decode(pk, b)).transpose()
}

impl<T: Model> Subscription<T> {
    pub(crate) fn new<Space>(meta: &Meta<Space>, filter: Filter) -> Self {
        let (id, queue) = meta.hub.subscribe(filter.clone(), SUBSCRIPTION_CAPACITY);
        Subscription {
            hub: meta.hub.clone(),
            id,
            queue,
            filter,
            history: meta.history.clone(),
            backlog: VecDeque::new(),
            floor: 0,
            marker: PhantomData,
        }
    }

    /// Resumes after `seq` (the `seq` of the last batch processed, perhaps
    /// before a restart): the batches committed since are delivered first,
    /// from the collection's persisted change log, then live ones, with no gap
    /// and no repeat. Needs `#[model(change_log = N)]`; a `seq` older than the
    /// N batches kept is `Error::Lagged`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use skiff::Model;
    /// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
    /// #[model(change_log = 1000)]
    /// struct Event { #[model(key)] id: u32 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let events = db.collection::<Event>()?;
    /// for id in 1..=3 { events.insert(&Event { id })?; }
    /// let mut resumed = events.watch()?.since(1)?; // the consumer had seen seq 1
    /// let seqs: Vec<u64> = resumed.by_ref().take(2).map(|b| b.unwrap().seq).collect();
    /// assert_eq!(seqs, [2, 3]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn since(mut self, seq: u64) -> Result<Self> {
        let Some(history) = &self.history else {
            return Err(Error::SchemaMismatch {
                collection: T::NAME.to_string(),
                what: "since needs a persisted change log: #[model(change_log = N)]".into(),
            });
        };
        let h = history(seq)?;
        if seq < h.last && seq + 1 < h.oldest {
            return Err(Error::Lagged {
                missed: h.oldest - seq - 1,
            });
        }
        self.floor = h.last.max(seq);
        self.backlog = h
            .batches
            .into_iter()
            .filter_map(|b| {
                let changes: Vec<_> = b
                    .changes
                    .iter()
                    .filter(|c| self.filter.matches(c))
                    .cloned()
                    .collect();
                (!changes.is_empty()).then(|| RawBatch {
                    seq: b.seq,
                    changes: Arc::new(changes),
                })
            })
            .collect();
        Ok(self)
    }

    /// The next item: the backlog first, then the queue (skipping what the
    /// backlog covered).
    fn take(&mut self, mut from_queue: impl FnMut(&Queue) -> Next) -> Option<Result<ChangeBatch<T>>> {
        if let Some(b) = self.backlog.pop_front() {
            return Some(Self::decode_batch(b));
        }
        loop {
            match from_queue(&self.queue) {
                Next::Batch(b) if b.seq <= self.floor => continue,
                Next::Batch(b) => return Some(Self::decode_batch(b)),
                Next::Lagged(missed) => return Some(Err(Error::Lagged { missed })),
                Next::Empty | Next::Closed => return None,
            }
        }
    }

    fn decode_batch(batch: RawBatch) -> Result<ChangeBatch<T>> {
        let mut changes = Vec::with_capacity(batch.changes.len());
        for c in batch.changes.iter() {
            let (old, new) = (decode::<T>(&c.pk, &c.old)?, decode::<T>(&c.pk, &c.new)?);
            changes.push(match (old, new) {
                (None, Some(new)) => Change::Inserted(new),
                (Some(old), Some(new)) => Change::Updated { old, new },
                (Some(old), None) => Change::Removed(old),
                (None, None) => continue,
            });
        }
        Ok(ChangeBatch {
            seq: batch.seq,
            changes,
        })
    }

    /// The next batch, waiting at most `timeout`; `None` if none came (or
    /// the stream ended).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct Task { #[model(key)] id: u32, done: bool }
    /// # let db = skiff::Db::temporary()?;
    /// # let tasks = db.collection::<Task>()?;
    /// let mut all = tasks.watch()?;
    /// assert!(all.next_timeout(Duration::from_millis(10)).is_none());
    /// let writer = {
    ///     let tasks = tasks.clone();
    ///     std::thread::spawn(move || tasks.insert(&Task { id: 1, done: false }))
    /// };
    /// let batch = all.next_timeout(Duration::from_secs(10)).expect("committed meanwhile")?;
    /// assert_eq!(batch.changes, [skiff::Change::Inserted(Task { id: 1, done: false })]);
    /// writer.join().unwrap()?;
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<ChangeBatch<T>>> {
        let deadline = Instant::now() + timeout;
        self.take(|q| q.pop(Some(deadline)))
    }

    /// The next batch if one is waiting.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct Task { #[model(key)] id: u32, done: bool }
    /// # let db = skiff::Db::temporary()?;
    /// # let tasks = db.collection::<Task>()?;
    /// let mut all = tasks.watch()?;
    /// assert!(all.try_next().is_none()); // does not wait
    /// tasks.insert(&Task { id: 1, done: false })?;
    /// assert!(all.try_next().unwrap()?.seq > 0);
    /// assert!(all.try_next().is_none());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn try_next(&mut self) -> Option<Result<ChangeBatch<T>>> {
        self.take(|q| q.poll(None))
    }

    /// A future of the next batch (`None` once the stream ended).
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct Task { #[model(key)] id: u32, done: bool }
    /// # let db = skiff::Db::temporary()?;
    /// # let tasks = db.collection::<Task>()?;
    /// let mut all = tasks.watch()?;
    /// let mut cx = Context::from_waker(Waker::noop()); // an executor's waker, in real code
    /// assert!(std::pin::pin!(all.next_batch()).poll(&mut cx).is_pending());
    /// tasks.insert(&Task { id: 1, done: false })?;
    /// let Poll::Ready(Some(batch)) = std::pin::pin!(all.next_batch()).poll(&mut cx) else { panic!() };
    /// assert_eq!(batch?.changes.len(), 1);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn next_batch(&mut self) -> NextBatch<'_, T> {
        NextBatch { sub: self }
    }
}

impl<T: Model> Iterator for Subscription<T> {
    type Item = Result<ChangeBatch<T>>;

    /// Waits for the next batch; `None` once the stream ended (the database
    /// was dropped, or after `Error::Lagged`).
    fn next(&mut self) -> Option<Self::Item> {
        self.take(|q| q.pop(None))
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The future [`Subscription::next_batch`] returns.
///
/// It ends (`None`) when the database is closed:
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Poll, Waker};
///
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # struct Task { #[model(key)] id: u32, done: bool }
/// # let db = skiff::Db::temporary()?;
/// # let tasks = db.collection::<Task>()?;
/// let mut all = tasks.watch()?;
/// drop((tasks, db));
/// let mut cx = Context::from_waker(Waker::noop());
/// let next: skiff::NextBatch<'_, Task> = all.next_batch();
/// assert!(matches!(std::pin::pin!(next).poll(&mut cx), Poll::Ready(None)));
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct NextBatch<'s, T> {
    sub: &'s mut Subscription<T>,
}

impl<T: Model> Future for NextBatch<'_, T> {
    type Output = Option<Result<ChangeBatch<T>>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut closed = false;
        let next = self.sub.take(|q| {
            let n = q.poll(Some(cx.waker()));
            closed = matches!(n, Next::Closed);
            n
        });
        match next {
            Some(item) => Poll::Ready(Some(item)),
            None if closed => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}
