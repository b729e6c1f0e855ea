//! `Tree`: sled 0.34's key-value API over one B+ tree.
//!
//! Every write follows the same path: lock the key's leaf, compute the change,
//! append it to the log, apply it, publish it to subscribers, unlock, and then
//! split or merge the leaf if its size calls for it. User code (merge operators,
//! `update_and_fetch` closures) never runs under an engine lock: those operations
//! are compare-and-swap loops, as in sled.

use std::fmt;
use std::ops::{Bound, RangeBounds};

use crossbeam_epoch as epoch;

use crate::btree::TreeCore;
use crate::db::Engine;
use crate::iter::Iter;
use crate::record::OpRef;
use crate::subscriber::Subscriber;
use crate::sync::{write, Arc};
use crate::{Batch, Error, IVec, Result, MAX_KEY_LEN, MAX_VALUE_LEN};

/// A function combining a key's current value with a merge operand, as set by
/// [`Tree::set_merge_operator`]. Returning `None` removes the key.
pub trait MergeOperator: Fn(&[u8], Option<&[u8]>, &[u8]) -> Option<Vec<u8>> + Send + Sync {}

impl<F> MergeOperator for F where F: Fn(&[u8], Option<&[u8]>, &[u8]) -> Option<Vec<u8>> + Send + Sync {}

/// Why a [`Tree::compare_and_swap`] did not happen: the current value differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareAndSwapError {
    /// The value found.
    pub current: Option<IVec>,
    /// The value that was not written.
    pub proposed: Option<IVec>,
}

impl fmt::Display for CompareAndSwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "compare and swap conflict")
    }
}

impl std::error::Error for CompareAndSwapError {}

/// The outcome of a [`Tree::compare_and_swap`] that did not fail with an error.
pub type CompareAndSwapResult = std::result::Result<(), CompareAndSwapError>;

/// A named, ordered map from byte strings to byte strings. Cheap to clone; all
/// clones share the same data.
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let tree = db.open_tree(b"fruit")?;
/// tree.insert(b"apple", b"red")?;
/// tree.insert(b"banana", b"yellow")?;
/// assert_eq!(tree.get(b"apple")?.as_deref(), Some(&b"red"[..]));
/// let keys: Vec<_> = tree.iter().keys().collect::<Result<_, _>>()?;
/// assert_eq!(keys, vec![b"apple".into(), b"banana".into()] as Vec<skiff_engine::IVec>);
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Tree {
    pub(crate) core: Arc<TreeCore>,
    pub(crate) engine: Arc<Engine>,
}

pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

impl Tree {
    /// Locks `key`'s leaf, lets `decide` pick a change from the current value,
    /// and logs and applies it. `decide` returns `(None, r)` to change nothing.
    fn write_one<R>(
        &self,
        key: &[u8],
        decide: impl FnOnce(Option<&IVec>) -> (Option<Option<IVec>>, R),
    ) -> Result<R> {
        check_key(key)?;
        let guard = epoch::pin();
        let (leaf, mut state) = self.core.lock_leaf(key, &guard)?;
        let (change, r) = decide(state.get(key));
        let Some(new) = change else { return Ok(r) };
        let op = match &new {
            Some(value) => {
                check_value(value)?;
                OpRef::Insert {
                    tree: self.core.id,
                    key,
                    value,
                }
            }
            None => OpRef::Remove {
                tree: self.core.id,
                key,
            },
        };
        let key = IVec::from(key);
        let subscribers = &self.core.subscribers;
        let stamp = self
            .engine
            .log
            .append_then([op], |_| subscribers.publish(&key, new.as_ref()))?;
        if state.apply_stamped(&key, new.as_ref(), stamp) {
            self.core.shared.track(leaf);
        }
        let bytes = state.bytes;
        drop(state);
        self.core.rebalance(&key, bytes, new.is_none());
        self.engine.log.write_behind()?;
        Ok(r)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert<K: AsRef<[u8]>, V: Into<IVec>>(&self, key: K, value: V) -> Result<Option<IVec>> {
        let value = value.into();
        self.write_one(key.as_ref(), |old| (Some(Some(value)), old.cloned()))
    }

    /// The value of `key`.
    #[inline]
    pub fn get<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<IVec>> {
        let key = key.as_ref();
        self.core.with_leaf(key, |leaf| leaf.get(key).cloned())
    }

    /// Calls `f` with the value of `key`, borrowed rather than copied or
    /// shared (not in sled): for decoding it in place. The value's leaf stays
    /// read-locked while `f` runs, so keep `f` short; it must not write to
    /// this tree.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.insert(b"greeting", b"hello, world")?;
    /// let words = db.get_with(b"greeting", |value| value.split(|&b| b == b' ').count())?;
    /// assert_eq!(words, Some(2));
    /// assert_eq!(db.get_with(b"nothing", |value| value.len())?, None);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    #[inline]
    pub fn get_with<K: AsRef<[u8]>, R>(&self, key: K, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let key = key.as_ref();
        self.core.with_leaf(key, |leaf| leaf.get(key).map(|v| f(v)))
    }

    /// Removes `key`, returning its value.
    pub fn remove<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<IVec>> {
        self.write_one(key.as_ref(), |old| match old {
            Some(v) => (Some(None), Some(v.clone())),
            None => (None, None),
        })
    }

    /// Whether `key` has a value.
    pub fn contains_key<K: AsRef<[u8]>>(&self, key: K) -> Result<bool> {
        let key = key.as_ref();
        self.core.with_leaf(key, |leaf| leaf.search(key).is_ok())
    }

    /// Atomically sets `key` to `new` if its value is `old` (`None` meaning
    /// absent; a `new` of `None` removes it).
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.compare_and_swap(b"k", None as Option<&[u8]>, Some(b"1"))?.unwrap();
    /// let conflict = db.compare_and_swap(b"k", None as Option<&[u8]>, Some(b"2"))?;
    /// assert_eq!(conflict.unwrap_err().current.as_deref(), Some(&b"1"[..]));
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn compare_and_swap<K, OV, NV>(
        &self,
        key: K,
        old: Option<OV>,
        new: Option<NV>,
    ) -> Result<CompareAndSwapResult>
    where
        K: AsRef<[u8]>,
        OV: AsRef<[u8]>,
        NV: Into<IVec>,
    {
        let new = new.map(Into::into);
        self.write_one(key.as_ref(), |current| {
            if current.map(|c| &**c) == old.as_ref().map(AsRef::as_ref) {
                if current.is_none() && new.is_none() {
                    return (None, Ok(()));
                }
                (Some(new), Ok(()))
            } else {
                (
                    None,
                    Err(CompareAndSwapError {
                        current: current.cloned(),
                        proposed: new,
                    }),
                )
            }
        })
    }

    /// Replaces `key`'s value with `f(current)` (`None` removes it) and returns
    /// the new value. `f` may run more than once under contention.
    pub fn update_and_fetch<K, V, F>(&self, key: K, mut f: F) -> Result<Option<IVec>>
    where
        K: AsRef<[u8]>,
        F: FnMut(Option<&[u8]>) -> Option<V>,
        V: Into<IVec>,
    {
        Ok(self.swap_with(key.as_ref(), |old| f(old).map(Into::into))?.1)
    }

    /// Like [`update_and_fetch`](Tree::update_and_fetch), returning the old value.
    pub fn fetch_and_update<K, V, F>(&self, key: K, mut f: F) -> Result<Option<IVec>>
    where
        K: AsRef<[u8]>,
        F: FnMut(Option<&[u8]>) -> Option<V>,
        V: Into<IVec>,
    {
        Ok(self.swap_with(key.as_ref(), |old| f(old).map(Into::into))?.0)
    }

    /// Replaces `key`'s value with `f(current)` by compare-and-swap, retrying
    /// on interference, and returns the old and new values. `f` runs outside
    /// every engine lock, so it may run more than once.
    fn swap_with(
        &self,
        key: &[u8],
        mut f: impl FnMut(Option<&[u8]>) -> Option<IVec>,
    ) -> Result<(Option<IVec>, Option<IVec>)> {
        let mut current = self.get(key)?;
        loop {
            let next = f(current.as_deref());
            match self.compare_and_swap(key, current.as_ref(), next.clone())? {
                Ok(()) => return Ok((current, next)),
                Err(e) => current = e.current,
            }
        }
    }

    /// Sets the function [`merge`](Tree::merge) uses. Not persisted: set it again
    /// after every open.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.set_merge_operator(|_key, old: Option<&[u8]>, operand: &[u8]| {
    ///     let mut v = old.map(|o| o.to_vec()).unwrap_or_default();
    ///     v.extend_from_slice(operand);
    ///     Some(v)
    /// });
    /// db.merge(b"log", b"a")?;
    /// db.merge(b"log", b"b")?;
    /// assert_eq!(db.get(b"log")?.as_deref(), Some(&b"ab"[..]));
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn set_merge_operator(&self, merge_operator: impl MergeOperator + 'static) {
        *write(&self.core.merge_operator) = Some(Arc::new(merge_operator));
    }

    /// Combines `value` into `key`'s value with the merge operator and returns
    /// the result. Fails with `Error::Unsupported` if no operator is set.
    pub fn merge<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: K, value: V) -> Result<Option<IVec>> {
        let op = crate::sync::read(&self.core.merge_operator).clone();
        let Some(op) = op else {
            return Err(Error::Unsupported(
                "merge called without a merge operator set".into(),
            ));
        };
        let key = key.as_ref();
        self.update_and_fetch(key, |old| op(key, old, value.as_ref()))
    }

    /// Applies every write in `batch` atomically: after a crash all of them are
    /// present or none. Concurrent readers may observe them one leaf at a time.
    pub fn apply_batch(&self, batch: Batch) -> Result<()> {
        if batch.writes.is_empty() {
            return Ok(());
        }
        for (k, v) in &batch.writes {
            check_key(k)?;
            if let Some(v) = v {
                check_value(v)?;
            }
        }
        let tree = self.core.id;
        let guard = epoch::pin();
        let keys: Vec<&[u8]> = batch.writes.keys().map(|k| &**k).collect();
        let mut span = self.core.lock_span(&keys, &[], &guard)?;
        let writes = batch.writes.iter().map(|(k, v)| (k, v.as_ref()));
        let stamp = self.engine.log.append_then(
            writes.clone().map(|(key, value)| match value {
                Some(value) => OpRef::Insert { tree, key, value },
                None => OpRef::Remove { tree, key },
            }),
            |_| self.core.subscribers.publish_all(writes.clone()),
        )?;
        let resized = span.apply(writes, stamp, &self.core.shared);
        drop(span);
        self.core.rebalance_all(resized);
        self.engine.log.write_behind()
    }

    /// Runs `f` as a serializable transaction on this tree, as sled's
    /// `Tree::transaction`; see [`Transactional`](crate::Transactional), which
    /// also covers several trees. `f` may run more than once.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.transaction(|tx| {
    ///     let n = tx.get(b"counter")?.map_or(0, |v| v[0]);
    ///     tx.insert(b"counter", &[n + 1])?;
    ///     Ok::<_, skiff_engine::transaction::ConflictableTransactionError>(())
    /// })?;
    /// assert_eq!(db.get(b"counter")?.as_deref(), Some(&[1u8][..]));
    /// # Ok::<(), skiff_engine::transaction::TransactionError>(())
    /// ```
    pub fn transaction<F, A, E>(&self, f: F) -> crate::TransactionResult<A, E>
    where
        F: Fn(&crate::TransactionalTree) -> crate::ConflictableTransactionResult<A, E>,
    {
        crate::Transactional::transaction(self, f)
    }

    /// Iterates over every key and value in order; double-ended.
    pub fn iter(&self) -> Iter {
        Iter::new(self.clone(), Bound::Unbounded, Bound::Unbounded)
    }

    /// Iterates over the keys in `range`; double-ended.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// for k in [b"a", b"b", b"c", b"d"] { db.insert(k, b"")?; }
    /// let keys: Vec<_> = db.range(&b"b"[..]..&b"d"[..]).keys().rev().collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec![skiff_engine::IVec::from(b"c"), skiff_engine::IVec::from(b"b")]);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let (lo, hi) = bounds(&range);
        Iter::new(self.clone(), lo, hi)
    }

    /// Iterates over the keys starting with `prefix`; double-ended.
    pub fn scan_prefix<P: AsRef<[u8]>>(&self, prefix: P) -> Iter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        Iter::new(self.clone(), lo, hi)
    }

    /// The smallest key and its value.
    pub fn first(&self) -> Result<Option<(IVec, IVec)>> {
        self.iter().next().transpose()
    }

    /// The largest key and its value.
    pub fn last(&self) -> Result<Option<(IVec, IVec)>> {
        self.iter().next_back().transpose()
    }

    /// Removes and returns the smallest key and its value.
    pub fn pop_min(&self) -> Result<Option<(IVec, IVec)>> {
        self.pop(|t| t.first())
    }

    /// Removes and returns the largest key and its value.
    pub fn pop_max(&self) -> Result<Option<(IVec, IVec)>> {
        self.pop(|t| t.last())
    }

    fn pop(&self, find: impl Fn(&Tree) -> Result<Option<(IVec, IVec)>>) -> Result<Option<(IVec, IVec)>> {
        loop {
            let Some((k, v)) = find(self)? else {
                return Ok(None);
            };
            if self.compare_and_swap(&k, Some(&v), None as Option<IVec>)?.is_ok() {
                return Ok(Some((k, v)));
            }
        }
    }

    /// The greatest key below `key`, with its value.
    pub fn get_lt<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<(IVec, IVec)>> {
        self.range(..key.as_ref()).next_back().transpose()
    }

    /// The smallest key above `key`, with its value.
    pub fn get_gt<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<(IVec, IVec)>> {
        let start = IVec::from(key.as_ref());
        Iter::new(self.clone(), Bound::Excluded(start), Bound::Unbounded)
            .next()
            .transpose()
    }

    /// Number of keys. Walks the whole tree, as in sled.
    pub fn len(&self) -> usize {
        self.iter().keys().filter(|k| k.is_ok()).count()
    }

    /// Whether the tree has no keys.
    pub fn is_empty(&self) -> bool {
        matches!(self.first(), Ok(None))
    }

    /// Removes every key, atomically (one log record).
    pub fn clear(&self) -> Result<()> {
        let (engine, id) = (&self.engine, self.core.id);
        self.core
            .reset(false, || engine.log.append([OpRef::ClearTree { tree: id }]))
    }

    /// The tree's name.
    pub fn name(&self) -> IVec {
        self.core.name.clone()
    }

    /// A crc32 over every key and value, for comparing trees.
    pub fn checksum(&self) -> Result<u32> {
        let mut hasher = crc32fast::Hasher::new();
        for item in self.iter() {
            let (k, v) = item?;
            hasher.update(&(k.len() as u64).to_le_bytes());
            hasher.update(&k);
            hasher.update(&(v.len() as u64).to_le_bytes());
            hasher.update(&v);
        }
        Ok(hasher.finalize())
    }

    /// Makes every write made so far durable; returns the bytes written.
    ///
    /// When the data is shrinking much faster than background checkpoints
    /// follow (mass deletes), the flush also finishes the current pass over
    /// the database, so that the files shrink with it before it returns.
    pub fn flush(&self) -> Result<usize> {
        self.engine.flush()
    }

    /// [`flush`](Tree::flush) on a background thread, as a future: every
    /// write made so far is durable when it resolves. Unlike `flush`, it never
    /// finishes a checkpoint pass: its thread may outlive the last database
    /// handle, and must not write pages once the database is closed.
    pub fn flush_async(&self) -> impl std::future::Future<Output = Result<usize>> {
        crate::db::FlushFuture::spawn(self.engine.log.clone())
    }

    /// Subscribes to changes of keys starting with `prefix` (all keys for an
    /// empty prefix). See [`Subscriber`].
    pub fn watch_prefix<P: AsRef<[u8]>>(&self, prefix: P) -> Subscriber {
        self.core.subscribers.subscribe(IVec::from(prefix.as_ref()))
    }
}

/// A range's bounds as owned keys.
pub(crate) fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(range: &R) -> (Bound<IVec>, Bound<IVec>) {
    let conv = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(IVec::from(k.as_ref())),
        Bound::Excluded(k) => Bound::Excluded(IVec::from(k.as_ref())),
        Bound::Unbounded => Bound::Unbounded,
    };
    (conv(range.start_bound()), conv(range.end_bound()))
}

/// Whether `key` is at or above the lower bound `lower`.
pub(crate) fn above(key: &[u8], lower: &Bound<IVec>) -> bool {
    match lower {
        Bound::Included(b) => key >= &**b,
        Bound::Excluded(b) => key > &**b,
        Bound::Unbounded => true,
    }
}

/// Whether `key` is at or below the upper bound `upper`.
pub(crate) fn below(key: &[u8], upper: &Bound<IVec>) -> bool {
    match upper {
        Bound::Included(b) => key <= &**b,
        Bound::Excluded(b) => key < &**b,
        Bound::Unbounded => true,
    }
}

/// Whether no key lies between the bounds (`BTreeMap::range` panics on such).
pub(crate) fn is_empty_range(lo: &Bound<IVec>, hi: &Bound<IVec>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

/// The bounds of the keys starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<IVec>, Bound<IVec>) {
    let end = prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(IVec::from(prefix)), end)
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` if there is none (empty or all-0xFF prefix).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<IVec> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut succ = prefix[..=last].to_vec();
    succ[last] += 1;
    Some(IVec::from(succ))
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("name", &String::from_utf8_lossy(&self.core.name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_cases() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_successor(b"ab").as_deref(), Some(&b"ac"[..]));
        assert_eq!(prefix_successor(&[1, 0xFF]).as_deref(), Some(&[2u8][..]));
    }
}
