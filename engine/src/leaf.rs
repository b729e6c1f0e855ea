//! Leaves: sorted runs of keys and values covering one key range.
//!
//! A leaf owns the half-open key range `[lo, hi)` (`hi = None` is unbounded) and
//! the entries in it, sorted by key. Each leaf has its own lock; a writer holds it
//! while it appends its change to the log and applies it, so the log order of the
//! changes to one key is their apply order.
//!
//! Invariants, under the leaf's lock:
//! - every entry's key is in `[lo, hi)`, and entries are strictly increasing;
//! - `bytes` is the sum of `entry_size` over the entries;
//! - a `retired` leaf is empty and no longer reachable from the index; anyone who
//!   finds one (or finds that the key they want is outside `[lo, hi)`) retries from
//!   the index root, which by then has been republished.
//!
//! A leaf's `id` is stable for its lifetime; the page store persists leaves by id.

use std::ops::Bound;

use std::collections::BTreeMap;

use crate::checkpoint::Loc;
use crate::fingerprint::{shared_len, Fingerprints};
use crate::ivec::PackedBuf;
use crate::sync::{Arc, AtomicBool, RwLock};
use crate::versions::{Stamp, Versions};
use crate::IVec;

/// Bookkeeping bytes charged per entry on top of key and value lengths.
pub(crate) const ENTRY_OVERHEAD: usize = 2 * std::mem::size_of::<IVec>();

/// The size a leaf is charged for one entry.
pub(crate) fn entry_size(key: &[u8], value: &[u8]) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

/// The fingerprints of a leaf's entries, for a leaf covering `[lo, hi)`.
fn fingerprints(lo: &[u8], hi: Option<&[u8]>, entries: &[(IVec, IVec)]) -> Fingerprints {
    // Every key in `[lo, hi)` starts with what `lo` and `hi` share: a key that
    // left it earlier would sort below `lo` or above `hi`.
    let skip = hi.map_or(0, |hi| shared_len(lo, hi));
    debug_assert!(
        entries
            .iter()
            .all(|(k, _)| **k >= *lo && hi.is_none_or(|hi| **k < *hi)),
        "a leaf's entries lie in its range"
    );
    Fingerprints::new(skip, entries.iter().map(|(k, _)| &**k))
}

/// A leaf and its lock.
pub(crate) struct Leaf {
    /// Stable identity; the page store keys persisted leaves by it.
    pub id: u64,
    /// Set by point reads and writes, cleared by the cache's clock hand: a
    /// leaf evicted needs two sweeps without such an access (see `cache`).
    pub heat: AtomicBool,
    pub state: RwLock<LeafState>,
}

/// The lock-protected part of a leaf.
pub(crate) struct LeafState {
    pub lo: IVec,
    pub hi: Option<IVec>,
    pub retired: bool,
    /// Sorted entries; change them only through the methods below, which keep
    /// `prints` and `bytes` in step.
    pub entries: Vec<(IVec, IVec)>,
    /// One fingerprint per entry, skipping the prefix `lo` and `hi` share
    /// (every key in the range has it); kept in step with `entries`.
    prints: Fingerprints,
    pub bytes: usize,
    /// `bytes` when the page store last took a copy of the entries (the page
    /// the table will point to holds them); 0 without a page. What a dirty
    /// leaf's page holds beyond `bytes` is space its next checkpoint gives
    /// back (see `Cache::stale_bytes`).
    pub saved: usize,
    /// Bytes of long keys and values written since the last `pack`, which live
    /// in buffers of their own.
    unpacked: usize,
    /// Values superseded while snapshots were open (see `versions`).
    versions: Option<Box<Versions>>,
    /// Keys whose current value is already stored in a blob (see `blob`),
    /// and where: a checkpoint rewriting this leaf points at those blobs
    /// again instead of copying the values. A change to a key drops its entry.
    pub blobs: Option<Box<Blobs>>,
    /// Changed since the page store last wrote it: the next checkpoint writes
    /// it. A clean leaf's page in the page table holds exactly its entries.
    pub dirty: bool,
    /// A checkpoint in progress holds a copy of it whose page is not in the
    /// page table yet: it must not be evicted until that checkpoint installs
    /// its table (even if clean).
    pub saving: bool,
    /// Its entries are not in memory (only in its page): `entries` is empty
    /// and `bytes` zero until `fill` loads them. Never dirty, never with
    /// versions; retired only when frozen for a snapshot and unreadable.
    pub evicted: bool,
}

/// Where the blobs of a leaf's large values lie, by key.
pub(crate) type Blobs = BTreeMap<IVec, Loc>;

/// A piece cut off a leaf by `LeafState::split`, to become a new leaf.
pub(crate) struct Piece {
    pub low: IVec,
    pub entries: Vec<(IVec, IVec)>,
    pub versions: Option<Box<Versions>>,
    pub blobs: Option<Box<Blobs>>,
}

/// Copies every long key and value of `entries` into one shared buffer and
/// points the entries at it.
///
/// Values written one by one sit in separate heap allocations scattered over
/// memory, so reading a leaf's worth of them costs a cache and TLB miss each.
/// Packed, a scan reads one contiguous buffer and a `get` only touches the
/// buffer's reference count, shared by the whole leaf. Packing also frees the
/// bytes of overwritten values that an older packed buffer still held.
pub(crate) fn pack(entries: &mut [(IVec, IVec)]) {
    let total: usize = entries
        .iter()
        .map(|(k, v)| if k.is_long() { k.len() } else { 0 } + if v.is_long() { v.len() } else { 0 })
        .sum();
    if total == 0 {
        return;
    }
    let mut bytes = Vec::with_capacity(total);
    for (k, v) in entries.iter() {
        for part in [k, v] {
            if part.is_long() {
                bytes.extend_from_slice(part);
            }
        }
    }
    let buf: PackedBuf = Arc::new(bytes.into_boxed_slice());
    let mut offset = 0;
    for (k, v) in entries.iter_mut() {
        for part in [k, v] {
            if part.is_long() {
                let len = part.len();
                *part = IVec::packed(&buf, offset, len);
                offset += len;
            }
        }
    }
}

impl Leaf {
    /// A new leaf, dirty: no page holds it yet.
    pub(crate) fn new(id: u64, lo: IVec, hi: Option<IVec>, mut entries: Vec<(IVec, IVec)>) -> Leaf {
        pack(&mut entries);
        Leaf::build(id, lo, hi, entries, true)
    }

    /// A leaf whose entries are only in its page (recovery opens a database
    /// this way, reading nothing but the checkpoint).
    pub(crate) fn evicted(id: u64, lo: IVec, hi: Option<IVec>) -> Leaf {
        let leaf = Leaf::build(id, lo, hi, Vec::new(), false);
        crate::sync::write(&leaf.state).evicted = true;
        leaf
    }

    fn build(id: u64, lo: IVec, hi: Option<IVec>, entries: Vec<(IVec, IVec)>, dirty: bool) -> Leaf {
        let bytes = entries.iter().map(|(k, v)| entry_size(k, v)).sum();
        let prints = fingerprints(&lo, hi.as_deref(), &entries);
        Leaf {
            id,
            heat: AtomicBool::new(false),
            state: RwLock::new(LeafState {
                lo,
                hi,
                retired: false,
                entries,
                prints,
                bytes,
                saved: 0,
                unpacked: 0,
                versions: None,
                blobs: None,
                dirty,
                saving: false,
                evicted: false,
            }),
        }
    }

    /// A new leaf holding a piece of a split.
    pub(crate) fn from_piece(id: u64, piece: Piece, hi: Option<IVec>) -> Leaf {
        let leaf = Leaf::new(id, piece.low, hi, piece.entries);
        {
            let mut state = crate::sync::write(&leaf.state);
            state.versions = piece.versions;
            state.blobs = piece.blobs;
        }
        leaf
    }
}

impl LeafState {
    /// Whether this leaf is live and its range holds `key`.
    #[inline]
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        !self.retired && self.in_range(key)
    }

    /// Whether the leaf's range holds `key`, live or not (frozen leaves of a
    /// cleared tree are read by snapshots).
    #[inline]
    pub(crate) fn in_range(&self, key: &[u8]) -> bool {
        &*self.lo <= key && self.hi.as_deref().is_none_or(|hi| key < hi)
    }

    #[inline]
    pub(crate) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let head = &self.lo[..self.prints.skip()];
        self.prints.search(head, key, |i| (*self.entries[i].0).cmp(key))
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&IVec> {
        self.search(key).ok().map(|i| &self.entries[i].1)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub(crate) fn insert(&mut self, key: IVec, value: IVec) -> Option<IVec> {
        debug_assert!(self.covers(&key));
        if value.is_long() {
            self.unpacked += value.len();
        }
        let old = self.insert_entry(key, value);
        // Repack once a sixteenth of the leaf is scattered. The copy costs about
        // sixteen bytes moved per byte written; in exchange scans and gets rarely
        // touch a value's own allocation. Measured on 1M keys of 100-byte values
        // (quiet machine): an eighth gave load 412k/s, get 768k/s, scans 75k/s;
        // a sixteenth 392k/s, 874k/s and 86k/s; a thirty-second no better reads.
        if self.unpacked * 16 > self.bytes && self.entries.len() >= 4 {
            pack(&mut self.entries);
            self.unpacked = 0;
        }
        old
    }

    fn insert_entry(&mut self, key: IVec, value: IVec) -> Option<IVec> {
        self.dirty = true;
        if let Some(blobs) = &mut self.blobs {
            blobs.remove(&key);
        }
        match self.search(&key) {
            Ok(i) => {
                self.bytes = self.bytes + value.len() - self.entries[i].1.len();
                Some(std::mem::replace(&mut self.entries[i].1, value))
            }
            Err(i) => {
                self.bytes += entry_size(&key, &value);
                if key.is_long() {
                    self.unpacked += key.len();
                }
                self.prints.insert(i, &key);
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<IVec> {
        let i = self.search(key).ok()?;
        self.dirty = true;
        if let Some(blobs) = &mut self.blobs {
            blobs.remove(key);
        }
        self.prints.remove(i);
        let (k, v) = self.entries.remove(i);
        self.bytes -= entry_size(&k, &v);
        Some(v)
    }

    /// Applies a write: `Some(value)` sets, `None` removes. Returns the old value.
    pub(crate) fn apply(&mut self, key: &IVec, value: Option<&IVec>) -> Option<IVec> {
        match value {
            Some(v) => self.insert(key.clone(), v.clone()),
            None => self.remove(key),
        }
    }

    /// Applies a logged write, first recording the value it supersedes if an
    /// open snapshot may still read it. Returns whether this leaf just started
    /// keeping versions (the caller registers it with `Shared::track`).
    pub(crate) fn apply_stamped(&mut self, key: &IVec, value: Option<&IVec>, stamp: Stamp) -> bool {
        let mut started = false;
        match stamp.oldest {
            None => self.versions = None,
            Some(oldest) => {
                let old = self.get(key).cloned();
                if old.is_some() || value.is_some() {
                    started = self.versions.is_none();
                    let versions = self.versions.get_or_insert_default();
                    versions.prune(oldest);
                    versions.record(key, stamp.lsn, old);
                }
            }
        }
        self.apply(key, value);
        started
    }

    /// Whether this leaf keeps superseded versions.
    pub(crate) fn has_versions(&self) -> bool {
        self.versions.as_ref().is_some_and(|v| !v.is_empty())
    }

    /// Drops versions at or below `horizon`; returns whether any remain.
    pub(crate) fn prune_versions(&mut self, horizon: u64) -> bool {
        if let Some(v) = &mut self.versions {
            v.prune(horizon);
            if v.is_empty() {
                self.versions = None;
            }
        }
        self.versions.is_some()
    }

    /// The value of `key` at snapshot `at`.
    pub(crate) fn get_at(&self, key: &[u8], at: u64) -> Option<IVec> {
        self.value_at(key, at).cloned()
    }

    /// The value of `key` at snapshot `at`, borrowed.
    pub(crate) fn value_at(&self, key: &[u8], at: u64) -> Option<&IVec> {
        if let Some(found) = self.versions.as_ref().and_then(|v| v.value_at(key, at)) {
            return found;
        }
        self.get(key)
    }

    /// Whether `key` changed after snapshot `at` (which must still be open).
    pub(crate) fn changed_after(&self, key: &[u8], at: u64) -> bool {
        self.versions.as_ref().is_some_and(|v| v.changed_after(key, at))
    }

    /// Whether a key in the range changed after snapshot `at` (still open).
    pub(crate) fn range_changed_after(&self, lo: &Bound<IVec>, hi: &Bound<IVec>, at: u64) -> bool {
        self.versions
            .as_ref()
            .is_some_and(|v| v.range_changed_after(lo, hi, at))
    }

    /// The entries in the range as of snapshot `at`, in key order.
    pub(crate) fn visible_at(&self, lo: &Bound<IVec>, hi: &Bound<IVec>, at: u64) -> Vec<(IVec, IVec)> {
        let start = match lo {
            Bound::Included(k) => self.search(k).unwrap_or_else(|i| i),
            Bound::Excluded(k) => self.search(k).map_or_else(|i| i, |i| i + 1),
            Bound::Unbounded => 0,
        };
        let end = match hi {
            Bound::Included(k) => self.search(k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => self.search(k).unwrap_or_else(|i| i),
            Bound::Unbounded => self.entries.len(),
        };
        let current = &self.entries[start..end.max(start)];
        let Some(versions) = self.versions.as_ref().filter(|v| !v.is_empty()) else {
            return current.to_vec();
        };
        // Merge the current entries with the keys that have older versions.
        let mut out = Vec::with_capacity(current.len());
        let mut old = versions.keys_in(lo, hi).peekable();
        let mut cur = current.iter().peekable();
        loop {
            let key = match (cur.peek(), old.peek()) {
                (None, None) => break,
                (Some((k, _)), None) => k,
                (None, Some(o)) => *o,
                (Some((k, _)), Some(o)) => {
                    if k <= *o {
                        k
                    } else {
                        *o
                    }
                }
            }
            .clone();
            if cur.peek().is_some_and(|(k, _)| *k == key) {
                cur.next();
            }
            if old.peek().is_some_and(|o| **o == key) {
                old.next();
            }
            if let Some(value) = self.get_at(&key, at) {
                out.push((key, value));
            }
        }
        out
    }

    /// Moves every entry of `right`, the next leaf, into this one, and takes over
    /// its upper bound; `right` is left empty and retired. Returns whether this
    /// leaf just started keeping versions (taken over from `right`).
    pub(crate) fn absorb(&mut self, right: &mut LeafState) -> bool {
        let mut started = false;
        if let Some(mut theirs) = right.versions.take() {
            started = self.versions.is_none();
            self.versions.get_or_insert_default().append(&mut theirs);
        }
        if let Some(mut theirs) = right.blobs.take() {
            self.blobs.get_or_insert_default().append(&mut theirs);
        }
        self.entries.append(&mut right.entries);
        right.prints = Fingerprints::default();
        self.bytes += std::mem::take(&mut right.bytes);
        // Both pages leave the table when this leaf is next written.
        self.saved += std::mem::take(&mut right.saved);
        self.unpacked += std::mem::take(&mut right.unpacked);
        self.hi = right.hi.take();
        // The range widened, so its keys may share less.
        self.prints = fingerprints(&self.lo, self.hi.as_deref(), &self.entries);
        self.dirty = true;
        right.retired = true;
        started
    }

    /// Whether the cache may drop this leaf's entries: its page holds them
    /// and nothing else needs them in memory.
    pub(crate) fn evictable(&self) -> bool {
        !self.evicted && !self.dirty && !self.saving && !self.retired && !self.has_versions()
    }

    /// Drops the entries (the page holds them). Returns the bytes freed.
    pub(crate) fn evict(&mut self) -> usize {
        debug_assert!(self.evictable());
        self.entries = Vec::new();
        self.prints = Fingerprints::default();
        self.versions = None;
        self.blobs = None;
        self.evicted = true;
        self.unpacked = 0;
        std::mem::take(&mut self.bytes)
    }

    /// Puts back the entries of an evicted leaf, read from its page (already
    /// packed: spans of the page's buffer), and where its blobs lie. Returns
    /// the bytes now resident.
    pub(crate) fn fill(&mut self, entries: Vec<(IVec, IVec)>, blobs: Blobs) -> usize {
        debug_assert!(self.evicted);
        self.blobs = (!blobs.is_empty()).then(|| Box::new(blobs));
        self.bytes = entries.iter().map(|(k, v)| entry_size(k, v)).sum();
        self.prints = fingerprints(&self.lo, self.hi.as_deref(), &entries);
        self.entries = entries;
        self.evicted = false;
        self.saved = self.bytes;
        self.bytes
    }

    /// Drops every entry and retires the leaf.
    pub(crate) fn retire(&mut self) {
        self.entries = Vec::new();
        self.prints = Fingerprints::default();
        self.versions = None;
        self.blobs = None;
        self.bytes = 0;
        self.evicted = false;
        self.retired = true;
    }

    /// Retires the leaf but keeps its contents for the snapshots that still
    /// read them; it never changes again.
    pub(crate) fn freeze(&mut self) {
        self.retired = true;
    }

    /// Cuts the entries into pieces of at most about `target` bytes (each piece has
    /// at least one entry). Keeps the first piece and returns the others with their
    /// low keys, in key order; the caller turns them into new leaves.
    pub(crate) fn split(&mut self, target: usize) -> Vec<Piece> {
        let mut cuts = Vec::new();
        let mut acc = 0;
        for (i, (k, v)) in self.entries.iter().enumerate() {
            let size = entry_size(k, v);
            if i > 0 && acc + size > target {
                cuts.push(i);
                acc = 0;
            }
            acc += size;
        }
        let mut pieces = Vec::with_capacity(cuts.len());
        for &cut in cuts.iter().rev() {
            let tail = self.entries.split_off(cut);
            self.prints.truncate(cut);
            let low = tail[0].0.clone();
            let versions = self
                .versions
                .as_mut()
                .map(|v| Box::new(v.split_off(&low)))
                .filter(|v| !v.is_empty());
            let blobs = self
                .blobs
                .as_mut()
                .map(|b| Box::new(b.split_off(&low)))
                .filter(|b| !b.is_empty());
            pieces.push(Piece {
                low,
                entries: tail,
                versions,
                blobs,
            });
        }
        pieces.reverse();
        self.dirty = true;
        pack(&mut self.entries);
        self.unpacked = 0;
        self.bytes = self.entries.iter().map(|(k, v)| entry_size(k, v)).sum();
        if let Some(piece) = pieces.first() {
            self.hi = Some(piece.low.clone());
            // The range narrowed, so its keys may share more.
            self.prints = fingerprints(&self.lo, self.hi.as_deref(), &self.entries);
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_with(n: usize) -> LeafState {
        let entries = (0..n)
            .map(|i| (IVec::from(format!("k{i:04}")), IVec::from(vec![0u8; 10])))
            .collect();
        let leaf = Leaf::new(1, IVec::empty(), None, entries);
        leaf.state.into_inner().unwrap()
    }

    #[test]
    fn insert_remove_keep_order_and_bytes() {
        let mut s = leaf_with(0);
        assert_eq!(s.insert(IVec::from("b"), IVec::from("1")), None);
        assert_eq!(s.insert(IVec::from("a"), IVec::from("22")), None);
        assert_eq!(
            s.insert(IVec::from("b"), IVec::from("333")),
            Some(IVec::from("1"))
        );
        assert_eq!(
            s.entries.iter().map(|(k, _)| k.to_vec()).collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(s.bytes, entry_size(b"a", b"22") + entry_size(b"b", b"333"));
        assert_eq!(s.remove(b"a"), Some(IVec::from("22")));
        assert_eq!(s.remove(b"a"), None);
        assert_eq!(s.bytes, entry_size(b"b", b"333"));
    }

    #[test]
    fn split_makes_contiguous_pieces() {
        let mut s = leaf_with(100);
        let total = s.bytes;
        let pieces = s.split(total / 5);
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        assert_eq!(s.hi.as_ref(), Some(&pieces[0].low));
        let mut all: Vec<_> = s.entries.clone();
        for piece in &pieces {
            assert_eq!(piece.low, piece.entries[0].0);
            all.extend(piece.entries.iter().cloned());
        }
        assert_eq!(all, leaf_with(100).entries);
        assert!(s.bytes <= total / 5);
        assert_eq!(s.prints.len(), s.entries.len());
        for (i, (k, _)) in s.entries.clone().iter().enumerate() {
            assert_eq!(s.search(k), Ok(i));
        }
    }

    #[test]
    fn search_handles_shared_prefixes() {
        let mut s = leaf_with(0);
        let keys: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgh\x01",
            b"abcdefghz",
            b"b",
        ];
        for k in keys.iter().rev() {
            s.insert(IVec::from(*k), IVec::empty());
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(s.search(k), Ok(i), "key {k:?}");
        }
        assert_eq!(s.search(b"abcdefgh\x00\x00"), Err(4));
        assert_eq!(s.search(b"abcdefga"), Err(2));
        assert_eq!(s.search(b"c"), Err(7));
        let mut right = leaf_with(0);
        right.insert(IVec::from("x"), IVec::from("1"));
        right.hi = Some(IVec::from("y"));
        s.absorb(&mut right);
        assert_eq!(s.search(b"x"), Ok(7));
        assert!(right.retired && right.entries.is_empty());
        assert_eq!(s.hi.as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn packing_keeps_contents_and_happens_as_values_arrive() {
        let mut s = leaf_with(0);
        let value = |i: usize| IVec::from(vec![u8::try_from(i % 251).unwrap(); 30 + i]);
        for i in 0..40 {
            s.insert(IVec::from(format!("key-{i:03}-with-a-long-suffix")), value(i));
        }
        assert!(s.unpacked * 16 <= s.bytes, "a pack should have run");
        for i in 0..40 {
            assert_eq!(
                s.get(format!("key-{i:03}-with-a-long-suffix").as_bytes()),
                Some(&value(i))
            );
        }
        let mut entries = s.entries.clone();
        pack(&mut entries);
        assert_eq!(entries, s.entries);
    }

    #[test]
    fn covers_respects_bounds_and_retirement() {
        let mut s = leaf_with(0);
        s.lo = IVec::from("b");
        s.hi = Some(IVec::from("d"));
        assert!(!s.covers(b"a"));
        assert!(s.covers(b"b"));
        assert!(s.covers(b"c"));
        assert!(!s.covers(b"d"));
        s.retired = true;
        assert!(!s.covers(b"c"));
    }
}
