//! Snapshots: consistent read-only views of every tree at one LSN.
//!
//! A snapshot reads at LSN `at`: it sees every change logged at or before `at`
//! and none after. Opening one registers `at` with the log; from then on,
//! writers keep the values they supersede in their leaves (see `versions`), so
//! reading at `at` is looking the key up and, if the leaf recorded newer
//! changes, taking the value from before the first of them.
//!
//! Why nothing logged at or before `at` can be missing from a leaf: a writer
//! holds its leaves' locks from before it gets its LSN until it has applied the
//! change, and a reader takes the leaf's lock. So a change with an LSN the
//! snapshot covers is either applied or its writer still holds the lock the
//! reader waits for.
//!
//! `clear` and `drop_tree` replace a tree's leaves wholesale. While an older
//! snapshot is open, the replaced leaves are frozen with their contents and
//! kept in `Frozen` until no open snapshot predates the reset.

use std::ops::{Bound, RangeBounds};

use crossbeam_epoch as epoch;

use crate::btree::{Shared, TreeCore};
use crate::db::Engine;
use crate::iter::Iter;
use crate::leaf::Leaf;
use crate::log::Log;
use crate::record::TreeId;
use crate::sync::{lock, Arc, AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::tree::{bounds, prefix_bounds};
use crate::{Error, IVec, Result, Tree};

/// A tree's leaves as they were just before a `clear` or `drop_tree`, sorted by
/// low key.
pub(crate) type FrozenLeaves = Arc<[(IVec, Arc<Leaf>)]>;

struct Generation {
    tree: TreeId,
    /// The LSN of the reset; snapshots below it read these leaves.
    lsn: u64,
    leaves: FrozenLeaves,
}

/// Leaves replaced by resets that open snapshots still read.
#[derive(Default)]
pub(crate) struct Frozen {
    count: AtomicUsize,
    generations: Mutex<Vec<Generation>>,
}

impl Frozen {
    pub(crate) fn add(&self, tree: TreeId, lsn: u64, leaves: FrozenLeaves) {
        let mut g = lock(&self.generations);
        g.push(Generation { tree, lsn, leaves });
        self.count.store(g.len(), Ordering::Release);
    }

    /// The leaves a snapshot at `at` reads for `tree`, if it was reset since.
    pub(crate) fn find(&self, tree: TreeId, at: u64) -> Option<FrozenLeaves> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let g = lock(&self.generations);
        g.iter()
            .filter(|g| g.tree == tree && g.lsn > at)
            .min_by_key(|g| g.lsn)
            .map(|g| g.leaves.clone())
    }

    /// Forgets what no snapshot at or above `horizon` reads.
    pub(crate) fn prune(&self, horizon: u64) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut g = lock(&self.generations);
        g.retain(|g| g.lsn > horizon);
        self.count.store(g.len(), Ordering::Release);
    }
}

/// The leaf of `leaves` whose range holds `key`.
pub(crate) fn frozen_leaf_for<'a>(leaves: &'a [(IVec, Arc<Leaf>)], key: &[u8]) -> &'a Arc<Leaf> {
    let i = leaves.partition_point(|(lo, _)| &**lo <= key);
    &leaves[i.saturating_sub(1)].1
}

/// The frozen leaf holding the keys just below `key`, if any.
pub(crate) fn frozen_leaf_before<'a>(leaves: &'a [(IVec, Arc<Leaf>)], key: &[u8]) -> Option<&'a Arc<Leaf>> {
    let i = leaves.partition_point(|(lo, _)| &**lo < key);
    i.checked_sub(1).map(|i| &leaves[i].1)
}

/// An open snapshot's registration; closing it lets writers forget old versions.
pub(crate) struct ReadPoint {
    pub at: u64,
    log: Arc<Log>,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

impl ReadPoint {
    pub(crate) fn open(engine: &Engine) -> ReadPoint {
        ReadPoint {
            at: engine.log.open_snapshot(),
            log: engine.log.clone(),
            shared: engine.shared.clone(),
            closed: AtomicBool::new(false),
        }
    }

    /// Unregisters the snapshot before the last reference goes: a committing
    /// transaction does so once it has validated, so that its own writes need
    /// not keep old versions for it. Reading at a closed point is an error.
    ///
    /// Returns the horizon to pass to `Shared::release_versions` when this
    /// was the last open snapshot. The caller does that once it holds no leaf
    /// lock, since releasing locks leaves.
    pub(crate) fn close_deferred(&self) -> Option<u64> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return None;
        }
        let (horizon, none_open) = self.log.close_snapshot(self.at);
        self.shared.frozen.prune(horizon);
        // Writers prune the versions of the leaves they write; the release
        // covers the leaves nobody wrote since.
        none_open.then_some(horizon)
    }

    /// `close_deferred` followed by the release, for callers holding no lock.
    pub(crate) fn close(&self) {
        if let Some(horizon) = self.close_deferred() {
            self.shared.release_versions(horizon);
        }
    }

    /// Fails once the point is closed (a transaction's iterator used after
    /// the transaction ended).
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Unsupported(
                "reading through a transaction that has ended".into(),
            ));
        }
        Ok(())
    }
}

impl Drop for ReadPoint {
    fn drop(&mut self) {
        self.close();
    }
}

impl TreeCore {
    /// The value of `key` at snapshot `at` (which must be open).
    pub(crate) fn get_at(&self, key: &[u8], at: u64) -> Result<Option<IVec>> {
        self.read_at(key, at, |value| value.cloned())
    }

    /// Calls `f` with the value of `key` at snapshot `at` (which must be
    /// open), borrowed from its leaf while the leaf is read-locked.
    pub(crate) fn read_at<R>(&self, key: &[u8], at: u64, f: impl FnOnce(Option<&IVec>) -> R) -> Result<R> {
        loop {
            if let Some(leaves) = self.shared.frozen.find(self.id, at) {
                let leaf = frozen_leaf_for(&leaves, key);
                return Ok(f(self.read_resident(leaf)?.value_at(key, at)));
            }
            let guard = epoch::pin();
            let leaf = self.index.leaf_for(key, &guard);
            let state = self.read_resident(leaf)?;
            if state.covers(key) {
                return Ok(f(state.value_at(key, at)));
            }
            drop(state);
            self.check_stale(at)?;
            std::hint::spin_loop();
        }
    }

    /// Called by a snapshot reader that found a retired leaf: fine (look again)
    /// unless the tree was dropped before the snapshot.
    pub(crate) fn check_stale(&self, at: u64) -> Result<()> {
        if self.dropped.load(Ordering::Acquire) && self.shared.frozen.find(self.id, at).is_none() {
            return Err(Error::CollectionNotFound(self.name.clone()));
        }
        Ok(())
    }
}

/// A consistent, read-only view of every tree of a [`Db`](crate::Db) as of
/// the moment it was taken, unaffected by later writes (not in sled).
///
/// Writers keep the values a snapshot may still read, so hold one for as long
/// as needed but not longer: memory grows with what is overwritten meanwhile.
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let accounts = db.open_tree(b"accounts")?;
/// accounts.insert(b"alice", b"10")?;
/// let snap = db.snapshot();
/// accounts.insert(b"alice", b"0")?;
/// accounts.insert(b"bob", b"10")?;
/// assert_eq!(snap.get(&accounts, b"alice")?.as_deref(), Some(&b"10"[..]));
/// assert_eq!(snap.iter(&accounts).count(), 1);
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Snapshot {
    pub(crate) engine: Arc<Engine>,
    pub(crate) point: Arc<ReadPoint>,
}

impl Snapshot {
    pub(crate) fn new(engine: Arc<Engine>) -> Snapshot {
        let point = Arc::new(ReadPoint::open(&engine));
        Snapshot { engine, point }
    }

    fn check_tree(&self, tree: &Tree) -> Result<()> {
        if !Arc::ptr_eq(&self.engine, &tree.engine) {
            return Err(Error::Unsupported(
                "a snapshot reads trees of its own database only".into(),
            ));
        }
        Ok(())
    }

    /// The value `key` had in `tree`.
    pub fn get<K: AsRef<[u8]>>(&self, tree: &Tree, key: K) -> Result<Option<IVec>> {
        self.check_tree(tree)?;
        tree.core.get_at(key.as_ref(), self.point.at)
    }

    /// Calls `f` with the value `key` had in `tree`, borrowed rather than
    /// copied or shared (not in sled): for decoding it in place. The value's
    /// leaf stays read-locked while `f` runs, so keep `f` short.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.insert(b"greeting", b"hello, world")?;
    /// let snap = db.snapshot();
    /// db.insert(b"greeting", b"hi")?;
    /// let len = snap.get_with(&db, b"greeting", |value| value.len())?;
    /// assert_eq!(len, Some(12)); // as of the snapshot
    /// assert_eq!(db.get_with(b"greeting", |value| value.len())?, Some(2));
    /// assert_eq!(snap.get_with(&db, b"nothing", |value| value.len())?, None);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn get_with<K: AsRef<[u8]>, R>(
        &self,
        tree: &Tree,
        key: K,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        self.check_tree(tree)?;
        tree.core
            .read_at(key.as_ref(), self.point.at, |value| value.map(|v| f(v)))
    }

    /// Whether `key` had a value in `tree`.
    pub fn contains_key<K: AsRef<[u8]>>(&self, tree: &Tree, key: K) -> Result<bool> {
        Ok(self.get(tree, key)?.is_some())
    }

    /// Iterates over `tree` in order; double-ended.
    pub fn iter(&self, tree: &Tree) -> Iter {
        self.iter_between(tree, (Bound::Unbounded, Bound::Unbounded))
    }

    /// Iterates over the keys of `tree` in `range`; double-ended.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, tree: &Tree, range: R) -> Iter {
        self.iter_between(tree, bounds(&range))
    }

    /// Iterates over the keys of `tree` starting with `prefix`; double-ended.
    pub fn scan_prefix<P: AsRef<[u8]>>(&self, tree: &Tree, prefix: P) -> Iter {
        self.iter_between(tree, prefix_bounds(prefix.as_ref()))
    }

    /// The smallest key of `tree` and its value.
    pub fn first(&self, tree: &Tree) -> Result<Option<(IVec, IVec)>> {
        self.iter(tree).next().transpose()
    }

    /// The largest key of `tree` and its value.
    pub fn last(&self, tree: &Tree) -> Result<Option<(IVec, IVec)>> {
        self.iter(tree).next_back().transpose()
    }

    pub(crate) fn iter_between(&self, tree: &Tree, (lo, hi): (Bound<IVec>, Bound<IVec>)) -> Iter {
        let iter = Iter::new(tree.clone(), lo, hi).at(self.point.clone());
        match self.check_tree(tree) {
            Ok(()) => iter,
            Err(e) => iter.failing(e),
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("at", &self.point.at).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::sync::read;
    use crate::{Config, Db, IVec};

    fn leaves_with_versions(db: &Db) -> usize {
        let guard = crossbeam_epoch::pin();
        db.core
            .index
            .leaves(&guard)
            .iter()
            .filter(|l| read(&l.state).has_versions())
            .count()
    }

    #[test]
    fn closing_the_last_snapshot_gives_versions_back() {
        let db = Config::new().temporary(true).leaf_max_bytes(256).open().unwrap();
        for i in 0..200u32 {
            db.insert(i.to_be_bytes(), b"old").unwrap();
        }
        let first = db.snapshot();
        let second = first.clone();
        for i in 0..200u32 {
            db.insert(i.to_be_bytes(), b"new").unwrap();
        }
        assert!(
            leaves_with_versions(&db) > 1,
            "writes under a snapshot keep versions"
        );
        drop(first);
        assert_eq!(
            second.get(&db, 7u32.to_be_bytes()).unwrap(),
            Some(IVec::from(b"old"))
        );
        drop(second);
        assert_eq!(
            leaves_with_versions(&db),
            0,
            "nobody wrote since, yet versions are gone"
        );
        assert_eq!(db.get(7u32.to_be_bytes()).unwrap(), Some(IVec::from(b"new")));
    }

    #[test]
    fn a_snapshot_opened_during_release_keeps_what_it_needs() {
        let db = Config::new().temporary(true).open().unwrap();
        db.insert(b"k", b"1").unwrap();
        let old = db.snapshot();
        db.insert(b"k", b"2").unwrap();
        let newer = db.snapshot();
        db.insert(b"k", b"3").unwrap();
        drop(old);
        assert_eq!(newer.get(&db, b"k").unwrap(), Some(IVec::from(b"2")));
    }
}
