//! One tree's B+ tree: the index plus its leaves, and the lock order that
//! writers (`span`) and restructuring follow.
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

use crossbeam_epoch as epoch;

use crate::cache::Cache;
use crate::index::Index;
use crate::leaf::{Blobs, Leaf, LeafState};
use crate::page_store::PageStore;
use crate::record::TreeId;
use crate::snapshot::{Frozen, FrozenLeaves};
use crate::span::LockedLeaf;
use crate::subscriber::Subscribers;
use crate::sync::{
    lock, read, write, Arc, AtomicBool, AtomicU64, Mutex, Ordering, RwLock, RwLockReadGuard, Weak,
};
use crate::versions::Stamp;
use crate::{Error, IVec, MergeOperator, Result};

pub(crate) struct TreeCore {
    pub id: TreeId,
    pub name: IVec,
    pub index: Index,
    pub dropped: AtomicBool,
    pub merge_operator: RwLock<Option<Arc<dyn MergeOperator>>>,
    pub subscribers: Arc<Subscribers>,
    leaf_max: usize,
    pub(crate) shared: Arc<Shared>,
}

/// What every tree of an engine shares.
pub(crate) struct Shared {
    /// Where evicted leaves are read back from.
    pub pages: Arc<PageStore>,
    pub cache: Cache,
    /// The next leaf id.
    pub leaf_ids: AtomicU64,
    /// Leaves of cleared and dropped trees that open snapshots still read.
    pub frozen: Frozen,
    /// Leaves that kept superseded versions for a snapshot, so that their
    /// memory is given back when the last snapshot closes even if nobody
    /// writes to them again.
    versioned: Mutex<Vec<Weak<Leaf>>>,
}

impl Shared {
    pub(crate) fn new(pages: Arc<PageStore>, cache_capacity: u64) -> Shared {
        Shared {
            pages,
            cache: Cache::new(cache_capacity),
            leaf_ids: AtomicU64::new(1),
            frozen: Frozen::default(),
            versioned: Mutex::new(Vec::new()),
        }
    }

    /// Remembers that `leaf` keeps versions.
    pub(crate) fn track(&self, leaf: &Arc<Leaf>) {
        lock(&self.versioned).push(Arc::downgrade(leaf));
    }

    /// Drops every tracked version at or below `horizon`.
    pub(crate) fn release_versions(&self, horizon: u64) {
        let tracked = std::mem::take(&mut *lock(&self.versioned));
        let mut kept = Vec::new();
        for weak in tracked {
            let Some(leaf) = weak.upgrade() else { continue };
            if write(&leaf.state).prune_versions(horizon) {
                kept.push(weak);
            }
        }
        lock(&self.versioned).append(&mut kept);
    }
}

/// A leaf as a checkpoint captured it.
pub(crate) enum Captured {
    /// Changed since its last page: the entries to write, and the blobs
    /// already holding some of its values. The leaf is marked `saving` until
    /// the checkpoint has installed its page.
    Dirty {
        hi: Option<IVec>,
        entries: Vec<(IVec, IVec)>,
        blobs: Blobs,
    },
    /// Its page in the page table is current.
    Clean,
}

/// Consecutive leaves of one tree as a checkpoint captured them (see
/// `TreeCore::capture`): they cover the keys from `from` up to `to`.
pub(crate) struct Run {
    pub from: IVec,
    /// The low key of the first leaf after the run; `None` at the tree's end.
    pub to: Option<IVec>,
    pub leaves: Vec<(Arc<Leaf>, IVec, Captured)>,
    /// The bytes of the dirty leaves copied.
    pub dirty_bytes: u64,
}

impl TreeCore {
    /// A tree over `leaves` (in key order, the first starting at the empty
    /// key), as recovery rebuilds it from a checkpoint.
    pub(crate) fn from_leaves(
        id: TreeId,
        name: IVec,
        leaves: Vec<(IVec, Arc<Leaf>)>,
        leaf_max: usize,
        shared: Arc<Shared>,
    ) -> TreeCore {
        TreeCore {
            id,
            name,
            index: Index::from_leaves(leaves),
            dropped: AtomicBool::new(false),
            merge_operator: RwLock::new(None),
            subscribers: Arc::new(Subscribers::default()),
            leaf_max,
            shared,
        }
    }

    /// Captures a run of consecutive leaves for a checkpoint: each leaf's id
    /// and low key, with a copy of each dirty leaf, which is marked clean.
    /// `None` if the tree was dropped.
    ///
    /// The run starts at the leaf holding `from`, or the nearest leaf before
    /// it whose low key is a `boundary`, and ends before the first boundary
    /// leaf reached once the dirty leaves copied hold `budget` bytes (or at the
    /// end of the tree). The page table starts a leaf at every boundary, so the
    /// run covers exactly the key range of the table entries it replaces.
    ///
    /// The structure lock keeps the set of leaves fixed meanwhile, so every key
    /// is in exactly one captured leaf; each leaf's copy reflects a moment
    /// after the call began.
    pub(crate) fn capture(&self, from: &[u8], budget: u64, boundary: impl Fn(&[u8]) -> bool) -> Option<Run> {
        let _s = self.index.lock_structure();
        if self.dropped.load(Ordering::Acquire) {
            return None;
        }
        let guard = epoch::pin();
        // Only the run's leaves are visited: a pass over a large tree takes
        // many runs.
        let mut leaf = self.index.leaf_for(from, &guard);
        loop {
            let lo = read(&leaf.state).lo.clone();
            if boundary(&lo) {
                break;
            }
            match self.index.leaf_before(&lo, &guard) {
                Some(prev) => leaf = prev,
                None => break,
            }
        }
        let mut run = Run {
            from: IVec::empty(),
            to: None,
            leaves: Vec::new(),
            dirty_bytes: 0,
        };
        let mut next = Some(leaf);
        while let Some(leaf) = next {
            let mut state = write(&leaf.state);
            if run.leaves.is_empty() {
                run.from = state.lo.clone();
            } else if run.dirty_bytes >= budget && boundary(&state.lo) {
                run.to = Some(state.lo.clone());
                break;
            }
            next = state.hi.as_ref().map(|hi| self.index.leaf_for(hi, &guard));
            let c = if state.dirty {
                state.dirty = false;
                state.saving = true;
                state.saved = state.bytes;
                run.dirty_bytes += state.bytes as u64;
                Captured::Dirty {
                    hi: state.hi.clone(),
                    entries: state.entries.clone(),
                    blobs: state.blobs.as_deref().cloned().unwrap_or_default(),
                }
            } else {
                Captured::Clean
            };
            run.leaves.push((leaf.clone(), state.lo.clone(), c));
        }
        Some(run)
    }

    pub(crate) fn new(id: TreeId, name: IVec, leaf_max: usize, shared: Arc<Shared>) -> TreeCore {
        let first = Arc::new(Leaf::new(
            shared.leaf_ids.fetch_add(1, Ordering::Relaxed),
            IVec::empty(),
            None,
            Vec::new(),
        ));
        shared.cache.admit(&first, 0);
        TreeCore {
            id,
            name,
            index: Index::new(first),
            dropped: AtomicBool::new(false),
            merge_operator: RwLock::new(None),
            subscribers: Arc::new(Subscribers::default()),
            leaf_max,
            shared,
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
            let state = self.read_resident(leaf)?;
            if state.covers(key) {
                self.shared.cache.hit(leaf);
                return Ok(f(&state));
            }
            drop(state);
            self.check_dropped()?;
            std::hint::spin_loop();
        }
    }

    /// A read guard on `leaf` with its entries in memory: an evicted leaf is
    /// read back from its page first. Damage to the page is an error here,
    /// never data.
    #[inline]
    pub(crate) fn read_resident<'a>(&self, leaf: &'a Arc<Leaf>) -> Result<RwLockReadGuard<'a, LeafState>> {
        loop {
            let state = read(&leaf.state);
            if !state.evicted {
                return Ok(state);
            }
            drop(state);
            {
                let mut state = write(&leaf.state);
                if state.evicted {
                    self.load(leaf, &mut state)?;
                }
            }
            let state = read(&leaf.state);
            if !state.evicted {
                // Evicting others while holding this leaf keeps it from
                // being evicted again before it is read.
                if self.shared.cache.over() {
                    self.shared.cache.evict();
                }
                return Ok(state);
            }
        }
    }

    /// Reads an evicted leaf's entries back from its page.
    pub(crate) fn load(&self, leaf: &Arc<Leaf>, state: &mut LeafState) -> Result<()> {
        let (entries, blobs) =
            self.shared
                .pages
                .read_leaf(leaf.id, self.id, &state.lo, state.hi.as_deref())?;
        let bytes = state.fill(entries, blobs);
        self.shared.cache.misses.fetch_add(1, Ordering::Relaxed);
        self.shared.cache.admit(leaf, bytes);
        Ok(())
    }

    /// Rebalances the leaves `Span::apply` reported, with no lock held.
    pub(crate) fn rebalance_all(&self, resized: Vec<(IVec, usize, bool)>) {
        let mut big = Vec::new();
        for (lo, bytes, removed) in resized {
            if bytes > self.leaf_max {
                big.push(lo);
            } else {
                self.rebalance(&lo, bytes, removed);
            }
        }
        self.split(&big);
    }

    /// Splits or merges the leaf holding `key` if its size calls for it.
    pub(crate) fn rebalance(&self, key: &IVec, bytes: usize, removed: bool) {
        if bytes > self.leaf_max {
            self.split(std::slice::from_ref(key));
        } else if removed && bytes < self.leaf_max / 4 {
            self.merge(key);
        }
    }

    fn new_leaf(&self, lo: IVec, hi: Option<IVec>, entries: Vec<(IVec, IVec)>) -> Arc<Leaf> {
        let leaf = Arc::new(Leaf::new(
            self.shared.leaf_ids.fetch_add(1, Ordering::Relaxed),
            lo,
            hi,
            entries,
        ));
        self.shared.cache.admit(&leaf, read(&leaf.state).bytes);
        leaf
    }

    /// Splits the leaves holding `keys` (in key order) that are still too
    /// big, publishing all the new leaves in one index update.
    fn split(&self, keys: &[IVec]) {
        if keys.is_empty() {
            return;
        }
        let s = self.index.lock_structure();
        let guard = epoch::pin();
        // Every split leaf stays locked until the index shows its pieces, so a
        // writer that finds its key moved out looks it up in the new index.
        let mut locked: Vec<LockedLeaf<'_>> = Vec::new();
        let mut new = Vec::new();
        for key in keys {
            let leaf = self.index.leaf_for(key, &guard);
            // Keys of leaves merged since are found in a leaf already locked.
            if locked.last().is_some_and(|(l, _)| Arc::ptr_eq(l, leaf)) {
                continue;
            }
            let mut state = write(&leaf.state);
            if state.retired || state.bytes <= self.leaf_max || state.entries.len() < 2 {
                continue;
            }
            let hi = state.hi.clone();
            let pieces = state.split(self.leaf_max / 2);
            let lows: Vec<IVec> = pieces.iter().map(|p| p.low.clone()).collect();
            for (i, piece) in pieces.into_iter().enumerate() {
                let piece_hi = lows.get(i + 1).cloned().or_else(|| hi.clone());
                let low = piece.low.clone();
                let id = self.shared.leaf_ids.fetch_add(1, Ordering::Relaxed);
                let versioned = piece.versions.is_some();
                let leaf = Arc::new(Leaf::from_piece(id, piece, piece_hi));
                if versioned {
                    self.shared.track(&leaf);
                }
                // The bytes moved out of a leaf already counted as resident.
                self.shared.cache.admit(&leaf, 0);
                new.push((low, leaf));
            }
            locked.push((leaf, state));
        }
        self.index.insert_leaves(&s, &new);
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
        // The neighbour may be evicted; a merge needs its entries (a failed
        // read leaves the two leaves as they are).
        for (leaf, state) in [(left, &mut a), (right, &mut b)] {
            if state.evicted && self.load(leaf, state).is_err() {
                return;
            }
        }
        // Merging an empty leaf never makes a leaf bigger; otherwise leave room so
        // that the merged leaf does not split again at once.
        let fits = a.bytes + b.bytes <= self.leaf_max * 3 / 4;
        if !fits && !a.entries.is_empty() && !b.entries.is_empty() {
            return;
        }
        if a.absorb(&mut b) {
            self.shared.track(left);
        }
        self.index.remove_leaf(&s, &b.lo);
    }

    /// Empties the tree: every leaf is locked, `log` runs while they are held,
    /// then the leaves are retired and replaced by one empty leaf — or by none
    /// that covers anything if `dropping`. Snapshots older than the reset keep
    /// reading the old leaves, frozen.
    pub(crate) fn reset(&self, dropping: bool, log: impl FnOnce() -> Result<Stamp>) -> Result<()> {
        let s = self.index.lock_structure();
        // A dropped tree stays dropped: `clear` through an old handle must not
        // log a change to a tree that recovery will not know.
        self.check_dropped()?;
        let guard = epoch::pin();
        let leaves = self.index.leaves(&guard);
        let mut states: Vec<_> = leaves.iter().map(|l| write(&l.state)).collect();
        let stamp = log()?;
        if stamp.oldest.is_some() {
            // Frozen leaves must keep their entries: their pages leave the
            // page table at the next checkpoint. One that cannot be read now
            // stays evicted, and a snapshot reading it gets the error.
            for (leaf, state) in leaves.iter().zip(states.iter_mut()) {
                if state.evicted {
                    let _ = self.load(leaf, state);
                }
            }
            let frozen: FrozenLeaves = leaves
                .iter()
                .zip(&states)
                .map(|(leaf, state)| (state.lo.clone(), (*leaf).clone()))
                .collect();
            // Registered before anyone can see a retired leaf or the dropped
            // flag, so a snapshot reader that does finds the frozen leaves.
            self.shared.frozen.add(self.id, stamp.lsn, frozen);
            for state in &mut states {
                state.freeze();
            }
        } else {
            for state in &mut states {
                state.retire();
            }
        }
        if dropping {
            self.dropped.store(true, Ordering::Release);
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
