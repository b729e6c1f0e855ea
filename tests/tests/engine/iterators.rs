//! Iterators during splits and merges (128-byte leaves), from several
//! threads: keys come out strictly increasing (decreasing backwards), never
//! twice, and keys that are never removed are always seen with their values.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use rand::rngs::StdRng;
use rand::Rng;
use skiff_engine::{Batch, Db, IVec};
use skiff_tests::with_watchdog;

use super::concurrency::open;

fn stable_key(i: usize) -> Vec<u8> {
    format!("k/{i:04}/s").into_bytes()
}

fn churn_key(i: usize, j: usize) -> Vec<u8> {
    format!("k/{i:04}/c{j}").into_bytes()
}

fn stable_value(key: &[u8]) -> Vec<u8> {
    key.iter().rev().copied().collect()
}

fn churn_value(key: &[u8], len: usize) -> Vec<u8> {
    key.iter().cycle().take(len.max(key.len())).copied().collect()
}

fn is_churn_value(key: &[u8], value: &[u8]) -> bool {
    value.len() >= key.len() && churn_value(key, value.len()) == value
}

/// Checks one scan: `items` in the given direction over `[lo, hi]` (stable-key
/// indices) must be strictly ordered, hold every stable key in the range with its
/// value, and only well-formed churn entries besides.
fn check_scan(items: &[(IVec, IVec)], descending: bool, want_stable: &[usize], what: &str) {
    for w in items.windows(2) {
        let ordered = if descending {
            w[0].0 > w[1].0
        } else {
            w[0].0 < w[1].0
        };
        assert!(ordered, "{what}: {:?} then {:?}", w[0].0, w[1].0);
    }
    let mut stable_seen = Vec::new();
    for (k, v) in items {
        if k.ends_with(b"/s") {
            assert_eq!(&**v, &stable_value(k)[..], "{what}: value of {k:?}");
            stable_seen.push(k.to_vec());
        } else {
            assert!(is_churn_value(k, v), "{what}: bad entry {k:?} = {v:?}");
        }
    }
    let mut want: Vec<Vec<u8>> = want_stable.iter().map(|&i| stable_key(i)).collect();
    if descending {
        want.reverse();
    }
    assert_eq!(stable_seen, want, "{what}: stable keys seen");
}

#[test]
fn iterators_during_splits_and_merges() {
    let master = skiff_tests::seed("iterators_during_splits_and_merges");
    let writer_ops = skiff_tests::size(20_000, 1_000_000);
    with_watchdog("iterators_during_splits_and_merges", move || {
        const STABLE: usize = 150;
        let mut rng = skiff_tests::rng(master);
        let (writers, readers) = (rng.gen_range(1..=3u64), rng.gen_range(2..=4u64));
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path(), 128);
        for i in 0..STABLE {
            db.insert(stable_key(i), stable_value(&stable_key(i)))
                .expect("insert");
        }
        let done = Arc::new(AtomicBool::new(false));
        let passes = Arc::new(AtomicUsize::new(0));
        let reader_handles: Vec<_> = (0..readers)
            .map(|r| {
                let (db, done, passes) = (db.clone(), done.clone(), passes.clone());
                let seed = skiff_tests::derive_seed(master, 100 + r);
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(seed);
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        read_pass(&db, &mut rng, STABLE);
                        passes.fetch_add(1, Ordering::Relaxed);
                        if finished {
                            break;
                        }
                    }
                })
            })
            .collect();
        let writer_handles: Vec<_> = (0..writers)
            .map(|w| {
                let db = db.clone();
                let seed = skiff_tests::derive_seed(master, w);
                thread::spawn(move || {
                    let mut rng = skiff_tests::rng(seed);
                    for _ in 0..writer_ops {
                        let k = churn_key(rng.gen_range(1..STABLE), rng.gen_range(0..6));
                        match rng.gen_range(0..10) {
                            0..=4 => {
                                db.insert(&k, churn_value(&k, rng.gen_range(0..80)))
                                    .expect("insert");
                            }
                            5..=8 => {
                                db.remove(&k).expect("remove");
                            }
                            _ => {
                                // Remove a whole run, so that leaves empty and merge.
                                let i = rng.gen_range(1..STABLE);
                                let mut batch = Batch::default();
                                for j in 0..6 {
                                    batch.remove(churn_key(i, j));
                                }
                                db.apply_batch(batch).expect("apply_batch");
                            }
                        }
                    }
                })
            })
            .collect();
        for h in writer_handles {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        done.store(true, Ordering::Release);
        for h in reader_handles {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        println!(
            "{writers} writers × {writer_ops} ops, {readers} readers, {} read passes",
            passes.load(Ordering::Relaxed)
        );
    });
}

/// One reader pass: full scans both ways, a random range both ways, a prefix
/// scan, a mixed front/back walk, and point reads of stable keys.
fn read_pass(db: &Db, rng: &mut StdRng, stable: usize) {
    let all: Vec<usize> = (0..stable).collect();
    let fwd: Vec<_> = db.iter().collect::<Result<_, _>>().expect("iterate");
    check_scan(&fwd, false, &all, "forward scan");
    let back: Vec<_> = db.iter().rev().collect::<Result<_, _>>().expect("iterate");
    check_scan(&back, true, &all, "backward scan");

    let (a, b) = (rng.gen_range(0..stable), rng.gen_range(0..stable));
    let (a, b) = (a.min(b), a.max(b));
    let (lo, hi) = (stable_key(a), stable_key(b));
    let inside: Vec<usize> = (a..=b).collect();
    let items: Vec<_> = db
        .range(lo.clone()..=hi.clone())
        .collect::<Result<_, _>>()
        .expect("range");
    check_scan(&items, false, &inside, "forward range");
    let items: Vec<_> = db
        .range(lo.clone()..=hi.clone())
        .rev()
        .collect::<Result<_, _>>()
        .expect("range");
    check_scan(&items, true, &inside, "backward range");

    let d = rng.gen_range(0..stable / 10);
    let prefix = format!("k/{:03}", d);
    let items: Vec<_> = db
        .scan_prefix(&prefix)
        .collect::<Result<_, _>>()
        .expect("scan_prefix");
    let in_prefix: Vec<usize> = (d * 10..(d * 10 + 10).min(stable)).collect();
    check_scan(&items, false, &in_prefix, "prefix scan");

    // Mixed: the front goes up, the back goes down, they never cross, and
    // together they see every stable key once. The iterator is not fused: after
    // a `None`, a key inserted meanwhile between the two ends may still come out
    // (in order), but a stable key never may — it was there all along.
    let mut iter = db.range::<Vec<u8>, _>((Bound::Included(lo), Bound::Included(hi)));
    let (mut front, mut back) = (Vec::new(), Vec::new());
    let mut ended = false;
    let mut nones_in_a_row = 0;
    while nones_in_a_row < 4 {
        let forward = rng.gen_bool(0.5);
        let item = if forward { iter.next() } else { iter.next_back() };
        match item {
            Some(item) => {
                let item = item.expect("iterate");
                assert!(
                    !(ended && item.0.ends_with(b"/s")),
                    "mixed iteration ended early: stable key {:?} came after a None",
                    item.0
                );
                nones_in_a_row = 0;
                if forward {
                    front.push(item);
                } else {
                    back.push(item);
                }
            }
            None => {
                ended = true;
                nones_in_a_row += 1;
            }
        }
    }
    back.reverse();
    if let (Some(f), Some(b)) = (front.last(), back.first()) {
        assert!(
            f.0 < b.0,
            "mixed iteration: the ends crossed at {:?} / {:?}",
            f.0,
            b.0
        );
    }
    front.extend(back);
    check_scan(&front, false, &inside, "mixed iteration");

    for _ in 0..8 {
        let i = rng.gen_range(0..stable);
        let k = stable_key(i);
        assert_eq!(
            db.get(&k).expect("get").as_deref(),
            Some(&stable_value(&k)[..]),
            "get {k:?}"
        );
        if i + 1 < stable {
            let (gk, _) = db.get_gt(&k).expect("get_gt").expect("a key above a stable key");
            assert!(
                gk.as_ref() <= &stable_key(i + 1)[..],
                "get_gt({k:?}) skipped to {gk:?}"
            );
        }
        if i > 0 {
            let (lk, _) = db.get_lt(&k).expect("get_lt").expect("a key below a stable key");
            assert!(
                lk.as_ref() >= &stable_key(i - 1)[..],
                "get_lt({k:?}) skipped to {lk:?}"
            );
        }
    }
    assert_eq!(
        db.first().expect("first").map(|p| p.0.to_vec()),
        Some(stable_key(0))
    );
    assert_eq!(
        db.last().expect("last").map(|p| p.0.to_vec()),
        Some(stable_key(stable - 1))
    );
}

/// An iterator paused over a tree deep enough for two levels of inner nodes
/// resumes correctly, in either direction, after the leaves ahead of it split
/// and merge: between refills it remembers where its next leaf sits, and that
/// memory goes stale.
#[test]
fn a_paused_iterator_resumes_in_order_after_the_leaves_ahead_split_and_merge() {
    const STABLE: usize = 3_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path(), 128);
    // Stable keys never change; churn keys come and go between them.
    for i in 0..STABLE {
        db.insert(stable_key(i), stable_value(&stable_key(i)))
            .expect("insert");
    }
    for descending in [false, true] {
        for pause in [1, 15, 16, 17, 40, 47, 100, 1_000, 2_990] {
            let mut it: Box<dyn Iterator<Item = skiff_engine::Result<(IVec, IVec)>>> = if descending {
                Box::new(db.iter().rev())
            } else {
                Box::new(db.iter())
            };
            let mut items: Vec<(IVec, IVec)> = it.by_ref().take(pause).map(|r| r.expect("item")).collect();
            // The stable keys just ahead of the paused position.
            let ahead: Vec<usize> = if descending {
                (STABLE.saturating_sub(items.len() + 60)..STABLE - items.len()).collect()
            } else {
                (items.len()..(items.len() + 60).min(STABLE)).collect()
            };
            // Splits: big churn entries among them.
            for &i in &ahead {
                for j in 0..3 {
                    let k = churn_key(i, j);
                    db.insert(&k, churn_value(&k, 60)).expect("insert");
                }
            }
            items.extend(it.by_ref().take(25).map(|r| r.expect("item")));
            // Merges: the churn goes again, emptying the leaves that held it.
            let mut batch = Batch::default();
            for &i in &ahead {
                for j in 0..3 {
                    batch.remove(churn_key(i, j));
                }
            }
            db.apply_batch(batch).expect("apply_batch");
            items.extend(it.map(|r| r.expect("item")));
            let every: Vec<usize> = (0..STABLE).collect();
            let what = format!("paused after {pause}, descending: {descending}");
            check_scan(&items, descending, &every, &what);
        }
    }
}
