//! The timed workloads, run one engine at a time, each on a fresh temporary directory.
//!
//! Every workload checks its own outcome (all reads hit, every scan sees the
//! entries it must, nothing is left after the removes), so a broken engine fails the
//! run instead of producing a fast number.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::data::{Dataset, BATCH_SIZE, SCAN_LEN, VALUE_LEN};
use crate::engines::{Engine, EngineKind};
use crate::BenchResult;

/// The workloads, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Insert every key in batches of [`BATCH_SIZE`], then flush.
    BulkLoad,
    /// Random point reads of existing keys from one thread.
    Reads1,
    /// The same reads split between two threads.
    Reads2,
    /// Range scans of consecutive entries from random existing keys.
    Scans,
    /// Remove every key in random order, one operation each, then flush.
    Removes,
}

impl Workload {
    /// Every workload, in run order.
    pub const ALL: [Workload; 5] = [
        Workload::BulkLoad,
        Workload::Reads1,
        Workload::Reads2,
        Workload::Scans,
        Workload::Removes,
    ];

    /// Row heading for the report.
    pub fn label(self) -> String {
        match self {
            Workload::BulkLoad => format!(
                "bulk load (batches of {}, + flush)",
                crate::report::thousands(BATCH_SIZE as f64)
            ),
            Workload::Reads1 => "random reads, 1 thread".to_string(),
            Workload::Reads2 => "random reads, 2 threads".to_string(),
            Workload::Scans => format!("scans of {SCAN_LEN} entries"),
            Workload::Removes => "random removes (single ops, + flush)".to_string(),
        }
    }
}

/// One timed workload on one engine.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Which workload.
    pub workload: Workload,
    /// Operations done (inserts, gets, scans or removes).
    pub ops: usize,
    /// Wall-clock time of the whole workload.
    pub elapsed: Duration,
}

impl Measurement {
    /// Throughput in operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// All measurements of one engine.
#[derive(Debug, Clone)]
pub struct EngineResults {
    /// The engine measured.
    pub kind: EngineKind,
    /// One measurement per workload, in [`Workload::ALL`] order.
    pub measurements: Vec<Measurement>,
}

impl EngineResults {
    /// The measurement of `workload`, if it ran.
    pub fn get(&self, workload: Workload) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.workload == workload)
    }
}

/// Runs every workload on a fresh instance of `kind` in a temporary directory under `parent`.
pub fn run_all(kind: EngineKind, data: &Dataset, parent: &Path) -> BenchResult<EngineResults> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("skiff-bench-{}-", kind.name()))
        .tempdir_in(parent)?;
    let boxed = kind.open(dir.path(), data.len())?;
    let engine = boxed.as_ref();
    let mut measurements = Vec::with_capacity(Workload::ALL.len());
    for workload in Workload::ALL {
        eprint!("{:>6}: {:<40} ", kind.name(), workload.label());
        let m = match workload {
            Workload::BulkLoad => bulk_load(engine, data),
            Workload::Reads1 => reads(engine, data, 1),
            Workload::Reads2 => reads(engine, data, 2),
            Workload::Scans => scans(engine, data),
            Workload::Removes => removes(engine, data),
        }
        .map_err(|e| format!("{} failed in `{}`: {e}", kind.name(), workload.label()))?;
        eprintln!("{:>12.0} ops/s  ({:.2?})", m.ops_per_sec(), m.elapsed);
        measurements.push(m);
    }
    drop(boxed);
    dir.close()?;
    Ok(EngineResults { kind, measurements })
}

/// Times `f`, which reports how many operations it did.
fn timed(workload: Workload, f: impl FnOnce() -> BenchResult<usize>) -> BenchResult<Measurement> {
    let start = Instant::now();
    let ops = f()?;
    Ok(Measurement {
        workload,
        ops,
        elapsed: start.elapsed(),
    })
}

fn bulk_load(engine: &dyn Engine, data: &Dataset) -> BenchResult<Measurement> {
    timed(Workload::BulkLoad, || {
        for batch in data.entries.chunks(BATCH_SIZE) {
            engine.load(batch)?;
        }
        engine.flush()?;
        Ok(data.len())
    })
}

/// Reads `data.reads` split evenly over `threads` threads; every read must hit.
fn reads(engine: &dyn Engine, data: &Dataset, threads: usize) -> BenchResult<Measurement> {
    let chunk = data.reads.len().div_ceil(threads);
    let m = timed(
        if threads == 1 {
            Workload::Reads1
        } else {
            Workload::Reads2
        },
        || {
            let hits = std::thread::scope(|s| {
                let handles: Vec<_> = data
                    .reads
                    .chunks(chunk)
                    .map(|part| s.spawn(move || read_part(engine, data, part)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| "reader thread panicked")?)
                    .sum::<BenchResult<usize>>()
            })?;
            if hits != data.reads.len() {
                return Err(format!("{hits} of {} reads found their key", data.reads.len()).into());
            }
            Ok(hits)
        },
    )?;
    Ok(m)
}

/// Reads the keys at `part`'s indexes; returns how many were found with a whole value.
fn read_part(engine: &dyn Engine, data: &Dataset, part: &[usize]) -> BenchResult<usize> {
    let mut hits = 0;
    for &i in part {
        if engine.get(&data.entries[i].0)? == Some(VALUE_LEN) {
            hits += 1;
        }
    }
    Ok(hits)
}

fn scans(engine: &dyn Engine, data: &Dataset) -> BenchResult<Measurement> {
    timed(Workload::Scans, || {
        let mut seen = 0;
        for (start, _expected) in &data.scans {
            seen += engine.scan(start, SCAN_LEN)?;
        }
        let expected = data.expected_scanned();
        if seen != expected {
            return Err(format!("scans saw {seen} entries, expected {expected}").into());
        }
        Ok(data.scans.len())
    })
}

fn removes(engine: &dyn Engine, data: &Dataset) -> BenchResult<Measurement> {
    engine.begin_single_writes()?;
    let m = timed(Workload::Removes, || {
        for &i in &data.removes {
            engine.remove(&data.entries[i].0)?;
        }
        engine.flush()?;
        Ok(data.removes.len())
    })?;
    // Untimed check: nothing may be left. Every key is at least `[0]` (LMDB rejects
    // an empty start key).
    let left = engine.scan(&[0], 1)?;
    if left != 0 {
        return Err("entries remain after removing every key".into());
    }
    Ok(m)
}
