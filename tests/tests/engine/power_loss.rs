//! T4: simulated power loss at every point of a workload.
//!
//! A deterministic single-threaded workload (inserts, removes, batches, tree
//! creation, clears and drops, `generate_id`, flushes, checkpoints with tiny
//! segments so they roll and get cleaned, small log files so they roll) runs on a
//! recording [`SimFs`], which keeps a copy of the disk after every mutating call.
//! Each copy is crashed several times — unsynced writes applied, dropped or torn
//! into garbage-filled sectors, unsynced directory entries lost — and reopened.
//! Every image must recover (C4: only a torn tail is trimmed) to exactly the state
//! after some prefix of the commits (C3) that includes every commit a returned
//! `flush` covered (C1), and must accept new writes afterwards.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use skiff_engine::{Batch, Config};
use skiff_tests::simfs::SimFs;

type Model = BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>;

/// What the workload did, for judging crash images.
struct Trace {
    /// Model state after each commit; `states[0]` is the empty database.
    states: Vec<Model>,
    /// Mutating-call count when each commit started (commit `i` is `states[i + 1]`).
    started_at: Vec<u64>,
    /// `(calls when a flush returned, commits it covered)`.
    flushes: Vec<(u64, usize)>,
    /// `(calls when generate_id returned, the id)`.
    ids: Vec<(u64, u64)>,
}

fn config(fs: &SimFs) -> Config {
    Config::new()
        .path("/db")
        .storage(fs.storage())
        .flush_every_ms(None)
        .checkpoint_every_ms(None)
        .segment_size(4096)
        .checkpoint_run_bytes(600)
        .leaf_max_bytes(200)
        .cache_capacity(2048)
}

fn run_workload(fs: &SimFs, seed: u64, commits: usize) -> Trace {
    let mut rng = skiff_tests::rng(seed);
    let db = config(fs).open().expect("open on an empty simulated disk");
    let mut trees = [db.open_tree("a").unwrap(), db.open_tree("b").unwrap()];
    let names: [&[u8]; 2] = [b"a", b"b"];
    let mut model = Model::new();
    let mut trace = Trace {
        states: vec![model.clone()],
        started_at: Vec::new(),
        flushes: Vec::new(),
        ids: Vec::new(),
    };
    // The two tree creations are commits too, but they hold no keys: the model
    // states before and after them are equal, so they need no entries.
    for i in 0..commits {
        trace.started_at.push(fs.calls());
        let t = rng.gen_range(0..2);
        let key = |rng: &mut rand::rngs::StdRng| format!("k{:02}", rng.gen_range(0..40)).into_bytes();
        match rng.gen_range(0..50) {
            0 => {
                trees[t].clear().unwrap();
                model.retain(|(tree, _), _| tree != names[t]);
            }
            1 => {
                db.drop_tree(names[t]).unwrap();
                trees[t] = db.open_tree(names[t]).unwrap();
                model.retain(|(tree, _), _| tree != names[t]);
            }
            2..=24 => {
                let k = key(&mut rng);
                // Some values are long enough to be stored as blobs.
                let len = if rng.gen_bool(0.1) {
                    4096 + rng.gen_range(0..2000)
                } else {
                    rng.gen_range(0..60)
                };
                let v = vec![rng.gen::<u8>(); len];
                trees[t].insert(&k, v.clone()).unwrap();
                model.insert((names[t].to_vec(), k), v);
            }
            25..=34 => {
                let k = key(&mut rng);
                trees[t].remove(&k).unwrap();
                model.remove(&(names[t].to_vec(), k));
            }
            _ => {
                let mut batch = Batch::default();
                let mut writes = BTreeMap::new();
                for _ in 0..rng.gen_range(1..8) {
                    let k = key(&mut rng);
                    if rng.gen_bool(0.7) {
                        let v = vec![rng.gen::<u8>(); rng.gen_range(0..200)];
                        batch.insert(k.clone(), v.clone());
                        writes.insert(k, Some(v));
                    } else {
                        batch.remove(k.clone());
                        writes.insert(k, None);
                    }
                }
                trees[t].apply_batch(batch).unwrap();
                for (k, v) in writes {
                    match v {
                        Some(v) => model.insert((names[t].to_vec(), k), v),
                        None => model.remove(&(names[t].to_vec(), k)),
                    };
                }
            }
        }
        trace.states.push(model.clone());
        if rng.gen_bool(0.25) {
            db.flush().unwrap();
            trace.flushes.push((fs.calls(), trace.states.len() - 1));
        }
        // At least one checkpoint per workload, so every workload crashes
        // some of them.
        if rng.gen_bool(0.06) || i == commits / 2 {
            // A checkpoint makes everything before it durable, like a flush;
            // most are one run of a pass over a few leaves.
            if rng.gen_bool(0.7) {
                db.checkpoint_once().unwrap();
            } else {
                db.checkpoint().unwrap();
            }
            trace.flushes.push((fs.calls(), trace.states.len() - 1));
        }
        if rng.gen_bool(0.05) {
            let id = db.generate_id().unwrap();
            trace.ids.push((fs.calls(), id));
        }
    }
    db.flush().unwrap();
    trace.flushes.push((fs.calls(), trace.states.len() - 1));
    let files = fs.files();
    assert!(
        files.iter().any(|p| p.starts_with("/db/pages")) && files.iter().any(|p| p.ends_with("checkpoint")),
        "the workload should leave checkpoints and segments to crash: {files:?}"
    );
    trace
}

fn read_all(db: &skiff_engine::Db) -> Model {
    let mut out = Model::new();
    for name in [&b"a"[..], b"b"] {
        if !db.tree_names().iter().any(|n| &**n == name) {
            continue;
        }
        for item in db.open_tree(name).unwrap().iter() {
            let (k, v) = item.expect("reading a recovered tree");
            out.insert((name.to_vec(), k.to_vec()), v.to_vec());
        }
    }
    out
}

#[test]
fn every_crash_point_recovers_a_durable_prefix() {
    let seed = skiff_tests::seed("every_crash_point_recovers_a_durable_prefix");
    let images_wanted = skiff_tests::size(5_000, 1_000_000);
    let mut images = 0;
    let mut workload = 0u64;
    while images < images_wanted {
        let wseed = skiff_tests::derive_seed(seed, workload);
        workload += 1;
        let fs = SimFs::recording();
        let trace = run_workload(&fs, wseed, 80);
        let copies = fs.recorded();
        let tears = (images_wanted / copies.len().max(1)).clamp(1, 8);
        let mut rng = skiff_tests::rng(wseed ^ 0xC0FFEE);
        for (i, copy) in copies.iter().enumerate() {
            let calls = i as u64 + 1;
            let low = trace
                .flushes
                .iter()
                .filter(|(c, _)| *c <= calls)
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0);
            let high = trace.started_at.iter().filter(|&&c| c < calls).count();
            let max_id = trace
                .ids
                .iter()
                .filter(|(c, _)| *c <= calls)
                .map(|(_, id)| *id)
                .max();
            for _ in 0..tears {
                images += 1;
                let crashed = copy.crash(&mut rng);
                let ctx = format!("workload seed {wseed}, crash after call {calls}");
                let db = match config(&crashed).open() {
                    Ok(db) => db,
                    Err(e) => panic!("{ctx}: recovery failed: {e}"),
                };
                let got = read_all(&db);
                let matched = (low..=high.max(low)).find(|&k| trace.states[k] == got);
                assert!(
                    matched.is_some(),
                    "{ctx}: recovered state is no prefix of commits {low}..={high} (durable through {low})"
                );
                if let Some(max_id) = max_id {
                    let id = db.generate_id().unwrap();
                    assert!(
                        id > max_id,
                        "{ctx}: generate_id gave {id} after {max_id} was acknowledged"
                    );
                }
                // The recovered database takes new writes and keeps them.
                db.insert(b"after-crash", b"yes").unwrap();
                db.flush().unwrap();
                drop(db);
                let db = config(&crashed)
                    .open()
                    .unwrap_or_else(|e| panic!("{ctx}: second open failed: {e}"));
                assert_eq!(
                    db.get(b"after-crash").unwrap().as_deref(),
                    Some(&b"yes"[..]),
                    "{ctx}"
                );
                assert_eq!(read_all(&db), got, "{ctx}: a second recovery changed the data");
            }
        }
    }
    println!("{images} crash images from {workload} workloads");
}

#[test]
fn simulated_disk_round_trips_a_clean_close() {
    let fs = SimFs::new();
    {
        let db = config(&fs).open().unwrap();
        db.insert(b"k", b"v").unwrap();
    }
    let db = config(&fs).open().unwrap();
    assert!(db.was_recovered());
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(fs.files().iter().any(|p| p.starts_with(Path::new("/db/wal"))));
}
