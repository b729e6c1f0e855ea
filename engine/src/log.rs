//! The write-ahead log writer: append, group flush, file rolling, poisoning.
//!
//! Appending encodes a record into an in-memory buffer under a short mutex and
//! hands out the next LSN. Bytes reach the file when the buffer grows past
//! [`WRITE_THRESHOLD`], when the background flusher runs, or when someone calls
//! `flush`. Flushing is group commit (`group_commit`): one caller writes
//! everything buffered and fsyncs once while the others wait for it, and those
//! it covered return without another fsync.
//!
//! Files are `wal/<seq>.log`, each a header and then records. A file is fsynced
//! before the next one is created, and the directory is fsynced after creating
//! one, so only the newest file can have a torn tail.
//!
//! Invariant: after a failed write or fsync the log is poisoned and every later
//! append fails with `Error::Poisoned`; nothing unsynced is ever reported durable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::background::Periodic;
use crate::group_commit::GroupCommit;
use crate::io::{Storage, StorageFile};
use crate::record::{self, OpRef};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, Condvar, Mutex, Ordering};
use crate::versions::Stamp;
use crate::{Error, Result, MAX_BATCH_BYTES};

/// Buffered bytes that make an appender write them out (without fsync).
const WRITE_THRESHOLD: usize = 1 << 20;

/// Name of the log file with sequence number `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:020}.log")
}

/// Parses a log file name back into its sequence number.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Where appending resumes after recovery.
pub(crate) struct Tail {
    pub seq: u64,
    pub len: u64,
    pub next_lsn: u64,
}

struct Pending {
    bytes: Vec<u8>,
    next_lsn: u64,
    /// Open snapshots: the LSN each reads at, and how many read there. Kept
    /// here because a writer must learn the oldest one atomically with its LSN
    /// (see `versions`).
    snapshots: BTreeMap<u64, usize>,
}

struct Io {
    file: Box<dyn StorageFile>,
    path: PathBuf,
    seq: u64,
    len: u64,
    /// Every record with a smaller LSN is in a file.
    written_lsn: u64,
    spare: Vec<u8>,
}

pub(crate) struct Log {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    file_limit: u64,
    pending: Mutex<Pending>,
    io: Mutex<Io>,
    /// Every record with a smaller LSN has been fsynced.
    durable_lsn: AtomicU64,
    /// Set when the buffer passed `WRITE_THRESHOLD`; cleared by `write_out`.
    write_due: AtomicBool,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    group: GroupCommit,
    /// Bytes written to log files since opening (checkpoints are due by it).
    pub bytes_written: AtomicU64,
    /// Remove ops appended since the log was opened: a flush looks for data
    /// shrinking only after some (see `Checkpoints::lagging_shrink`).
    pub removes: AtomicU64,
    /// Write backpressure (see `throttle`).
    pub backlog: Backlog,
}

/// Writers wait while the log that recovery would replay has grown past a
/// limit: the checkpointer could not keep up, and that log is disk space (and
/// reopen time) the database promised to bound. The checkpointer sets the
/// limit and moves the start as it completes passes.
pub(crate) struct Backlog {
    /// `bytes_written` where replay would start.
    start: AtomicU64,
    /// Bytes of log past `start` that make writers wait; `u64::MAX` (no
    /// background checkpointer) never does.
    pub limit: AtomicU64,
    waiting: Mutex<()>,
    moved: Condvar,
}

impl Backlog {
    fn new() -> Backlog {
        Backlog {
            start: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            waiting: Mutex::new(()),
            moved: Condvar::new(),
        }
    }

    /// Sets where replay starts and wakes waiting writers.
    pub(crate) fn moved_to(&self, start: u64) {
        self.start.store(start, Ordering::Release);
        let _g = lock(&self.waiting);
        self.moved.notify_all();
    }

    /// Lifts the limit for good (the checkpointer stopped).
    pub(crate) fn lift(&self) {
        self.limit.store(u64::MAX, Ordering::Release);
        let _g = lock(&self.waiting);
        self.moved.notify_all();
    }

    fn over(&self, written: u64) -> bool {
        written.saturating_sub(self.start.load(Ordering::Acquire)) > self.limit.load(Ordering::Acquire)
    }
}

impl Log {
    /// Opens the log for appending at `tail`, which recovery has validated.
    pub(crate) fn open(storage: Arc<dyn Storage>, dir: &Path, file_limit: u64, tail: Tail) -> Result<Log> {
        let path = dir.join(file_name(tail.seq));
        let file = storage
            .open(&path, false)
            .map_err(|e| Error::io("open log file", &path, e))?;
        // Recovery may have replayed bytes that reached the file before a process
        // crash but were never fsynced. Sync them before any new record claims,
        // through its `durable_lsn`, that they are durable.
        file.sync().map_err(|e| Error::io("fsync log", &path, e))?;
        Ok(Log {
            storage,
            dir: dir.to_path_buf(),
            file_limit,
            pending: Mutex::new(Pending {
                bytes: Vec::with_capacity(64 * 1024),
                next_lsn: tail.next_lsn,
                snapshots: BTreeMap::new(),
            }),
            io: Mutex::new(Io {
                file,
                path,
                seq: tail.seq,
                len: tail.len,
                written_lsn: tail.next_lsn,
                spare: Vec::new(),
            }),
            durable_lsn: AtomicU64::new(tail.next_lsn),
            write_due: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            group: GroupCommit::default(),
            bytes_written: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            backlog: Backlog::new(),
        })
    }

    /// Creates the first log file of a new database.
    pub(crate) fn create_first_file(storage: &dyn Storage, dir: &Path) -> Result<Tail> {
        create_file(storage, dir, 1)?;
        Ok(Tail {
            seq: 1,
            len: record::FILE_HEADER_LEN as u64,
            next_lsn: 1,
        })
    }

    /// Fails if an earlier I/O error poisoned the log.
    pub(crate) fn check_poison(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            let cause = lock(&self.poison_cause).clone().unwrap_or_default();
            return Err(Error::Poisoned { cause });
        }
        Ok(())
    }

    /// Refuses every later write until the database is reopened (after a
    /// failed write or fsync anywhere in the engine).
    pub(crate) fn poison(&self, err: &Error) {
        let mut cause = lock(&self.poison_cause);
        if cause.is_none() {
            *cause = Some(err.to_string());
        }
        self.poisoned.store(true, Ordering::Release);
    }

    /// Appends one record holding `ops` and returns its LSN with the oldest
    /// open snapshot. The record is durable only after a later `flush` (or the
    /// background flusher). Callers hold leaf locks here, so this never does
    /// I/O; they call `write_behind` once they have released them.
    pub(crate) fn append<'a, I>(&self, ops: I) -> Result<Stamp>
    where
        I: IntoIterator<Item = OpRef<'a>>,
        I::IntoIter: Clone,
    {
        self.append_then(ops, |_| {})
    }

    /// Like `append`, and runs `then` with the LSN before any later record gets
    /// one: what `then` publishes is seen in log order.
    pub(crate) fn append_then<'a, I>(&self, ops: I, then: impl FnOnce(u64)) -> Result<Stamp>
    where
        I: IntoIterator<Item = OpRef<'a>>,
        I::IntoIter: Clone,
    {
        let ops = ops.into_iter();
        let (size, removes) = ops.clone().fold((0, 0), |(size, removes), op| {
            (
                size + record::op_len(&op),
                removes + u64::from(matches!(op, OpRef::Remove { .. })),
            )
        });
        if size > MAX_BATCH_BYTES {
            return Err(Error::BatchTooLarge {
                len: size,
                max: MAX_BATCH_BYTES,
            });
        }
        self.check_poison()?;
        let mut p = lock(&self.pending);
        let lsn = p.next_lsn;
        p.next_lsn += 1;
        record::encode(&mut p.bytes, lsn, self.durable_lsn.load(Ordering::Acquire), ops);
        if p.bytes.len() >= WRITE_THRESHOLD {
            self.write_due.store(true, Ordering::Relaxed);
        }
        let oldest = p.snapshots.keys().next().copied();
        if removes > 0 {
            self.removes.fetch_add(removes, Ordering::Relaxed);
        }
        then(lsn);
        Ok(Stamp { lsn, oldest })
    }

    /// Opens a snapshot: returns the LSN it reads at (every record up to it,
    /// none after). Writers keep what it needs until `close_snapshot`.
    pub(crate) fn open_snapshot(&self) -> u64 {
        let mut p = lock(&self.pending);
        let at = p.next_lsn - 1;
        *p.snapshots.entry(at).or_insert(0) += 1;
        at
    }

    /// Closes a snapshot opened at `at`. Returns the LSN at or below which no
    /// open or future snapshot reads (the oldest open one, or the last LSN
    /// assigned), and whether no snapshot is open any more.
    pub(crate) fn close_snapshot(&self, at: u64) -> (u64, bool) {
        let mut p = lock(&self.pending);
        if let Some(n) = p.snapshots.get_mut(&at) {
            *n -= 1;
            if *n == 0 {
                p.snapshots.remove(&at);
            }
        }
        match p.snapshots.keys().next() {
            Some(&oldest) => (oldest, false),
            None => (p.next_lsn - 1, true),
        }
    }

    /// Writes the buffer out (without fsync) if it has grown large, so memory
    /// stays bounded between flushes. Called with no leaf lock held.
    #[inline]
    pub(crate) fn write_behind(&self) -> Result<()> {
        if self.write_due.load(Ordering::Relaxed) {
            self.write_out(None)?;
        }
        if self.backlog.over(self.bytes_written.load(Ordering::Relaxed)) {
            self.throttle();
        }
        Ok(())
    }

    /// Waits while the backlog is over its limit (see `Backlog`). The
    /// timeout re-checks a poisoned engine, whose checkpointer stopped.
    #[cold]
    fn throttle(&self) {
        let mut g = lock(&self.backlog.waiting);
        while self.backlog.over(self.bytes_written.load(Ordering::Relaxed))
            && !self.poisoned.load(Ordering::Relaxed)
        {
            g = match self.backlog.moved.wait_timeout(g, Duration::from_millis(50)) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// The LSN the next append will get.
    pub(crate) fn next_lsn(&self) -> u64 {
        lock(&self.pending).next_lsn
    }

    /// Makes every record appended before this call durable. Returns the bytes
    /// this call wrote (0 if another flush already covered them).
    pub(crate) fn flush(&self) -> Result<usize> {
        let target = self.next_lsn();
        self.sync_to(target)
    }

    /// Makes every record with an LSN below `target` durable. Concurrent
    /// callers share fsyncs (see `group_commit`).
    pub(crate) fn sync_to(&self, target: u64) -> Result<usize> {
        // Poisoned by a failed checkpoint, the log may have nothing left to
        // sync; the caller must still learn that the engine is failing.
        self.check_poison()?;
        self.group
            .sync(target, &self.durable_lsn, || self.write_out(Some(target)))
    }

    /// Writes buffered records to the file; with `Some(target)`, also fsyncs
    /// unless another flush already made `target` durable.
    fn write_out(&self, sync_target: Option<u64>) -> Result<usize> {
        let mut io = lock(&self.io);
        if let Some(target) = sync_target {
            if self.durable_lsn.load(Ordering::Acquire) >= target {
                return Ok(0);
            }
        }
        self.check_poison()?;
        let io = &mut *io;
        let written = self.write_pending(io)?;
        if sync_target.is_some() && self.durable_lsn.load(Ordering::Acquire) < io.written_lsn {
            io.file
                .sync()
                .map_err(|e| Error::io("fsync log", &io.path, e))
                .inspect_err(|e| self.poison(e))?;
            self.durable_lsn.store(io.written_lsn, Ordering::Release);
        }
        Ok(written)
    }

    /// Moves the buffer into the file (rolling to a new file when this one is
    /// full). Returns the bytes written.
    fn write_pending(&self, io: &mut Io) -> Result<usize> {
        let end_lsn = {
            let mut p = lock(&self.pending);
            self.write_due.store(false, Ordering::Relaxed);
            std::mem::swap(&mut p.bytes, &mut io.spare);
            p.next_lsn
        };
        let written = io.spare.len();
        if written > 0 {
            if io.len >= self.file_limit {
                self.roll(io).inspect_err(|e| self.poison(e))?;
            }
            let res = io.file.write_all_at(&io.spare, io.len);
            io.spare.clear();
            res.map_err(|e| Error::io("write log", &io.path, e))
                .inspect_err(|e| self.poison(e))?;
            io.len += written as u64;
            io.written_lsn = end_lsn;
            self.bytes_written.fetch_add(written as u64, Ordering::Relaxed);
        }
        Ok(written)
    }

    /// Starts a new log file for a checkpoint: everything appended so far goes
    /// to the older files (synced), everything later to the new one. Returns
    /// the new file's sequence number and the LSN of its first record.
    pub(crate) fn start_file(&self) -> Result<(u64, u64)> {
        let mut io = lock(&self.io);
        self.check_poison()?;
        let io = &mut *io;
        self.write_pending(io)?;
        self.roll(io).inspect_err(|e| self.poison(e))?;
        Ok((io.seq, io.written_lsn))
    }

    /// Removes the log files before `seq`, which a durable checkpoint made
    /// unnecessary.
    pub(crate) fn remove_files_before(&self, seq: u64) -> Result<()> {
        remove_files_before(&*self.storage, &self.dir, seq)
    }

    /// The current file's sequence number and how much of it is written:
    /// readers may check everything before that point.
    pub(crate) fn written_end(&self) -> (u64, u64) {
        let io = lock(&self.io);
        (io.seq, io.len)
    }

    /// Seals the current file (fsync) and starts the next one.
    fn roll(&self, io: &mut Io) -> Result<()> {
        io.file.sync().map_err(|e| Error::io("fsync log", &io.path, e))?;
        self.durable_lsn.store(io.written_lsn, Ordering::Release);
        let seq = io.seq + 1;
        let (file, path) = create_file(&*self.storage, &self.dir, seq)?;
        io.file = file;
        io.path = path;
        io.seq = seq;
        io.len = record::FILE_HEADER_LEN as u64;
        Ok(())
    }
}

/// Creates log file `seq` with its header, durably (file and directory fsynced).
fn create_file(storage: &dyn Storage, dir: &Path, seq: u64) -> Result<(Box<dyn StorageFile>, PathBuf)> {
    let path = dir.join(file_name(seq));
    let file = storage
        .open(&path, true)
        .map_err(|e| Error::io("create log file", &path, e))?;
    file.write_all_at(&record::encode_file_header(seq), 0)
        .map_err(|e| Error::io("write log header", &path, e))?;
    file.sync().map_err(|e| Error::io("fsync log", &path, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok((file, path))
}

/// Removes the log files in `dir` numbered below `seq`.
pub(crate) fn remove_files_before(storage: &dyn Storage, dir: &Path, seq: u64) -> Result<()> {
    let mut removed = false;
    for name in storage
        .list_dir(dir)
        .map_err(|e| Error::io("list log directory", dir, e))?
    {
        if parse_file_name(&name).is_some_and(|s| s < seq) {
            let path = dir.join(&name);
            storage
                .remove_file(&path)
                .map_err(|e| Error::io("remove old log file", &path, e))?;
            removed = true;
        }
    }
    if removed {
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync log directory", dir, e))?;
    }
    Ok(())
}

/// The background flusher: fsyncs the log every `every` until dropped.
pub(crate) fn start_flusher(log: Arc<Log>, every: Duration) -> Result<Periodic> {
    Periodic::start("skiff-flusher", every, move |_| {
        // An error poisons the log; writers will report it.
        let _ = log.flush();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert_eq!(parse_file_name("42.log"), None);
        assert_eq!(parse_file_name("0000000000000000004x.log"), None);
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
    }
}
