//! The timed parts of the `txn` subcommand: the fsync probe, durable commits and
//! non-durable transfers.
//!
//! Each multi-threaded run starts its threads together, lets them work for the
//! chosen duration and counts the transactions they finished; the wall-clock time
//! runs from the start signal until the last thread has returned, so a commit still
//! waiting for its fsync at the deadline is counted in both. Every run is checked
//! afterwards (every durable insert is present, no transfer lost or made money), so
//! a broken engine fails the run instead of producing a fast number.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::engines::{self, TxnEngine};
use crate::data::{Key, BATCH_SIZE, KEY_LEN, VALUE_LEN};
use crate::engines::EngineKind;
use crate::BenchResult;

/// Bytes appended before each fsync of the probe (about one small commit record).
pub const PROBE_WRITE: usize = 100;
/// Balance every account starts with; large enough that no account runs dry.
pub const INITIAL_BALANCE: u64 = 1_000_000;

/// Which transaction workload a run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnWorkload {
    /// One insert per transaction, committed durably (`tx.flush()`).
    Durable,
    /// Read two balances, write both back; not durable.
    Transfers,
}

/// One timed run: one engine, one workload, one thread count.
#[derive(Debug, Clone, Copy)]
pub struct TxnRun {
    /// The engine measured.
    pub engine: EngineKind,
    /// The workload.
    pub workload: TxnWorkload,
    /// Number of threads running transactions.
    pub threads: usize,
    /// Transactions committed, all threads together.
    pub commits: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl TxnRun {
    /// Committed transactions per second.
    pub fn per_sec(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The result of the fsync probe.
#[derive(Debug, Clone, Copy)]
pub struct FsyncRate {
    /// Number of write + `sync_data` rounds.
    pub syncs: u64,
    /// Wall-clock time of all of them.
    pub elapsed: Duration,
}

impl FsyncRate {
    /// This probe and `other` as one.
    pub fn merged(self, other: FsyncRate) -> FsyncRate {
        FsyncRate {
            syncs: self.syncs + other.syncs,
            elapsed: self.elapsed + other.elapsed,
        }
    }

    /// Rounds per second.
    pub fn per_sec(&self) -> f64 {
        self.syncs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Average microseconds per round.
    pub fn micros_each(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.syncs.max(1) as f64
    }
}

/// Appends [`PROBE_WRITE`] bytes to a fresh file in `dir` and `sync_data`s it, over
/// and over for `duration`: the rate a single-threaded, one-fsync-per-commit log
/// could reach there. A named file (not an anonymous one) so that the file system
/// journals its growth the way it does for a database's log.
pub fn fsync_rate(dir: &Path, duration: Duration) -> BenchResult<FsyncRate> {
    let mut file = tempfile::Builder::new()
        .prefix("skiff-bench-fsync-")
        .tempfile_in(dir)?;
    let record = [0xA5u8; PROBE_WRITE];
    let start = Instant::now();
    let mut syncs = 0;
    while start.elapsed() < duration {
        file.write_all(&record)?;
        file.as_file().sync_data()?;
        syncs += 1;
    }
    let elapsed = start.elapsed();
    file.close()?;
    Ok(FsyncRate { syncs, elapsed })
}

/// Runs `work(thread, stop)` on `threads` threads released together; each returns
/// how many transactions it committed and must return soon after `stop` is set,
/// which happens `duration` after the release. Returns the total and the time
/// from the release until the last thread returned.
fn run_threads<F>(threads: usize, duration: Duration, work: F) -> BenchResult<(u64, Duration)>
where
    F: Fn(usize, &AtomicBool) -> BenchResult<u64> + Sync,
{
    let start_line = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start_line, stop, work) = (&start_line, &stop, &work);
                s.spawn(move || {
                    start_line.wait();
                    work(t, stop)
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        // The coordinator sleeps rather than polls, so it takes no core from the workers.
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let total = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "transaction thread panicked")?)
            .sum::<BenchResult<u64>>()?;
        Ok((total, start.elapsed()))
    })
}

/// A fresh temporary directory under `parent` and `kind` opened in it.
fn fresh(kind: EngineKind, parent: &Path) -> BenchResult<(tempfile::TempDir, Box<dyn TxnEngine>)> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("skiff-bench-txn-{}-", kind.name()))
        .tempdir_in(parent)?;
    let engine = engines::open(kind, dir.path())?;
    Ok((dir, engine))
}

/// The key of the `n`th durable insert of thread `thread` in the run with
/// `threads` threads: disjoint between threads and between runs.
pub fn durable_key(threads: usize, thread: usize, n: u64) -> Key {
    let mut key = [0u8; KEY_LEN];
    // Thread counts and ids stay far below 2^32, so the halves never overlap.
    key[..8].copy_from_slice(&((threads as u64) << 32 | thread as u64).to_be_bytes());
    key[8..].copy_from_slice(&n.to_be_bytes());
    key
}

/// The key of account `i`.
pub fn account_key(i: u64) -> Key {
    let mut key = [0u8; KEY_LEN];
    key[..8].copy_from_slice(b"account:");
    key[8..].copy_from_slice(&i.to_be_bytes());
    key
}

/// Durable single-insert transactions on one fresh engine, timed in slices so
/// that the caller can interleave the thread counts (and the fsync probe) in
/// rounds: the disk's fsync rate drifts over seconds on shared machines, and a
/// ratio between two rows measured seconds apart would partly measure the drift.
pub struct DurableBench {
    kind: EngineKind,
    engine: Box<dyn TxnEngine>,
    /// Inserts committed so far, all slices together: what the census must find.
    inserted: u64,
    /// Slices run so far, all thread counts together: keys carry the slice's
    /// number, so no two slices write the same key.
    slices: u64,
    /// Kept last so that the engine closes before its directory goes.
    _dir: tempfile::TempDir,
}

impl DurableBench {
    /// A fresh `kind` in a new temporary directory under `parent`.
    pub fn open(kind: EngineKind, parent: &Path) -> BenchResult<DurableBench> {
        let (dir, engine) = fresh(kind, parent)?;
        Ok(DurableBench {
            kind,
            engine,
            inserted: 0,
            slices: 0,
            _dir: dir,
        })
    }

    /// Runs durable inserts on `threads` threads for `duration`, then checks that
    /// every insert committed so far is there.
    pub fn slice(&mut self, threads: usize, duration: Duration) -> BenchResult<TxnRun> {
        let kind = self.kind;
        let engine = self.engine.as_ref();
        // Keys are unique per (slice, thread count, thread, n).
        let slice = self.slices;
        self.slices += 1;
        let (commits, elapsed) = run_threads(threads, duration, |t, stop| {
            let value = [0x5A; VALUE_LEN];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                engine.durable_insert(&durable_key(threads, t, slice << 40 | n), &value)?;
                n += 1;
            }
            Ok(n)
        })
        .map_err(|e| format!("{} durable commits, {threads} threads: {e}", kind.name()))?;
        self.inserted += commits;
        let found = engine.census()?.entries;
        if found != self.inserted {
            return Err(format!(
                "{}: {found} entries after {} durable inserts",
                kind.name(),
                self.inserted
            )
            .into());
        }
        Ok(TxnRun {
            engine: kind,
            workload: TxnWorkload::Durable,
            threads,
            commits,
            elapsed,
        })
    }
}

impl TxnRun {
    /// This run and `other` (same engine, workload and threads) as one run.
    pub fn merged(self, other: TxnRun) -> TxnRun {
        debug_assert_eq!(
            (self.engine, self.workload, self.threads),
            (other.engine, other.workload, other.threads)
        );
        TxnRun {
            commits: self.commits + other.commits,
            elapsed: self.elapsed + other.elapsed,
            ..self
        }
    }
}

/// Transfer transactions between `accounts` preloaded accounts on a fresh `kind`,
/// once per entry of `thread_counts`, each for `duration`. Thread `t` draws its
/// accounts from a generator seeded with `seed + t`, so both engines are offered
/// the same transfers.
pub fn transfer_runs(
    kind: EngineKind,
    parent: &Path,
    accounts: u64,
    seed: u64,
    thread_counts: &[usize],
    duration: Duration,
) -> BenchResult<Vec<TxnRun>> {
    let (dir, engine) = fresh(kind, parent)?;
    let engine = engine.as_ref();
    eprintln!("{:>6}: preloading {accounts} accounts", kind.name());
    let balance = INITIAL_BALANCE.to_be_bytes();
    let keys: Vec<Key> = (0..accounts).map(account_key).collect();
    for chunk in keys.chunks(BATCH_SIZE) {
        let entries: Vec<(&[u8], &[u8])> = chunk.iter().map(|k| (&k[..], &balance[..])).collect();
        engine.load(&entries)?;
    }
    engine.flush()?;
    let expected = engines::Census {
        entries: accounts,
        balance_sum: u128::from(accounts) * u128::from(INITIAL_BALANCE),
    };

    let mut runs = Vec::with_capacity(thread_counts.len());
    for &threads in thread_counts {
        eprint!("{:>6}: transfers, {threads} thread(s) ", kind.name());
        let (commits, elapsed) = run_threads(threads, duration, |t, stop| {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(t as u64));
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                // Two distinct accounts: `to` is `from` shifted by 1..n.
                let n_keys = keys.len();
                let from = rng.gen_range(0..n_keys);
                let to = (from + rng.gen_range(1..n_keys)) % n_keys;
                engine.transfer(&keys[from], &keys[to])?;
                n += 1;
            }
            Ok(n)
        })
        .map_err(|e| format!("{} transfers, {threads} threads: {e}", kind.name()))?;
        let run = TxnRun {
            engine: kind,
            workload: TxnWorkload::Transfers,
            threads,
            commits,
            elapsed,
        };
        eprintln!("{:>10.0} txns/s  ({commits} in {elapsed:.2?})", run.per_sec());
        let found = engine.census()?;
        if found != expected {
            return Err(format!(
                "{}: after transfers found {found:?}, expected {expected:?}",
                kind.name()
            )
            .into());
        }
        runs.push(run);
    }
    drop(dir);
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_disjoint() {
        assert_ne!(durable_key(2, 0, 1), durable_key(2, 1, 1));
        assert_ne!(durable_key(2, 0, 1), durable_key(4, 0, 1));
        assert_ne!(durable_key(1, 0, 1), account_key(1));
        assert_eq!(&account_key(7)[8..], &7u64.to_be_bytes());
    }

    /// Short runs of both workloads on both engines pass their own checks.
    #[test]
    fn short_runs_check_out() {
        let dir = tempfile::tempdir().unwrap();
        let tick = Duration::from_millis(30);
        let probe = fsync_rate(dir.path(), tick).unwrap();
        assert!(probe.per_sec().is_finite());
        for kind in [EngineKind::Skiff, EngineKind::Sled] {
            // Two rounds over the same engine: the second slice of each thread
            // count adds new keys, and every census finds all of them.
            let mut bench = DurableBench::open(kind, dir.path()).unwrap();
            let mut total = bench.slice(1, tick).unwrap();
            bench.slice(2, tick).unwrap();
            total = total.merged(bench.slice(1, tick).unwrap());
            assert_eq!(total.threads, 1);
            assert!(total.commits > 0 && total.elapsed >= 2 * tick);
            let runs = transfer_runs(kind, dir.path(), 50, 1, &[1, 2], tick).unwrap();
            assert!(runs.iter().all(|r| r.workload == TxnWorkload::Transfers));
        }
    }
}
