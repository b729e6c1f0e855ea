//! Checkpoints, with segment cleaning riding along, and the thread that runs
//! them.
//!
//! Checkpoints are incremental (see `layout`): each writes the dirty leaves
//! of one run of consecutive leaves, plus any tree the table lacks, and keeps
//! every other table entry. One checkpoint, one at a time:
//! 1. starts a new log file: every record before it is in older files;
//! 2. captures its runs, each under its tree's structure lock (so no split
//!    or merge moves a key between a leaf already visited and one not yet),
//!    taking a copy of each dirty leaf and marking it clean; writers to
//!    leaves go on;
//! 3. picks segments to clean: those whose pages still in use, once this
//!    checkpoint's rewrites are counted, fill less than `CLEAN_BELOW` of them,
//!    and small segments once there are several; pages kept that lie in one
//!    are copied, bytes as they are, into the new segments;
//! 4. writes the pages and fsyncs them and the directory;
//! 5. fsyncs the log: a copied leaf may hold writes newer than the log file
//!    start, and a page must never be durable before the log records it shows
//!    (C3: recovery yields a prefix of the commit order);
//! 6. writes the checkpoint file (temporary name, fsync, rename, fsync dir);
//! 7. installs the new page table, removing segments nothing points into, and
//!    removes the log files before the oldest entry's position.
//!
//! A crash anywhere before step 6's rename leaves the old checkpoint and all
//! the files it names; after it, the new one is complete. A failure poisons
//! the engine (C5): leaves were marked clean that no durable page holds.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::background::Periodic;
use crate::btree::{Captured, Run, Shared, TreeCore};
use crate::checkpoint::{self, Checkpoint, Loc};
use crate::db::{Catalog, IdGen};
use crate::id_hash::{IdMap, IdSet};
use crate::io::Storage;
use crate::log::Log;
use crate::page_store::{bytes_by_segment, PageStore, Placed, SegmentUse};
use crate::record::TreeId;
use crate::sync::{lock, read, write, Arc, AtomicU64, Mutex, Ordering, RwLock};
use crate::{Error, IVec, Result};

mod layout;
mod placer;

use layout::{Layout, Since};
use placer::Placer;

/// Segments whose live pages fill less than this share are emptied.
const CLEAN_BELOW: f64 = 0.8;
/// A segment is not emptied while more than this fraction (1/n) of what it
/// still holds is ahead of the pass.
const AHEAD_SHARE: u64 = 4;
/// Segments smaller than a quarter of `segment_size` are merged once there are
/// this many of them.
const SMALL_SEGMENTS: usize = 4;
/// Log bytes a pass may take, at the least; more for large databases (an
/// eighth of the live page bytes), so the work of a pass stays in proportion
/// to what it saves. Measured on 1M keys under random overwrites (every pass
/// rewrites every leaf): a sixteenth made the overwrites 40% slower than an
/// eighth.
const MIN_LOG_BYTES: u64 = 1 << 20;
/// A pass takes about this many checkpoints on a database whose leaves are
/// all dirty: each writes a sixteenth of it.
const PASS_RUNS: u64 = 16;
/// A checkpoint copies at least this many dirty bytes when it can.
const MIN_RUN_BYTES: u64 = 1 << 20;
/// Writers never wait for a smaller backlog than this.
const MIN_BACKLOG: u64 = 16 << 20;
/// A flush checkpoints too when dirty leaves' pages hold more than this
/// share (1/n) of the live page bytes in data the leaves no longer have.
const STALE_SHARE: u64 = 5;
/// Log bytes between two counts of that, at the least; more for large
/// databases (a sixteenth of the live page bytes), because a count walks
/// every resident leaf.
const MIN_STALE_CHECK: u64 = 64 << 10;
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
    /// `log.next_lsn()` when the last checkpoint started: unlike the bytes
    /// written, it grows with every append, buffered or not.
    lsn_mark: u64,
    /// Whether nothing was appended between the last two checkpoints: writes
    /// have stopped, and the rest of the pass runs back to back (see `due`).
    quiet: bool,
    /// When the last checkpoint started, or the database was opened.
    started: Instant,
    pub last: LastCheckpoint,
    /// The page table the last checkpoint made durable.
    layout: Layout,
}

impl State {
    /// Continues from the checkpoint recovery loaded, if any.
    pub(crate) fn new(ckpt: Option<&Checkpoint>, next_lsn: u64) -> State {
        State {
            log_mark: 0,
            lsn_mark: next_lsn,
            quiet: false,
            started: Instant::now(),
            last: LastCheckpoint::default(),
            layout: Layout::new(ckpt),
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
    /// Dirty bytes one checkpoint copies before it may stop (see `run_bytes`);
    /// tests set it small to make every pass take several runs.
    pub run_bytes: Option<u64>,
    pub state: Mutex<State>,
    /// A copy of `state.last`, published after each checkpoint, so that
    /// `stats` does not wait behind a pass running back to back.
    pub last: Mutex<LastCheckpoint>,
    /// `log.bytes_written` and `log.removes` when a flush last counted stale
    /// bytes.
    pub stale_checked: AtomicU64,
    pub removes_seen: AtomicU64,
}

impl Checkpoints {
    /// Writes one checkpoint now: the next run of the current pass (see the
    /// module docs).
    pub(crate) fn run(&self) -> Result<()> {
        let mut state = lock(&self.state);
        self.step(&mut state)?;
        drop(state);
        // The leaves just written may be evicted now.
        if self.shared.cache.over() {
            self.shared.cache.evict();
        }
        Ok(())
    }

    /// Checkpoints until the table holds every write logged before the call:
    /// the next open replays only what was logged after it.
    pub(crate) fn run_all(&self) -> Result<()> {
        let mut state = lock(&self.state);
        let first = self.step(&mut state)?;
        while state.layout.replay_from() < first {
            self.step(&mut state)?;
        }
        drop(state);
        self.shared.cache.evict();
        Ok(())
    }

    /// One checkpoint; a failure poisons the engine. Returns the log
    /// position it started.
    fn step(&self, state: &mut State) -> Result<Since> {
        self.log.check_poison()?;
        let began = Instant::now();
        match self.checkpoint_locked(state) {
            Ok(since) => {
                state.last.count += 1;
                state.last.at = Some(SystemTime::now());
                state.last.duration = began.elapsed();
                *lock(&self.last) = state.last;
                Ok(since)
            }
            Err(e) => {
                self.log.poison(&e);
                Err(e)
            }
        }
    }

    /// Whether a checkpoint is worth it now: the log holds records the table
    /// does not, and enough log has accumulated since the last one, or
    /// `every` passed, or writes stopped and the pass can be finished. Once
    /// nothing has been appended for a whole run and an eighth of `every`,
    /// the rest of the pass runs back to back while writes stay stopped:
    /// finishing it soon shortens the log and frees superseded pages, and
    /// keeps the work from trickling into the reads that often follow a load.
    pub(crate) fn due(&self, every: Duration) -> bool {
        let state = lock(&self.state);
        let from = state.layout.replay_from();
        let next_lsn = self.log.next_lsn();
        if next_lsn <= from.lsn {
            return false;
        }
        let idle = next_lsn == state.lsn_mark;
        let written = self.log.bytes_written.load(Ordering::Relaxed);
        let logged = written - state.log_mark;
        let elapsed = state.started.elapsed();
        // Writers wait (or soon will): only a checkpoint lets them go on.
        let backlog = written.saturating_sub(from.mark);
        backlog >= self.log.backlog.limit.load(Ordering::Relaxed) / 4 * 3
            || logged >= self.run_log_bytes()
            || elapsed >= every
            || (idle && (state.quiet || elapsed >= every / 8))
    }

    /// Whether a flush should checkpoint as well: deletes left the pages of
    /// dirty leaves holding much more than the leaves do (see `STALE_SHARE`),
    /// and finishing the pass gives that space back before the flush returns
    /// instead of a pass later. Counted at most once per sixteenth of the
    /// live bytes of log, and only if something was removed since the last
    /// count; false in between.
    pub(crate) fn lagging_shrink(&self) -> bool {
        let removes = self.log.removes.load(Ordering::Relaxed);
        if removes == self.removes_seen.load(Ordering::Relaxed) {
            return false; // nothing removed since the last count: nothing shrank
        }
        let live = self.pages.live_bytes();
        let written = self.log.bytes_written.load(Ordering::Relaxed);
        let checked = self.stale_checked.load(Ordering::Relaxed);
        if written.saturating_sub(checked) < MIN_STALE_CHECK.max(live / 16)
            || self
                .stale_checked
                .compare_exchange(checked, written, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        self.removes_seen.store(removes, Ordering::Relaxed);
        self.shared.cache.stale_bytes() > live / STALE_SHARE
    }

    /// Dirty bytes a checkpoint copies before it may stop: a sixteenth of the
    /// database, so that the pages it replaces, which stay on disk until it
    /// is durable, are a sixteenth too.
    fn run_bytes(&self, live: u64) -> u64 {
        self.run_bytes.unwrap_or(MIN_RUN_BYTES.max(live / PASS_RUNS))
    }

    /// Log bytes past the replay start that make writers wait (see
    /// `log::Backlog`): a quarter of the live bytes, so that the files stay
    /// within about 1.4× the data even when writes outrun checkpoints.
    fn backlog_limit(&self) -> u64 {
        MIN_BACKLOG.max(self.pages.live_bytes() / 4)
    }

    /// Log bytes that make the next run due: a pass should complete within
    /// an eighth of the live bytes of log (at least `MIN_LOG_BYTES`), and
    /// within a quarter of the cache, because dirty leaves cannot be evicted.
    fn run_log_bytes(&self) -> u64 {
        let live = self.pages.live_bytes();
        let pass = MIN_LOG_BYTES.max(live / 8).min(self.shared.cache.capacity() / 4);
        pass / live.div_ceil(self.run_bytes(live).max(1)).clamp(1, PASS_RUNS)
    }

    fn checkpoint_locked(&self, state: &mut State) -> Result<Since> {
        state.log_mark = self.log.bytes_written.load(Ordering::Relaxed);
        let next_lsn = self.log.next_lsn();
        state.quiet = next_lsn == state.lsn_mark;
        state.lsn_mark = next_lsn;
        state.started = Instant::now();
        let bytes_before = self.pages.bytes_written.load(Ordering::Relaxed);
        let (seq, lsn) = self.log.start_file()?;
        let since = Since {
            seq,
            lsn,
            mark: self.log.bytes_written.load(Ordering::Relaxed),
        };
        let (mut trees, next_tree) = {
            let catalog = read(&self.catalog);
            let trees: Vec<_> = catalog.by_name.values().cloned().collect();
            (trees, catalog.next_id)
        };
        trees.sort_by_key(|t| t.id);
        let ids_reserved = lock(&self.ids).reserved_upto();
        let layout = &mut state.layout;
        layout.advance(since);
        layout.retain_trees(|id| trees.iter().any(|t| t.id == id));
        let runs = self.capture(layout, &trees);
        let next_leaf = self.shared.leaf_ids.load(Ordering::Relaxed);

        // Which pages and blobs stay where they are, and so which segments to
        // empty: live bytes per segment once this checkpoint drops the leaves
        // of dropped trees and its runs replace their entries, from the page
        // store's count (exact for the table) and those changes alone, so a
        // run costs in proportion to its size.
        let usage = self.pages.usage();
        let mut live: IdMap<u64, u64> = usage.iter().map(|s| (s.seq, s.live)).collect();
        let dropped: Vec<Placed> = layout.dropped().filter_map(|id| self.pages.placed(id)).collect();
        let mut gone: Vec<Loc> = dropped.iter().flat_map(Placed::locs).collect();
        let mut replaced = IdSet::default();
        for (tree, _, run) in &runs {
            for e in layout.entries_in(*tree, &run.from, run.to.as_deref()) {
                replaced.insert(e.id);
                gone.extend(e.placed.locs());
            }
        }
        for (seg, bytes) in bytes_by_segment(gone.into_iter()) {
            if let Some(live) = live.get_mut(&seg) {
                *live = live.saturating_sub(bytes);
            }
        }
        let mut kept: IdMap<u64, Placed> = IdMap::default();
        let mut staying = Vec::new();
        for (_, _, run) in &runs {
            for (leaf, _, c) in &run.leaves {
                match c {
                    Captured::Clean => {
                        let placed = self.pages.placed(leaf.id).ok_or_else(|| {
                            Error::ReportableBug(format!("clean leaf {} has no page", leaf.id))
                        })?;
                        staying.extend(placed.locs());
                        kept.insert(leaf.id, placed);
                    }
                    Captured::Dirty { blobs, .. } => staying.extend(
                        blobs
                            .values()
                            .copied()
                            .filter(|loc| self.pages.blob_is_live(*loc)),
                    ),
                }
            }
        }
        for (seg, bytes) in bytes_by_segment(staying.into_iter()) {
            *live.entry(seg).or_default() += bytes;
        }
        let ahead = bytes_by_segment(layout.ahead().flat_map(|e| e.placed.locs()));
        let victims = self.pick_victims(&usage, &live, &ahead);
        let mut placer = Placer {
            victims,
            writer: self.pages.writer(self.segment_size),
            pages: &self.pages,
            level: self.level,
            saving: Vec::new(),
            new_blobs: Vec::new(),
            copied: 0,
        };
        let mut placed_runs = Vec::with_capacity(runs.len());
        for (tree, name, run) in runs {
            let mut entries = Vec::with_capacity(run.leaves.len());
            for (leaf, lo, c) in run.leaves {
                let placed = match c {
                    Captured::Dirty { hi, entries, blobs } => {
                        placer.dirty(&leaf, tree, &lo, hi.as_deref(), entries, &blobs)?
                    }
                    Captured::Clean => placer.clean(leaf.id, kept.remove(&leaf.id).unwrap_or_default())?,
                };
                entries.push((lo, leaf.id, placed));
            }
            placed_runs.push((tree, name, run.from, run.to, entries));
        }
        // Pages outside the runs that lie in a segment being emptied move,
        // as they are: they still hold what they held.
        if !placer.victims.is_empty() {
            layout.relocate(|e| {
                if e.placed.locs().any(|l| placer.victims.contains(&l.segment)) && !replaced.contains(&e.id) {
                    placer.clean(e.id, e.placed.clone()).map(Some)
                } else {
                    Ok(None)
                }
            })?;
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
        // From here on a failure poisons the engine: the layout in memory may
        // run ahead of the durable one, but nothing uses it again.
        for (tree, name, from, to, entries) in placed_runs {
            layout.replace(tree, &name, (&from, to.as_deref()), entries, since);
        }
        let from = layout.replay_from();
        let ckpt = Checkpoint {
            log_seq: from.seq,
            start_lsn: from.lsn,
            next_tree,
            ids_reserved,
            next_leaf,
            next_segment: self.pages.next_segment(),
            written_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            trees: Vec::new(),
        };
        let bytes = layout.encode(&ckpt);
        crate::io::replace_file(
            &*self.storage,
            &self.path,
            checkpoint::TEMP_NAME,
            checkpoint::FILE_NAME,
            &bytes,
        )?;
        self.pages.install(layout.take_changes(), segments)?;
        #[cfg(debug_assertions)]
        self.pages.check_table(&layout.table());
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
        self.log.remove_files_before(from.seq)?;
        self.log.backlog.moved_to(from.mark);
        state.last.pages_copied = copied;
        state.last.bytes_written = self.pages.bytes_written.load(Ordering::Relaxed) - bytes_before;
        Ok(since)
    }

    /// Captures this checkpoint's runs: every tree the table lacks, whole,
    /// then the pass's next run from the cursor, which it moves on (back to
    /// the start once the pass reaches the last tree's end). Trees dropped
    /// meanwhile leave the layout.
    fn capture(&self, layout: &mut Layout, trees: &[Arc<TreeCore>]) -> Vec<(TreeId, IVec, Run)> {
        let mut runs = Vec::new();
        let mut dropped = Vec::new();
        for core in trees.iter().filter(|t| !layout.has_tree(t.id)) {
            match core.capture(&[], u64::MAX, |_| false) {
                Some(run) => runs.push((core.id, core.name.clone(), run)),
                None => dropped.push(core.id),
            }
        }
        let mut left = self.run_bytes(self.pages.live_bytes());
        let (at_tree, at_key) = layout.cursor.clone();
        let mut cursor = (0, IVec::empty());
        for core in trees.iter().filter(|t| t.id >= at_tree && layout.has_tree(t.id)) {
            if left == 0 {
                cursor = (core.id, IVec::empty());
                break;
            }
            let from = if core.id == at_tree { &at_key[..] } else { &[] };
            let Some(run) = core.capture(from, left, |lo| layout.is_boundary(core.id, lo)) else {
                dropped.push(core.id);
                continue;
            };
            left = left.saturating_sub(run.dirty_bytes);
            let to = run.to.clone();
            runs.push((core.id, core.name.clone(), run));
            if let Some(to) = to {
                cursor = (core.id, to);
                break;
            }
        }
        layout.cursor = cursor;
        for id in dropped {
            layout.remove_tree(id);
        }
        runs
    }

    /// Segments to empty in this checkpoint, given the bytes of pages and
    /// blobs each still holds once the checkpoint is installed (`live`) and
    /// those of them the pass has yet to reach (`ahead`). A segment whose
    /// pages are mostly ahead is left alone: the runs to come rewrite those
    /// that changed, and copying them first would write them twice.
    fn pick_victims(
        &self,
        usage: &[SegmentUse],
        live: &IdMap<u64, u64>,
        ahead: &IdMap<u64, u64>,
    ) -> IdSet<u64> {
        let mut victims = IdSet::default();
        let mut small = Vec::new();
        for seg in usage {
            let still = live.get(&seg.seq).copied().unwrap_or(0);
            if still == 0 {
                continue; // nothing kept there: removed without copying
            }
            if ahead.get(&seg.seq).copied().unwrap_or(0) > still / AHEAD_SHARE {
                continue;
            }
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

/// The background thread that checkpoints when one is due (see `due`) and
/// runs the cache's eviction as writes grow resident leaves.
pub(crate) fn start(checkpoints: Arc<Checkpoints>, every: Duration) -> Result<Periodic> {
    // Writes grow resident leaves without the cache counting them: a pass
    // recounts after every eighth of the capacity written to the log.
    let mut evicted_at = 0;
    Periodic::start("skiff-checkpointer", POLL, move |stopping| {
        let limit = checkpoints.backlog_limit();
        checkpoints.log.backlog.limit.store(limit, Ordering::Release);
        // Back to back while due: writers may be waiting for them. A
        // failure poisons the engine; writers report it. A closing database
        // stops between runs (its closing checkpoint, if any, finishes).
        while !stopping.requested() && checkpoints.due(every) {
            if checkpoints.run().is_err() {
                break;
            }
        }
        let cache = &checkpoints.shared.cache;
        let logged = checkpoints.log.bytes_written.load(Ordering::Relaxed);
        if cache.over() || logged - evicted_at >= cache.capacity() / 8 {
            cache.evict();
            evicted_at = logged;
        }
    })
}
