//! Recovery: the newest checkpoint, then the write-ahead log after it.
//!
//! The checkpoint (if any) names every tree and every leaf's low key and page;
//! the trees are rebuilt from it with every leaf evicted (a leaf's page is read
//! when the leaf is first used), so opening reads the checkpoint file and the
//! log tail and nothing else. The log is replayed from the first record the
//! checkpoint does not cover. Pages may already reflect some records after that
//! point (a checkpoint copies leaves while writers go on), which is harmless:
//! every logged op is a blind write of one key, or a clear, so replaying it
//! again gives the same final state. Log files before the checkpoint's are
//! leftovers of a checkpoint that crashed before removing them.
//!
//! Files are read in sequence order and records in LSN order; each record is
//! handed to the caller whole, so a batch or transaction is applied completely or
//! not at all. Where a record fails to decode, recovery decides between a torn
//! tail and corruption:
//!
//! - in any file but the newest, the bytes were fsynced before the next file was
//!   created, so damage there is `Error::Corruption`;
//! - in the newest file, a valid record further on whose `durable_lsn` is above
//!   the damaged record's LSN proves the damaged bytes had been fsynced: that is
//!   `Error::Corruption` too;
//! - otherwise the damage lies after the last sync: a torn tail, cut off (the
//!   file is truncated and fsynced) so appending resumes at the last good record.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::btree::{Shared, TreeCore};
use crate::checkpoint::{self, Checkpoint, CheckpointError, TreeEntry};
use crate::db::{Catalog, DEFAULT_TREE};
use crate::io::Storage;
use crate::leaf::Leaf;
use crate::log::{self, Tail};
use crate::record::{self, HeaderError, Op, Record, TreeId};
use crate::sync::{Arc, Ordering};
use crate::{Error, Result};

/// What recovery rebuilt.
pub(crate) struct Recovered {
    pub catalog: Catalog,
    /// `generate_id` continues from here.
    pub ids_next: u64,
    pub tail: Tail,
}

/// Recovers the trees from `ckpt` (see `read_checkpoint`; its pages are in
/// `shared.pages`) and the log in `wal`.
pub(crate) fn recover(
    storage: &dyn Storage,
    wal: &Path,
    ckpt: Option<&Checkpoint>,
    leaf_max: usize,
    shared: &Arc<Shared>,
) -> Result<Recovered> {
    let mut catalog = Catalog::default();
    let mut by_id: HashMap<TreeId, Arc<TreeCore>> = HashMap::new();
    let mut ids_next = 0;
    let mut from = None;
    if let Some(c) = ckpt {
        for entry in &c.trees {
            let core = Arc::new(evicted_tree(entry, leaf_max, shared));
            by_id.insert(entry.id, core.clone());
            catalog.by_name.insert(entry.name.clone(), core);
        }
        shared.leaf_ids.fetch_max(c.next_leaf, Ordering::Relaxed);
        catalog.next_id = c.next_tree.max(1);
        ids_next = c.ids_reserved;
        from = Some((c.log_seq, c.start_lsn));
    }
    if !catalog.by_name.contains_key(DEFAULT_TREE) {
        by_id.insert(0, catalog.add_default_tree(leaf_max, shared));
    }
    // Trees below this id that the log mentions but the checkpoint lacks were
    // dropped before the checkpoint captured the catalog.
    let known_before = ckpt.map_or(0, |c| c.next_tree);
    let mut replayer = Replayer {
        catalog: &mut catalog,
        by_id: &mut by_id,
        ids_next: &mut ids_next,
        leaf_max,
        shared,
        known_before,
    };
    let replayed = replay(storage, wal, from, |rec| {
        for op in rec.ops {
            replayer.apply(op)?;
        }
        Ok(())
    })?;
    if let Some((seq, _)) = from {
        log::remove_files_before(storage, wal, seq)?;
    }
    Ok(Recovered {
        catalog,
        ids_next,
        tail: replayed.tail,
    })
}

/// Reads the database's checkpoint file, if there is one yet (and removes a
/// half-written one).
pub(crate) fn read_checkpoint(storage: &dyn Storage, dir: &Path) -> Result<Option<Checkpoint>> {
    let tmp = dir.join(checkpoint::TEMP_NAME);
    if storage.exists(&tmp).map_err(|e| Error::io("check", &tmp, e))? {
        storage
            .remove_file(&tmp)
            .map_err(|e| Error::io("remove unfinished checkpoint", &tmp, e))?;
    }
    load_checkpoint(storage, dir)
}

/// Reads and decodes the checkpoint file, if there is one (no side effects:
/// `verify` checks it this way).
pub(crate) fn load_checkpoint(storage: &dyn Storage, dir: &Path) -> Result<Option<Checkpoint>> {
    let path = dir.join(checkpoint::FILE_NAME);
    if !storage.exists(&path).map_err(|e| Error::io("check", &path, e))? {
        return Ok(None);
    }
    let bytes = read_file(storage, &path)?;
    match Checkpoint::decode(&bytes) {
        Ok(c) => Ok(Some(c)),
        Err(CheckpointError::Damaged(at, what)) => Err(Error::corruption(path, at, what)),
        Err(CheckpointError::Version(found)) => Err(Error::UnsupportedFormat {
            path,
            found,
            supported: 1,
        }),
    }
}

/// One tree as the checkpoint names it, every leaf evicted.
fn evicted_tree(entry: &TreeEntry, leaf_max: usize, shared: &Arc<Shared>) -> TreeCore {
    let leaves = entry
        .leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            let hi = entry.leaves.get(i + 1).map(|next| next.lo.clone());
            (
                leaf.lo.clone(),
                Arc::new(Leaf::evicted(leaf.id, leaf.lo.clone(), hi)),
            )
        })
        .collect();
    TreeCore::from_leaves(entry.id, entry.name.clone(), leaves, leaf_max, shared.clone())
}

/// Applies replayed ops to the trees being rebuilt.
struct Replayer<'a> {
    catalog: &'a mut Catalog,
    by_id: &'a mut HashMap<TreeId, Arc<TreeCore>>,
    ids_next: &'a mut u64,
    leaf_max: usize,
    shared: &'a Arc<Shared>,
    known_before: TreeId,
}

impl Replayer<'_> {
    fn tree(&self, id: TreeId) -> Result<Option<Arc<TreeCore>>> {
        match self.by_id.get(&id) {
            Some(core) => Ok(Some(core.clone())),
            None if id < self.known_before => Ok(None),
            None => Err(Error::ReportableBug(format!(
                "log refers to unknown tree id {id}"
            ))),
        }
    }

    fn apply(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Insert { tree, key, value } => {
                if let Some(t) = self.tree(tree)? {
                    t.apply_unlogged(&key, Some(&value))?;
                }
            }
            Op::Remove { tree, key } => {
                if let Some(t) = self.tree(tree)? {
                    t.apply_unlogged(&key, None)?;
                }
            }
            Op::CreateTree { tree: id, name } => {
                // A tree the checkpoint captured after this record starts over
                // empty: every later write to it is replayed.
                let core = Arc::new(TreeCore::new(
                    id,
                    name.clone(),
                    self.leaf_max,
                    self.shared.clone(),
                ));
                self.by_id.insert(id, core.clone());
                self.catalog.by_name.insert(name, core);
                self.catalog.next_id = self.catalog.next_id.max(id.saturating_add(1));
            }
            Op::DropTree { tree: id } => {
                if let Some(core) = self.tree(id)? {
                    self.by_id.remove(&id);
                    self.catalog.by_name.remove(&core.name);
                }
            }
            Op::ClearTree { tree } => {
                if let Some(t) = self.tree(tree)? {
                    // No snapshot is open during recovery.
                    let stamp = crate::versions::Stamp { lsn: 0, oldest: None };
                    t.reset(false, || Ok(stamp))?;
                }
            }
            Op::ReserveIds { upto } => *self.ids_next = (*self.ids_next).max(upto),
        }
        Ok(())
    }
}

/// What replay found.
pub(crate) struct Replayed {
    pub tail: Tail,
}

/// Replays the log files in `dir` through `apply`, in LSN order: all of
/// them, or with `from = (seq, lsn)` those from file `seq` on, whose first
/// record must have LSN `lsn`.
pub(crate) fn replay(
    storage: &dyn Storage,
    dir: &Path,
    from: Option<(u64, u64)>,
    mut apply: impl FnMut(Record) -> Result<()>,
) -> Result<Replayed> {
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list log directory", dir, e))?;
    let (first_seq, mut next_lsn) = from.unwrap_or((0, 1));
    let mut seqs: Vec<u64> = names
        .iter()
        .filter_map(|n| log::parse_file_name(n))
        .filter(|&s| s >= first_seq)
        .collect();
    seqs.sort_unstable();
    if seqs.is_empty() {
        return Err(Error::corruption(dir, 0, "the log directory holds no log file"));
    }
    if from.is_some() && seqs[0] != first_seq {
        return Err(Error::corruption(
            dir.join(log::file_name(first_seq)),
            0,
            "the checkpoint's first log file is missing",
        ));
    }
    let mut tail_len = 0;
    for (i, &seq) in seqs.iter().enumerate() {
        let newest = i + 1 == seqs.len();
        let path = dir.join(log::file_name(seq));
        let data = read_file(storage, &path)?;
        match record::decode_file_header(&data) {
            Ok(found) if found == seq => {}
            Ok(found) => {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!("log file header says sequence {found}"),
                ));
            }
            Err(HeaderError::Version(v)) => {
                return Err(Error::UnsupportedFormat {
                    path: path.clone(),
                    found: v,
                    supported: record::LOG_VERSION,
                })
            }
            // A crash while creating the newest file can leave its header torn;
            // nothing was ever written after a torn header, so start it afresh.
            Err(_) if newest && !synced_later(&data, 0, 0) => {
                rewrite_header(storage, &path, seq)?;
                tail_len = record::FILE_HEADER_LEN as u64;
                continue;
            }
            Err(e) => return Err(Error::corruption(&path, 0, format!("bad log file header: {e:?}"))),
        }
        let mut pos = record::FILE_HEADER_LEN;
        while pos < data.len() {
            match record::decode(&data[pos..]) {
                Ok((rec, len)) => {
                    if rec.lsn != next_lsn {
                        return Err(Error::corruption(
                            &path,
                            pos as u64,
                            format!("log record has LSN {} where {next_lsn} was expected", rec.lsn),
                        ));
                    }
                    next_lsn += 1;
                    apply(rec)?;
                    pos += len;
                }
                Err(e) => {
                    if !newest || synced_later(&data, pos, next_lsn) {
                        return Err(Error::corruption(&path, pos as u64, e.to_string()));
                    }
                    trim(storage, &path, pos as u64)?;
                    break;
                }
            }
        }
        tail_len = pos.min(data.len()) as u64;
    }
    let seq = *seqs.last().unwrap_or(&1);
    Ok(Replayed {
        tail: Tail {
            seq,
            len: tail_len,
            next_lsn,
        },
    })
}

/// Checks every record of the log files in `dir` up to `end` (the writer's
/// current file and length: bytes beyond may be half written), calling
/// `found` with each damaged record. Returns how many records were checked.
pub(crate) fn verify_log(
    storage: &dyn Storage,
    dir: &Path,
    end: (u64, u64),
    found: &mut dyn FnMut(Error),
    progress: &mut dyn FnMut(),
) -> Result<u64> {
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list log directory", dir, e))?;
    let mut seqs: Vec<u64> = names.iter().filter_map(|n| log::parse_file_name(n)).collect();
    seqs.sort_unstable();
    let mut checked = 0;
    for seq in seqs.into_iter().filter(|&s| s <= end.0) {
        let path = dir.join(log::file_name(seq));
        let mut data = read_file(storage, &path)?;
        if seq == end.0 {
            data.truncate(usize::try_from(end.1).unwrap_or(usize::MAX));
        }
        if let Err(e) = record::decode_file_header(&data) {
            found(Error::corruption(&path, 0, format!("bad log file header: {e:?}")));
            continue;
        }
        let mut pos = record::FILE_HEADER_LEN;
        while pos < data.len() {
            checked += 1;
            progress();
            match record::decode(&data[pos..]) {
                Ok((_, len)) => pos += len,
                Err(e) => {
                    found(Error::corruption(&path, pos as u64, e.to_string()));
                    break;
                }
            }
        }
    }
    Ok(checked)
}

fn read_file(storage: &dyn Storage, path: &PathBuf) -> Result<Vec<u8>> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    let len = file.len().map_err(|e| Error::io("stat log file", path, e))?;
    let len = usize::try_from(len).map_err(|_| Error::corruption(path, 0, "log file too large to read"))?;
    let mut data = vec![0u8; len];
    file.read_exact_at(&mut data, 0)
        .map_err(|e| Error::io("read log file", path, e))?;
    Ok(data)
}

/// Whether a valid record after `bad` proves the record at `bad` (which should
/// have had LSN `lsn`) had been fsynced. With `lsn == 0`: whether any valid
/// record follows `bad` at all.
fn synced_later(data: &[u8], bad: usize, lsn: u64) -> bool {
    let mut pos = bad.next_multiple_of(8) + 8;
    while pos + record::HEADER_LEN <= data.len() {
        match record::decode(&data[pos..]) {
            Ok((rec, len)) => {
                if rec.lsn > lsn && rec.durable_lsn > lsn {
                    return true;
                }
                pos += len;
            }
            Err(_) => pos += 8,
        }
    }
    false
}

fn trim(storage: &dyn Storage, path: &Path, len: u64) -> Result<()> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    file.set_len(len)
        .map_err(|e| Error::io("truncate torn log tail", path, e))?;
    file.sync().map_err(|e| Error::io("fsync log", path, e))
}

fn rewrite_header(storage: &dyn Storage, path: &Path, seq: u64) -> Result<()> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    file.set_len(0)
        .map_err(|e| Error::io("truncate torn log file", path, e))?;
    file.write_all_at(&record::encode_file_header(seq), 0)
        .map_err(|e| Error::io("write log header", path, e))?;
    file.sync().map_err(|e| Error::io("fsync log", path, e))
}
