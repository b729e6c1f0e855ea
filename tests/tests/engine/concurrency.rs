//! Threads racing on one database.
//!
//! - Mixed operations on shared keys: every value read is one that some writer
//!   wrote whole (values carry a checksum), each thread's private keys always
//!   read back as that thread's model says, and after a restart the database is
//!   exactly what it was before (the log order of each key's writes is their
//!   apply order).
//! - Counters: compare-and-swap loops, `update_and_fetch`, `fetch_and_update`
//!   and `merge` increments from many threads end exact; every
//!   `fetch_and_update` sees a distinct old value.
//! - Iterators during splits and merges live in `iterators`.
//! - `pop_min`/`pop_max`, `generate_id`, `open_tree` and `drop_tree` under
//!   contention.
//!
//! Batch atomicity is not asserted for concurrent readers: as in sled, a reader
//! may see a batch one leaf at a time.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use rand::Rng;
use skiff_engine::{Batch, Config, Db, Error, IVec, Tree};
use skiff_tests::with_watchdog;

pub(crate) fn open(dir: &std::path::Path, leaf_max: usize) -> Db {
    Config::new()
        .path(dir)
        .leaf_max_bytes(leaf_max)
        .flush_every_ms(Some(5))
        .open()
        .expect("open")
}

/// Everything in every tree, for comparing a database across a restart.
fn dump(db: &Db) -> BTreeMap<Vec<u8>, Vec<(IVec, IVec)>> {
    db.tree_names()
        .into_iter()
        .map(|name| {
            let tree = db.open_tree(&name).expect("open_tree");
            let items = tree.iter().collect::<Result<Vec<_>, _>>().expect("iterate");
            (name.to_vec(), items)
        })
        .collect()
}

/// A value that proves it was written whole: writer, sequence number, a
/// checksum over those and the key, and key-derived padding.
fn stamp(key: &[u8], writer: u8, n: u32) -> Vec<u8> {
    let mut v = vec![writer];
    v.extend_from_slice(&n.to_be_bytes());
    let sum = key.iter().chain(&v).fold(0x5au8, |a, &b| a.rotate_left(3) ^ b);
    v.push(sum);
    let pad = usize::try_from(n % 40).unwrap_or(0);
    v.extend(key.iter().cycle().take(pad));
    v
}

fn stamp_ok(key: &[u8], value: &[u8]) -> bool {
    if value.len() < 6 {
        return false;
    }
    let n = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
    stamp(key, value[0], n) == value
}

#[test]
fn mixed_ops_on_shared_keys() {
    let master = skiff_tests::seed("mixed_ops_on_shared_keys");
    let ops = skiff_tests::size(5000, 200_000);
    with_watchdog("mixed_ops_on_shared_keys", move || {
        let mut rng = skiff_tests::rng(master);
        let threads = rng.gen_range(2..=8u8);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 128);
        let other = db.open_tree(b"other").expect("open_tree");
        db.set_merge_operator(|key: &[u8], old: Option<&[u8]>, op: &[u8]| {
            // Keeps the value well formed: the operand is a whole stamped value
            // unless the old one sorts higher.
            match old {
                Some(o) if o > op => Some(o.to_vec()),
                _ => stamp_ok(key, op).then(|| op.to_vec()),
            }
        });
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = db.clone();
                let other = other.clone();
                let seed = skiff_tests::derive_seed(master, u64::from(t));
                thread::spawn(move || mixed_worker(&db, &other, t, seed, ops))
            })
            .collect();
        let models: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        // Private keys end as their owner's model says; shared ones are whole.
        for (t, model) in models.iter().enumerate() {
            let prefix = format!("own/{t}/");
            let found: BTreeMap<Vec<u8>, Vec<u8>> = db
                .scan_prefix(prefix.as_bytes())
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<_, _>>()
                .expect("scan");
            assert_eq!(&found, model, "thread {t}'s private keys (SKIFF_SEED={master})");
        }
        for item in db.scan_prefix(b"shared/") {
            let (k, v) = item.expect("scan");
            assert!(stamp_ok(&k, &v), "torn value under {k:?} (SKIFF_SEED={master})");
        }
        let before = dump(&db);
        assert_eq!(before.keys().count(), 2);
        drop((db, other));
        let db = open(dir.path(), 1024);
        assert_eq!(
            dump(&db),
            before,
            "the database changed across a restart (SKIFF_SEED={master})"
        );
        println!("{threads} threads × {ops} operations");
    });
}

fn mixed_worker(db: &Db, other: &Tree, t: u8, seed: u64, ops: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut rng = skiff_tests::rng(seed);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let own = |i: u32| format!("own/{t}/{i:02}").into_bytes();
    let shared = |i: u32| format!("shared/{i:02}").into_bytes();
    let check_own = |tree: &Tree, model: &BTreeMap<Vec<u8>, Vec<u8>>, key: &[u8]| {
        let got = tree.get(key).expect("get").map(|v| v.to_vec());
        assert_eq!(got.as_ref(), model.get(key), "thread {t}: private key {key:?}");
    };
    for n in 0..ops {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match rng.gen_range(0..100) {
            0..=19 => {
                let k = own(rng.gen_range(0..24));
                let v = stamp(&k, t, n);
                let old = db.insert(&k, v.clone()).expect("insert").map(|v| v.to_vec());
                assert_eq!(old, model.insert(k, v), "thread {t}: insert's old value");
            }
            20..=27 => {
                let k = own(rng.gen_range(0..24));
                let old = db.remove(&k).expect("remove").map(|v| v.to_vec());
                assert_eq!(old, model.remove(&k), "thread {t}: remove's old value");
            }
            28..=32 => {
                let k = own(rng.gen_range(0..24));
                check_own(db, &model, &k);
            }
            33..=47 => {
                let k = shared(rng.gen_range(0..24));
                db.insert(&k, stamp(&k, t, n)).expect("insert");
            }
            48..=52 => {
                let k = shared(rng.gen_range(0..24));
                db.remove(&k).expect("remove");
            }
            53..=62 => {
                let k = shared(rng.gen_range(0..24));
                if let Some(v) = db.get(&k).expect("get") {
                    assert!(stamp_ok(&k, &v), "thread {t}: torn value under {k:?}: {v:?}");
                }
            }
            63..=69 => {
                let k = shared(rng.gen_range(0..24));
                let current = db.get(&k).expect("get");
                let new = rng.gen_bool(0.8).then(|| stamp(&k, t, n));
                match db
                    .compare_and_swap(&k, current.as_ref(), new.clone())
                    .expect("cas")
                {
                    Ok(()) => {}
                    Err(e) => {
                        assert_ne!(
                            e.current, current,
                            "thread {t}: CAS failed although the value matched"
                        );
                        assert_eq!(e.proposed.map(|v| v.to_vec()), new);
                    }
                }
            }
            70..=74 => {
                let k = shared(rng.gen_range(0..24));
                let v = db.merge(&k, stamp(&k, t, n)).expect("merge");
                assert!(v.is_some_and(|v| stamp_ok(&k, &v)), "thread {t}: merge result");
            }
            75..=84 => {
                let mut batch = Batch::default();
                for _ in 0..rng.gen_range(1..6) {
                    let (k, mine) = if rng.gen_bool(0.5) {
                        (own(rng.gen_range(0..24)), true)
                    } else {
                        (shared(rng.gen_range(0..24)), false)
                    };
                    let v = rng.gen_bool(0.75).then(|| stamp(&k, t, n));
                    if mine {
                        match &v {
                            Some(v) => model.insert(k.clone(), v.clone()),
                            None => model.remove(&k),
                        };
                    }
                    match v {
                        Some(v) => batch.insert(k, v),
                        None => batch.remove(k),
                    }
                }
                db.apply_batch(batch).expect("apply_batch");
            }
            85..=91 => {
                // A scan of the shared keys: ordered, unique, whole values; the
                // private keys of this thread exactly as modelled.
                let lo = shared(rng.gen_range(0..24));
                let rev = rng.gen_bool(0.5);
                let iter = db.range(lo.clone()..);
                let items: Vec<(IVec, IVec)> = if rev {
                    iter.rev().collect::<Result<_, _>>().expect("iterate")
                } else {
                    iter.collect::<Result<_, _>>().expect("iterate")
                };
                for w in items.windows(2) {
                    assert!(
                        (w[0].0 < w[1].0) != rev,
                        "thread {t}: keys out of order: {:?}, {:?}",
                        w[0].0,
                        w[1].0
                    );
                }
                for (k, v) in &items {
                    assert!(k.as_ref() >= lo.as_slice(), "thread {t}: {k:?} outside the range");
                    assert!(stamp_ok(k, v), "thread {t}: torn value under {k:?}");
                }
                let mine: BTreeMap<Vec<u8>, Vec<u8>> = db
                    .scan_prefix(format!("own/{t}/"))
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<Result<_, _>>()
                    .expect("scan");
                assert_eq!(mine, model, "thread {t}: private keys by scan");
            }
            92..=97 => {
                let k = shared(rng.gen_range(0..8));
                other.insert(&k, stamp(&k, t, n)).expect("insert into other");
            }
            _ => {
                if rng.gen_bool(0.2) {
                    other.clear().expect("clear");
                } else {
                    db.flush().expect("flush");
                }
            }
        }
    }
    model
}

fn counter(v: Option<&[u8]>) -> u64 {
    v.map_or(0, |b| u64::from_be_bytes(b.try_into().expect("8-byte counter")))
}

#[test]
fn counters_are_exact() {
    let master = skiff_tests::seed("counters_are_exact");
    let per_thread = skiff_tests::size(1000, 50_000);
    with_watchdog("counters_are_exact", move || {
        let mut rng = skiff_tests::rng(master);
        let threads = rng.gen_range(2..=8usize);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 128);
        db.set_merge_operator(|_k: &[u8], old: Option<&[u8]>, add: &[u8]| {
            Some((counter(old) + counter(Some(add))).to_be_bytes().to_vec())
        });
        let stop = Arc::new(AtomicBool::new(false));
        // Churn around the counters so their leaves split and merge meanwhile.
        let churn = {
            let (db, stop) = (db.clone(), stop.clone());
            let seed = skiff_tests::derive_seed(master, 1000);
            thread::spawn(move || {
                let mut rng = skiff_tests::rng(seed);
                while !stop.load(Ordering::Relaxed) {
                    let k = format!("c/{}", rng.gen_range(0..64u32));
                    if rng.gen_bool(0.6) {
                        db.insert(k, vec![7u8; rng.gen_range(0..48)]).expect("insert");
                    } else {
                        db.remove(k).expect("remove");
                    }
                }
            })
        };
        let barrier = Arc::new(Barrier::new(threads));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (db, barrier) = (db.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let mut seen = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        // A hand-written compare-and-swap loop.
                        let mut current = db.get(b"c/cas").expect("get");
                        loop {
                            let next = (counter(current.as_deref()) + 1).to_be_bytes();
                            match db
                                .compare_and_swap(b"c/cas", current.as_ref(), Some(&next[..]))
                                .expect("cas")
                            {
                                Ok(()) => break,
                                Err(e) => current = e.current,
                            }
                        }
                        db.update_and_fetch(b"c/uaf", |old| Some((counter(old) + 1).to_be_bytes().to_vec()))
                            .expect("update_and_fetch");
                        let old = db
                            .fetch_and_update(b"c/fau", |old| Some((counter(old) + 1).to_be_bytes().to_vec()))
                            .expect("fetch_and_update");
                        seen.push(counter(old.as_deref()));
                        db.merge(b"c/merge", 1u64.to_be_bytes()).expect("merge");
                    }
                    seen
                })
            })
            .collect();
        let mut seen: Vec<u64> = workers
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        stop.store(true, Ordering::Relaxed);
        churn.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let total = (threads * per_thread) as u64;
        seen.sort_unstable();
        assert!(
            seen.iter().copied().eq(0..total),
            "fetch_and_update handed out an old value twice or skipped one (SKIFF_SEED={master})"
        );
        let check = |db: &Db| {
            for key in [&b"c/cas"[..], b"c/uaf", b"c/fau", b"c/merge"] {
                let v = counter(db.get(key).expect("get").as_deref());
                assert_eq!(
                    v, total,
                    "counter {key:?} with {threads} threads (SKIFF_SEED={master})"
                );
            }
        };
        check(&db);
        drop(db);
        check(&open(dir.path(), 4096));
    });
}

/// Keys `k/<i>/s` are stable: inserted first, never removed. Churn keys
/// `k/<i>/c<j>` (i ≥ 1) sort between `k/<i-1>/s` and `k/<i>/s`.
#[test]
fn pop_min_and_pop_max_take_each_key_once() {
    let master = skiff_tests::seed("pop_min_and_pop_max_take_each_key_once");
    let keys = skiff_tests::size(5000, 200_000);
    with_watchdog("pop_min_and_pop_max_take_each_key_once", move || {
        let mut rng = skiff_tests::rng(master);
        let threads = rng.gen_range(2..=8u64);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 128);
        let mut batch = Batch::default();
        for i in 0..keys {
            batch.insert(format!("p/{i:06}").into_bytes(), vec![1u8; i % 30]);
        }
        db.apply_batch(batch).expect("apply_batch");
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = db.clone();
                let seed = skiff_tests::derive_seed(master, t);
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(seed);
                    let mut got = Vec::new();
                    loop {
                        let popped = if rng.gen_bool(0.5) {
                            db.pop_min()
                        } else {
                            db.pop_max()
                        };
                        match popped.expect("pop") {
                            Some((k, v)) => got.push((k.to_vec(), v.len())),
                            None => break got,
                        }
                    }
                })
            })
            .collect();
        let mut got: Vec<(Vec<u8>, usize)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        got.sort();
        let want: Vec<(Vec<u8>, usize)> = (0..keys)
            .map(|i| (format!("p/{i:06}").into_bytes(), i % 30))
            .collect();
        assert!(
            got == want,
            "{} pops for {keys} keys: a key was popped twice or lost (SKIFF_SEED={master})",
            got.len()
        );
        assert!(db.is_empty());
    });
}

#[test]
fn generate_id_is_unique_across_threads_and_restarts() {
    let per_thread = skiff_tests::size(2000, 200_000);
    with_watchdog("generate_id_is_unique_across_threads_and_restarts", move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut all = HashSet::new();
        let mut max = 0;
        for restart in 0..3 {
            let db = open(dir.path(), 1024);
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let db = db.clone();
                    thread::spawn(move || {
                        let ids: Vec<u64> = (0..per_thread)
                            .map(|_| db.generate_id().expect("generate_id"))
                            .collect();
                        assert!(
                            ids.windows(2).all(|w| w[0] < w[1]),
                            "ids decrease within one thread"
                        );
                        ids
                    })
                })
                .collect();
            let ids: Vec<u64> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            let lowest = ids.iter().copied().min().unwrap_or(0);
            assert!(
                restart == 0 || lowest > max,
                "restart {restart}: id {lowest} is not above {max}"
            );
            max = ids.iter().copied().max().unwrap_or(max);
            for id in ids {
                assert!(all.insert(id), "id {id} handed out twice");
            }
        }
    });
}

#[test]
fn drop_tree_while_writers_write() {
    let master = skiff_tests::seed("drop_tree_while_writers_write");
    with_watchdog("drop_tree_while_writers_write", move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 128);
        let victim = db.open_tree(b"victim").expect("open_tree");
        let started = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..3u64)
            .map(|t| {
                let (victim, started) = (victim.clone(), started.clone());
                let seed = skiff_tests::derive_seed(master, t);
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(seed);
                    started.wait();
                    let mut written = 0;
                    // Once the tree is gone every call must say so, forever.
                    for i in 0.. {
                        let key = format!("{t}/{}", rng.gen_range(0..200));
                        let r = match i % 4 {
                            0 | 1 => victim.insert(key, vec![0u8; 30]).map(drop),
                            2 => victim.remove(key).map(drop),
                            _ => {
                                let mut b = Batch::default();
                                b.insert(format!("{t}/b{i}").into_bytes(), b"x".to_vec());
                                b.remove(format!("{t}/{i}").into_bytes());
                                victim.apply_batch(b)
                            }
                        };
                        match r {
                            Ok(()) => written += 1,
                            Err(Error::CollectionNotFound(name)) => {
                                assert_eq!(&*name, b"victim");
                                break;
                            }
                            Err(e) => panic!("writer {t}: unexpected error {e}"),
                        }
                    }
                    for _ in 0..10 {
                        assert!(matches!(
                            victim.insert(b"late", b"x"),
                            Err(Error::CollectionNotFound(_))
                        ));
                        assert!(matches!(victim.get(b"late"), Err(Error::CollectionNotFound(_))));
                    }
                    written
                })
            })
            .collect();
        started.wait();
        thread::sleep(Duration::from_millis(20));
        assert!(db.drop_tree(b"victim").expect("drop_tree"));
        let written: usize = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .sum();
        println!("{written} writes before the drop");
        let fresh = db.open_tree(b"victim").expect("open_tree");
        assert!(fresh.is_empty(), "a dropped tree's data came back");
        fresh.insert(b"after", b"1").expect("insert");
        drop((db, victim, fresh));
        let db = open(dir.path(), 128);
        let fresh = db.open_tree(b"victim").expect("open_tree");
        let keys: Vec<IVec> = fresh.iter().keys().collect::<Result<_, _>>().expect("iterate");
        assert_eq!(keys, vec![IVec::from(b"after")], "after a restart");
    });
}

#[test]
fn concurrent_open_tree_yields_one_tree() {
    with_watchdog("concurrent_open_tree_yields_one_tree", || {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 256);
        let handles: Vec<_> = (0..6u32)
            .map(|t| {
                let db = db.clone();
                thread::spawn(move || {
                    for i in 0..50u32 {
                        let name = format!("t{}", i % 5);
                        db.open_tree(&name)
                            .expect("open_tree")
                            .insert(format!("{t}/{i}"), b"v")
                            .expect("insert");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        let check = |db: &Db| {
            let names: BTreeSet<IVec> = db.tree_names().into_iter().skip(1).collect();
            let want: BTreeSet<IVec> = (0..5).map(|i| IVec::from(format!("t{i}"))).collect();
            assert_eq!(names, want);
            let total: usize = want
                .iter()
                .map(|n| db.open_tree(n).expect("open_tree").len())
                .sum();
            assert_eq!(
                total, 300,
                "writes through concurrently opened handles went missing"
            );
        };
        check(&db);
        drop(db);
        check(&open(dir.path(), 256));
    });
}
