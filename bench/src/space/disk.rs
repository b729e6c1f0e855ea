//! Phases 1 to 4 of `space` on one engine: load, overwrites, reopens, mass delete,
//! measuring the database directory's size after each.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::args::SpaceArgs;
use super::data::{dir_size, key, mix, remove_where, write_all, DiskUsage, Permutation};
use crate::data::KEY_LEN;
use crate::engines::{Engine, EngineKind, OpenOptions};
use crate::BenchResult;

/// Number of timed reopens; the report shows their median.
pub const REOPENS: usize = 3;

/// Everything phases 1 to 4 measured on one engine.
#[derive(Debug, Clone)]
pub struct DiskResult {
    /// Which engine.
    pub kind: EngineKind,
    /// Size after loading every key and flushing.
    pub load_size: DiskUsage,
    /// Size after that, idle for `--idle-ms`.
    pub load_idle: DiskUsage,
    /// Time to load every key and flush.
    pub load_time: Duration,
    /// The largest size seen during the overwrite passes (sampled every
    /// 100 ms).
    pub overwrite_peak: DiskUsage,
    /// Size right after the overwrite passes and their flush.
    pub overwrite_flushed: DiskUsage,
    /// Size after that, idle for `--idle-ms`.
    pub overwrite_idle: DiskUsage,
    /// Size after closing the database.
    pub overwrite_closed: DiskUsage,
    /// Time of all overwrite passes and the flush.
    pub overwrite_time: Duration,
    /// Time to close (drop) the database after the overwrites.
    pub close_time: Duration,
    /// Time to open the database and get a first key, per reopen.
    pub reopen_times: Vec<Duration>,
    /// Keys left after the mass delete.
    pub kept: u64,
    /// Size right after the mass delete and its flush.
    pub delete_flushed: DiskUsage,
    /// Size after that, idle for `--idle-ms`.
    pub delete_idle: DiskUsage,
    /// Size after closing the database.
    pub delete_closed: DiskUsage,
    /// Time of the mass delete and its flush.
    pub delete_time: Duration,
}

impl DiskResult {
    /// Median of the reopen times.
    pub fn reopen_median(&self) -> Duration {
        let mut times = self.reopen_times.clone();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }
}

/// Seed of the order of pass `pass` (0 = the load; 1..=P the overwrites; then the
/// delete and the reads).
pub fn order_seed(seed: u64, pass: u64) -> u64 {
    mix(seed ^ mix(pass))
}

/// Runs phases 1 to 4 for `kind` in the empty directory `dir`.
pub fn run(kind: EngineKind, dir: &Path, opts: &SpaceArgs) -> BenchResult<DiskResult> {
    let name = kind.name();
    let n = opts.keys;
    let open_opts = OpenOptions {
        keys: usize::try_from(n)?,
        entry_len: KEY_LEN + opts.value_len,
        cache_bytes: None,
    };
    let open = || kind.open_with(dir, &open_opts);
    let mut rng = StdRng::seed_from_u64(opts.seed);

    // 1. Load.
    eprintln!("space/{name}: loading {n} keys ...");
    let db = open()?;
    let start = Instant::now();
    write_all(
        &*db,
        &Permutation::new(n, order_seed(opts.seed, 0)),
        opts.value_len,
        &mut rng,
    )?;
    db.flush()?;
    let load_time = start.elapsed();
    let load_size = dir_size(dir)?;
    std::thread::sleep(opts.idle);
    let load_idle = dir_size(dir)?;

    // 2. Overwrites.
    let start = Instant::now();
    let ((), overwrite_peak) = peak_during(dir, || {
        for pass in 1..=opts.passes {
            eprintln!("space/{name}: overwrite pass {pass} of {} ...", opts.passes);
            let order = Permutation::new(n, order_seed(opts.seed, u64::from(pass)));
            write_all(&*db, &order, opts.value_len, &mut rng)?;
        }
        db.flush()
    })?;
    let overwrite_time = start.elapsed();
    let overwrite_flushed = dir_size(dir)?;
    std::thread::sleep(opts.idle);
    let overwrite_idle = dir_size(dir)?;
    let start = Instant::now();
    drop(db);
    let close_time = start.elapsed();
    let overwrite_closed = dir_size(dir)?;

    // 3. Reopens: open, then get a first key; the last one stays open.
    eprintln!("space/{name}: reopening {REOPENS} times ...");
    let probe = key(0);
    let mut reopen_times = Vec::with_capacity(REOPENS);
    let mut db = None;
    for _ in 0..REOPENS {
        drop(db.take());
        let start = Instant::now();
        let reopened = open()?;
        let got = reopened.get(&probe)?;
        reopen_times.push(start.elapsed());
        if got != Some(opts.value_len) {
            return Err(format!("{name}: key 0 not found after reopening").into());
        }
        db = Some(reopened);
    }
    let db: Box<dyn Engine> = db.ok_or("no reopen")?;
    check_sample(&*db, n, opts, |_| true)?;

    // 4. Mass delete of every key whose index % 10 != 0.
    eprintln!("space/{name}: deleting 90% of the keys ...");
    let start = Instant::now();
    let order = Permutation::new(n, order_seed(opts.seed, u64::from(opts.passes) + 1));
    let removed = remove_where(&*db, &order, |i| i % 10 != 0)?;
    db.flush()?;
    let delete_time = start.elapsed();
    let delete_flushed = dir_size(dir)?;
    std::thread::sleep(opts.idle);
    let delete_idle = dir_size(dir)?;
    check_sample(&*db, n, opts, |i| i % 10 == 0)?;
    drop(db);
    let delete_closed = dir_size(dir)?;

    Ok(DiskResult {
        kind,
        load_size,
        load_idle,
        load_time,
        overwrite_peak,
        overwrite_flushed,
        overwrite_idle,
        overwrite_closed,
        overwrite_time,
        close_time,
        reopen_times,
        kept: n - removed,
        delete_flushed,
        delete_idle,
        delete_closed,
        delete_time,
    })
}

/// Runs `f` while a thread samples the size of `dir` every 100 ms; returns
/// `f`'s result and the largest size seen (by file length).
fn peak_during<T>(dir: &Path, f: impl FnOnce() -> BenchResult<T>) -> BenchResult<(T, DiskUsage)> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = DiskUsage::default();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A file removed during the walk makes it fail: skip that sample.
                if let Ok(now) = dir_size(dir) {
                    if now.len > peak.len {
                        peak = now;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        let out = f();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().map_err(|_| "the size sampler panicked")?;
        Ok((out?, peak))
    })
}

/// Checks 1,000 spread-out keys: present with the right length iff `present(i)`.
fn check_sample(db: &dyn Engine, n: u64, opts: &SpaceArgs, present: impl Fn(u64) -> bool) -> BenchResult<()> {
    let step = (n / 1000).max(1);
    for i in (0..n).step_by(usize::try_from(step)?) {
        let want = present(i).then_some(opts.value_len);
        let got = db.get(&key(i))?;
        if got != want {
            return Err(format!("key {i}: expected {want:?}, got {got:?}").into());
        }
    }
    Ok(())
}
