//! Writers' locks on leaves: `lock_leaf` for one key, `lock_span` for a
//! batch or a transaction (every leaf its keys and ranges touch, in key order,
//! as `btree`'s lock order requires), and `Span`, the locked leaves with the
//! position lookups and the apply step that write through them.

use std::ops::Bound;

use crossbeam_epoch::Guard;

use crate::btree::{Shared, TreeCore};
use crate::leaf::{Leaf, LeafState};
use crate::sync::{read, write, Arc, RwLockWriteGuard};
use crate::tree::below;
use crate::versions::Stamp;
use crate::{IVec, Result};

/// A leaf locked for writing, with the reference that keeps it alive.
pub(crate) type LockedLeaf<'g> = (&'g Arc<Leaf>, RwLockWriteGuard<'g, LeafState>);

/// Live leaves locked for writing, in key order, from `lock_span`.
pub(crate) struct Span<'g> {
    pub leaves: Vec<LockedLeaf<'g>>,
}

fn bound_key(b: &Bound<IVec>) -> &[u8] {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => k,
        Bound::Unbounded => &[],
    }
}

impl Span<'_> {
    /// The position of the leaf whose range holds `key` (which must be held).
    pub(crate) fn position(&self, key: &[u8]) -> usize {
        self.leaves
            .partition_point(|(_, s)| &*s.lo <= key)
            .saturating_sub(1)
    }

    /// `position(key)` for a key not below the one `from` was found for.
    /// Callers with sorted keys walk forward through the leaves instead of
    /// searching them all again for every key: a 1,000-write batch over
    /// random keys spans about as many leaves, and each probe of a search
    /// reads another leaf's state.
    pub(crate) fn position_from(&self, from: usize, key: &[u8]) -> usize {
        match self.leaves.get(from) {
            Some((_, s)) if &*s.lo <= key => {
                // A few steps, then a search of the rest: unsorted keys stay
                // logarithmic.
                for i in from..(from + 8).min(self.leaves.len() - 1) {
                    if *self.leaves[i + 1].1.lo > *key {
                        return i;
                    }
                }
                let rest = &self.leaves[from..];
                from + rest.partition_point(|(_, s)| &*s.lo <= key) - 1
            }
            _ => self.position(key),
        }
    }

    /// Positions of the leaves overlapping the range (which must be held).
    pub(crate) fn overlapping(&self, lo: &Bound<IVec>, hi: &Bound<IVec>) -> std::ops::Range<usize> {
        let first = self.position(bound_key(lo));
        let mut end = first + 1;
        while end < self.leaves.len()
            && below(&self.leaves[end].1.lo, hi)
            && self.leaves[end - 1].1.hi.is_some()
        {
            end += 1;
        }
        first..end
    }

    /// Applies logged writes (all inside the span) and returns, for each leaf
    /// written, its low key, size and whether a key was removed from it: what
    /// `rebalance_all` needs once the locks are released.
    pub(crate) fn apply<'a>(
        &mut self,
        writes: impl Iterator<Item = (&'a IVec, Option<&'a IVec>)>,
        stamp: Stamp,
        shared: &Shared,
    ) -> Vec<(IVec, usize, bool)> {
        let mut touched: Vec<Option<bool>> = vec![None; self.leaves.len()];
        let mut slot = 0;
        for (key, value) in writes {
            slot = self.position_from(slot, key);
            if self.leaves[slot].1.apply_stamped(key, value, stamp) {
                shared.track(self.leaves[slot].0);
            }
            let removed = touched[slot].get_or_insert(false);
            *removed |= value.is_none();
        }
        self.leaves
            .iter()
            .zip(touched)
            .filter_map(|((_, s), t)| t.map(|removed| (s.lo.clone(), s.bytes, removed)))
            .collect()
    }

    /// Whether every key and every range is inside live locked leaves, with
    /// no gap between consecutive leaves of a range.
    fn holds(&self, keys: &[&[u8]], ranges: &[(Bound<IVec>, Bound<IVec>)]) -> bool {
        if self.leaves.iter().any(|(_, s)| s.retired) {
            return false;
        }
        if !self
            .leaves
            .windows(2)
            .all(|w| w[0].1.hi.as_ref().is_some_and(|hi| *hi <= w[1].1.lo))
        {
            return false;
        }
        let covered = |key: &[u8]| self.leaves[self.position(key)].1.covers(key);
        let mut slot = 0;
        let keys_held = keys.iter().all(|key| {
            slot = self.position_from(slot, key);
            self.leaves[slot].1.covers(key)
        });
        if !keys_held {
            return false;
        }
        ranges.iter().all(|(lo, hi)| {
            if !covered(bound_key(lo)) {
                return false;
            }
            let mut i = self.position(bound_key(lo));
            loop {
                match &self.leaves[i].1.hi {
                    Some(next) if below(next, hi) => {
                        if i + 1 >= self.leaves.len() || self.leaves[i + 1].1.lo != *next {
                            return false;
                        }
                        i += 1;
                    }
                    _ => return true,
                }
            }
        })
    }
}

impl TreeCore {
    /// Locks the leaf holding `key` for writing.
    pub(crate) fn lock_leaf<'g>(&self, key: &[u8], guard: &'g Guard) -> Result<LockedLeaf<'g>> {
        loop {
            self.check_dropped()?;
            let leaf = self.index.leaf_for(key, guard);
            let mut state = write(&leaf.state);
            if state.covers(key) {
                if state.evicted {
                    self.load(leaf, &mut state)?;
                } else {
                    self.shared.cache.hit(leaf);
                }
                return Ok((leaf, state));
            }
            drop(state);
            std::hint::spin_loop();
        }
    }

    /// Locks, in key order, the leaves holding `keys` (sorted) and every leaf
    /// overlapping one of `ranges`.
    pub(crate) fn lock_span<'g>(
        &self,
        keys: &[&[u8]],
        ranges: &[(Bound<IVec>, Bound<IVec>)],
        guard: &'g Guard,
    ) -> Result<Span<'g>> {
        'retry: loop {
            self.check_dropped()?;
            // Each leaf with the key it was found by; sorted by that key, the
            // leaves are in key order unless a split or merge interfered.
            let mut found: Vec<(&[u8], &'g Arc<Leaf>)> = Vec::new();
            for &key in keys {
                found.push((key, self.index.leaf_for(key, guard)));
            }
            let mut his = Vec::new();
            for (lo, hi) in ranges {
                let first = self.index.leaf_for(bound_key(lo), guard);
                found.push((bound_key(lo), first));
                let mut leaf = first;
                loop {
                    let next = read(&leaf.state).hi.clone();
                    match next {
                        Some(next) if below(&next, hi) => {
                            leaf = self.index.leaf_for(&next, guard);
                            his.push((next, leaf));
                        }
                        _ => break,
                    }
                }
            }
            found.extend(his.iter().map(|(k, l)| (&**k, *l)));
            found.sort_by(|a, b| a.0.cmp(b.0));
            let mut leaves: Vec<&'g Arc<Leaf>> = Vec::with_capacity(found.len());
            for (_, leaf) in &found {
                if leaves.last().is_none_or(|last| !Arc::ptr_eq(last, leaf)) {
                    leaves.push(leaf);
                }
            }
            // A leaf reappearing out of order would be locked twice: look again.
            let mut ptrs: Vec<*const Leaf> = leaves.iter().map(|l| Arc::as_ptr(l)).collect();
            ptrs.sort_unstable();
            ptrs.dedup();
            if ptrs.len() != leaves.len() {
                continue 'retry;
            }
            let mut span = Span {
                leaves: leaves.into_iter().map(|l| (l, write(&l.state))).collect(),
            };
            if !span.holds(keys, ranges) {
                drop(span);
                std::hint::spin_loop();
                continue 'retry;
            }
            for (leaf, state) in &mut span.leaves {
                if state.evicted {
                    self.load(leaf, state)?;
                }
            }
            return Ok(span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_from_agrees_with_position_for_any_hint() {
        let los: Vec<u8> = (0..40u8).map(|i| i * 5).collect();
        let leaves: Vec<Arc<Leaf>> = los
            .iter()
            .enumerate()
            .map(|(i, &lo)| {
                let hi = los.get(i + 1).map(|&h| IVec::from(&[h][..]));
                Arc::new(Leaf::new(i as u64, IVec::from(&[lo][..]), hi, Vec::new()))
            })
            .collect();
        let span = Span {
            leaves: leaves.iter().map(|l| (l, write(&l.state))).collect(),
        };
        for key in 0..=255u8 {
            let want = span.position(&[key]);
            assert_eq!(want, usize::from(key / 5).min(39));
            for from in 0..=leaves.len() {
                assert_eq!(span.position_from(from, &[key]), want, "key {key} from {from}");
            }
        }
    }
}
