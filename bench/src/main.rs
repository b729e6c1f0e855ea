//! `skiff-bench`: side-by-side benchmarks of Skiff against peer embedded engines.
//!
//! Run `cargo run -p skiff-bench --release -- engine --keys 1000000` to compare
//! `skiff-engine` with sled, redb, fjall and LMDB (through heed) on the same data in
//! one run; the result is printed as a markdown table. `txn` measures transactions:
//! durable commits against the disk's fsync rate, and small transactions against
//! sled. `typed` compares skiff's typed layer (collections with secondary indexes)
//! with native_db 0.8. `space` compares disk space (after a load, overwrites and a
//! mass delete), reopen time and memory against the cache. Each subcommand lives in its own module and is dispatched
//! from [`main`].

mod args;
mod data;
mod engines;
mod report;
mod space;
mod txn;
mod typed;
mod watch;
mod workloads;

use std::process::ExitCode;

/// Error type used throughout the benchmarks: any engine's error, boxed.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// Result alias over [`BenchError`].
pub type BenchResult<T> = Result<T, BenchError>;

/// Top-level usage text.
const USAGE: &str = "\
usage: skiff-bench <SUBCOMMAND> [OPTIONS]

subcommands:
  engine    key-value engine workloads: skiff vs sled, redb, fjall, lmdb (heed)
  txn       transactions: durable commits vs the fsync rate, small transactions vs sled
  watch     change streams: commit rate with 0 and 16 subscribers
  typed     typed layer: skiff collections and indexes vs native_db 0.8
  space     disk space, reopen time and memory vs the cache: skiff vs sled, redb, fjall, lmdb

run `skiff-bench <SUBCOMMAND> --help` for the subcommand's options";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(sub) = argv.next() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest: Vec<String> = argv.collect();
    let outcome = match sub.as_str() {
        "engine" => run_engine(&rest),
        "txn" => txn::run(&rest),
        "typed" => typed::run(&rest),
        "watch" => watch::run(&rest),
        "space" => space::run(&rest),
        space::CHILD_SUBCOMMAND => space::run_child(&rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown subcommand `{other}`\n\n{USAGE}").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `engine` subcommand: parse its options, run every workload on every chosen
/// engine and print the table.
fn run_engine(argv: &[String]) -> BenchResult<()> {
    let Some(opts) = args::EngineArgs::parse(argv)? else {
        println!("{}", args::ENGINE_USAGE);
        return Ok(());
    };
    eprintln!("generating {} keys (seed {}) ...", opts.keys, opts.seed);
    let data = data::Dataset::generate(opts.keys, opts.seed)?;
    let mut results = Vec::with_capacity(opts.engines.len());
    for &kind in &opts.engines {
        results.push(workloads::run_all(kind, &data, &opts.dir)?);
    }
    println!(
        "{}",
        report::render(&report::MachineInfo::detect(), &data, &results)
    );
    Ok(())
}
