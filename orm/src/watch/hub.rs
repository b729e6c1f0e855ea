//! A collection's subscriptions, and how a commit's changes reach them.
//!
//! Writes record each change (primary key, old and new stored bytes, and the
//! index keys before and after) in the transaction's `ChangeBuf`, but only
//! while the collection has subscribers. The buffer hands the changes to the
//! store's commit hook, which runs in commit order as the transaction commits;
//! there `Hub::dispatch` gives each matching subscriber one batch. Dispatch
//! finds subscribers without testing every one against every change:
//! whole-collection watchers take everything, subscribers to one index value
//! are looked up by that value, and only range subscribers are tested.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use super::queue::Queue;
use crate::store::{Read, Write};
use crate::{codec, Result};

/// One index's keys for a record before and after a change.
pub(crate) type IndexKeys = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// One record's change, as stored bytes (and, in a change log, on disk).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct RawChange {
    pub pk: Vec<u8>,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
    /// For each index of the model: its keys before and after.
    pub index_keys: Vec<IndexKeys>,
}

/// The changes of one commit that one subscriber watches (shared between the
/// subscribers that watch all of them).
pub(crate) struct RawBatch {
    pub seq: u64,
    pub changes: Arc<Vec<Arc<RawChange>>>,
}

/// What a subscription watches.
#[derive(Clone, Debug)]
pub(crate) enum Filter {
    All,
    /// Primary keys in a range.
    Keys(Bound<Vec<u8>>, Bound<Vec<u8>>),
    /// Index `pos` values in a range (before or after the change).
    Index(usize, Bound<Vec<u8>>, Bound<Vec<u8>>),
    /// Index `pos` equal to a value.
    IndexValue(usize, Vec<u8>),
}

fn in_range(k: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Included(b) => k >= &b[..],
        Bound::Excluded(b) => k > &b[..],
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(b) => k <= &b[..],
        Bound::Excluded(b) => k < &b[..],
        Bound::Unbounded => true,
    };
    above && below
}

impl Filter {
    pub(crate) fn matches(&self, c: &RawChange) -> bool {
        match self {
            Filter::All => true,
            Filter::Keys(lo, hi) => in_range(&c.pk, lo, hi),
            Filter::Index(pos, lo, hi) => c
                .index_keys
                .get(*pos)
                .is_some_and(|(before, after)| before.iter().chain(after).any(|k| in_range(k, lo, hi))),
            Filter::IndexValue(pos, v) => c
                .index_keys
                .get(*pos)
                .is_some_and(|(before, after)| before.iter().chain(after).any(|k| k == v)),
        }
    }
}

struct Sub {
    id: u64,
    filter: Filter,
    queue: Arc<Queue>,
}

impl Subs {
    fn is_empty(&self) -> bool {
        self.all.is_empty() && self.ranges.is_empty() && self.by_value.is_empty()
    }
}

#[derive(Default)]
struct Subs {
    all: Vec<Sub>,
    /// Index-value subscribers by index position, then value.
    by_value: HashMap<usize, HashMap<Vec<u8>, Vec<Sub>>>,
    /// Range subscribers, tested one by one.
    ranges: Vec<Sub>,
}

/// A collection's persisted change log (`#[model(change_log = N)]`): a
/// keyspace holding the last `keep` committed batches under their sequence
/// numbers, and the last sequence number.
///
/// Layout: key `[0]` → the last sequence number (u64 big-endian); key `[1]` ‖
/// sequence number (big-endian) → the batch's changes (codec). Every writing
/// transaction of the collection reads and writes key `[0]`, so writers of a
/// logged collection serialize (they conflict and retry); in exchange sequence
/// numbers are dense and in commit order, and they survive restarts.
pub(crate) struct ChangeLog {
    /// The store's keyspace handle, type-erased (`Hub` is not generic).
    pub space: Box<dyn Any + Send + Sync>,
    pub keep: u64,
}

pub(crate) const LAST_SEQ_KEY: [u8; 1] = [0];

/// The last sequence number a change log holds (0 when empty).
fn last_seq<R: Read>(r: &R, space: &R::Space) -> Result<u64> {
    Ok(r.get(space, &LAST_SEQ_KEY)?
        .map_or(0, |b| u64::from_be_bytes(b[..].try_into().unwrap_or([0; 8]))))
}

/// The sequence number of a change-log entry key.
fn entry_seq(key: &[u8]) -> u64 {
    u64::from_be_bytes(key[1..].try_into().unwrap_or([0; 8]))
}

pub(crate) fn log_entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![1];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// One collection's subscriptions.
#[derive(Default)]
pub(crate) struct Hub {
    subs: RwLock<Subs>,
    /// Whether anyone subscribes: writers skip recording changes otherwise.
    active: AtomicBool,
    next_id: AtomicU64,
    /// Changes whenever the subscriptions do (see `Routed`).
    generation: AtomicU64,
    pub log: Option<ChangeLog>,
}

/// Where a routed commit goes: each queue with the changes it receives.
type Deliveries = Vec<(Arc<Queue>, Arc<Vec<Arc<RawChange>>>)>;

/// A commit's changes, already sorted out per subscriber before the commit,
/// so that the part that runs under the commit (in commit order) only pushes.
/// If the subscriptions changed meanwhile (`generation`), they are routed
/// again there.
pub(crate) struct Routed {
    generation: u64,
    changes: Vec<Arc<RawChange>>,
    deliveries: Deliveries,
}

impl Hub {
    pub(crate) fn with_log(log: ChangeLog) -> Hub {
        Hub {
            log: Some(log),
            ..Hub::default()
        }
    }

    /// Whether writers must record changes: someone subscribes, or the
    /// collection keeps a change log.
    pub(crate) fn recording(&self) -> bool {
        self.log.is_some() || self.active.load(Ordering::Acquire)
    }

    pub(crate) fn subscribe(&self, filter: Filter, capacity: usize) -> (u64, Arc<Queue>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = Queue::new(capacity);
        let sub = Sub {
            id,
            filter: filter.clone(),
            queue: queue.clone(),
        };
        let mut subs = self.subs.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        match filter {
            Filter::All => subs.all.push(sub),
            Filter::IndexValue(pos, v) => subs
                .by_value
                .entry(pos)
                .or_default()
                .entry(v)
                .or_default()
                .push(sub),
            Filter::Keys(..) | Filter::Index(..) => subs.ranges.push(sub),
        }
        self.active.store(true, Ordering::Release);
        (id, queue)
    }

    pub(crate) fn unsubscribe(&self, id: u64) {
        self.remove_where(|s| s.id == id);
    }

    fn remove_where(&self, gone: impl Fn(&Sub) -> bool) {
        let mut subs = self.subs.write().unwrap_or_else(PoisonError::into_inner);
        subs.all.retain(|s| !gone(s));
        subs.ranges.retain(|s| !gone(s));
        subs.by_value.retain(|_, values| {
            values.retain(|_, list| {
                list.retain(|s| !gone(s));
                !list.is_empty()
            });
            !values.is_empty()
        });
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.active.store(!subs.is_empty(), Ordering::Release);
    }

    /// Ends every subscription (the database is closing).
    pub(crate) fn close(&self) {
        let subs = self.subs.read().unwrap_or_else(PoisonError::into_inner);
        let values = subs.by_value.values().flat_map(|v| v.values()).flatten();
        for s in subs.all.iter().chain(&subs.ranges).chain(values) {
            s.queue.close();
        }
    }

    /// Sorts a commit's changes out per subscriber: each gets the changes it
    /// watches, in the order the transaction made them.
    pub(crate) fn route(&self, changes: Vec<RawChange>) -> Routed {
        let changes: Vec<Arc<RawChange>> = changes.into_iter().map(Arc::new).collect();
        let subs = self.subs.read().unwrap_or_else(PoisonError::into_inner);
        let generation = self.generation.load(Ordering::Acquire);
        let deliveries = Self::sort_out(&subs, &changes);
        Routed {
            generation,
            changes,
            deliveries,
        }
    }

    fn sort_out(subs: &Subs, changes: &[Arc<RawChange>]) -> Deliveries {
        let mut deliveries = Vec::new();
        if !subs.all.is_empty() {
            let whole = Arc::new(changes.to_vec());
            deliveries.extend(subs.all.iter().map(|s| (s.queue.clone(), whole.clone())));
        }
        if subs.ranges.is_empty() && subs.by_value.is_empty() {
            return deliveries;
        }
        // Per filtered subscriber: its queue and its changes; few, so a Vec.
        let mut out: Vec<(u64, Arc<Queue>, Vec<Arc<RawChange>>)> = Vec::new();
        let mut add = |sub: &Sub, change: &Arc<RawChange>| match out.iter_mut().find(|(id, ..)| *id == sub.id)
        {
            Some((_, _, list)) => {
                if !list.last().is_some_and(|c| Arc::ptr_eq(c, change)) {
                    list.push(change.clone());
                }
            }
            None => out.push((sub.id, sub.queue.clone(), vec![change.clone()])),
        };
        for change in changes {
            for sub in subs.ranges.iter().filter(|s| s.filter.matches(change)) {
                add(sub, change);
            }
            for (pos, (before, after)) in change.index_keys.iter().enumerate() {
                let Some(values) = subs.by_value.get(&pos) else {
                    continue;
                };
                for k in before.iter().chain(after) {
                    for sub in values.get(k.as_slice()).into_iter().flatten() {
                        add(sub, change);
                    }
                }
            }
        }
        deliveries.extend(out.into_iter().map(|(_, q, list)| (q, Arc::new(list))));
        deliveries
    }

    /// Delivers a routed commit as commit `seq`: called under the commit, in
    /// commit order, so it only pushes (never waits).
    pub(crate) fn deliver(&self, seq: u64, routed: Routed) {
        let deliveries = if routed.generation == self.generation.load(Ordering::Acquire) {
            routed.deliveries
        } else {
            let subs = self.subs.read().unwrap_or_else(PoisonError::into_inner);
            Self::sort_out(&subs, &routed.changes)
        };
        let mut lagged = Vec::new();
        for (queue, changes) in deliveries {
            if queue.push(RawBatch { seq, changes }) {
                lagged.push(queue);
            }
        }
        // A lagged subscription's stream has ended: stop routing to it, so that
        // writers stop paying for it (and stop recording changes once no live
        // subscription is left).
        if !lagged.is_empty() {
            self.remove_where(|s| lagged.iter().any(|q| Arc::ptr_eq(q, &s.queue)));
        }
    }
}

/// The changes a transaction made, per collection, until it commits. (Named
/// by a sealed trait, so `pub`, but not reachable from outside the crate.)
#[derive(Default)]
pub struct ChangeBuf {
    changes: RefCell<Vec<(Arc<Hub>, RawChange)>>,
}

impl ChangeBuf {
    pub(crate) fn record(&self, hub: &Arc<Hub>, change: RawChange) {
        self.changes.borrow_mut().push((hub.clone(), change));
    }

    /// Appends the changes to the change logs of the collections that keep
    /// one, and hands them to `w`'s commit hook: dispatched if and when this
    /// run of the transaction commits, with its sequence number (the change
    /// log's for logged collections, the store's commit number otherwise).
    pub(crate) fn register<W: Write>(&self, w: &W) -> Result<()>
    where
        W::Space: 'static,
    {
        let changes = std::mem::take(&mut *self.changes.borrow_mut());
        if changes.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(Arc<Hub>, Option<u64>, Vec<RawChange>)> = Vec::new();
        // Routed below, outside the commit's critical section.
        for (hub, change) in changes {
            match groups.iter_mut().find(|(h, ..)| Arc::ptr_eq(h, &hub)) {
                Some((_, _, list)) => list.push(change),
                None => groups.push((hub, None, vec![change])),
            }
        }
        for (hub, seq, changes) in &mut groups {
            if let Some(log) = &hub.log {
                let space = log
                    .space
                    .downcast_ref::<W::Space>()
                    .expect("a change log keyspace of this store");
                let next = last_seq(w, space)? + 1;
                w.put(space, &log_entry_key(next), codec::encode(&*changes)?)?;
                w.put(space, &LAST_SEQ_KEY, next.to_be_bytes().to_vec())?;
                if next > log.keep {
                    w.delete(space, &log_entry_key(next - log.keep))?;
                }
                *seq = Some(next);
            }
        }
        let routed: Vec<(Arc<Hub>, Option<u64>, Routed)> = groups
            .into_iter()
            .map(|(hub, seq, changes)| {
                let routed = hub.route(changes);
                (hub, seq, routed)
            })
            .collect();
        w.on_commit(Box::new(move |commit| {
            for (hub, seq, routed) in routed {
                hub.deliver(seq.unwrap_or(commit), routed);
            }
        }));
        Ok(())
    }
}

/// What a change log holds after a sequence number.
pub(crate) struct History {
    /// The batches after it, in order.
    pub batches: Vec<RawBatch>,
    /// The last sequence number.
    pub last: u64,
    /// The oldest sequence number still kept (`last + 1` if none).
    pub oldest: u64,
}

/// Reads the change log `space` after `since`, from a consistent view.
pub(crate) fn read_history<R: Read>(r: &R, space: &R::Space, since: u64) -> Result<History> {
    let last = last_seq(r, space)?;
    // Entries are keyed by sequence number: the first is the oldest kept, and
    // only those after `since` are read.
    let oldest = match r.scan(space, Bound::Included(vec![1]), Bound::Unbounded).next() {
        Some(entry) => entry_seq(&entry?.0),
        None => last + 1,
    };
    let mut batches = Vec::new();
    for entry in r.scan(
        space,
        Bound::Excluded(log_entry_key(since)),
        Bound::Excluded(vec![2]),
    ) {
        let (k, v) = entry?;
        let changes: Vec<RawChange> = codec::decode(&v).map_err(|e| crate::Error::Decode {
            collection: "change log".into(),
            key: k.to_vec(),
            source: e,
        })?;
        batches.push(RawBatch {
            seq: entry_seq(&k),
            changes: Arc::new(changes.into_iter().map(Arc::new).collect()),
        });
    }
    Ok(History {
        batches,
        last,
        oldest,
    })
}
