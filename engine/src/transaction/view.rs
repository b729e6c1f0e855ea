//! What a transaction closure works with: the open [`Transaction`] and its
//! per-tree views, which read at the snapshot and buffer writes.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::rc::Rc;

use super::{UnabortableTransactionError, UnabortableTransactionResult};
use crate::db::Engine;
use crate::iter::Iter;
use crate::snapshot::ReadPoint;
use crate::sync::Arc;
use crate::tree::{bounds, check_key, check_value, is_empty_range, prefix_bounds};
use crate::{Batch, Error, IVec, Result, Tree};

/// What one transaction did to one tree.
pub(crate) struct TreeTx {
    pub tree: Tree,
    /// Buffered writes: `None` removes.
    pub writes: BTreeMap<IVec, Option<IVec>>,
    /// Keys read from the snapshot (not from the transaction's own writes).
    pub reads: Vec<IVec>,
    /// Ranges scanned in the snapshot.
    pub ranges: Vec<(Bound<IVec>, Bound<IVec>)>,
}

pub(crate) struct TxState {
    pub engine: Arc<Engine>,
    pub point: Arc<ReadPoint>,
    pub trees: RefCell<Vec<TreeTx>>,
    /// The slots of the trees the transaction was opened over, in order (a
    /// tree given twice shares its slot, so both views see the same writes).
    pub order: RefCell<Vec<usize>>,
    pub durable: Cell<bool>,
    /// Run with the commit's LSN as it commits (see `Transaction::on_commit`).
    pub hooks: RefCell<Vec<CommitHook>>,
}

/// A function run as a transaction commits, with its LSN.
pub(crate) type CommitHook = Box<dyn FnOnce(u64)>;

/// An open transaction: a snapshot, the trees it touches and its buffered
/// writes. Closures of [`Db::transact`](crate::Db::transact) receive one and
/// add trees with [`tree`](Transaction::tree).
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let names = ["left", "right"];
/// let trees = names.iter().map(|n| db.open_tree(n)).collect::<Result<Vec<_>, _>>()?;
/// db.transact(|tx| {
///     for tree in &trees {
///         tx.tree(tree)?.insert(b"touched", b"yes")?;
///     }
///     Ok::<_, skiff_engine::ConflictableTransactionError>(())
/// })?;
/// assert!(trees.iter().all(|t| t.contains_key(b"touched").unwrap()));
/// # Ok::<(), skiff_engine::TransactionError>(())
/// ```
pub struct Transaction {
    pub(crate) state: Rc<TxState>,
}

impl Transaction {
    /// Opens a transaction on `engine` with no trees yet.
    pub(crate) fn open(engine: &Arc<Engine>) -> Transaction {
        Transaction {
            state: Rc::new(TxState {
                engine: engine.clone(),
                point: Arc::new(ReadPoint::open(engine)),
                trees: RefCell::new(Vec::new()),
                order: RefCell::new(Vec::new()),
                hooks: RefCell::new(Vec::new()),
                durable: Cell::new(engine.durable_transactions),
            }),
        }
    }

    /// Opens a transaction over `trees`, which must share one database.
    pub(crate) fn over(trees: &[&Tree]) -> Result<Transaction> {
        let Some(first) = trees.first() else {
            return Err(Error::Unsupported("a transaction needs at least one tree".into()));
        };
        let tx = Transaction::open(&first.engine);
        for tree in trees {
            let slot = tx.slot(tree)?;
            tx.state.order.borrow_mut().push(slot);
        }
        Ok(tx)
    }

    /// The view of the `i`th tree this transaction was opened over.
    pub(crate) fn view(&self, i: usize) -> TransactionalTree {
        TransactionalTree {
            state: self.state.clone(),
            slot: self.state.order.borrow()[i],
        }
    }

    /// Views of every tree this transaction was opened over, in order.
    pub(crate) fn views(&self) -> Vec<TransactionalTree> {
        (0..self.state.order.borrow().len())
            .map(|i| self.view(i))
            .collect()
    }

    /// The slot holding `tree`'s reads and writes, added if new.
    fn slot(&self, tree: &Tree) -> Result<usize> {
        if !Arc::ptr_eq(&tree.engine, &self.state.engine) {
            return Err(Error::Unsupported(
                "cannot use trees of different databases in one transaction".into(),
            ));
        }
        tree.core.check_dropped()?;
        let mut trees = self.state.trees.borrow_mut();
        let slot = match trees.iter().position(|t| Arc::ptr_eq(&t.tree.core, &tree.core)) {
            Some(slot) => slot,
            None => {
                trees.push(TreeTx {
                    tree: tree.clone(),
                    writes: BTreeMap::new(),
                    reads: Vec::new(),
                    ranges: Vec::new(),
                });
                trees.len() - 1
            }
        };
        Ok(slot)
    }

    /// This transaction's view of `tree`, which joins the transaction.
    pub fn tree(&self, tree: &Tree) -> UnabortableTransactionResult<TransactionalTree> {
        let slot = self.slot(tree)?;
        Ok(TransactionalTree {
            state: self.state.clone(),
            slot,
        })
    }

    /// Makes this transaction durable before it returns (see
    /// [`TransactionalTree::flush`]).
    pub fn flush(&self) {
        self.state.durable.set(true);
    }

    /// Runs `hook` with the commit's LSN if this run of the transaction
    /// commits (never if it aborts or reruns), at the moment its log record is
    /// appended: hooks of different transactions run in commit order, one
    /// transaction's together. They run under the log's append lock, so they
    /// must be quick and must not block or touch the database; handing data to
    /// a queue is the intended use (the typed layer's change streams do).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// db.transact(|tx| {
    ///     tx.tree(&db)?.insert(b"k", b"v")?;
    ///     let log = log.clone();
    ///     tx.on_commit(move |lsn| log.lock().unwrap().push(lsn));
    ///     Ok::<_, skiff_engine::transaction::ConflictableTransactionError>(())
    /// })?;
    /// assert_eq!(seen.lock().unwrap().len(), 1);
    /// # Ok::<(), skiff_engine::transaction::TransactionError>(())
    /// ```
    pub fn on_commit(&self, hook: impl FnOnce(u64) + 'static) {
        self.state.hooks.borrow_mut().push(Box::new(hook));
    }
}

/// A transaction's view of one tree: reads see the transaction's snapshot
/// plus its own writes; writes are buffered until commit.
#[derive(Clone)]
pub struct TransactionalTree {
    state: Rc<TxState>,
    slot: usize,
}

impl TransactionalTree {
    fn with<R>(&self, f: impl FnOnce(&mut TreeTx) -> R) -> R {
        f(&mut self.state.trees.borrow_mut()[self.slot])
    }

    fn storage<T>(r: Result<T>) -> UnabortableTransactionResult<T> {
        r.map_err(UnabortableTransactionError::Storage)
    }

    /// Sets `key` to `value` at commit; returns the value it had.
    pub fn insert<K, V>(&self, key: K, value: V) -> UnabortableTransactionResult<Option<IVec>>
    where
        K: AsRef<[u8]> + Into<IVec>,
        V: Into<IVec>,
    {
        Self::storage(check_key(key.as_ref()))?;
        let value = value.into();
        Self::storage(check_value(&value))?;
        let old = self.get(key.as_ref())?;
        self.with(|t| t.writes.insert(key.into(), Some(value)));
        Ok(old)
    }

    /// Removes `key` at commit; returns the value it had.
    pub fn remove<K>(&self, key: K) -> UnabortableTransactionResult<Option<IVec>>
    where
        K: AsRef<[u8]> + Into<IVec>,
    {
        Self::storage(check_key(key.as_ref()))?;
        let old = self.get(key.as_ref())?;
        self.with(|t| t.writes.insert(key.into(), None));
        Ok(old)
    }

    /// The value of `key`: this transaction's own write, else the snapshot's.
    pub fn get<K: AsRef<[u8]>>(&self, key: K) -> UnabortableTransactionResult<Option<IVec>> {
        let key = key.as_ref();
        let (tree, own) = self.with(|t| {
            let own = t.writes.get(key).cloned();
            if own.is_none() {
                t.reads.push(IVec::from(key));
            }
            (t.tree.clone(), own)
        });
        if let Some(own) = own {
            return Ok(own);
        }
        Self::storage(self.state.point.check_open())?;
        Self::storage(tree.core.get_at(key, self.state.point.at))
    }

    /// Sets `key` to `value` at commit without reading it first, so unlike
    /// [`insert`](Self::insert) it does not count as a read: concurrent blind
    /// writes of one key do not conflict (the later commit wins). Not in sled.
    pub fn set<K, V>(&self, key: K, value: V) -> UnabortableTransactionResult<()>
    where
        K: AsRef<[u8]> + Into<IVec>,
        V: Into<IVec>,
    {
        Self::storage(check_key(key.as_ref()))?;
        let value = value.into();
        Self::storage(check_value(&value))?;
        self.with(|t| t.writes.insert(key.into(), Some(value)));
        Ok(())
    }

    /// Removes `key` at commit without reading it first (see [`set`](Self::set)).
    /// Not in sled.
    pub fn unset<K>(&self, key: K) -> UnabortableTransactionResult<()>
    where
        K: AsRef<[u8]> + Into<IVec>,
    {
        Self::storage(check_key(key.as_ref()))?;
        self.with(|t| t.writes.insert(key.into(), None));
        Ok(())
    }

    /// Buffers every write of `batch`.
    pub fn apply_batch(&self, batch: &Batch) -> UnabortableTransactionResult<()> {
        for (k, v) in &batch.writes {
            Self::storage(check_key(k))?;
            if let Some(v) = v {
                Self::storage(check_value(v))?;
            }
        }
        self.with(|t| {
            for (k, v) in &batch.writes {
                t.writes.insert(k.clone(), v.clone());
            }
        });
        Ok(())
    }

    /// Makes the transaction durable: it returns only after its commit is
    /// fsynced. Concurrent durable commits share one fsync.
    pub fn flush(&self) {
        self.state.durable.set(true);
    }

    /// A new id, as [`Db::generate_id`](crate::Db::generate_id); not undone if
    /// the transaction aborts or retries.
    pub fn generate_id(&self) -> Result<u64> {
        self.state.engine.generate_id()
    }

    /// Iterates over the keys in `range` as this transaction sees them;
    /// double-ended. The whole range counts as read: if a concurrent commit
    /// adds, changes or removes a key in it, this transaction retries (not in
    /// sled).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> TxIter {
        self.scan(bounds(&range), true)
    }

    /// Iterates over the keys starting with `prefix`; see [`range`](Self::range).
    pub fn scan_prefix<P: AsRef<[u8]>>(&self, prefix: P) -> TxIter {
        self.scan(prefix_bounds(prefix.as_ref()), true)
    }

    /// Iterates over every key; see [`range`](Self::range).
    pub fn iter(&self) -> TxIter {
        self.scan((Bound::Unbounded, Bound::Unbounded), true)
    }

    /// The smallest key and its value. Only the keys up to it count as read.
    pub fn first(&self) -> UnabortableTransactionResult<Option<(IVec, IVec)>> {
        let found = self
            .scan((Bound::Unbounded, Bound::Unbounded), false)
            .next()
            .transpose()?;
        let hi = found
            .as_ref()
            .map_or(Bound::Unbounded, |(k, _)| Bound::Included(k.clone()));
        self.with(|t| t.ranges.push((Bound::Unbounded, hi)));
        Ok(found)
    }

    /// The largest key and its value. Only the keys from it on count as read.
    pub fn last(&self) -> UnabortableTransactionResult<Option<(IVec, IVec)>> {
        let found = self
            .scan((Bound::Unbounded, Bound::Unbounded), false)
            .next_back()
            .transpose()?;
        let lo = found
            .as_ref()
            .map_or(Bound::Unbounded, |(k, _)| Bound::Included(k.clone()));
        self.with(|t| t.ranges.push((lo, Bound::Unbounded)));
        Ok(found)
    }

    fn scan(&self, (lo, hi): (Bound<IVec>, Bound<IVec>), record: bool) -> TxIter {
        let empty = is_empty_range(&lo, &hi);
        let (tree, own) = self.with(|t| {
            if empty {
                return (t.tree.clone(), VecDeque::new());
            }
            if record {
                t.ranges.push((lo.clone(), hi.clone()));
            }
            let own: VecDeque<_> = t
                .writes
                .range((lo.clone(), hi.clone()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (t.tree.clone(), own)
        });
        let base = Iter::new(tree, lo, hi).at(self.state.point.clone());
        TxIter {
            base,
            own,
            front: None,
            back: None,
        }
    }
}

/// Iterates over a range as a transaction sees it: the snapshot merged with
/// the transaction's own writes (as they were when the iterator was made).
pub struct TxIter {
    base: Iter,
    own: VecDeque<(IVec, Option<IVec>)>,
    /// The next snapshot entry at either end, looked at but not yet yielded.
    front: Option<(IVec, IVec)>,
    back: Option<(IVec, IVec)>,
}

impl TxIter {
    fn next_base(&mut self) -> Result<Option<(IVec, IVec)>> {
        if self.front.is_none() {
            self.front = match self.base.next() {
                Some(item) => Some(item?),
                None => self.back.take(),
            };
        }
        Ok(self.front.take())
    }

    fn next_base_back(&mut self) -> Result<Option<(IVec, IVec)>> {
        if self.back.is_none() {
            self.back = match self.base.next_back() {
                Some(item) => Some(item?),
                None => self.front.take(),
            };
        }
        Ok(self.back.take())
    }
}

impl Iterator for TxIter {
    type Item = UnabortableTransactionResult<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let base = match self.next_base() {
                Ok(b) => b,
                Err(e) => return Some(Err(e.into())),
            };
            let own_first = match (&base, self.own.front()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((bk, _)), Some((ok, _))) => ok <= bk,
            };
            if !own_first {
                return base.map(Ok);
            }
            let (key, value) = self.own.pop_front()?;
            match base {
                // The transaction's write replaces the snapshot's entry.
                Some(b) if b.0 == key => {}
                other => self.front = other,
            }
            if let Some(value) = value {
                return Some(Ok((key, value)));
            }
        }
    }
}

impl DoubleEndedIterator for TxIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            let base = match self.next_base_back() {
                Ok(b) => b,
                Err(e) => return Some(Err(e.into())),
            };
            let own_last = match (&base, self.own.back()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((bk, _)), Some((ok, _))) => ok >= bk,
            };
            if !own_last {
                return base.map(Ok);
            }
            let (key, value) = self.own.pop_back()?;
            match base {
                Some(b) if b.0 == key => {}
                other => self.back = other,
            }
            if let Some(value) = value {
                return Some(Ok((key, value)));
            }
        }
    }
}
