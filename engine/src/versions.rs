//! Superseded versions a leaf keeps for snapshots and transaction validation.
//!
//! Skiff keeps one current value per key. While a snapshot is open (a
//! `Db::snapshot` or a transaction), a writer that replaces or removes a value
//! also records, in the leaf, "before LSN `l`, this key was `old`". A reader at
//! snapshot `s` takes the first such record with `l > s`; with none, the current
//! value is already the one it should see. The same records tell a committing
//! transaction whether anything it read changed after its snapshot.
//!
//! Invariants:
//! - the records of one key are in increasing LSN order (writers of a leaf
//!   hold its lock from before they get an LSN until after they apply);
//! - every change with an LSN above the oldest open snapshot is recorded: the
//!   writer learns the oldest snapshot in the same critical section that gives
//!   it its LSN, and a snapshot opened later reads at an LSN at least as high;
//! - records at or below the oldest open snapshot are never needed, so writers
//!   drop them as they pass, and drop everything when no snapshot is open.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::tree::below;
use crate::IVec;

/// What a writer learned when its change got an LSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub lsn: u64,
    /// The oldest open snapshot, if any; all open snapshots are below `lsn`.
    pub oldest: Option<u64>,
}

/// One leaf's superseded versions, by key.
#[derive(Default, Debug)]
pub(crate) struct Versions {
    /// For each key, `(lsn, value before lsn)` in increasing LSN order.
    map: BTreeMap<IVec, Vec<(u64, Option<IVec>)>>,
    /// No record has an LSN below this (a lower bound; 0 when unknown).
    min_lsn: u64,
}

impl Versions {
    /// Records that `key` was `old` until the change at `lsn`.
    pub(crate) fn record(&mut self, key: &IVec, lsn: u64, old: Option<IVec>) {
        if self.map.is_empty() {
            self.min_lsn = lsn;
        }
        match self.map.get_mut(key) {
            Some(list) => list.push((lsn, old)),
            None => {
                self.map.insert(key.clone(), vec![(lsn, old)]);
            }
        }
    }

    /// Drops the records no snapshot at or above `oldest` can need.
    pub(crate) fn prune(&mut self, oldest: u64) {
        if self.min_lsn > oldest {
            return;
        }
        let mut min = u64::MAX;
        self.map.retain(|_, list| {
            list.retain(|&(lsn, _)| lsn > oldest);
            if let Some(&(lsn, _)) = list.first() {
                min = min.min(lsn);
            }
            !list.is_empty()
        });
        self.min_lsn = min;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value `key` had at snapshot `at`, if a record decides it (`None`
    /// means the current value is the one to see).
    pub(crate) fn value_at(&self, key: &[u8], at: u64) -> Option<Option<&IVec>> {
        let list = self.map.get(key)?;
        list.iter()
            .find(|(lsn, _)| *lsn > at)
            .map(|(_, old)| old.as_ref())
    }

    /// Whether `key` changed after snapshot `at`.
    pub(crate) fn changed_after(&self, key: &[u8], at: u64) -> bool {
        self.map
            .get(key)
            .is_some_and(|list| list.last().is_some_and(|&(lsn, _)| lsn > at))
    }

    /// Whether any key in the range changed after snapshot `at`.
    pub(crate) fn range_changed_after(&self, lo: &Bound<IVec>, hi: &Bound<IVec>, at: u64) -> bool {
        self.keys_in(lo, hi)
            .any(|k| self.map[k].last().is_some_and(|&(lsn, _)| lsn > at))
    }

    /// The recorded keys in the range, in order.
    pub(crate) fn keys_in<'a>(
        &'a self,
        lo: &'a Bound<IVec>,
        hi: &'a Bound<IVec>,
    ) -> impl Iterator<Item = &'a IVec> + 'a {
        self.map
            .range::<IVec, _>((lo.as_ref(), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(move |k| below(k, hi))
    }

    /// Moves the records of keys at or above `key` into a new set.
    pub(crate) fn split_off(&mut self, key: &IVec) -> Versions {
        Versions {
            map: self.map.split_off(key),
            min_lsn: self.min_lsn,
        }
    }

    /// Takes over every record of `other`, whose keys are all above ours.
    pub(crate) fn append(&mut self, other: &mut Versions) {
        if self.map.is_empty() {
            self.min_lsn = other.min_lsn;
        } else if !other.map.is_empty() {
            self.min_lsn = self.min_lsn.min(other.min_lsn);
        }
        self.map.append(&mut other.map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> IVec {
        IVec::from(s.as_bytes())
    }

    #[test]
    fn a_reader_sees_the_value_of_its_snapshot() {
        let mut v = Versions::default();
        // "a" was absent until 5, "x" until 8, then "y" until 10 (now current).
        v.record(&k("a"), 5, None);
        v.record(&k("a"), 8, Some(k("x")));
        v.record(&k("a"), 10, Some(k("y")));
        assert_eq!(v.value_at(b"a", 4), Some(None));
        assert_eq!(v.value_at(b"a", 5), Some(Some(&k("x"))));
        assert_eq!(v.value_at(b"a", 9), Some(Some(&k("y"))));
        assert_eq!(v.value_at(b"a", 10), None);
        assert_eq!(v.value_at(b"b", 1), None);
        assert!(v.changed_after(b"a", 9));
        assert!(!v.changed_after(b"a", 10));
    }

    #[test]
    fn pruning_keeps_what_open_snapshots_need() {
        let mut v = Versions::default();
        v.record(&k("a"), 5, None);
        v.record(&k("a"), 8, Some(k("x")));
        v.record(&k("b"), 6, None);
        v.prune(6);
        assert_eq!(v.value_at(b"a", 6), Some(Some(&k("x"))));
        assert_eq!(v.value_at(b"b", 6), None);
        v.prune(8);
        assert!(v.is_empty());
    }

    #[test]
    fn ranges_split_and_append() {
        let mut v = Versions::default();
        for (i, key) in ["a", "c", "e", "g"].iter().enumerate() {
            v.record(&k(key), 10 + i as u64, None);
        }
        let (lo, hi) = (Bound::Included(k("b")), Bound::Excluded(k("e")));
        assert_eq!(v.keys_in(&lo, &hi).collect::<Vec<_>>(), vec![&k("c")]);
        assert!(v.range_changed_after(&lo, &hi, 10));
        assert!(!v.range_changed_after(&lo, &hi, 11));
        let hi = Bound::Included(k("e"));
        assert!(v.range_changed_after(&lo, &hi, 11));
        let mut right = v.split_off(&k("e"));
        assert_eq!(v.keys_in(&Bound::Unbounded, &Bound::Unbounded).count(), 2);
        assert_eq!(right.keys_in(&Bound::Unbounded, &Bound::Unbounded).count(), 2);
        v.append(&mut right);
        assert_eq!(v.keys_in(&Bound::Unbounded, &Bound::Unbounded).count(), 4);
        assert!(right.is_empty());
    }
}
