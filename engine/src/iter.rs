//! `Iter`: double-ended iteration over a key range without holding locks.
//!
//! The iterator keeps two cursors, `front` and `back`. Each refill locks one leaf
//! for reading, copies the entries strictly between the cursors that the leaf
//! holds (cheap `IVec` clones), moves its cursor past them and unlocks. Because
//! every refill looks its leaf up again by key, concurrent splits and merges are
//! harmless: keys come out strictly increasing from the front and strictly
//! decreasing from the back, never twice, and the two ends never overlap. Like
//! sled's, an iterator is not a snapshot: it sees writes made while it runs.

use std::collections::VecDeque;
use std::ops::Bound;

use crossbeam_epoch as epoch;

use crate::sync::read;
use crate::{IVec, Result, Tree};

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
    /// Set once either end returned `None`: the iterator is fused, even if
    /// concurrent inserts land inside the range afterwards.
    done: bool,
}

const FIRST_BATCH: usize = 16;
const MAX_BATCH: usize = 1024;

fn above(key: &[u8], lower: &Bound<IVec>) -> bool {
    match lower {
        Bound::Included(b) => key >= &**b,
        Bound::Excluded(b) => key > &**b,
        Bound::Unbounded => true,
    }
}

fn below(key: &[u8], upper: &Bound<IVec>) -> bool {
    match upper {
        Bound::Included(b) => key <= &**b,
        Bound::Excluded(b) => key < &**b,
        Bound::Unbounded => true,
    }
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
            done: false,
        }
    }

    /// Buffers the next entries after `front`; false when there are none before
    /// `back`.
    fn refill_front(&mut self) -> Result<bool> {
        let guard = epoch::pin();
        loop {
            let start: &[u8] = match &self.front {
                Bound::Included(k) | Bound::Excluded(k) => k,
                Bound::Unbounded => &[],
            };
            let leaf = self.tree.core.index.leaf_for(start, &guard);
            let state = read(&leaf.state);
            if !state.covers(start) {
                drop(state);
                self.tree.core.check_dropped()?;
                continue;
            }
            let from = match &self.front {
                // Continuing into the next leaf: no search needed.
                Bound::Included(k) if *k <= state.lo => 0,
                Bound::Included(k) => state.search(k).unwrap_or_else(|i| i),
                Bound::Excluded(k) => state.search(k).map_or_else(|i| i, |i| i + 1),
                Bound::Unbounded => 0,
            };
            let end = state.entries.len().min(from + self.front_batch);
            for (k, v) in &state.entries[from..end] {
                if !below(k, &self.back) {
                    break;
                }
                self.front_buf.push_back((k.clone(), v.clone()));
            }
            if let Some((last, _)) = self.front_buf.back() {
                self.front = Bound::Excluded(last.clone());
                self.front_batch = (self.front_batch * 2).min(MAX_BATCH);
                return Ok(true);
            }
            match &state.hi {
                Some(hi) if below(hi, &self.back) => self.front = Bound::Included(hi.clone()),
                _ => return Ok(false),
            }
        }
    }

    /// Buffers the entries just before `back`; false when there are none after
    /// `front`.
    fn refill_back(&mut self) -> Result<bool> {
        let guard = epoch::pin();
        loop {
            let index = &self.tree.core.index;
            let leaf = match &self.back {
                Bound::Included(k) => index.leaf_for(k, &guard),
                Bound::Excluded(k) => match index.leaf_before(k, &guard) {
                    Some(leaf) => leaf,
                    None => return Ok(false),
                },
                Bound::Unbounded => index.last_leaf(&guard),
            };
            let state = read(&leaf.state);
            let valid = !state.retired
                && match &self.back {
                    Bound::Included(k) => state.covers(k),
                    Bound::Excluded(k) => state.lo < *k && state.hi.as_ref().is_none_or(|hi| k <= hi),
                    Bound::Unbounded => state.hi.is_none(),
                };
            if !valid {
                drop(state);
                self.tree.core.check_dropped()?;
                continue;
            }
            let to = match &self.back {
                Bound::Included(k) => state.search(k).map_or_else(|i| i, |i| i + 1),
                Bound::Excluded(k) => state.search(k).unwrap_or_else(|i| i),
                Bound::Unbounded => state.entries.len(),
            };
            let before = self.back_buf.len();
            let start = to.saturating_sub(self.back_batch);
            for (k, v) in state.entries[start..to].iter().rev() {
                if !above(k, &self.front) {
                    break;
                }
                self.back_buf.push_front((k.clone(), v.clone()));
            }
            if self.back_buf.len() > before {
                self.back = Bound::Excluded(self.back_buf[0].0.clone());
                self.back_batch = (self.back_batch * 2).min(MAX_BATCH);
                return Ok(true);
            }
            if state.lo.is_empty() || !above(&state.lo, &self.front) {
                return Ok(false);
            }
            self.back = Bound::Excluded(state.lo.clone());
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
