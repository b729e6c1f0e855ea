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

use hub::{Hub, RawBatch};
use queue::{Next, Queue};

use crate::model::Model;
use crate::{records, Error, Result};

/// Batches a subscription may fall behind by before it lags.
pub const SUBSCRIPTION_CAPACITY: usize = 4096;

/// One record's change.
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
    marker: PhantomData<fn() -> T>,
}

fn decode<T: Model>(pk: &[u8], bytes: &Option<Vec<u8>>) -> Result<Option<T>> {
    bytes.as_ref().map(|b| records::decode(pk, b)).transpose()
}

impl<T: Model> Subscription<T> {
    pub(crate) fn new(hub: Arc<Hub>, filter: hub::Filter) -> Self {
        let (id, queue) = hub.subscribe(filter, SUBSCRIPTION_CAPACITY);
        Subscription {
            hub,
            id,
            queue,
            marker: PhantomData,
        }
    }

    fn convert(next: Next) -> Option<Result<ChangeBatch<T>>> {
        match next {
            Next::Batch(b) => Some(Self::decode_batch(b)),
            Next::Lagged(missed) => Some(Err(Error::Lagged { missed })),
            Next::Empty | Next::Closed => None,
        }
    }

    fn decode_batch(batch: RawBatch) -> Result<ChangeBatch<T>> {
        let mut changes = Vec::with_capacity(batch.changes.len());
        for c in &batch.changes {
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
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<ChangeBatch<T>>> {
        Self::convert(self.queue.pop(Some(Instant::now() + timeout)))
    }

    /// The next batch if one is waiting.
    pub fn try_next(&mut self) -> Option<Result<ChangeBatch<T>>> {
        Self::convert(self.queue.poll(None))
    }

    /// A future of the next batch (`None` once the stream ended).
    pub fn next_batch(&mut self) -> NextBatch<'_, T> {
        NextBatch { sub: self }
    }
}

impl<T: Model> Iterator for Subscription<T> {
    type Item = Result<ChangeBatch<T>>;

    /// Waits for the next batch; `None` once the stream ended (the database
    /// was dropped, or after `Error::Lagged`).
    fn next(&mut self) -> Option<Self::Item> {
        Self::convert(self.queue.pop(None))
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
pub struct NextBatch<'s, T> {
    sub: &'s mut Subscription<T>,
}

impl<T: Model> Future for NextBatch<'_, T> {
    type Output = Option<Result<ChangeBatch<T>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.sub.queue.poll(Some(cx.waker())) {
            Next::Empty => Poll::Pending,
            Next::Closed => Poll::Ready(None),
            next => Poll::Ready(Subscription::<T>::convert(next)),
        }
    }
}
