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
use crate::btree::{Captured, Shared};
use crate::checkpoint::{self, Checkpoint, LeafEntry, Loc, TreeEntry};
use crate::db::{Catalog, IdGen};
use crate::io::Storage;
use crate::log::Log;
use crate::page;
use crate::page_store::PageStore;
use crate::sync::{lock, read, write, Arc, Mutex, Ordering, RwLock};
use crate::{Error, Result};

/// Segments whose live pages fill less than this share are emptied.
const CLEAN_BELOW: f64 = 0.7;
/// Segments smaller than a quarter of `segment_size` are merged once there are
/// this many of them.
const SMALL_SEGMENTS: usize = 4;
/// Log bytes that make a checkpoint due, at the least; more for large
/// databases (an eighth of the live page bytes), so the work of a checkpoint
/// stays in proportion to what it saves.
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
        let live: u64 = self.pages.usage().iter().map(|u| u.live).sum();
        // Dirty leaves cannot be evicted: write them before they crowd the
        // cache.
        let capacity = self.shared.cache.capacity();
        if logged >= MIN_LOG_BYTES.max(live / 8).min(capacity / 4) {
            return true;
        }
        logged > 0 && state.started.elapsed() >= every
    }

    fn checkpoint_locked(&self, state: &mut State) -> Result<()> {
        state.log_mark = self.log.bytes_written.load(Ordering::Relaxed);
        state.started = Instant::now();
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

        // Which pages stay where they are, and so which segments to empty.
        let mut kept: HashMap<u64, Loc> = HashMap::new();
        for (_, _, leaves) in &captured {
            for (id, _, c) in leaves {
                if matches!(c, Captured::Clean) {
                    let loc = self
                        .pages
                        .loc(*id)
                        .ok_or_else(|| Error::ReportableBug(format!("clean leaf {id} has no page")))?;
                    kept.insert(*id, loc);
                }
            }
        }
        let victims = self.pick_victims(&kept);

        let level = self.level;
        let mut writer = self.pages.writer(self.segment_size);
        let mut table = HashMap::with_capacity(kept.len());
        let mut trees_out = Vec::with_capacity(captured.len());
        let mut saving = Vec::new();
        let (mut written, mut copied) = (0, 0);
        for (tree, name, leaves) in captured {
            let mut entries = Vec::with_capacity(leaves.len());
            for (id, lo, c) in leaves {
                let loc = match c {
                    Captured::Dirty { leaf, hi, entries } => {
                        written += 1;
                        saving.push(leaf);
                        writer.append(&page::encode(id, tree, &lo, hi.as_deref(), &entries, level))?
                    }
                    Captured::Clean => {
                        let old = kept[&id];
                        if victims.contains(&old.segment) {
                            copied += 1;
                            writer.append(&self.pages.read_raw(old)?)?
                        } else {
                            old
                        }
                    }
                };
                table.insert(id, loc);
                entries.push(LeafEntry { id, lo, loc });
            }
            trees_out.push(TreeEntry {
                id: tree,
                name,
                leaves: entries,
            });
        }
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
        self.write_checkpoint_file(&ckpt.encode())?;
        self.pages.install(table, segments)?;
        // Their pages are in the table now: they may be evicted.
        for leaf in saving {
            write(&leaf.state).saving = false;
        }
        self.log.remove_files_before(log_seq)?;
        state.last.pages_written = written;
        state.last.pages_copied = copied;
        Ok(())
    }

    /// Segments to empty in this checkpoint, given the pages it keeps.
    fn pick_victims(&self, kept: &HashMap<u64, Loc>) -> HashSet<u64> {
        let mut live: HashMap<u64, u64> = HashMap::new();
        for loc in kept.values() {
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

    fn write_checkpoint_file(&self, bytes: &[u8]) -> Result<()> {
        let storage = &*self.storage;
        let tmp = self.path.join(checkpoint::TEMP_NAME);
        let path = self.path.join(checkpoint::FILE_NAME);
        let file = storage
            .open(&tmp, true)
            .map_err(|e| Error::io("create checkpoint", &tmp, e))?;
        file.set_len(0)
            .map_err(|e| Error::io("truncate checkpoint", &tmp, e))?;
        file.write_all_at(bytes, 0)
            .map_err(|e| Error::io("write checkpoint", &tmp, e))?;
        file.sync().map_err(|e| Error::io("fsync checkpoint", &tmp, e))?;
        drop(file);
        storage
            .rename(&tmp, &path)
            .map_err(|e| Error::io("rename checkpoint", &path, e))?;
        storage
            .sync_dir(&self.path)
            .map_err(|e| Error::io("fsync database directory", &self.path, e))
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
