//! T6: I/O errors injected at every mutating call of a workload.
//!
//! For every N, the Nth write, sync, rename, create or remove of a 50-commit
//! workload with flushes and checkpoints (tiny segments, so they roll and are
//! cleaned) fails — once, or from then on. The engine must return an error
//! (never panic), refuse every later write once a write or fsync failed (C5),
//! and after a crash and reopen hold a prefix of the commits that includes every
//! commit a returned `flush` covered (C1, C3).

use std::collections::BTreeMap;

use rand::Rng;
use skiff_engine::{Batch, Config, Error};
use skiff_tests::simfs::{FailMode, SimFs};

fn config(fs: &SimFs) -> Config {
    Config::new()
        .path("/db")
        .storage(fs.storage())
        .flush_every_ms(None)
        .checkpoint_every_ms(None)
        .segment_size(4096)
        .checkpoint_run_bytes(600)
        .leaf_max_bytes(256)
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Runs the workload until the engine reports an error. Returns the model after
/// each applied commit and how many commits a returned flush covered.
fn run(fs: &SimFs, seed: u64) -> (Vec<Model>, usize) {
    let mut rng = skiff_tests::rng(seed);
    let mut states = vec![Model::new()];
    let mut durable = 0;
    let Ok(db) = config(fs).open() else {
        return (states, durable);
    };
    let mut failed = false;
    for i in 0..50u32 {
        let mut model = states.last().cloned().unwrap_or_default();
        let result = if rng.gen_bool(0.6) {
            let k = format!("k{}", rng.gen_range(0..30)).into_bytes();
            let v = vec![u8::try_from(i % 251).unwrap(); rng.gen_range(1..300)];
            model.insert(k.clone(), v.clone());
            db.insert(k, v).map(drop)
        } else {
            let mut batch = Batch::default();
            for j in 0..rng.gen_range(1..6) {
                let k = format!("b{}", rng.gen_range(0..30)).into_bytes();
                let v = vec![u8::try_from(j).unwrap(); 40];
                model.insert(k.clone(), v.clone());
                batch.insert(k, v);
            }
            db.apply_batch(batch)
        };
        match result {
            Ok(()) => {
                assert!(
                    !failed,
                    "seed {seed}: a write succeeded after an earlier I/O failure"
                );
                states.push(model);
            }
            Err(Error::Poisoned { .. }) => {
                assert!(
                    failed,
                    "seed {seed}: poisoned without a failure being reported first"
                );
            }
            Err(e) => {
                // An I/O error may come from this op's write-behind after the op
                // was applied in memory; either outcome is allowed for it.
                assert!(matches!(e, Error::Io { .. }), "seed {seed}: unexpected error {e}");
                failed = true;
                states.push(model);
            }
        }
        if rng.gen_bool(0.3) {
            match db.flush() {
                Ok(_) if !failed => durable = states.len() - 1,
                Ok(_) => panic!("seed {seed}: flush succeeded after an I/O failure"),
                Err(_) => failed = true,
            }
        }
        if rng.gen_bool(0.12) {
            let run = if rng.gen_bool(0.5) {
                db.checkpoint_once()
            } else {
                db.checkpoint()
            };
            match run {
                Ok(()) if !failed => durable = states.len() - 1,
                Ok(()) => panic!("seed {seed}: checkpoint succeeded after an I/O failure"),
                Err(_) => failed = true,
            }
        }
    }
    (states, durable)
}

/// Reopens `crashed`, checks it holds one of `states[durable..]`, and returns it.
fn recovered(crashed: &SimFs, states: &[Model], durable: usize, ctx: &str) -> Model {
    let db = config(crashed)
        .open()
        .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
    let got: Model = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    // Writes applied in memory but never logged durably may be lost; what
    // survives must be a prefix that includes every flushed commit.
    assert!(
        states[durable..].contains(&got),
        "{ctx}: recovered {} keys, which is no state from commit {durable} on",
        got.len()
    );
    got
}

#[test]
fn every_failed_call_is_reported_and_recovery_keeps_a_durable_prefix() {
    let master = skiff_tests::seed("every_failed_call_is_reported_and_recovery_keeps_a_durable_prefix");
    let mut cases = 0;
    for w in 0..skiff_tests::size(2, 50) {
        let seed = skiff_tests::derive_seed(master, w as u64);
        // How many mutating calls the workload makes without failures.
        let clean = SimFs::new();
        run(&clean, seed);
        let total = clean.calls();
        let mut rng = skiff_tests::rng(seed ^ 0xFA11);
        for n in 1..=total {
            for mode in [FailMode::Once, FailMode::FromThenOn] {
                cases += 1;
                let fs = SimFs::new();
                fs.fail_after(n, mode);
                let (states, durable) = run(&fs, seed);
                fs.heal();
                let crashed = fs.crash(&mut rng);
                let ctx = format!("seed {seed}, call {n} fails ({mode:?})");
                recovered(&crashed, &states, durable, &ctx);
            }
        }
    }
    println!("{cases} failure cases");
}

/// Recovery itself hits an I/O error at each of its mutating calls (trimming a
/// torn tail, syncing it, then the first write after it): it fails cleanly,
/// and the next open recovers the same data.
#[test]
fn a_failure_during_recovery_is_reported_and_the_next_open_recovers() {
    let master = skiff_tests::seed("a_failure_during_recovery_is_reported_and_the_next_open_recovers");
    let mut cases = 0;
    for w in 0..skiff_tests::size(4, 100) {
        let seed = skiff_tests::derive_seed(master, w as u64);
        let mut rng = skiff_tests::rng(seed);
        let disk = SimFs::new();
        let (states, durable) = run(&disk, seed);
        // A torn tail for recovery to cut off.
        let newest = disk
            .files()
            .into_iter()
            .filter(|p| p.starts_with("/db/wal"))
            .max()
            .expect("a log file");
        let mut bytes = disk.read(&newest).expect("log bytes");
        bytes.extend((0..rng.gen_range(1..200)).map(|_| rng.gen::<u8>()));
        disk.replace(&newest, bytes);
        let open_and_write = |image: &SimFs| {
            if let Ok(db) = config(image).open() {
                let _ = db.insert(b"post-recovery", b"x");
                let _ = db.flush();
            }
        };
        let probe = disk.snapshot();
        let before = probe.calls();
        open_and_write(&probe);
        let recovery_calls = probe.calls() - before;
        for n in 1..=recovery_calls {
            cases += 1;
            let image = disk.snapshot();
            image.fail_after(image.calls() + n, FailMode::Once);
            open_and_write(&image);
            image.heal();
            let ctx = format!("seed {seed}, recovery call {n} of {recovery_calls} fails");
            let mut got = recovered_raw(&image, &ctx);
            got.remove(&b"post-recovery"[..]);
            assert!(
                states[durable..].contains(&got),
                "{ctx}: recovered {} keys, no state from commit {durable} on",
                got.len()
            );
        }
    }
    println!("{cases} recovery failure cases");
}

fn recovered_raw(image: &SimFs, ctx: &str) -> Model {
    let db = config(image)
        .open()
        .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}
