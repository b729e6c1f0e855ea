//! The page table as checkpoints build it: every tree's leaves in key order,
//! each with the log position its page is complete up to.
//!
//! Checkpoints are incremental: each one rewrites the dirty leaves of a run of
//! the key space (see `TreeCore::capture`) and leaves every other entry as it
//! was, so the old pages a checkpoint replaces (and the space it needs before
//! they can go) are a bounded share of the database. A cursor walks the runs
//! through every tree in id order; a full walk is a *pass*.
//!
//! Two rules keep a table mixing old and new entries correct:
//!
//! - **Entries partition each tree's keys.** An entry covers the keys from its
//!   low key to the next entry's. A run starts and ends at low keys the table
//!   already has, so replacing the entries inside it with the run's leaves
//!   leaves no gap and no overlap — whatever splits and merges happened since
//!   the old entries were written.
//! - **Replay starts at the oldest entry's position.** An entry's page holds
//!   every write logged before its `since` (the log file the checkpoint that
//!   captured it started), and maybe some after. Replaying the log from the
//!   smallest `since` gives every key its last write again (replaying a blind
//!   write or a clear twice is harmless). A pass therefore keeps the log since
//!   its first run; the log files before it are removed as the pass completes.

use std::collections::{BTreeMap, HashMap};

use crate::checkpoint::{Checkpoint, LeafEntry, TreeEntry};
use crate::page_store::Placed;
use crate::record::TreeId;
use crate::IVec;

/// A log position: a file and the LSN of its first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Since {
    pub seq: u64,
    pub lsn: u64,
}

/// One leaf's page in the table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: u64,
    pub placed: Placed,
    pub since: Since,
}

struct TreeLayout {
    name: IVec,
    leaves: BTreeMap<IVec, Entry>,
}

/// Every tree's table entries, and where the next run starts.
pub(crate) struct Layout {
    trees: BTreeMap<TreeId, TreeLayout>,
    /// The tree and key the next run starts at.
    pub cursor: (TreeId, IVec),
    /// Where replay starts while the table is empty (a new database).
    floor: Since,
}

impl Layout {
    /// The table of the checkpoint recovery loaded, if any. Its entries were
    /// captured at various points, unknown now: all count as captured where
    /// its replay starts.
    pub(crate) fn new(ckpt: Option<&Checkpoint>) -> Layout {
        let floor = ckpt.map_or(Since { seq: 0, lsn: 1 }, |c| Since {
            seq: c.log_seq,
            lsn: c.start_lsn,
        });
        let trees = ckpt
            .map(|c| {
                c.trees
                    .iter()
                    .map(|t| {
                        let leaves = t
                            .leaves
                            .iter()
                            .map(|l| {
                                let entry = Entry {
                                    id: l.id,
                                    placed: Placed {
                                        page: l.loc,
                                        blobs: l.blobs.clone(),
                                    },
                                    since: floor,
                                };
                                (l.lo.clone(), entry)
                            })
                            .collect();
                        let tree = TreeLayout {
                            name: t.name.clone(),
                            leaves,
                        };
                        (t.id, tree)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Layout {
            trees,
            cursor: (0, IVec::empty()),
            floor,
        }
    }

    /// Whether tree `id` has entries.
    pub(crate) fn has_tree(&self, id: TreeId) -> bool {
        self.trees.contains_key(&id)
    }

    /// Whether tree `id` has an entry starting at `lo`.
    pub(crate) fn is_boundary(&self, id: TreeId, lo: &[u8]) -> bool {
        self.trees.get(&id).is_some_and(|t| t.leaves.contains_key(lo))
    }

    /// Forgets the trees `keep` rejects (dropped ones).
    pub(crate) fn retain_trees(&mut self, keep: impl Fn(TreeId) -> bool) {
        self.trees.retain(|&id, _| keep(id));
    }

    /// Forgets tree `id`.
    pub(crate) fn remove_tree(&mut self, id: TreeId) {
        self.trees.remove(&id);
    }

    /// The entries of tree `id` from `from` up to `to`, which a run over
    /// that range replaces.
    pub(crate) fn entries_in<'a>(
        &'a self,
        id: TreeId,
        from: &'a [u8],
        to: Option<&'a [u8]>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.trees
            .get(&id)
            .into_iter()
            .flat_map(move |t| {
                t.leaves
                    .range::<[u8], _>((std::ops::Bound::Included(from), upper(to)))
            })
            .map(|(_, e)| e)
    }

    /// Replaces tree `id`'s entries from `from` up to `to` by `leaves` (in
    /// key order, the first starting at `from`), creating the tree if new.
    pub(crate) fn replace(
        &mut self,
        id: TreeId,
        name: &IVec,
        from: &[u8],
        to: Option<&[u8]>,
        leaves: Vec<(IVec, Entry)>,
    ) {
        let tree = self.trees.entry(id).or_insert_with(|| TreeLayout {
            name: name.clone(),
            leaves: BTreeMap::new(),
        });
        let stale: Vec<IVec> = tree
            .leaves
            .range::<[u8], _>((std::ops::Bound::Included(from), upper(to)))
            .map(|(lo, _)| lo.clone())
            .collect();
        for lo in stale {
            tree.leaves.remove(&lo);
        }
        tree.leaves.extend(leaves);
    }

    /// Every entry, mutably (to relocate pages a cleaning pass copies).
    pub(crate) fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.trees.values_mut().flat_map(|t| t.leaves.values_mut())
    }

    /// Every entry.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.trees.values().flat_map(|t| t.leaves.values())
    }

    /// Moves the entries captured at a position with no record logged
    /// since to `now`, which is the same point in the log: the log files
    /// between the two hold nothing and can go.
    pub(crate) fn advance(&mut self, now: Since) {
        for e in self.entries_mut().filter(|e| e.since.lsn == now.lsn) {
            e.since = now;
        }
        if self.floor.lsn == now.lsn {
            self.floor = now;
        }
    }

    /// Where replay must start: the oldest entry's position.
    pub(crate) fn replay_from(&self) -> Since {
        self.entries().map(|e| e.since).min().unwrap_or(self.floor)
    }

    /// Leaf id → page, for the page store.
    pub(crate) fn table(&self) -> HashMap<u64, Placed> {
        self.entries().map(|e| (e.id, e.placed.clone())).collect()
    }

    /// The trees as the checkpoint file lists them.
    pub(crate) fn tree_entries(&self) -> Vec<TreeEntry> {
        self.trees
            .iter()
            .map(|(&id, t)| TreeEntry {
                id,
                name: t.name.clone(),
                leaves: t
                    .leaves
                    .iter()
                    .map(|(lo, e)| LeafEntry {
                        id: e.id,
                        lo: lo.clone(),
                        loc: e.placed.page,
                        blobs: e.placed.blobs.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

fn upper(to: Option<&[u8]>) -> std::ops::Bound<&[u8]> {
    to.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, since: u64) -> Entry {
        Entry {
            id,
            placed: Placed::default(),
            since: Since {
                seq: since,
                lsn: since,
            },
        }
    }

    fn los(layout: &Layout, tree: TreeId) -> Vec<(Vec<u8>, u64)> {
        layout.trees[&tree]
            .leaves
            .iter()
            .map(|(lo, e)| (lo.to_vec(), e.id))
            .collect()
    }

    #[test]
    fn a_run_replaces_exactly_its_range() {
        let mut l = Layout::new(None);
        let name = IVec::from(&b"t"[..]);
        let first = vec![
            (IVec::empty(), entry(1, 1)),
            (IVec::from(&b"c"[..]), entry(2, 1)),
            (IVec::from(&b"f"[..]), entry(3, 1)),
            (IVec::from(&b"k"[..]), entry(4, 1)),
        ];
        l.replace(7, &name, b"", None, first);
        // Leaves 2 and 3 merged, then split at "e": the run covers c..k.
        l.replace(
            7,
            &name,
            b"c",
            Some(b"k"),
            vec![
                (IVec::from(&b"c"[..]), entry(5, 9)),
                (IVec::from(&b"e"[..]), entry(6, 9)),
            ],
        );
        assert_eq!(
            los(&l, 7),
            vec![
                (vec![], 1),
                (b"c".to_vec(), 5),
                (b"e".to_vec(), 6),
                (b"k".to_vec(), 4)
            ]
        );
        assert!(l.is_boundary(7, b"e") && !l.is_boundary(7, b"f"));
        assert_eq!(l.replay_from(), Since { seq: 1, lsn: 1 });
        assert_eq!(l.entries_in(7, b"c", Some(b"k")).count(), 2);
        l.replace(7, &name, b"", Some(b"c"), vec![(IVec::empty(), entry(8, 10))]);
        l.replace(7, &name, b"k", None, vec![(IVec::from(&b"k"[..]), entry(9, 11))]);
        assert_eq!(l.replay_from(), Since { seq: 9, lsn: 9 });
        assert_eq!(l.entries().count(), 4);
        l.remove_tree(7);
        assert_eq!(l.replay_from(), l.floor);
    }
}
