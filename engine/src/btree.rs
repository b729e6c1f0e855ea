//! One tree's B+ tree: the index plus its leaves, and how writers lock them.
//!
//! Lock order, which makes the engine deadlock-free:
//! 1. a tree's structure lock (splits, merges, clear, drop);
//! 2. leaf locks, in key order (and, across trees, in tree-id order).
//!
//! Nobody waits for the structure lock while holding a leaf lock: a writer
//! releases its leaf before it splits or merges it. A writer that locks a leaf
//! and finds it no longer covers its key (split, merged or cleared meanwhile)
//! releases it and looks the key up again; by then the index shows the new shape,
//! because restructuring publishes the new root before unlocking the leaves.

use crossbeam_epoch::{self as epoch, Guard};

use crate::index::Index;
use crate::leaf::{Leaf, LeafState};
use crate::record::TreeId;
use crate::subscriber::Subscribers;
use crate::sync::{read, write, Arc, AtomicBool, AtomicU64, Ordering, RwLock, RwLockWriteGuard};
use crate::{Error, IVec, MergeOperator, Result};

/// A leaf locked for writing, with the reference that keeps it alive.
pub(crate) type LockedLeaf<'g> = (&'g Arc<Leaf>, RwLockWriteGuard<'g, LeafState>);

pub(crate) struct TreeCore {
    pub id: TreeId,
    pub name: IVec,
    pub index: Index,
    pub dropped: AtomicBool,
    pub merge_operator: RwLock<Option<Arc<dyn MergeOperator>>>,
    pub subscribers: Arc<Subscribers>,
    leaf_max: usize,
    leaf_ids: Arc<AtomicU64>,
}

impl TreeCore {
    pub(crate) fn new(id: TreeId, name: IVec, leaf_max: usize, leaf_ids: Arc<AtomicU64>) -> TreeCore {
        let first = Arc::new(Leaf::new(
            leaf_ids.fetch_add(1, Ordering::Relaxed),
            IVec::empty(),
            None,
            Vec::new(),
        ));
        TreeCore {
            id,
            name,
            index: Index::new(first),
            dropped: AtomicBool::new(false),
            merge_operator: RwLock::new(None),
            subscribers: Arc::new(Subscribers::default()),
            leaf_max,
            leaf_ids,
        }
    }

    /// Fails with `CollectionNotFound` once the tree has been dropped.
    pub(crate) fn check_dropped(&self) -> Result<()> {
        if self.dropped.load(Ordering::Acquire) {
            return Err(Error::CollectionNotFound(self.name.clone()));
        }
        Ok(())
    }

    /// Runs `f` on the leaf holding `key` under its read lock.
    #[inline]
    pub(crate) fn with_leaf<R>(&self, key: &[u8], f: impl FnOnce(&LeafState) -> R) -> Result<R> {
        let guard = epoch::pin();
        loop {
            let leaf = self.index.leaf_for(key, &guard);
            let state = read(&leaf.state);
            if state.covers(key) {
                return Ok(f(&state));
            }
            drop(state);
            self.check_dropped()?;
            std::hint::spin_loop();
        }
    }

    /// Locks the leaf holding `key` for writing.
    pub(crate) fn lock_leaf<'g>(&self, key: &[u8], guard: &'g Guard) -> Result<LockedLeaf<'g>> {
        loop {
            self.check_dropped()?;
            let leaf = self.index.leaf_for(key, guard);
            let state = write(&leaf.state);
            if state.covers(key) {
                return Ok((leaf, state));
            }
            drop(state);
            std::hint::spin_loop();
        }
    }

    /// Locks, in key order, the leaves holding `keys` (which must be sorted).
    /// Returns the locked leaves and, for each key, the position of its leaf.
    pub(crate) fn lock_leaves<'g, 'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        guard: &'g Guard,
    ) -> Result<(Vec<LockedLeaf<'g>>, Vec<usize>)> {
        'retry: loop {
            self.check_dropped()?;
            let mut leaves: Vec<&'g Arc<Leaf>> = Vec::new();
            let mut slots = Vec::new();
            for key in keys.clone() {
                let leaf = self.index.leaf_for(key, guard);
                if leaves.last().is_none_or(|last| !Arc::ptr_eq(last, leaf)) {
                    leaves.push(leaf);
                }
                slots.push(leaves.len() - 1);
            }
            // A concurrent split between lookups can make a leaf reappear out of
            // order; locking it twice would deadlock, so look everything up again.
            let mut ptrs: Vec<*const Leaf> = leaves.iter().map(|l| Arc::as_ptr(l)).collect();
            ptrs.sort_unstable();
            ptrs.dedup();
            if ptrs.len() != leaves.len() {
                continue 'retry;
            }
            let locked: Vec<LockedLeaf<'g>> = leaves.into_iter().map(|l| (l, write(&l.state))).collect();
            for (key, &slot) in keys.clone().zip(&slots) {
                if !locked[slot].1.covers(key) {
                    drop(locked);
                    std::hint::spin_loop();
                    continue 'retry;
                }
            }
            return Ok((locked, slots));
        }
    }

    /// Splits or merges the leaf holding `key` if its size calls for it.
    pub(crate) fn rebalance(&self, key: &[u8], bytes: usize, removed: bool) {
        if bytes > self.leaf_max {
            self.split(key);
        } else if removed && bytes < self.leaf_max / 4 {
            self.merge(key);
        }
    }

    fn new_leaf(&self, lo: IVec, hi: Option<IVec>, entries: Vec<(IVec, IVec)>) -> Arc<Leaf> {
        Arc::new(Leaf::new(
            self.leaf_ids.fetch_add(1, Ordering::Relaxed),
            lo,
            hi,
            entries,
        ))
    }

    fn split(&self, key: &[u8]) {
        let s = self.index.lock_structure();
        let guard = epoch::pin();
        let leaf = self.index.leaf_for(key, &guard);
        let mut state = write(&leaf.state);
        if state.retired || state.bytes <= self.leaf_max || state.entries.len() < 2 {
            return;
        }
        let hi = state.hi.clone();
        let pieces = state.split(self.leaf_max / 2);
        let lows: Vec<IVec> = pieces.iter().map(|(low, _)| low.clone()).collect();
        for (i, (low, entries)) in pieces.into_iter().enumerate() {
            let piece_hi = lows.get(i + 1).cloned().or_else(|| hi.clone());
            let new = self.new_leaf(low.clone(), piece_hi, entries);
            self.index.insert_leaf(&s, low, new);
        }
    }

    fn merge(&self, key: &[u8]) {
        let s = self.index.lock_structure();
        let guard = epoch::pin();
        let leaf = self.index.leaf_for(key, &guard);
        let (lo, hi) = {
            let state = read(&leaf.state);
            if state.retired || state.bytes >= self.leaf_max / 4 {
                return;
            }
            (state.lo.clone(), state.hi.clone())
        };
        let (left, right) = match hi {
            Some(hi) => (leaf, self.index.leaf_for(&hi, &guard)),
            None => match self.index.leaf_before(&lo, &guard) {
                Some(prev) => (prev, leaf),
                None => return,
            },
        };
        let mut a = write(&left.state);
        let mut b = write(&right.state);
        // Merging an empty leaf never makes a leaf bigger; otherwise leave room so
        // that the merged leaf does not split again at once.
        let fits = a.bytes + b.bytes <= self.leaf_max * 3 / 4;
        if !fits && !a.entries.is_empty() && !b.entries.is_empty() {
            return;
        }
        a.absorb(&mut b);
        self.index.remove_leaf(&s, &b.lo);
    }

    /// Empties the tree: every leaf is locked, `log` runs while they are held,
    /// then the leaves are retired and replaced by one empty leaf — or by none
    /// that covers anything if `dropping`.
    pub(crate) fn reset(&self, dropping: bool, log: impl FnOnce() -> Result<()>) -> Result<()> {
        let s = self.index.lock_structure();
        // A dropped tree stays dropped: `clear` through an old handle must not
        // log a change to a tree that recovery will not know.
        self.check_dropped()?;
        let guard = epoch::pin();
        let leaves = self.index.leaves(&guard);
        let mut states: Vec<_> = leaves.iter().map(|l| write(&l.state)).collect();
        log()?;
        if dropping {
            self.dropped.store(true, Ordering::Release);
        }
        for state in &mut states {
            state.retire();
        }
        let fresh = self.new_leaf(IVec::empty(), None, Vec::new());
        if dropping {
            write(&fresh.state).retired = true;
        }
        self.index.reset(&s, fresh);
        drop(states);
        if dropping {
            self.subscribers.close_all();
        }
        Ok(())
    }

    /// Applies a write without logging it (recovery replays the log this way).
    pub(crate) fn apply_unlogged(&self, key: &IVec, value: Option<&IVec>) -> Result<()> {
        let guard = epoch::pin();
        let (_, mut state) = self.lock_leaf(key, &guard)?;
        state.apply(key, value);
        let bytes = state.bytes;
        drop(state);
        self.rebalance(key, bytes, value.is_none());
        Ok(())
    }
}
