//! The `space` subcommand: disk space, reopen time and memory of skiff against
//! sled 0.34, redb, fjall and LMDB (heed), in one run.
//!
//! For each engine in turn, on a fresh directory ([`disk`]): load N keys in random
//! order, overwrite every key P times, reopen it three times, delete 90% of the
//! keys, measuring the directory's size after each phase. Then, for each engine
//! ([`memory`]): build a dataset ten times `--cache-mb` and measure the peak
//! resident memory of a child process (the hidden `space-child` subcommand)
//! reading it with that cache. Every engine is driven through the shared
//! [`Engine`](crate::engines::Engine) trait. [`report`] prints the tables.

mod args;
mod data;
mod disk;
mod memory;
mod report;

use crate::report::MachineInfo;
use crate::BenchResult;

pub use args::SPACE_USAGE;

/// Name of the hidden subcommand the memory phase re-executes this binary with.
pub const CHILD_SUBCOMMAND: &str = "space-child";

/// Runs the `space` subcommand with `argv` (its options) and prints the report.
pub fn run(argv: &[String]) -> BenchResult<()> {
    let Some(opts) = args::SpaceArgs::parse(argv)? else {
        println!("{SPACE_USAGE}");
        return Ok(());
    };
    let root = tempfile::Builder::new()
        .prefix("skiff-space-")
        .tempdir_in(&opts.dir)?;
    eprintln!("space: working in {}", root.path().display());

    let mut disk_results = Vec::with_capacity(opts.engines.len());
    for &kind in &opts.engines {
        let dir = root.path().join(kind.name());
        std::fs::create_dir(&dir)?;
        disk_results.push(disk::run(kind, &dir, &opts)?);
        std::fs::remove_dir_all(&dir)?;
    }
    let mut memory_results = Vec::with_capacity(opts.engines.len());
    for &kind in &opts.engines {
        let dir = root.path().join(format!("memory-{}", kind.name()));
        std::fs::create_dir(&dir)?;
        memory_results.push(memory::run(kind, &dir, &opts)?);
        std::fs::remove_dir_all(&dir)?;
    }

    let machine = MachineInfo::detect();
    let report = report::SpaceReport {
        machine: &machine,
        opts: &opts,
        disk: &disk_results,
        memory: &memory_results,
    };
    println!("{}", report.render());
    Ok(())
}

/// Runs the hidden `space-child` subcommand: the memory phase's measured process.
pub fn run_child(argv: &[String]) -> BenchResult<()> {
    let Some(opts) = args::ChildArgs::parse(argv)? else {
        println!("{}", args::CHILD_USAGE);
        return Ok(());
    };
    memory::child(&opts)
}
