//! The `txn` subcommand: what skiff's transactions cost against the disk's fsync
//! rate and against sled 0.34, in one run.
//!
//! It measures the fsync rate of the chosen directory, durable commits per second
//! (one insert per transaction, each waiting for its fsync) with 1, 2, 4 and 8
//! threads on skiff and with 1 and 4 on sled, and non-durable transfer transactions
//! (2 reads + 2 writes) with 1 and 4 threads on both; then prints a markdown table.

mod args;
mod engines;
mod report;
mod workloads;

use std::time::Duration;

use crate::engines::EngineKind;
use crate::report::MachineInfo;
use crate::BenchResult;

/// Thread counts of skiff's durable runs: enough to see whether group commit scales.
const SKIFF_DURABLE_THREADS: [usize; 4] = [1, 2, 4, 8];
/// Thread counts of sled's durable runs (the comparison points).
const SLED_DURABLE_THREADS: [usize; 2] = [1, 4];
/// Thread counts of the transfer runs, on both engines.
const TRANSFER_THREADS: [usize; 2] = [1, 4];
/// How long the fsync probe runs: long enough to average out the disk's jitter.
const FSYNC_PROBE: Duration = Duration::from_millis(1500);

/// Runs the `txn` subcommand with `argv` (its options) and prints the report.
pub fn run(argv: &[String]) -> BenchResult<()> {
    let Some(opts) = args::TxnArgs::parse(argv)? else {
        println!("{}", args::TXN_USAGE);
        return Ok(());
    };
    eprint!("fsync probe in {} ", opts.dir.display());
    let fsync = workloads::fsync_rate(&opts.dir, FSYNC_PROBE)?;
    eprintln!(
        "{:>10.0} fsyncs/s  ({:.0} µs each)",
        fsync.per_sec(),
        fsync.micros_each()
    );

    let mut runs = Vec::new();
    for (kind, threads) in [
        (EngineKind::Skiff, &SKIFF_DURABLE_THREADS[..]),
        (EngineKind::Sled, &SLED_DURABLE_THREADS[..]),
    ] {
        runs.extend(workloads::durable_runs(kind, &opts.dir, threads, opts.duration)?);
    }
    for kind in [EngineKind::Skiff, EngineKind::Sled] {
        runs.extend(workloads::transfer_runs(
            kind,
            &opts.dir,
            opts.accounts,
            opts.seed,
            &TRANSFER_THREADS,
            opts.duration,
        )?);
    }

    let machine = MachineInfo::detect();
    let report = report::TxnReport {
        machine: &machine,
        dir: &opts.dir,
        duration: opts.duration,
        accounts: opts.accounts,
        fsync,
        runs: &runs,
    };
    println!("{}", report.render());
    Ok(())
}
