//! The per-tree index: immutable inner nodes mapping each leaf's low key to it.
//!
//! Readers pin a crossbeam epoch, load the root and descend by plain references:
//! no locks, no reference-count traffic. Inner nodes are never modified. A split
//! or merge (already rare next to writes) takes the structure lock, copies the
//! path from the changed leaf's parent to the root, and publishes the new root
//! with one atomic swap; the old root is destroyed once every reader that could
//! have seen it has unpinned, which drops whatever nodes only it referenced.
//!
//! Invariants:
//! - all leaves are at the same depth; the root is always an inner node;
//! - `lows[i]` of an inner node equals the low key of child `i` (its leaf's `lo`,
//!   or an inner child's `lows[0]`), and the root's `lows[0]` is the empty key;
//! - leaf ranges are contiguous and cover the whole key space;
//! - only the holder of the structure lock publishes a root.
//!
//! This module and `tree`'s use of it are the only places that dereference
//! epoch-protected pointers.

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned, Shared};

use crate::fingerprint::{shared_len, Fingerprints};
use crate::leaf::Leaf;
use crate::sync::{lock, Arc, Mutex, MutexGuard, Ordering};
use crate::IVec;

/// Most children an inner node holds before it splits. Measured at 1M keys
/// (gets / scans / bulk load per second): 64 gave 740–770k / 69–77k / 411–425k,
/// 128 gave 830–930k / 82–85k / 368–395k; reads matter more here, and splits,
/// which pay for the wider copies, are rare.
const FANOUT: usize = 128;

#[derive(Clone)]
enum Node {
    Leaf(Arc<Leaf>),
    Inner(Arc<Inner>),
}

#[derive(Clone)]
struct Inner {
    lows: Vec<IVec>,
    /// Fingerprints of the low keys, so a search touches few cache lines.
    /// Recomputed by `sealed` whenever `lows` changes.
    prints: Fingerprints,
    children: Vec<Node>,
}

/// Proof that the caller holds the structure lock.
pub(crate) struct StructureGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

pub(crate) struct Index {
    root: Atomic<Inner>,
    structure: Mutex<()>,
}

impl Inner {
    fn new(lows: Vec<IVec>, children: Vec<Node>) -> Inner {
        Inner {
            lows,
            prints: Fingerprints::default(),
            children,
        }
        .sealed()
    }

    /// Brings `prints` in step with `lows` after an edit.
    fn sealed(mut self) -> Inner {
        // Sorted, so every low key shares what the first and the last share.
        let skip = match (self.lows.first(), self.lows.last()) {
            (Some(first), Some(last)) => shared_len(first, last),
            _ => 0,
        };
        self.prints = Fingerprints::new(skip, self.lows.iter().map(|l| &**l));
        self
    }

    /// Number of low keys `<= key` (or `< key` with `strict`).
    #[inline]
    fn count_below(&self, key: &[u8], strict: bool) -> usize {
        let head = self.lows.first().map_or(&[][..], |l| &l[..self.prints.skip()]);
        match self.prints.search(head, key, |i| (*self.lows[i]).cmp(key)) {
            Ok(i) if !strict => i + 1,
            Ok(i) | Err(i) => i,
        }
    }

    /// Index of the child whose range holds `key`.
    #[inline]
    fn child_for(&self, key: &[u8]) -> usize {
        self.count_below(key, false).saturating_sub(1)
    }

    fn from_pairs(pairs: Vec<(IVec, Node)>) -> Inner {
        let (lows, children) = pairs.into_iter().unzip();
        Inner::new(lows, children)
    }
}

/// Groups children into parent nodes of at most `FANOUT` children each, as
/// evenly as possible (a node just over the limit splits in two halves).
fn parents(lows: Vec<IVec>, children: Vec<Node>) -> (Vec<IVec>, Vec<Node>) {
    let groups = children.len().div_ceil(FANOUT).max(1);
    let (mut up_lows, mut up) = (Vec::with_capacity(groups), Vec::with_capacity(groups));
    let (mut lows, mut children) = (lows.into_iter(), children.into_iter());
    let total = lows.len();
    for g in 0..groups {
        let take = total * (g + 1) / groups - total * g / groups;
        let node = Inner::new(
            lows.by_ref().take(take).collect(),
            children.by_ref().take(take).collect(),
        );
        up_lows.push(node.lows[0].clone());
        up.push(Node::Inner(Arc::new(node)));
    }
    (up_lows, up)
}

/// Where a leaf sits in a bottom inner node, kept by an iterator between
/// refills so that the next one finds that leaf, or the one after it, without
/// a descent from the root. The node may have been replaced meanwhile; the
/// `Arc` keeps the old copy readable. Whoever reads the leaf a cursor gives
/// checks that it is live and covers the key, as after a descent, and
/// descends when it does not.
#[derive(Clone)]
pub(crate) struct LeafCursor {
    node: Arc<Inner>,
    at: usize,
}

impl LeafCursor {
    /// A cursor at child `at` of `node` (a bottom node, from `descend`).
    fn new((node, at): (&Arc<Inner>, usize)) -> LeafCursor {
        LeafCursor {
            node: node.clone(),
            at,
        }
    }

    pub(crate) fn leaf(&self) -> &Arc<Leaf> {
        match &self.node.children[self.at] {
            Node::Leaf(leaf) => leaf,
            Node::Inner(_) => unreachable!("cursors point into bottom nodes"),
        }
    }

    /// The next leaf of the same node, if any.
    pub(crate) fn next(self) -> Option<LeafCursor> {
        (self.at + 1 < self.node.children.len()).then(|| LeafCursor {
            at: self.at + 1,
            node: self.node,
        })
    }

    /// The leaf before in the same node, if any.
    pub(crate) fn prev(self) -> Option<LeafCursor> {
        let at = self.at.checked_sub(1)?;
        Some(LeafCursor { at, node: self.node })
    }
}

impl Index {
    pub(crate) fn new(first: Arc<Leaf>) -> Index {
        let root = Inner::new(vec![IVec::empty()], vec![Node::Leaf(first)]);
        Index {
            root: Atomic::new(root),
            structure: Mutex::new(()),
        }
    }

    /// An index over `leaves` (non-empty, in key order, the first starting at
    /// the empty key), built bottom-up with full nodes, as recovery needs.
    pub(crate) fn from_leaves(leaves: Vec<(IVec, Arc<Leaf>)>) -> Index {
        let mut level: Vec<(IVec, Node)> = leaves.into_iter().map(|(lo, l)| (lo, Node::Leaf(l))).collect();
        loop {
            let mut parents = Vec::with_capacity(level.len().div_ceil(FANOUT));
            let mut rest = level.into_iter().peekable();
            while rest.peek().is_some() {
                let group: Vec<(IVec, Node)> = rest.by_ref().take(FANOUT).collect();
                let low = group[0].0.clone();
                parents.push((low, Inner::from_pairs(group)));
            }
            if parents.len() <= 1 {
                let (_, mut root) = parents
                    .pop()
                    .unwrap_or_else(|| unreachable!("callers pass leaves"));
                root.lows[0] = IVec::empty();
                return Index {
                    root: Atomic::new(root.sealed()),
                    structure: Mutex::new(()),
                };
            }
            level = parents
                .into_iter()
                .map(|(low, n)| (low, Node::Inner(Arc::new(n))))
                .collect();
        }
    }

    #[inline]
    fn root<'g>(&self, guard: &'g Guard) -> &'g Inner {
        let shared = self.root.load(Ordering::Acquire, guard);
        // SAFETY: the root is never null (set in `new`, replaced only by `publish`
        // with another non-null node), and a replaced root is destroyed only through
        // `defer_destroy`, i.e. after every guard pinned before the swap — including
        // `guard` — is gone. The reference cannot outlive `guard`.
        unsafe { shared.deref() }
    }

    /// The leaf whose range holds `key`, as of the current root.
    #[inline]
    pub(crate) fn leaf_for<'g>(&self, key: &[u8], guard: &'g Guard) -> &'g Arc<Leaf> {
        let mut node = self.root(guard);
        loop {
            match &node.children[node.child_for(key)] {
                Node::Leaf(leaf) => return leaf,
                Node::Inner(inner) => node = inner,
            }
        }
    }

    /// `leaf_for`, with a cursor at the leaf unless its node is the root.
    pub(crate) fn cursor_for<'g>(&self, key: &[u8], guard: &'g Guard) -> (&'g Arc<Leaf>, Option<LeafCursor>) {
        let found = self.descend(guard, |node| Some(node.child_for(key)));
        let (leaf, place) = found.unwrap_or_else(|| unreachable!("every key has a leaf"));
        (leaf, place.map(LeafCursor::new))
    }

    /// The leaf with the greatest low key strictly below `key`: the one holding
    /// the keys just before `key`. `None` when `key` is the empty key.
    pub(crate) fn leaf_before<'g>(&self, key: &[u8], guard: &'g Guard) -> Option<&'g Arc<Leaf>> {
        let found = self.descend(guard, |node| node.count_below(key, true).checked_sub(1));
        found.map(|(leaf, _)| leaf)
    }

    /// `leaf_before`, with a cursor at the leaf unless its node is the root.
    pub(crate) fn cursor_before<'g>(
        &self,
        key: &[u8],
        guard: &'g Guard,
    ) -> Option<(&'g Arc<Leaf>, Option<LeafCursor>)> {
        let (leaf, place) = self.descend(guard, |node| node.count_below(key, true).checked_sub(1))?;
        Some((leaf, place.map(LeafCursor::new)))
    }

    /// Descends from the root through the child `pick` chooses (`None`: no
    /// leaf) to a leaf; also returns the leaf's node and position in it,
    /// unless that node is the root (which is not reference-counted).
    #[inline]
    #[allow(clippy::type_complexity)]
    fn descend<'g>(
        &self,
        guard: &'g Guard,
        pick: impl Fn(&Inner) -> Option<usize>,
    ) -> Option<(&'g Arc<Leaf>, Option<(&'g Arc<Inner>, usize)>)> {
        let mut node = self.root(guard);
        let mut shared: Option<&'g Arc<Inner>> = None;
        loop {
            let at = pick(node)?;
            match &node.children[at] {
                Node::Leaf(leaf) => return Some((leaf, shared.map(|node| (node, at)))),
                Node::Inner(inner) => {
                    shared = Some(inner);
                    node = inner;
                }
            }
        }
    }

    /// The leaf holding the greatest keys.
    pub(crate) fn last_leaf<'g>(&self, guard: &'g Guard) -> &'g Arc<Leaf> {
        let mut node = self.root(guard);
        loop {
            match node.children.last() {
                Some(Node::Leaf(leaf)) => return leaf,
                Some(Node::Inner(inner)) => node = inner,
                None => unreachable!("inner nodes are never empty"),
            }
        }
    }

    /// Every leaf, in key order.
    pub(crate) fn leaves(&self, guard: &Guard) -> Vec<Arc<Leaf>> {
        fn walk(node: &Inner, out: &mut Vec<Arc<Leaf>>) {
            for child in &node.children {
                match child {
                    Node::Leaf(leaf) => out.push(leaf.clone()),
                    Node::Inner(inner) => walk(inner, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root(guard), &mut out);
        out
    }

    pub(crate) fn lock_structure(&self) -> StructureGuard<'_> {
        StructureGuard(lock(&self.structure))
    }

    fn publish(&self, new_root: Inner, guard: &Guard) {
        let old = self.root.swap(Owned::new(new_root), Ordering::AcqRel, guard);
        // SAFETY: `old` was the root and is now unreachable from `self.root`; only
        // readers pinned before the swap can still hold references to it, and
        // `defer_destroy` waits for all of them to unpin.
        unsafe { guard.defer_destroy(old) };
        // Hand the garbage to the global queue now and help collect it, so the
        // restructuring writer pays for reclamation instead of later readers.
        guard.flush();
    }

    /// Inserts `leaf`, whose range starts at `low`, right after the leaf holding
    /// the keys before `low`. Called with the structure lock held and that leaf's
    /// lock held, after its `hi` was lowered to `low`.
    #[cfg(test)]
    pub(crate) fn insert_leaf(&self, s: &StructureGuard<'_>, low: IVec, leaf: Arc<Leaf>) {
        self.insert_leaves(s, &[(low, leaf)]);
    }

    /// Inserts new leaves, sorted by the low key their range starts at, each
    /// right after the leaf holding the keys before it, and publishes one new
    /// root. Called with the structure lock held and the split leaves' locks
    /// held, after their `hi` was lowered.
    ///
    /// One call for all the splits of a batch copies each inner node on their
    /// paths once: the root, which every path shares, is copied once instead
    /// of once per split.
    pub(crate) fn insert_leaves(&self, _s: &StructureGuard<'_>, new: &[(IVec, Arc<Leaf>)]) {
        fn insert(node: &Inner, new: &[(IVec, Arc<Leaf>)]) -> (Vec<IVec>, Vec<Node>) {
            let len = node.children.len() + new.len();
            let (mut lows, mut children) = (Vec::with_capacity(len), Vec::with_capacity(len));
            let mut rest = new;
            for (i, child) in node.children.iter().enumerate() {
                let here = match node.lows.get(i + 1) {
                    Some(next) => rest.partition_point(|(low, _)| low < next),
                    None => rest.len(),
                };
                let (mine, after) = rest.split_at(here);
                rest = after;
                match child {
                    Node::Inner(inner) if !mine.is_empty() => {
                        let (l, c) = insert(inner, mine);
                        lows.extend(l);
                        children.extend(c);
                    }
                    _ => {
                        lows.push(node.lows[i].clone());
                        children.push(child.clone());
                        for (low, leaf) in mine {
                            lows.push(low.clone());
                            children.push(Node::Leaf(leaf.clone()));
                        }
                    }
                }
            }
            parents(lows, children)
        }
        if new.is_empty() {
            return;
        }
        debug_assert!(new.windows(2).all(|w| w[0].0 < w[1].0), "sorted, distinct");
        let guard = epoch::pin();
        let (mut lows, mut children) = insert(self.root(&guard), new);
        while children.len() > 1 {
            (lows, children) = parents(lows, children);
        }
        let root = match children.pop() {
            Some(Node::Inner(inner)) => Arc::unwrap_or_clone(inner),
            _ => unreachable!("parents returns inner nodes"),
        };
        self.publish(root, &guard);
    }

    /// Removes the leaf whose range starts at `low` (never the first leaf). Called
    /// with the structure lock held, after its range was given to its left
    /// neighbour and it was retired.
    pub(crate) fn remove_leaf(&self, _s: &StructureGuard<'_>, low: &[u8]) {
        fn remove(node: &Inner, low: &[u8]) -> Option<Inner> {
            let mut copy = node.clone();
            let i = node.child_for(low);
            match &node.children[i] {
                Node::Leaf(_) => {
                    debug_assert_eq!(&*node.lows[i], low);
                    copy.lows.remove(i);
                    copy.children.remove(i);
                }
                Node::Inner(child) => match remove(child, low) {
                    Some(new_child) => {
                        copy.lows[i] = new_child.lows[0].clone();
                        copy.children[i] = Node::Inner(Arc::new(new_child));
                    }
                    None => {
                        copy.lows.remove(i);
                        copy.children.remove(i);
                    }
                },
            }
            (!copy.children.is_empty()).then(|| copy.sealed())
        }
        let guard = epoch::pin();
        let Some(mut root) = remove(self.root(&guard), low) else {
            unreachable!("the first leaf is never removed, so the root never empties");
        };
        while root.children.len() == 1 {
            match &root.children[0] {
                Node::Inner(only) => {
                    let mut child = (**only).clone();
                    child.lows[0] = IVec::empty();
                    root = child;
                }
                Node::Leaf(_) => break,
            }
        }
        root.lows[0] = IVec::empty();
        self.publish(root.sealed(), &guard);
    }

    /// Replaces every leaf with `leaf` (for `clear` and `drop_tree`).
    pub(crate) fn reset(&self, _s: &StructureGuard<'_>, leaf: Arc<Leaf>) {
        let guard = epoch::pin();
        self.publish(Inner::new(vec![IVec::empty()], vec![Node::Leaf(leaf)]), &guard);
    }

    /// Height of the tree of inner nodes (for tests).
    #[cfg(test)]
    fn depth(&self) -> usize {
        let guard = epoch::pin();
        let mut node = self.root(&guard);
        let mut depth = 1;
        while let Node::Inner(inner) = &node.children[0] {
            node = inner;
            depth += 1;
        }
        depth
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means no reader can be traversing this index, so the
        // root can be destroyed now; `unprotected` is sound without concurrency.
        unsafe {
            let guard = epoch::unprotected();
            let root: Shared<'_, Inner> = self.root.load(Ordering::Relaxed, guard);
            drop(root.into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn key(i: u32) -> IVec {
        IVec::from(i.to_be_bytes())
    }

    fn leaf(id: u64, lo: IVec) -> Arc<Leaf> {
        Arc::new(Leaf::new(id, lo, None, Vec::new()))
    }

    #[test]
    fn finds_leaves_through_splits_and_removals() {
        let index = Index::new(leaf(0, IVec::empty()));
        let mut model: BTreeMap<IVec, u64> = BTreeMap::new();
        model.insert(IVec::empty(), 0);
        // Insert leaves in a scrambled order so inserts hit every position.
        for n in 1..20_000u32 {
            let low = key((n * 7919) % 1_000_000 + 1);
            if model.contains_key(&low) {
                continue;
            }
            let s = index.lock_structure();
            index.insert_leaf(&s, low.clone(), leaf(u64::from(n), low.clone()));
            model.insert(low, u64::from(n));
        }
        assert!(index.depth() >= 3, "depth {}", index.depth());
        let check = |index: &Index, model: &BTreeMap<IVec, u64>| {
            let guard = epoch::pin();
            for probe in (0..1_000_010u32).step_by(997) {
                let k = key(probe);
                let expect = model.range(..=k.clone()).next_back().unwrap().1;
                assert_eq!(index.leaf_for(&k, &guard).id, *expect);
                let before = model.range(..k.clone()).next_back().map(|(_, id)| *id);
                assert_eq!(index.leaf_before(&k, &guard).map(|l| l.id), before);
            }
            let ids: Vec<u64> = index.leaves(&guard).iter().map(|l| l.id).collect();
            assert_eq!(ids, model.values().copied().collect::<Vec<_>>());
        };
        check(&index, &model);
        let lows: Vec<IVec> = model.keys().skip(1).cloned().collect();
        for (i, low) in lows.iter().enumerate() {
            if i % 3 != 0 {
                let s = index.lock_structure();
                index.remove_leaf(&s, low);
                model.remove(low);
            }
        }
        check(&index, &model);
        for low in model.keys().skip(1).cloned().collect::<Vec<_>>() {
            let s = index.lock_structure();
            index.remove_leaf(&s, &low);
            model.remove(&low);
        }
        check(&index, &model);
        assert_eq!(index.depth(), 1);
    }

    /// Every inner node holds between one and `FANOUT` children, and all
    /// leaves are at the same depth.
    fn check_shape(index: &Index) {
        fn walk(node: &Inner, depth: usize, leaf_depths: &mut Vec<usize>) {
            assert!(!node.children.is_empty() && node.children.len() <= FANOUT);
            assert_eq!(node.lows.len(), node.children.len());
            for child in &node.children {
                match child {
                    Node::Leaf(_) => leaf_depths.push(depth),
                    Node::Inner(inner) => walk(inner, depth + 1, leaf_depths),
                }
            }
        }
        let guard = epoch::pin();
        let mut depths = Vec::new();
        walk(index.root(&guard), 1, &mut depths);
        assert!(depths.windows(2).all(|w| w[0] == w[1]), "uneven depths");
    }

    #[test]
    fn batched_inserts_place_every_leaf_and_keep_nodes_within_fanout() {
        let index = Index::new(leaf(0, IVec::empty()));
        let mut model: BTreeMap<IVec, u64> = BTreeMap::new();
        model.insert(IVec::empty(), 0);
        let mut n = 1u32;
        // Batches from one leaf to far more than a node holds, scattered.
        for size in [1usize, 2, 5, 127, 128, 129, 300, 1000, 3, 20_000, 7] {
            let mut batch: Vec<(IVec, Arc<Leaf>)> = Vec::new();
            while batch.len() < size {
                let low = key(n.wrapping_mul(2_654_435_761) % 100_000_000 + 1);
                n += 1;
                if !model.contains_key(&low) && batch.iter().all(|(l, _)| *l != low) {
                    batch.push((low.clone(), leaf(u64::from(n), low)));
                }
            }
            batch.sort_by(|a, b| a.0.cmp(&b.0));
            let s = index.lock_structure();
            index.insert_leaves(&s, &batch);
            drop(s);
            model.extend(batch.iter().map(|(low, leaf)| (low.clone(), leaf.id)));
            check_shape(&index);
            let guard = epoch::pin();
            let ids: Vec<u64> = index.leaves(&guard).iter().map(|l| l.id).collect();
            assert_eq!(ids, model.values().copied().collect::<Vec<_>>());
            for (low, id) in model.iter().step_by(97) {
                assert_eq!(index.leaf_for(low, &guard).id, *id);
            }
        }
        assert!(index.depth() >= 3, "depth {}", index.depth());
    }

    #[test]
    fn bulk_built_index_finds_every_leaf_and_takes_inserts() {
        for n in [1u32, 2, 128, 129, 128 * 128 + 1] {
            let leaves: Vec<(IVec, Arc<Leaf>)> = (0..n)
                .map(|i| {
                    let lo = if i == 0 { IVec::empty() } else { key(i * 10) };
                    (lo.clone(), leaf(u64::from(i), lo))
                })
                .collect();
            let index = Index::from_leaves(leaves);
            {
                let guard = epoch::pin();
                for probe in (0..n * 10).step_by(7) {
                    assert_eq!(index.leaf_for(&key(probe), &guard).id, u64::from(probe / 10));
                }
                assert_eq!(index.leaves(&guard).len(), n as usize);
            }
            let s = index.lock_structure();
            index.insert_leaf(&s, key(n * 10 + 5), leaf(999_999, key(n * 10 + 5)));
            drop(s);
            let guard = epoch::pin();
            assert_eq!(index.leaf_for(&key(n * 10 + 6), &guard).id, 999_999);
            assert_eq!(index.leaf_for(&key(n * 10 - 1), &guard).id, u64::from(n - 1));
        }
    }

    #[test]
    fn concurrent_readers_during_restructuring() {
        let index = Arc::new(Index::new(leaf(0, IVec::empty())));
        let stop = Arc::new(crate::sync::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let index = index.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let guard = epoch::pin();
                        let l = index.leaf_for(&key((n % 3000) as u32), &guard);
                        assert!(crate::sync::read(&l.state).lo <= key((n % 3000) as u32));
                        n += 1;
                    }
                })
            })
            .collect();
        for round in 0..3 {
            for n in 1..2000u32 {
                let s = index.lock_structure();
                index.insert_leaf(&s, key(n), leaf(u64::from(n), key(n)));
            }
            for n in 1..2000u32 {
                if (n + round) % 2 == 0 {
                    let s = index.lock_structure();
                    index.remove_leaf(&s, &key(n));
                }
            }
            let s = index.lock_structure();
            index.reset(&s, leaf(0, IVec::empty()));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
    }
}
