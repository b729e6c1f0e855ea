//! Observability and checking: `Db::stats` and `Db::verify`.

use std::time::{Duration, SystemTime};

use crate::sync::{lock, Ordering};
use crate::{recovery, Db, Error, Result};

/// A picture of the database's disk use and checkpoints, from
/// [`Db::stats`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// Point reads and writes that found their leaf in memory.
    pub cache_hits: u64,
    /// Leaves read back from their pages (by any access).
    pub cache_misses: u64,
    /// Bytes of leaves in memory, as of the cache's last count.
    pub resident_bytes: u64,
    /// The configured `cache_capacity`.
    pub cache_capacity: u64,
    /// Bytes in all the database's files (as `size_on_disk`).
    pub disk_bytes: u64,
    /// Bytes in log files.
    pub log_bytes: u64,
    /// Bytes in segment files.
    pub segment_bytes: u64,
    /// Bytes of the pages the page table references: the live data as
    /// stored (compressed, if compression is on).
    pub live_bytes: u64,
    /// Segment files.
    pub segments: usize,
    /// `disk_bytes / live_bytes` (1.0 for an empty database).
    pub space_amplification: f64,
    /// Bytes written to log and segment files per byte written to the log
    /// since the database was opened (1.0 before any checkpoint).
    pub write_amplification: f64,
    /// Checkpoints written since the database was opened.
    pub checkpoints: u64,
    /// When the last of them finished.
    pub last_checkpoint: Option<SystemTime>,
    /// How long it took.
    pub last_checkpoint_duration: Duration,
    /// Pages it wrote for changed leaves.
    pub last_checkpoint_pages_written: u64,
    /// Pages it copied out of segments being cleaned.
    pub last_checkpoint_pages_copied: u64,
    /// Bytes of pages and blobs (large values stored out of line) it wrote.
    pub last_checkpoint_bytes_written: u64,
}

/// What [`Db::verify`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Verification {
    /// Pages read and checked.
    pub pages_checked: u64,
    /// Log records read and checked.
    pub log_records_checked: u64,
    /// Every damaged page or record: `Error::Corruption` naming the file and
    /// offset, or the I/O error that kept a file from being read.
    pub problems: Vec<Error>,
}

impl Verification {
    /// Whether nothing was damaged.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Db {
    /// Disk use, amplification and checkpoint figures. Not in sled.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.insert(b"k", vec![1u8; 100])?;
    /// db.checkpoint()?;
    /// let stats = db.stats()?;
    /// assert_eq!(stats.checkpoints, 1);
    /// assert!(stats.live_bytes >= 100 && stats.disk_bytes >= stats.live_bytes);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn stats(&self) -> Result<Stats> {
        let checkpoints = &self.engine.checkpoints;
        let last = *lock(&checkpoints.last);
        let usage = checkpoints.pages.usage();
        let segment_bytes: u64 = usage.iter().map(|u| u.size).sum();
        let live_bytes: u64 = usage.iter().map(|u| u.live).sum();
        let wal = self.engine.path.join(crate::db::WAL_DIR);
        let log_bytes = crate::io::dir_bytes(&*self.engine.storage, &wal, &[])?;
        let disk_bytes = self.size_on_disk()?;
        let logged = self.engine.log.bytes_written.load(Ordering::Relaxed);
        let paged = checkpoints.pages.bytes_written.load(Ordering::Relaxed);
        let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let cache = &self.engine.shared.cache;
        Ok(Stats {
            cache_hits: cache.hits(),
            cache_misses: cache.misses.load(Ordering::Relaxed),
            resident_bytes: cache.resident(),
            cache_capacity: cache.capacity(),
            disk_bytes,
            log_bytes,
            segment_bytes,
            live_bytes,
            segments: usage.len(),
            space_amplification: ratio(disk_bytes, live_bytes),
            write_amplification: ratio(logged + paged, logged),
            checkpoints: last.count,
            last_checkpoint: last.at,
            last_checkpoint_duration: last.duration,
            last_checkpoint_pages_written: last.pages_written,
            last_checkpoint_pages_copied: last.pages_copied,
            last_checkpoint_bytes_written: last.bytes_written,
        })
    }

    /// Reads the checkpoint file, every page and blob the page table
    /// references and every log record, checks every checksum, and reports
    /// what is damaged. Reads and writes go
    /// on meanwhile; checkpoints wait. Not in sled.
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.insert(b"k", b"v")?;
    /// db.checkpoint()?;
    /// let report = db.verify()?;
    /// assert!(report.is_ok(), "{:?}", report.problems);
    /// assert!(report.pages_checked >= 1);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn verify(&self) -> Result<Verification> {
        self.verify_with_progress(|_, _| {})
    }

    /// [`verify`](Db::verify), calling `progress(done, total)` as it goes
    /// (`total` counts pages; log records are added as they are found).
    ///
    /// ```
    /// let db = skiff_engine::Config::new().temporary(true).open()?;
    /// db.insert(b"k", b"v")?;
    /// db.checkpoint()?;
    /// let mut last = (0, 0);
    /// let report = db.verify_with_progress(|done, total| last = (done, total))?;
    /// assert!(report.is_ok());
    /// assert_eq!(last.0, last.1);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn verify_with_progress(&self, mut progress: impl FnMut(u64, u64)) -> Result<Verification> {
        let engine = &self.engine;
        let checkpoints = &engine.checkpoints;
        // No checkpoint may remove files while they are read.
        let _one_at_a_time = lock(&checkpoints.state);
        let mut problems = Vec::new();
        if let Err(e) = recovery::load_checkpoint(&*engine.storage, &engine.path) {
            problems.push(e);
        }
        let pages = checkpoints.pages.page_count();
        let mut done = 0;
        let pages_checked = checkpoints.pages.verify(&mut |e| problems.push(e), &mut || {
            done += 1;
            progress(done, pages);
        });
        let wal = engine.path.join(crate::db::WAL_DIR);
        let mut records = 0;
        let log_records_checked = recovery::verify_log(
            &*engine.storage,
            &wal,
            engine.log.written_end(),
            &mut |e| problems.push(e),
            &mut || {
                records += 1;
                progress(pages + records, pages + records);
            },
        )?;
        Ok(Verification {
            pages_checked,
            log_records_checked,
            problems,
        })
    }
}
