//! Phase 5 of `space`: peak resident memory while reading a dataset ten times the
//! cache.
//!
//! The parent builds each engine's dataset (10 × `--cache-mb` MiB of raw entries)
//! with the engine's default settings, closes it, and re-executes the benchmark
//! binary as `space-child`, which opens the database with a `--cache-mb` cache,
//! reads every key twice in random order, and prints its peak resident set size
//! (`VmHWM` of `/proc/self/status`) on stdout, where the parent picks it up. A
//! separate process per engine keeps one engine's memory out of another's peak.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::args::{ChildArgs, SpaceArgs};
use super::data::{dir_size, entry_len, key, write_all, DiskUsage, Permutation};
use super::disk::order_seed;
use crate::data::KEY_LEN;
use crate::engines::{EngineKind, OpenOptions};
use crate::BenchResult;

/// The dataset is this many times the cache.
pub const DATASET_OVER_CACHE: u64 = 10;
/// Times the child reads every key.
pub const READ_ROUNDS: u64 = 2;
/// First line word of the child's report on stdout.
const REPORT_TAG: &str = "space-child-report";

/// What the child process measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildReport {
    /// Peak resident memory before the database was opened, in KiB.
    pub baseline_kb: u64,
    /// Peak resident memory at the end of the reads, in KiB (`VmHWM`).
    pub peak_kb: u64,
    /// Resident memory at the end of the reads, in KiB (`VmRSS`).
    pub final_kb: u64,
    /// Gets done.
    pub reads: u64,
    /// Time the gets took, in milliseconds.
    pub read_ms: u64,
}

impl ChildReport {
    /// The line the child prints for the parent.
    fn to_line(self) -> String {
        format!(
            "{REPORT_TAG} baseline_kb={} peak_kb={} final_kb={} reads={} read_ms={}",
            self.baseline_kb, self.peak_kb, self.final_kb, self.reads, self.read_ms
        )
    }

    /// Finds and parses the child's report line in its stdout.
    fn parse(stdout: &str) -> BenchResult<ChildReport> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(REPORT_TAG))
            .ok_or_else(|| format!("no `{REPORT_TAG}` line in the child's output: {stdout:?}"))?;
        let field = |name: &str| -> BenchResult<u64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
                .ok_or_else(|| format!("`{name}` missing from the child's report: {line:?}"))?
                .parse()
                .map_err(|e| format!("bad `{name}` in the child's report: {e}").into())
        };
        Ok(ChildReport {
            baseline_kb: field("baseline_kb")?,
            peak_kb: field("peak_kb")?,
            final_kb: field("final_kb")?,
            reads: field("reads")?,
            read_ms: field("read_ms")?,
        })
    }
}

/// Phase 5's outcome on one engine.
#[derive(Debug, Clone)]
pub struct MemoryResult {
    /// Which engine.
    pub kind: EngineKind,
    /// Keys in the dataset.
    pub keys: u64,
    /// What the dataset takes on disk.
    pub disk: DiskUsage,
    /// Time to build the dataset.
    pub build_time: Duration,
    /// What the child measured.
    pub child: ChildReport,
}

/// Number of keys whose raw entries make 10 × `cache_mb` MiB.
pub fn dataset_keys(cache_mb: u64, value_len: usize) -> u64 {
    (DATASET_OVER_CACHE * (cache_mb << 20)).div_ceil(entry_len(value_len))
}

/// Builds `kind`'s dataset in the empty directory `dir` and measures a child
/// process reading it.
pub fn run(kind: EngineKind, dir: &Path, opts: &SpaceArgs) -> BenchResult<MemoryResult> {
    let name = kind.name();
    let keys = dataset_keys(opts.cache_mb, opts.value_len);
    eprintln!(
        "space/{name}: building the memory dataset ({keys} keys, {} MiB raw) ...",
        DATASET_OVER_CACHE * opts.cache_mb
    );
    let start = Instant::now();
    {
        let db = kind.open_with(
            dir,
            &OpenOptions {
                keys: usize::try_from(keys)?,
                entry_len: KEY_LEN + opts.value_len,
                cache_bytes: None,
            },
        )?;
        let mut rng = StdRng::seed_from_u64(!opts.seed);
        let order = Permutation::new(keys, order_seed(!opts.seed, 0));
        write_all(&*db, &order, opts.value_len, &mut rng)?;
        db.flush()?;
    }
    let build_time = start.elapsed();
    let disk = dir_size(dir)?;

    let args = ChildArgs {
        engine: kind,
        path: dir.to_path_buf(),
        keys,
        value_len: opts.value_len,
        cache_mb: opts.cache_mb,
        seed: opts.seed,
    };
    eprintln!(
        "space/{name}: child process reads it with a cache of {} MiB ...",
        opts.cache_mb
    );
    let output = Command::new(std::env::current_exe()?)
        .args(args.to_argv())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{name}: space-child failed ({}): {stdout}", output.status).into());
    }
    Ok(MemoryResult {
        kind,
        keys,
        disk,
        build_time,
        child: ChildReport::parse(&stdout)?,
    })
}

/// The `space-child` process: opens the database with the cache asked for, reads
/// every key [`READ_ROUNDS`] times in random order (checking each value's length)
/// and prints its [`ChildReport`] on stdout.
pub fn child(args: &ChildArgs) -> BenchResult<()> {
    let baseline_kb = status_kb("VmHWM")?;
    let db = args.engine.open_with(
        &args.path,
        &OpenOptions {
            keys: usize::try_from(args.keys)?,
            entry_len: KEY_LEN + args.value_len,
            cache_bytes: Some(args.cache_mb << 20),
        },
    )?;
    let start = Instant::now();
    for round in 0..READ_ROUNDS {
        let order = Permutation::new(args.keys, order_seed(args.seed, u64::MAX - round));
        for i in 0..args.keys {
            let k = order.at(i);
            let got = db.get(&key(k))?;
            if got != Some(args.value_len) {
                return Err(format!("{}: key {k}: expected a value, got {got:?}", args.engine.name()).into());
            }
        }
    }
    let read_ms = u64::try_from(start.elapsed().as_millis())?;
    let report = ChildReport {
        baseline_kb,
        peak_kb: status_kb("VmHWM")?,
        final_kb: status_kb("VmRSS")?,
        reads: READ_ROUNDS * args.keys,
        read_ms,
    };
    println!("{}", report.to_line());
    drop(db);
    Ok(())
}

/// Reads the `field` line (such as `VmHWM`) of `/proc/self/status`, in KiB.
fn status_kb(field: &str) -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_status_kb(&status, field)
}

/// Parses the `field:   1234 kB` line of a `/proc/<pid>/status` text.
fn parse_status_kb(status: &str, field: &str) -> BenchResult<u64> {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|rest| rest.strip_prefix(':')))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let number = line
        .split_whitespace()
        .next()
        .ok_or_else(|| format!("empty {field} in /proc/self/status"))?;
    Ok(number.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_report_parsing() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t   4321 kB\nVmRSS:\t  4000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM").unwrap(), 4321);
        assert_eq!(parse_status_kb(status, "VmRSS").unwrap(), 4000);
        assert!(parse_status_kb(status, "VmSwap").is_err());
        assert!(status_kb("VmHWM").unwrap() > 0);
        let r = ChildReport {
            baseline_kb: 1,
            peak_kb: 2,
            final_kb: 3,
            reads: 4,
            read_ms: 5,
        };
        let text = format!("noise\n{}\n", r.to_line());
        assert_eq!(ChildReport::parse(&text).unwrap(), r);
        assert!(ChildReport::parse("nothing").is_err());
    }

    #[test]
    fn dataset_is_ten_times_the_cache() {
        // 10 MiB of 116-byte entries.
        assert_eq!(dataset_keys(1, 100), (10u64 << 20).div_ceil(116));
    }
}
