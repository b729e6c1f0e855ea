//! `Iter`: double-ended iteration over a key range without holding locks.
//!
//! The iterator keeps two cursors, `front` and `back`. Each refill locks one leaf
//! for reading, copies the entries strictly between the cursors that the leaf
//! holds (cheap `IVec` clones), moves its cursor past them and unlocks. Because
//! every refill checks that its leaf is live and covers its key (a leaf found by
//! descending the index, or the one the last refill remembered, see
//! `LeafCursor`), concurrent splits and merges are harmless: keys come out strictly increasing from the front and strictly
//! decreasing from the back, never twice, and the two ends never overlap. Like
//! sled's, an iterator from a `Tree` is not a snapshot: it sees writes made
//! while it runs. One from a `Snapshot` reads every leaf as of its LSN.

use std::collections::VecDeque;
use std::ops::Bound;

use crossbeam_epoch as epoch;

use crate::index::{Index, LeafCursor};
use crate::leaf::{Leaf, LeafState};
use crate::snapshot::{frozen_leaf_before, frozen_leaf_for, FrozenLeaves, ReadPoint};
use crate::sync::Arc;
use crate::tree::{above, below};
use crate::{Error, IVec, Result, Tree};

/// An iterator over `(key, value)` pairs of a [`Tree`], from `iter`, `range` or
/// `scan_prefix`. Yields `Result` because reading a leaf may fail.
pub struct Iter {
    tree: Tree,
    /// Keys at or below this (per the bound) were consumed or buffered in front.
    front: Bound<IVec>,
    /// Keys at or above this (per the bound) were consumed or buffered at the back.
    back: Bound<IVec>,
    front_buf: VecDeque<(IVec, IVec)>,
    back_buf: VecDeque<(IVec, IVec)>,
    /// Most entries the next refill copies: small at first, since many
    /// iterations stop early (`first`, `take(n)`), doubling up to a leaf.
    front_batch: usize,
    back_batch: usize,
    /// The leaf the next front refill starts in, when known without a descent.
    front_cursor: Option<LeafCursor>,
    /// The leaf the next back refill starts in, likewise.
    back_cursor: Option<LeafCursor>,
    /// Set once either end returned `None`: the iterator is fused, even if
    /// concurrent inserts land inside the range afterwards.
    done: bool,
    /// The snapshot this iterator reads at, if any.
    point: Option<Arc<ReadPoint>>,
    /// An error to yield before anything else.
    error: Option<Error>,
}

/// Where an iterator finds its leaves: the live index, or the frozen leaves
/// of a tree cleared after the iterator's snapshot.
enum Source<'a> {
    Live(&'a Index, &'a epoch::Guard),
    Frozen(&'a FrozenLeaves),
}

impl<'a> Source<'a> {
    fn cursor_for(&self, key: &[u8]) -> (&'a Arc<Leaf>, Option<LeafCursor>) {
        match self {
            Source::Live(index, guard) => index.cursor_for(key, guard),
            Source::Frozen(leaves) => (frozen_leaf_for(leaves, key), None),
        }
    }

    fn cursor_before(&self, key: &[u8]) -> Option<(&'a Arc<Leaf>, Option<LeafCursor>)> {
        match self {
            Source::Live(index, guard) => index.cursor_before(key, guard),
            Source::Frozen(leaves) => frozen_leaf_before(leaves, key).map(|leaf| (leaf, None)),
        }
    }

    fn last_leaf(&self) -> &'a Arc<Leaf> {
        match self {
            Source::Live(index, guard) => index.last_leaf(guard),
            Source::Frozen(leaves) => &leaves[leaves.len() - 1].1,
        }
    }

    /// Whether `state` may be read: live leaves must not be retired.
    fn readable(&self, state: &LeafState) -> bool {
        matches!(self, Source::Frozen(_)) || !state.retired
    }
}

const FIRST_BATCH: usize = 16;
const MAX_BATCH: usize = 1024;

/// Buffers up to a batch of `state`'s current entries after `front`; true if
/// that used up the leaf (every entry after `front`, all before `back`).
fn copy_front(
    state: &LeafState,
    front: &Bound<IVec>,
    back: &Bound<IVec>,
    batch: usize,
    buf: &mut VecDeque<(IVec, IVec)>,
) -> bool {
    let from = match front {
        // Continuing into the next leaf: no search needed.
        Bound::Included(k) if *k <= state.lo => 0,
        Bound::Included(k) => state.search(k).unwrap_or_else(|i| i),
        Bound::Excluded(k) => state.search(k).map_or_else(|i| i, |i| i + 1),
        Bound::Unbounded => 0,
    };
    let end = state.entries.len().min(from + batch);
    for (k, v) in &state.entries[from..end] {
        if !below(k, back) {
            return false;
        }
        buf.push_back((k.clone(), v.clone()));
    }
    end == state.entries.len()
}

/// Buffers up to a batch of `state`'s current entries before `back`; true if
/// that used up the leaf (every entry before `back`, all after `front`).
fn copy_back(
    state: &LeafState,
    front: &Bound<IVec>,
    back: &Bound<IVec>,
    batch: usize,
    buf: &mut VecDeque<(IVec, IVec)>,
) -> bool {
    let to = match back {
        Bound::Included(k) => state.search(k).map_or_else(|i| i, |i| i + 1),
        // Continuing into the leaf before: no search needed.
        Bound::Excluded(k) if state.hi.as_ref().is_some_and(|hi| hi <= k) => state.entries.len(),
        Bound::Excluded(k) => state.search(k).unwrap_or_else(|i| i),
        Bound::Unbounded => state.entries.len(),
    };
    let start = to.saturating_sub(batch);
    for (k, v) in state.entries[start..to].iter().rev() {
        if !above(k, front) {
            return false;
        }
        buf.push_front((k.clone(), v.clone()));
    }
    start == 0
}

impl Iter {
    pub(crate) fn new(tree: Tree, front: Bound<IVec>, back: Bound<IVec>) -> Iter {
        Iter {
            tree,
            front,
            back,
            front_buf: VecDeque::new(),
            back_buf: VecDeque::new(),
            front_batch: FIRST_BATCH,
            back_batch: FIRST_BATCH,
            front_cursor: None,
            back_cursor: None,
            done: false,
            point: None,
            error: None,
        }
    }

    /// Makes this iterator read at a snapshot.
    pub(crate) fn at(mut self, point: Arc<ReadPoint>) -> Iter {
        self.point = Some(point);
        self
    }

    /// Makes this iterator yield `error` and stop.
    pub(crate) fn failing(mut self, error: Error) -> Iter {
        self.error = Some(error);
        self
    }

    /// The frozen leaves to read instead of the live tree, for a snapshot
    /// older than the tree's last clear.
    fn frozen(&self) -> Option<FrozenLeaves> {
        let at = self.point.as_ref()?.at;
        self.tree.core.shared.frozen.find(self.tree.core.id, at)
    }

    /// Called after finding a retired leaf: look again, unless the tree is gone.
    fn stale(&self) -> Result<()> {
        match &self.point {
            Some(p) => self.tree.core.check_stale(p.at),
            None => self.tree.core.check_dropped(),
        }
    }

    /// Buffers the next entries after `front`; false when there are none before
    /// `back`.
    fn refill_front(&mut self) -> Result<bool> {
        if let Some(p) = &self.point {
            p.check_open()?;
        }
        let guard = epoch::pin();
        loop {
            let frozen = self.frozen();
            let source = match &frozen {
                Some(leaves) => Source::Frozen(leaves),
                None => Source::Live(&self.tree.core.index, &guard),
            };
            let start: &[u8] = match &self.front {
                Bound::Included(k) | Bound::Excluded(k) => k,
                Bound::Unbounded => &[],
            };
            // A cursor from the last refill spares the descent; a stale one
            // fails the check below and is dropped.
            let hint = self.front_cursor.take().filter(|_| frozen.is_none());
            let (leaf, found) = match &hint {
                Some(cursor) => (cursor.leaf(), None),
                None => source.cursor_for(start),
            };
            let state = self.tree.core.read_resident(leaf)?;
            if !source.readable(&state) || !state.in_range(start) {
                drop(state);
                if hint.is_none() {
                    self.stale()?;
                }
                continue;
            }
            // At a snapshot, a leaf without versions reads like a live one.
            let used_up = if let Some(point) = self.point.as_ref().filter(|_| state.has_versions()) {
                self.front_buf
                    .extend(state.visible_at(&self.front, &self.back, point.at));
                false
            } else {
                copy_front(
                    &state,
                    &self.front,
                    &self.back,
                    self.front_batch,
                    &mut self.front_buf,
                )
            };
            if let Some((last, _)) = self.front_buf.back() {
                let next_leaf = used_up && state.hi.as_ref().is_some_and(|hi| below(hi, &self.back));
                self.front = match &state.hi {
                    // The next refill starts at the next leaf instead of
                    // finding this one again and searching it for nothing.
                    Some(hi) if next_leaf => Bound::Included(hi.clone()),
                    _ => Bound::Excluded(last.clone()),
                };
                drop(state);
                let cursor = hint.or(found);
                self.front_cursor = if next_leaf {
                    cursor.and_then(LeafCursor::next)
                } else {
                    cursor
                };
                self.front_batch = (self.front_batch * 2).min(MAX_BATCH);
                return Ok(true);
            }
            match &state.hi {
                Some(hi) if below(hi, &self.back) => self.front = Bound::Included(hi.clone()),
                _ => return Ok(false),
            }
            drop(state);
            self.front_cursor = hint.or(found).and_then(LeafCursor::next);
        }
    }

    /// Buffers the entries just before `back`; false when there are none after
    /// `front`.
    fn refill_back(&mut self) -> Result<bool> {
        if let Some(p) = &self.point {
            p.check_open()?;
        }
        let guard = epoch::pin();
        loop {
            let frozen = self.frozen();
            let source = match &frozen {
                Some(leaves) => Source::Frozen(leaves),
                None => Source::Live(&self.tree.core.index, &guard),
            };
            // As in `refill_front`: a remembered leaf, checked like a found one.
            let hint = self.back_cursor.take().filter(|_| frozen.is_none());
            let (leaf, found) = match (&hint, &self.back) {
                (Some(cursor), _) => (cursor.leaf(), None),
                (None, Bound::Included(k)) => source.cursor_for(k),
                (None, Bound::Excluded(k)) => match source.cursor_before(k) {
                    Some(found) => found,
                    None => return Ok(false),
                },
                (None, Bound::Unbounded) => (source.last_leaf(), None),
            };
            let state = self.tree.core.read_resident(leaf)?;
            let valid = source.readable(&state)
                && match &self.back {
                    Bound::Included(k) => state.in_range(k),
                    Bound::Excluded(k) => state.lo < *k && state.hi.as_ref().is_none_or(|hi| k <= hi),
                    Bound::Unbounded => state.hi.is_none(),
                };
            if !valid {
                drop(state);
                if hint.is_none() {
                    self.stale()?;
                }
                continue;
            }
            let before = self.back_buf.len();
            // At a snapshot, a leaf without versions reads like a live one.
            let used_up = if let Some(point) = self.point.as_ref().filter(|_| state.has_versions()) {
                for kv in state
                    .visible_at(&self.front, &self.back, point.at)
                    .into_iter()
                    .rev()
                {
                    self.back_buf.push_front(kv);
                }
                false
            } else {
                copy_back(
                    &state,
                    &self.front,
                    &self.back,
                    self.back_batch,
                    &mut self.back_buf,
                )
            };
            if self.back_buf.len() > before {
                // As in `refill_front`: a used-up leaf is not searched again.
                let prev_leaf = used_up && !state.lo.is_empty() && above(&state.lo, &self.front);
                self.back = if prev_leaf {
                    Bound::Excluded(state.lo.clone())
                } else {
                    Bound::Excluded(self.back_buf[0].0.clone())
                };
                drop(state);
                let cursor = hint.or(found);
                self.back_cursor = if prev_leaf {
                    cursor.and_then(LeafCursor::prev)
                } else {
                    cursor
                };
                self.back_batch = (self.back_batch * 2).min(MAX_BATCH);
                return Ok(true);
            }
            if state.lo.is_empty() || !above(&state.lo, &self.front) {
                return Ok(false);
            }
            self.back = Bound::Excluded(state.lo.clone());
            drop(state);
            self.back_cursor = hint.or(found).and_then(LeafCursor::prev);
        }
    }

    /// Only the keys.
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<IVec>> + Send + Sync {
        self.map(|r| r.map(|(k, _)| k))
    }

    /// Only the values.
    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<IVec>> + Send + Sync {
        self.map(|r| r.map(|(_, v)| v))
    }
}

impl Iterator for Iter {
    type Item = Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(kv) = self.front_buf.pop_front() {
            return Some(Ok(kv));
        }
        if self.done {
            return None;
        }
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        let item = match self.refill_front() {
            Ok(true) => self.front_buf.pop_front().map(Ok),
            Ok(false) => self.back_buf.pop_front().map(Ok),
            Err(e) => Some(Err(e)),
        };
        self.done = item.is_none();
        item
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let Some(kv) = self.back_buf.pop_back() {
            return Some(Ok(kv));
        }
        if self.done {
            return None;
        }
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        let item = match self.refill_back() {
            Ok(true) => self.back_buf.pop_back().map(Ok),
            Ok(false) => self.front_buf.pop_back().map(Ok),
            Err(e) => Some(Err(e)),
        };
        self.done = item.is_none();
        item
    }
}

impl std::iter::FusedIterator for Iter {}

impl std::fmt::Debug for Iter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("front", &self.front)
            .field("back", &self.back)
            .finish()
    }
}
