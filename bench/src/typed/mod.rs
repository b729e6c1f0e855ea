//! The `typed` subcommand: skiff's typed layer (`skiff::Db` collections with
//! secondary indexes) against native_db 0.8, the typed layer over redb, in one run.
//!
//! Both engines get the same generated records and queries in the same order (see
//! [`data`]), run the same workload code through one trait (see [`engines`] and
//! [`workloads`]) with every write transaction durable on both, and have every
//! answer checked; the result is a markdown table with skiff's ratio to native_db.

mod args;
mod data;
mod engines;
mod report;
mod workloads;

use self::engines::{NativeTyped, SkiffTyped};
use crate::report::MachineInfo;
use crate::BenchResult;

/// Runs the `typed` subcommand with `argv` (its options) and prints the report.
pub fn run(argv: &[String]) -> BenchResult<()> {
    let Some(opts) = args::TypedArgs::parse(argv)? else {
        println!("{}", args::TYPED_USAGE);
        return Ok(());
    };
    eprintln!(
        "generating {} + {} records (seed {}) ...",
        opts.records, opts.singles, opts.seed
    );
    let data = data::TypedData::generate(&opts)?;

    // One fresh directory per engine, removed (with the database) once it has run.
    let fresh = |name: &str| {
        tempfile::Builder::new()
            .prefix(&format!("skiff-bench-typed-{name}-"))
            .tempdir_in(&opts.dir)
    };
    let skiff = {
        let dir = fresh("skiff")?;
        let engine = SkiffTyped::open(&dir.path().join("db"))?;
        workloads::run_all(&engine, &data)?
    };
    let native = {
        let dir = fresh("native_db")?;
        let engine = NativeTyped::open(&dir.path().join("db.redb"))?;
        workloads::run_all(&engine, &data)?
    };

    let machine = MachineInfo::detect();
    let report = report::TypedReport {
        machine: &machine,
        data: &data,
        skiff: &skiff,
        native: &native,
    };
    println!("{}", report.render());
    Ok(())
}
