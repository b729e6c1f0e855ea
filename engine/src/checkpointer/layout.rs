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

use std::collections::BTreeMap;

use crate::checkpoint::{Checkpoint, LeafRef};
use crate::id_hash::IdMap;
use crate::page_store::Placed;
use crate::record::TreeId;
use crate::IVec;

/// A log position: a file and the LSN of its first record, and how many log
/// bytes this process had written when it began (for the backlog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Since {
    pub seq: u64,
    pub lsn: u64,
    pub mark: u64,
}

/// One leaf's page in the table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: u64,
    pub placed: Placed,
    /// The generation (checkpoint) that captured it.
    gen: u64,
}

/// The entries one checkpoint captured that are still in the table.
struct Gen {
    since: Since,
    entries: usize,
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
    /// Live generations, oldest first; their positions rise with them.
    gens: BTreeMap<u64, Gen>,
    next_gen: u64,
    /// Where replay starts while the table is empty (a new database).
    floor: Since,
    /// What changed since `take_changes`: leaf id → its entry's page now
    /// (`None`: gone). The page store applies these instead of rebuilding
    /// its whole table every run.
    changes: IdMap<u64, Option<Placed>>,
}

impl Layout {
    /// The table of the checkpoint recovery loaded, if any. Its entries were
    /// captured at various points, unknown now: all count as captured where
    /// its replay starts.
    pub(crate) fn new(ckpt: Option<&Checkpoint>) -> Layout {
        let floor = ckpt.map_or(
            Since {
                seq: 0,
                lsn: 1,
                mark: 0,
            },
            |c| Since {
                seq: c.log_seq,
                lsn: c.start_lsn,
                mark: 0,
            },
        );
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
                                    gen: 0,
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
        let mut layout = Layout {
            trees,
            cursor: (0, IVec::empty()),
            gens: BTreeMap::new(),
            next_gen: 1,
            floor,
            changes: IdMap::default(),
        };
        let entries = layout.entries().count();
        if entries > 0 {
            layout.gens.insert(
                0,
                Gen {
                    since: floor,
                    entries,
                },
            );
        }
        layout
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
        let gone: Vec<TreeId> = self.trees.keys().copied().filter(|&id| !keep(id)).collect();
        for id in gone {
            self.remove_tree(id);
        }
    }

    /// Forgets tree `id`.
    pub(crate) fn remove_tree(&mut self, id: TreeId) {
        if let Some(tree) = self.trees.remove(&id) {
            for e in tree.leaves.values() {
                release(&mut self.gens, e.gen);
                self.changes.insert(e.id, None);
            }
        }
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

    /// Replaces tree `id`'s entries from `from` up to `to` by `leaves` (low
    /// key, leaf id, page; in key order, the first starting at `from`),
    /// captured by the checkpoint that started the log file at `since`;
    /// creates the tree if new.
    pub(crate) fn replace(
        &mut self,
        id: TreeId,
        name: &IVec,
        (from, to): (&[u8], Option<&[u8]>),
        leaves: Vec<(IVec, u64, Placed)>,
        since: Since,
    ) {
        let gen = match self.gens.last_key_value() {
            Some((&g, last)) if last.since == since => g,
            _ => {
                let g = self.next_gen;
                self.next_gen += 1;
                self.gens.insert(g, Gen { since, entries: 0 });
                g
            }
        };
        let tree = self.trees.entry(id).or_insert_with(|| TreeLayout {
            name: name.clone(),
            leaves: BTreeMap::new(),
        });
        // Counted before the stale entries go: they may be of the same
        // generation (a position with nothing logged since is reused).
        if let Some(g) = self.gens.get_mut(&gen) {
            g.entries += leaves.len();
        }
        let stale: Vec<IVec> = tree
            .leaves
            .range::<[u8], _>((std::ops::Bound::Included(from), upper(to)))
            .map(|(lo, _)| lo.clone())
            .collect();
        for lo in stale {
            if let Some(e) = tree.leaves.remove(&lo) {
                release(&mut self.gens, e.gen);
                self.changes.insert(e.id, None);
            }
        }
        // After the removals: a leaf kept across the run keeps its id.
        for (lo, id, placed) in leaves {
            self.changes.insert(id, Some(placed.clone()));
            tree.leaves.insert(lo, Entry { id, placed, gen });
        }
        if self.gens.get(&gen).is_some_and(|g| g.entries == 0) {
            self.gens.remove(&gen);
        }
    }

    /// Moves the entries `to` gives a new page (pages a cleaning pass
    /// copies out of a segment it empties).
    pub(crate) fn relocate<E>(
        &mut self,
        mut to: impl FnMut(&Entry) -> Result<Option<Placed>, E>,
    ) -> Result<(), E> {
        for e in self.trees.values_mut().flat_map(|t| t.leaves.values_mut()) {
            if let Some(placed) = to(e)? {
                self.changes.insert(e.id, Some(placed.clone()));
                e.placed = placed;
            }
        }
        Ok(())
    }

    /// The leaves dropped from the table since `take_changes` (with their
    /// trees).
    pub(crate) fn dropped(&self) -> impl Iterator<Item = u64> + '_ {
        self.changes
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(&id, _)| id)
    }

    /// The changes since the last call (see `changes`).
    pub(crate) fn take_changes(&mut self) -> IdMap<u64, Option<Placed>> {
        std::mem::take(&mut self.changes)
    }

    /// The entries the pass has yet to reach: from the cursor on, or none
    /// once it went back to the start (the pass just ended).
    pub(crate) fn ahead(&self) -> impl Iterator<Item = &Entry> {
        let (tree, key) = &self.cursor;
        let wrapped = *tree == 0 && key.is_empty();
        self.trees
            .range(*tree..)
            .filter(move |_| !wrapped)
            .flat_map(move |(&id, t)| {
                let from: &[u8] = if id == *tree { key } else { &[] };
                t.leaves
                    .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
            })
            .map(|(_, e)| e)
    }

    /// Every entry.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.trees.values().flat_map(|t| t.leaves.values())
    }

    /// Moves the entries captured at a position with no record logged
    /// since to `now`, which is the same point in the log: the log files
    /// between the two hold nothing and can go.
    pub(crate) fn advance(&mut self, now: Since) {
        for g in self.gens.values_mut().filter(|g| g.since.lsn == now.lsn) {
            g.since = now;
        }
        if self.floor.lsn == now.lsn {
            self.floor = now;
        }
    }

    /// Where replay must start: the oldest entry's position.
    pub(crate) fn replay_from(&self) -> Since {
        self.gens.first_key_value().map_or(self.floor, |(_, g)| g.since)
    }

    /// Leaf id → page: what the page store's table must equal.
    #[cfg(debug_assertions)]
    pub(crate) fn table(&self) -> IdMap<u64, Placed> {
        self.entries().map(|e| (e.id, e.placed.clone())).collect()
    }

    /// The checkpoint file: `head`'s fields with these trees, encoded from
    /// the table where it lies (a copy of every entry cost the checkpointer
    /// about a tenth of its time on a 1M-key load).
    pub(crate) fn encode(&self, head: &Checkpoint) -> Vec<u8> {
        head.encode_with(self.trees.iter().map(|(&id, t)| {
            let leaves = t.leaves.iter().map(|(lo, e)| LeafRef {
                id: e.id,
                lo,
                loc: e.placed.page,
                blobs: &e.placed.blobs,
            });
            (id, &t.name[..], leaves)
        }))
    }
}

/// Counts one entry of generation `gen` gone.
fn release(gens: &mut BTreeMap<u64, Gen>, gen: u64) {
    if let Some(g) = gens.get_mut(&gen) {
        g.entries -= 1;
        if g.entries == 0 {
            gens.remove(&gen);
        }
    }
}

fn upper(to: Option<&[u8]>) -> std::ops::Bound<&[u8]> {
    to.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{LeafEntry, TreeEntry};

    fn at(n: u64) -> Since {
        Since {
            seq: n,
            lsn: n,
            mark: n,
        }
    }

    fn leaf(lo: &[u8], id: u64) -> (IVec, u64, Placed) {
        (IVec::from(lo), id, Placed::default())
    }

    fn los(layout: &Layout, tree: TreeId) -> Vec<(Vec<u8>, u64)> {
        layout.trees[&tree]
            .leaves
            .iter()
            .map(|(lo, e)| (lo.to_vec(), e.id))
            .collect()
    }

    #[test]
    fn a_run_replaces_exactly_its_range_and_replay_starts_at_the_oldest_entry() {
        let mut l = Layout::new(None);
        let name = IVec::from(&b"t"[..]);
        let first = vec![leaf(b"", 1), leaf(b"c", 2), leaf(b"f", 3), leaf(b"k", 4)];
        l.replace(7, &name, (b"", None), first, at(1));
        // Leaves 2 and 3 merged, then split at "e": the run covers c..k.
        l.replace(
            7,
            &name,
            (b"c", Some(b"k")),
            vec![leaf(b"c", 5), leaf(b"e", 6)],
            at(9),
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
        assert_eq!(l.replay_from(), at(1));
        assert_eq!(l.entries_in(7, b"c", Some(b"k")).count(), 2);
        assert_eq!(l.ahead().count(), 0, "a cursor at the start: the pass just ended");
        l.cursor = (7, IVec::from(&b"d"[..]));
        assert_eq!(l.ahead().map(|e| e.id).collect::<Vec<_>>(), vec![6, 4]);
        l.cursor = (0, IVec::empty());
        l.replace(7, &name, (b"", Some(b"c")), vec![leaf(b"", 8)], at(10));
        assert_eq!(
            l.replay_from(),
            at(1),
            "leaf 4 is still from the first checkpoint"
        );
        l.replace(7, &name, (b"k", None), vec![leaf(b"k", 9)], at(11));
        assert_eq!(l.replay_from(), at(9));
        assert_eq!(l.entries().count(), 4);
        // Nothing logged since position 11: the same point as 12.
        l.advance(Since {
            seq: 12,
            lsn: 11,
            mark: 11,
        });
        assert_eq!(l.replay_from(), at(9));
        // A run at the same position as the newest generation replaces
        // entries of that generation.
        l.replace(7, &name, (b"k", None), vec![leaf(b"k", 10)], at(11));
        assert_eq!(l.gens.values().map(|g| g.entries).sum::<usize>(), 4);
        assert_eq!(l.replay_from(), at(9));
        l.remove_tree(7);
        assert_eq!(l.replay_from(), l.floor);
        assert!(l.gens.is_empty());
    }

    #[test]
    fn a_loaded_table_replays_from_its_checkpoint_until_a_pass_replaces_it() {
        let ckpt = Checkpoint {
            log_seq: 3,
            start_lsn: 40,
            trees: vec![TreeEntry {
                id: 0,
                name: IVec::from(&b"d"[..]),
                leaves: vec![LeafEntry {
                    id: 1,
                    lo: IVec::empty(),
                    loc: crate::checkpoint::Loc::default(),
                    blobs: Vec::new(),
                }],
            }],
            ..Checkpoint::default()
        };
        let mut l = Layout::new(Some(&ckpt));
        assert_eq!((l.replay_from().seq, l.replay_from().lsn), (3, 40));
        l.replace(0, &IVec::from(&b"d"[..]), (b"", None), vec![leaf(b"", 2)], at(50));
        assert_eq!(l.replay_from(), at(50));
        let written = Checkpoint::decode(&l.encode(&Checkpoint::default())).unwrap();
        assert_eq!(written.trees[0].leaves[0].id, 2);
    }
}
