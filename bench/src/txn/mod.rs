//! The `txn` subcommand: what skiff's transactions cost against the disk's fsync
//! rate and against sled 0.34, in one run.
//!
//! It measures the fsync rate of the chosen directory, durable commits per second
//! (one insert per transaction, each waiting for its fsync) with 1, 2, 4 and 8
//! threads on skiff and with 1 and 4 on sled, and non-durable transfer transactions
//! (2 reads + 2 writes) with 1 and 4 threads on both; then prints a markdown table.
//! The probe and the durable runs take turns in rounds, so that their ratios
//! compare the same disk.

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
    // The probe and the durable runs are interleaved in rounds, so that the
    // disk's drift over the run weighs on every durable row and on the fsync
    // rate alike (see `DurableBench`).
    let durable_kinds = [
        (EngineKind::Skiff, &SKIFF_DURABLE_THREADS[..]),
        (EngineKind::Sled, &SLED_DURABLE_THREADS[..]),
    ];
    let mut benches = Vec::new();
    for (kind, threads) in durable_kinds {
        benches.push((workloads::DurableBench::open(kind, &opts.dir)?, threads));
    }
    let rounds = opts.rounds;
    let mut fsync: Option<workloads::FsyncRate> = None;
    let mut runs: Vec<workloads::TxnRun> = Vec::new();
    for round in 1..=rounds {
        eprintln!("round {round} of {rounds}");
        let probe = workloads::fsync_rate(&opts.dir, FSYNC_PROBE / rounds)?;
        eprintln!("         fsync probe {:>10.0} fsyncs/s", probe.per_sec());
        fsync = Some(fsync.map_or(probe, |f| f.merged(probe)));
        let mut row = 0;
        for (bench, threads) in &mut benches {
            for &t in threads.iter() {
                let run = bench.slice(t, opts.duration / rounds)?;
                eprintln!(
                    "{:>6}: durable commits, {t} thread(s) {:>10.0} commits/s",
                    run.engine.name(),
                    run.per_sec()
                );
                match runs.get_mut(row) {
                    Some(total) => *total = total.merged(run),
                    None => runs.push(run),
                }
                row += 1;
            }
        }
    }
    drop(benches);
    let fsync = fsync.ok_or("no rounds ran")?;
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
        rounds: opts.rounds,
        runs: &runs,
    };
    println!("{}", report.render());
    Ok(())
}
