//! The timed workloads of the `typed` subcommand, generic over [`TypedEngine`] so
//! that both engines run the same code on the same data in the same order.
//!
//! Whatever an engine needs converted (its own record type, city names) is built
//! before the clock starts. Every workload checks its answers against the ones
//! [`TypedData`] computed from the records: a wrong count fails the run instead of
//! producing a fast number.

use std::time::{Duration, Instant};

use super::data::{city_name, email_of, slot, TypedData, BATCH};
use super::engines::TypedEngine;
use crate::BenchResult;

/// Updated records whose city is checked, and cities whose size is recounted, after
/// the updates: enough to catch a missed index entry, cheap next to the updates.
pub const UPDATE_CHECKS: usize = 1_000;

/// The workloads, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Records inserted in transactions of [`BATCH`].
    BulkInsert,
    /// Records inserted one durable transaction each.
    SingleInsert,
    /// Random gets by primary key.
    Get,
    /// Random lookups through the unique index.
    UniqueLookup,
    /// Queries for every record of one city (non-unique index).
    IndexQuery,
    /// Scans of a range of scores (non-unique index).
    RangeScan,
    /// Moving a record to another city, one durable transaction each.
    Update,
}

impl Workload {
    /// Every workload, in running order.
    pub const ALL: [Workload; 7] = [
        Workload::BulkInsert,
        Workload::SingleInsert,
        Workload::Get,
        Workload::UniqueLookup,
        Workload::IndexQuery,
        Workload::RangeScan,
        Workload::Update,
    ];
}

/// One timed workload on one engine.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Which workload.
    pub workload: Workload,
    /// Operations done (records for the inserts, queries for the reads).
    pub ops: u64,
    /// Wall-clock time of all of them.
    pub elapsed: Duration,
}

impl Measurement {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `f` once, timed, and records it as `ops` operations of `workload`.
fn timed(
    name: &str,
    workload: Workload,
    ops: usize,
    f: impl FnOnce() -> BenchResult<()>,
) -> BenchResult<Measurement> {
    eprint!("{name:>9}: {:<13}", format!("{workload:?}"));
    let start = Instant::now();
    f().map_err(|e| format!("{name} {workload:?}: {e}"))?;
    let m = Measurement {
        workload,
        ops: u64::try_from(ops)?,
        elapsed: start.elapsed(),
    };
    eprintln!("{:>12.0} ops/s  ({ops} in {:.2?})", m.ops_per_sec(), m.elapsed);
    Ok(m)
}

/// Fails unless `found` equals `expected`.
fn check(what: &str, found: u64, expected: u64) -> BenchResult<()> {
    if found == expected {
        Ok(())
    } else {
        Err(format!("{what}: found {found}, expected {expected}").into())
    }
}

/// Runs every workload on `engine`, in [`Workload::ALL`]'s order, checking each.
pub fn run_all<E: TypedEngine>(engine: &E, data: &TypedData) -> BenchResult<Vec<Measurement>> {
    let name = E::NAME;
    let (bulk, singles) = data.people.split_at(data.bulk);
    let mut out = Vec::with_capacity(Workload::ALL.len());

    let batches: Vec<Vec<E::Record>> = bulk
        .chunks(BATCH)
        .map(|c| c.iter().map(E::record).collect())
        .collect();
    out.push(timed(name, Workload::BulkInsert, bulk.len(), || {
        batches.into_iter().try_for_each(|b| engine.insert_many(b))
    })?);

    let records: Vec<E::Record> = singles.iter().map(E::record).collect();
    out.push(timed(name, Workload::SingleInsert, singles.len(), || {
        records.into_iter().try_for_each(|r| engine.insert_one(r))
    })?);
    check(
        &format!("{name}: records after the inserts"),
        engine.count()?,
        u64::try_from(data.people.len())?,
    )?;

    let mut wrong = 0u64;
    out.push(timed(name, Workload::Get, data.gets.len(), || {
        for &id in &data.gets {
            wrong += u64::from(engine.get(id)? != Some(id));
        }
        Ok(())
    })?);
    check(&format!("{name}: gets with a wrong answer"), wrong, 0)?;

    let emails: Vec<String> = data.lookups.iter().map(|&id| email_of(id)).collect();
    let mut wrong = 0u64;
    out.push(timed(name, Workload::UniqueLookup, emails.len(), || {
        for (email, &id) in emails.iter().zip(&data.lookups) {
            wrong += u64::from(engine.by_email(email)? != Some(id));
        }
        Ok(())
    })?);
    check(&format!("{name}: unique lookups with a wrong answer"), wrong, 0)?;

    let cities: Vec<String> = data.city_queries.iter().map(|&c| city_name(c)).collect();
    let mut hits = 0;
    out.push(timed(name, Workload::IndexQuery, cities.len(), || {
        for city in &cities {
            hits += engine.by_city(city)?;
        }
        Ok(())
    })?);
    check(
        &format!("{name}: records from the city queries"),
        hits,
        data.city_hits,
    )?;

    let mut hits = 0;
    out.push(timed(name, Workload::RangeScan, data.ranges.len(), || {
        for &lo in &data.ranges {
            hits += engine.by_score(lo, lo + data.range_width)?;
        }
        Ok(())
    })?);
    check(
        &format!("{name}: records from the range scans"),
        hits,
        data.range_hits,
    )?;

    let moves: Vec<(u64, String)> = data.updates.iter().map(|&(id, c)| (id, city_name(c))).collect();
    out.push(timed(name, Workload::Update, moves.len(), || {
        moves.iter().try_for_each(|(id, city)| engine.set_city(*id, city))
    })?);
    check_updates(engine, data)?;
    Ok(out)
}

/// After the updates: the last-updated records are in their final cities, and the
/// cities they left or joined hold exactly the expected number of records (so no
/// stale or missing index entry).
fn check_updates<E: TypedEngine>(engine: &E, data: &TypedData) -> BenchResult<()> {
    let name = E::NAME;
    let final_city = data.city_by_id(true);
    let counts = data.city_counts(true);
    let before = data.city_by_id(false);
    for &(id, _) in data.updates.iter().rev().take(UPDATE_CHECKS) {
        let want = city_name(final_city[slot(id)]);
        let found = engine.city_of(id)?;
        if found.as_deref() != Some(want.as_str()) {
            return Err(format!("{name}: record {id} is in {found:?} after the updates, not {want}").into());
        }
    }
    for &(id, to) in data.updates.iter().take(UPDATE_CHECKS / 2) {
        for city in [before[slot(id)], to] {
            let found = engine.by_city(&city_name(city))?;
            check(
                &format!("{name}: records in {} after the updates", city_name(city)),
                found,
                u64::from(counts[city as usize]),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::args::TypedArgs;
    use crate::typed::engines::{NativeTyped, SkiffTyped};

    /// A small run of every workload on both engines passes its own checks.
    #[test]
    fn small_runs_check_out() {
        let mut opts = TypedArgs::parse(&[]).unwrap().unwrap();
        (opts.records, opts.singles, opts.reads, opts.queries, opts.updates) = (2_500, 20, 200, 50, 30);
        let data = TypedData::generate(&opts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let skiff = run_all(&SkiffTyped::open(&dir.path().join("skiff")).unwrap(), &data).unwrap();
        let native = run_all(
            &NativeTyped::open(&dir.path().join("native.redb")).unwrap(),
            &data,
        )
        .unwrap();
        for runs in [skiff, native] {
            let order: Vec<Workload> = runs.iter().map(|m| m.workload).collect();
            assert_eq!(order, Workload::ALL);
            assert_eq!(runs[0].ops, 2_500);
            assert_eq!(runs[6].ops, 30);
        }
    }
}
