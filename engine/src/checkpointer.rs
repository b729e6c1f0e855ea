//! Checkpoints, with segment cleaning riding along, and the thread that runs
//! them.
//!
//! A checkpoint, one at a time:
//! 1. starts a new log file: every record before it is in older files;
//! 2. captures each tree's leaves under its structure lock (so no split or
//!    merge moves a key between a leaf already visited and one not yet), taking
//!    a copy of each dirty leaf and marking it clean; writers to leaves go on;
//! 3. picks segments to clean: those whose pages still in use, once this
//!    checkpoint's rewrites are counted, fill less than `CLEAN_BELOW` of them,
//!    and small segments once there are several; clean leaves whose page lies
//!    in one are copied, page bytes as they are, into the new segments;
//! 4. writes the pages and fsyncs them and the directory;
//! 5. fsyncs the log: a copied leaf may hold writes newer than the log file
//!    start, and a page must never be durable before the log records it shows
//!    (C3: recovery yields a prefix of the commit order);
//! 6. writes the checkpoint file (temporary name, fsync, rename, fsync dir);
//! 7. installs the new page table, removing segments nothing points into, and
//!    removes the log files before step 1's.
//!
//! A crash anywhere before step 6's rename leaves the old checkpoint and all
//! the files it names; after it, the new one is complete. A failure poisons
//! the engine (C5): leaves were marked clean that no durable page holds.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::background::Periodic;
use crate::blob;
use crate::btree::{Captured, Shared};
use crate::checkpoint::{self, Checkpoint, LeafEntry, Loc, TreeEntry};
use crate::db::{Catalog, IdGen};
use crate::io::Storage;
use crate::leaf::{Blobs, Leaf};
use crate::log::Log;
use crate::page::{self, Stored};
use crate::page_store::{PageStore, Placed, Writer};
use crate::record::TreeId;
use crate::sync::{lock, read, write, Arc, Mutex, Ordering, RwLock};
use crate::{Error, IVec, Result};

/// Segments whose live pages fill less than this share are emptied.
const CLEAN_BELOW: f64 = 0.8;
/// Segments smaller than a quarter of `segment_size` are merged once there are
/// this many of them.
const SMALL_SEGMENTS: usize = 4;
/// Log bytes that make a checkpoint due, at the least; more for large
/// databases (an eighth of the live page bytes), so the work of a checkpoint
/// stays in proportion to what it saves. Measured on 1M keys under random
/// overwrites (every checkpoint rewrites every leaf): a sixteenth made the
/// overwrites 40% slower than an eighth, for no lasting gain in space.
const MIN_LOG_BYTES: u64 = 1 << 20;
/// How often the background thread looks whether a checkpoint or an
/// eviction pass is due.
const POLL: Duration = Duration::from_millis(20);

/// What the last checkpoint did, for `stats`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LastCheckpoint {
    pub count: u64,
    pub at: Option<SystemTime>,
    pub duration: Duration,
    pub pages_written: u64,
    pub pages_copied: u64,
    /// Bytes of pages and blobs written to segments.
    pub bytes_written: u64,
}

/// Checkpoint bookkeeping, under the mutex that makes them one at a time.
pub(crate) struct State {
    /// `log.bytes_written` when the last checkpoint started.
    log_mark: u64,
    /// When the last checkpoint started, or the database was opened.
    started: Instant,
    pub last: LastCheckpoint,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            log_mark: 0,
            started: Instant::now(),
            last: LastCheckpoint::default(),
        }
    }
}

/// What checkpoints reach: the parts of the engine they read and write. The
/// background thread holds this, not the engine, so that dropping the last
/// database handle closes the database on the caller's thread.
pub(crate) struct Checkpoints {
    pub path: PathBuf,
    pub storage: Arc<dyn Storage>,
    pub log: Arc<Log>,
    pub pages: Arc<PageStore>,
    pub catalog: Arc<RwLock<Catalog>>,
    pub ids: Arc<Mutex<IdGen>>,
    pub shared: Arc<Shared>,
    /// zstd level for pages, if compressing.
    pub level: Option<i32>,
    pub segment_size: u64,
    pub state: Mutex<State>,
}

impl Checkpoints {
    /// Writes a checkpoint now (see the module docs).
    pub(crate) fn run(&self) -> Result<()> {
        let mut state = lock(&self.state);
        self.log.check_poison()?;
        let began = Instant::now();
        match self.checkpoint_locked(&mut state) {
            Ok(()) => {
                state.last.count += 1;
                state.last.at = Some(SystemTime::now());
                state.last.duration = began.elapsed();
                drop(state);
                // The leaves just written may be evicted now.
                self.shared.cache.evict();
                Ok(())
            }
            Err(e) => {
                self.log.poison(&e);
                Err(e)
            }
        }
    }

    /// Whether enough log has accumulated, or enough time passed with writes,
    /// to make a checkpoint worth it.
    pub(crate) fn due(&self, every: Duration) -> bool {
        let state = lock(&self.state);
        let logged = self.log.bytes_written.load(Ordering::Relaxed) - state.log_mark;
        let live = self.pages.live_bytes();
        // Dirty leaves cannot be evicted: write them before they crowd the
        // cache.
        let capacity = self.shared.cache.capacity();
        logged > 0
            && (logged >= MIN_LOG_BYTES.max(live / 8).min(capacity / 4) || state.started.elapsed() >= every)
    }

    fn checkpoint_locked(&self, state: &mut State) -> Result<()> {
        state.log_mark = self.log.bytes_written.load(Ordering::Relaxed);
        state.started = Instant::now();
        let bytes_before = self.pages.bytes_written.load(Ordering::Relaxed);
        let (log_seq, start_lsn) = self.log.start_file()?;
        let (trees, next_tree) = {
            let catalog = read(&self.catalog);
            let trees: Vec<_> = catalog.by_name.values().cloned().collect();
            (trees, catalog.next_id)
        };
        let ids_reserved = lock(&self.ids).reserved_upto();
        let mut captured = Vec::with_capacity(trees.len());
        for core in &trees {
            if let Some(leaves) = core.capture() {
                captured.push((core.id, core.name.clone(), leaves));
            }
        }
        let next_leaf = self.shared.leaf_ids.load(Ordering::Relaxed);

        // Which pages and blobs stay where they are, and so which segments to
        // empty.
        let mut kept: HashMap<u64, Placed> = HashMap::new();
        let mut reused = Vec::new();
        for (_, _, leaves) in &captured {
            for (leaf, _, c) in leaves {
                match c {
                    Captured::Clean => {
                        let placed = self.pages.placed(leaf.id).ok_or_else(|| {
                            Error::ReportableBug(format!("clean leaf {} has no page", leaf.id))
                        })?;
                        kept.insert(leaf.id, placed);
                    }
                    Captured::Dirty { blobs, .. } => reused.extend(
                        blobs
                            .values()
                            .copied()
                            .filter(|loc| self.pages.blob_is_live(*loc)),
                    ),
                }
            }
        }
        let mut placer = Placer {
            victims: self.pick_victims(kept.values().flat_map(Placed::locs).chain(reused)),
            writer: self.pages.writer(self.segment_size),
            pages: &self.pages,
            level: self.level,
            saving: Vec::new(),
            new_blobs: Vec::new(),
            copied: 0,
        };
        let mut table = HashMap::with_capacity(kept.len());
        let mut trees_out = Vec::with_capacity(captured.len());
        for (tree, name, leaves) in captured {
            let mut entries = Vec::with_capacity(leaves.len());
            for (leaf, lo, c) in leaves {
                let placed = match c {
                    Captured::Dirty { hi, entries, blobs } => {
                        placer.dirty(&leaf, tree, &lo, hi.as_deref(), entries, &blobs)?
                    }
                    Captured::Clean => placer.clean(&leaf, kept.remove(&leaf.id).unwrap_or_default())?,
                };
                entries.push(LeafEntry {
                    id: leaf.id,
                    lo,
                    loc: placed.page,
                    blobs: placed.blobs.clone(),
                });
                table.insert(leaf.id, placed);
            }
            trees_out.push(TreeEntry {
                id: tree,
                name,
                leaves: entries,
            });
        }
        let Placer {
            writer,
            saving,
            new_blobs,
            copied,
            ..
        } = placer;
        let segments = writer.finish()?;
        self.log.flush()?;
        let ckpt = Checkpoint {
            log_seq,
            start_lsn,
            next_tree,
            ids_reserved,
            next_leaf,
            next_segment: self.pages.next_segment(),
            written_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            trees: trees_out,
        };
        let bytes = ckpt.encode();
        crate::io::replace_file(
            &*self.storage,
            &self.path,
            checkpoint::TEMP_NAME,
            checkpoint::FILE_NAME,
            &bytes,
        )?;
        self.pages.install(table, segments)?;
        state.last.pages_written = saving.len() as u64;
        // Their pages are in the table now: they may be evicted.
        for leaf in saving {
            write(&leaf.state).saving = false;
        }
        // Values written as blobs can be pointed at again while unchanged.
        for (leaf, key, value, loc) in new_blobs {
            let mut state = write(&leaf.state);
            if !state.evicted && state.get(&key).is_some_and(|v| **v == *value) {
                state.blobs.get_or_insert_default().insert(key, loc);
            }
        }
        self.log.remove_files_before(log_seq)?;
        state.last.pages_copied = copied;
        state.last.bytes_written = self.pages.bytes_written.load(Ordering::Relaxed) - bytes_before;
        Ok(())
    }

    /// Segments to empty in this checkpoint, given the pages and blobs it
    /// keeps where they are.
    fn pick_victims(&self, kept: impl Iterator<Item = Loc>) -> HashSet<u64> {
        let mut live: HashMap<u64, u64> = HashMap::new();
        for loc in kept {
            *live.entry(loc.segment).or_default() += u64::from(loc.len);
        }
        let mut victims = HashSet::new();
        let mut small = Vec::new();
        for seg in self.pages.usage() {
            let Some(&still) = live.get(&seg.seq) else {
                continue; // nothing kept there: removed without copying
            };
            if (still as f64) < CLEAN_BELOW * seg.size as f64 {
                victims.insert(seg.seq);
            } else if seg.size < self.segment_size / 4 {
                small.push(seg.seq);
            }
        }
        if small.len() >= SMALL_SEGMENTS {
            victims.extend(small);
        }
        victims
    }
}

/// A blob a checkpoint wrote for a leaf's value, to remember in the leaf.
type NewBlob = (Arc<Leaf>, IVec, IVec, Loc);

/// Decides where each captured leaf's page and blobs go in one checkpoint,
/// writing what must be written.
struct Placer<'a> {
    victims: HashSet<u64>,
    writer: Writer<'a>,
    pages: &'a PageStore,
    level: Option<i32>,
    /// Dirty leaves written, to be marked evictable after the install.
    saving: Vec<Arc<Leaf>>,
    new_blobs: Vec<NewBlob>,
    copied: u64,
}

impl Placer<'_> {
    /// Writes a dirty leaf's page; values of `blob::MIN_LEN` bytes or more go
    /// out of line, to the blob already holding them if there is one (live in
    /// the table, and not in a segment being emptied).
    fn dirty(
        &mut self,
        leaf: &Arc<Leaf>,
        tree: TreeId,
        lo: &[u8],
        hi: Option<&[u8]>,
        entries: Vec<(IVec, IVec)>,
        blobs: &Blobs,
    ) -> Result<Placed> {
        let mut stored = Vec::with_capacity(entries.len());
        let mut blob_locs = Vec::new();
        for (k, v) in entries {
            if v.len() < blob::MIN_LEN {
                stored.push((k, Stored::Inline(v)));
                continue;
            }
            let loc = match blobs.get(&k) {
                Some(loc) if !self.victims.contains(&loc.segment) && self.pages.blob_is_live(*loc) => *loc,
                _ => {
                    let loc = self.writer.append(&blob::encode(leaf.id, &v))?;
                    self.new_blobs.push((leaf.clone(), k.clone(), v, loc));
                    loc
                }
            };
            blob_locs.push(loc);
            stored.push((k, Stored::Blob(loc)));
        }
        self.saving.push(leaf.clone());
        let page = self
            .writer
            .append(&page::encode(leaf.id, tree, lo, hi, &stored, self.level))?;
        Ok(Placed {
            page,
            blobs: blob_locs,
        })
    }

    /// Keeps a clean leaf's page where it is, or copies it (and its blobs)
    /// out of a segment being emptied.
    fn clean(&mut self, leaf: &Arc<Leaf>, old: Placed) -> Result<Placed> {
        if old.blobs.iter().any(|b| self.victims.contains(&b.segment)) {
            // The page must point at the blobs' new places: rewrite it.
            self.copied += 1;
            // Leaves that remember the old places stop reusing them once the
            // table no longer lists them (see `PageStore::blob_is_live`).
            let mut image = self.pages.read(leaf.id)?;
            for (_, v) in &mut image.entries {
                if let Stored::Blob(loc) = v {
                    if self.victims.contains(&loc.segment) {
                        *loc = self.writer.append(&self.pages.read_raw_blob(*loc)?)?;
                    }
                }
            }
            let page = self.writer.append(&page::encode(
                image.leaf,
                image.tree,
                &image.lo,
                image.hi.as_deref(),
                &image.entries,
                self.level,
            ))?;
            Ok(Placed {
                page,
                blobs: image.blobs().collect(),
            })
        } else if self.victims.contains(&old.page.segment) {
            self.copied += 1;
            let page = self.writer.append(&self.pages.read_raw(old.page)?)?;
            Ok(Placed {
                page,
                blobs: old.blobs,
            })
        } else {
            Ok(old)
        }
    }
}

/// The background thread that checkpoints when one is due (see `due`) and
/// runs the cache's eviction as writes grow resident leaves.
pub(crate) fn start(checkpoints: Arc<Checkpoints>, every: Duration) -> Result<Periodic> {
    // Writes grow resident leaves without the cache counting them: a pass
    // recounts after every eighth of the capacity written to the log.
    let mut evicted_at = 0;
    Periodic::start("skiff-checkpointer", POLL, move || {
        if checkpoints.due(every) {
            // A failure poisons the engine; writers report it. A checkpoint
            // ends with an eviction pass.
            let _ = checkpoints.run();
        }
        let cache = &checkpoints.shared.cache;
        let logged = checkpoints.log.bytes_written.load(Ordering::Relaxed);
        if cache.over() || logged - evicted_at >= cache.capacity() / 8 {
            cache.evict();
            evicted_at = logged;
        }
    })
}
