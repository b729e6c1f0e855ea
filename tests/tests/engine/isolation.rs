//! T9: serializability under real concurrency.
//!
//! - Bank: transfers between accounts in two trees from 4 threads; every
//!   snapshot and every read-only transaction sums to the same total.
//! - Write skew: two transactions that each read both flags and clear their
//!   own if both are set; exactly one clears.
//! - Ring: keys form one cycle; transactions swap two neighbours; it stays one
//!   cycle.
//! - Phantoms: each transaction counts a range, inserts into it and writes the
//!   count with a blind write; the count always equals the range.
//!
//! Any serializability bug shows up as a broken invariant; a deadlock as the
//! watchdog's failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use rand::Rng;
use skiff_engine::{Batch, Config, ConflictableTransactionError, Db, IVec, Transactional, Tree};
use skiff_tests::with_watchdog;

type TxResult<T = ()> = Result<T, ConflictableTransactionError<()>>;

fn v(n: u64) -> IVec {
    IVec::from(&n.to_be_bytes())
}

fn num(v: &IVec) -> u64 {
    u64::from_be_bytes(v[..].try_into().expect("8 bytes"))
}

fn open(leaf_max: usize) -> Db {
    Config::new()
        .temporary(true)
        .leaf_max_bytes(leaf_max)
        .open()
        .expect("open")
}

const ACCOUNTS: u64 = 64;
const START: u64 = 1_000;

fn total_in_snapshot(db: &Db, trees: &[Tree]) -> u64 {
    let snap = db.snapshot();
    trees
        .iter()
        .flat_map(|t| snap.iter(t).values())
        .map(|v| num(&v.expect("read")))
        .sum()
}

#[test]
fn bank_transfers_keep_the_total_in_every_view() {
    let seed = skiff_tests::seed("bank_transfers_keep_the_total_in_every_view");
    let transfers = skiff_tests::size(100_000, 10_000_000) as u64;
    with_watchdog("bank", move || {
        let db = open(512);
        let trees = vec![
            db.open_tree(b"checking").unwrap(),
            db.open_tree(b"savings").unwrap(),
        ];
        for t in &trees {
            for a in 0..ACCOUNTS {
                t.insert(v(a), v(START)).unwrap();
            }
        }
        let total = 2 * ACCOUNTS * START;
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4u64)
            .map(|w| {
                let (db, trees, done) = (db.clone(), trees.clone(), done.clone());
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, w));
                    while done.fetch_add(1, Ordering::Relaxed) < transfers {
                        let (from, to) = (rng.gen_range(0..2), rng.gen_range(0..2));
                        let (a, b) = (rng.gen_range(0..ACCOUNTS), rng.gen_range(0..ACCOUNTS));
                        let amount = rng.gen_range(1..200);
                        if (from, a) == (to, b) {
                            continue;
                        }
                        (&trees[0], &trees[1])
                            .transaction(|(c, s)| {
                                let views = [c, s];
                                let src = num(&views[from].get(v(a))?.expect("account"));
                                let dst = num(&views[to].get(v(b))?.expect("account"));
                                if src >= amount {
                                    views[from].insert(v(a), v(src - amount))?;
                                    views[to].insert(v(b), v(dst + amount))?;
                                }
                                TxResult::Ok(())
                            })
                            .expect("transfer");
                        // Let the auditor see a moving database.
                        if w == 0 && rng.gen_range(0..64) == 0 {
                            assert_eq!(total_in_snapshot(&db, &trees), total, "a snapshot (seed {seed})");
                        }
                    }
                })
            })
            .collect();
        let auditor = {
            let (db, trees, stop) = (db.clone(), trees.clone(), stop.clone());
            thread::spawn(move || {
                let mut audits = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(total_in_snapshot(&db, &trees), total, "a snapshot (seed {seed})");
                    let in_tx = (&trees[0], &trees[1])
                        .transaction(|(c, s)| {
                            let mut sum = 0;
                            for t in [c, s] {
                                for kv in t.iter() {
                                    sum += num(&kv?.1);
                                }
                            }
                            TxResult::Ok(sum)
                        })
                        .expect("audit");
                    assert_eq!(in_tx, total, "reads inside a transaction (seed {seed})");
                    audits += 1;
                }
                audits
            })
        };
        for w in workers {
            w.join().expect("worker");
        }
        stop.store(true, Ordering::Relaxed);
        assert!(auditor.join().expect("auditor") > 0);
        let live: u64 = trees
            .iter()
            .flat_map(|t| t.iter().values())
            .map(|v| num(&v.unwrap()))
            .sum();
        assert_eq!(live, total);
    });
}

#[test]
fn write_skew_lets_exactly_one_commit() {
    let rounds = skiff_tests::size(500, 20_000);
    with_watchdog("write skew", move || {
        let db = open(8 * 1024);
        let barrier = Arc::new(Barrier::new(2));
        for round in 0..rounds {
            db.insert(b"alice", v(1)).unwrap();
            db.insert(b"bob", v(1)).unwrap();
            let handles: Vec<_> = [&b"alice"[..], &b"bob"[..]]
                .into_iter()
                .map(|me| {
                    let (db, barrier) = (db.clone(), barrier.clone());
                    thread::spawn(move || {
                        barrier.wait();
                        db.transaction(|tx| {
                            let on_call = num(&tx.get(b"alice")?.unwrap()) + num(&tx.get(b"bob")?.unwrap());
                            // Leave only if someone else stays on call.
                            if on_call == 2 {
                                tx.insert(me, v(0))?;
                                return TxResult::Ok(true);
                            }
                            TxResult::Ok(false)
                        })
                        .expect("transaction")
                    })
                })
                .collect();
            let left: usize = handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum();
            let on_call = num(&db.get(b"alice").unwrap().unwrap()) + num(&db.get(b"bob").unwrap().unwrap());
            assert_eq!((left, on_call), (1, 1), "round {round}");
        }
    });
}

/// Follows the ring from key 0; panics unless it visits all `n` keys once.
fn assert_one_cycle(next: impl Fn(u64) -> u64, n: u64, context: &str) {
    let mut seen = std::collections::HashSet::new();
    let mut at = 0;
    for _ in 0..n {
        assert!(seen.insert(at), "{context}: key {at} visited twice");
        at = next(at);
    }
    assert_eq!(at, 0, "{context}: the ring does not close");
}

#[test]
fn a_ring_rotated_by_transactions_stays_one_cycle() {
    let seed = skiff_tests::seed("a_ring_rotated_by_transactions_stays_one_cycle");
    let ops = skiff_tests::size(5_000, 1_000_000) as u64;
    const KEYS: u64 = 16;
    with_watchdog("ring", move || {
        let db = open(256);
        for k in 0..KEYS {
            db.insert(v(k), v((k + 1) % KEYS)).unwrap();
        }
        let threads: Vec<_> = (0..4u64)
            .map(|w| {
                let db = db.clone();
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, w));
                    for _ in 0..ops / 4 {
                        let start = rng.gen_range(0..KEYS);
                        // start -> a -> b -> c becomes start -> b -> a -> c.
                        db.transaction(|tx| {
                            let next =
                                |k: u64| -> TxResult<u64> { Ok(num(&tx.get(v(k))?.expect("ring key"))) };
                            let a = next(start)?;
                            let b = next(a)?;
                            let c = next(b)?;
                            tx.insert(v(start), v(b))?;
                            tx.insert(v(b), v(a))?;
                            tx.insert(v(a), v(c))?;
                            TxResult::Ok(())
                        })
                        .expect("rotate");
                        if rng.gen_range(0..32) == 0 {
                            let snap = db.snapshot();
                            let next = |k: u64| num(&snap.get(&db, v(k)).unwrap().unwrap());
                            assert_one_cycle(next, KEYS, &format!("a snapshot (seed {seed})"));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("rotator");
        }
        assert_one_cycle(|k| num(&db.get(v(k)).unwrap().unwrap()), KEYS, "the final ring");
    });
}

#[test]
fn range_counts_see_no_phantoms() {
    let seed = skiff_tests::seed("range_counts_see_no_phantoms");
    let ops = skiff_tests::size(4_000, 40_000) as u64;
    with_watchdog("phantoms", move || {
        let db = open(256);
        let range = db.open_tree(b"range").unwrap();
        let meta = db.open_tree(b"meta").unwrap();
        let threads: Vec<_> = (0..4u64)
            .map(|w| {
                let (db, range, meta) = (db.clone(), range.clone(), meta.clone());
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, w));
                    for _ in 0..ops / 4 {
                        let key = v(rng.gen());
                        (&range, &meta)
                            .transaction(|(r, m)| {
                                let n = r.iter().count() as u64;
                                let mut add = Batch::default();
                                add.insert(key.clone(), b"");
                                r.apply_batch(&add)?;
                                // Blind: only the scan can reveal a concurrent insert.
                                let mut count = Batch::default();
                                count.insert(b"count", v(n + 1));
                                m.apply_batch(&count)?;
                                TxResult::Ok(())
                            })
                            .expect("insert");
                        if rng.gen_range(0..16) == 0 {
                            let snap = db.snapshot();
                            let count = snap.get(&meta, b"count").unwrap().map_or(0, |c| num(&c));
                            assert_eq!(
                                count,
                                snap.iter(&range).count() as u64,
                                "a snapshot (seed {seed})"
                            );
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("inserter");
        }
        assert_eq!(num(&meta.get(b"count").unwrap().unwrap()), range.len() as u64);
    });
}
