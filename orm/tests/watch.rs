//! Change streams: what a subscription receives, and T10's stream half —
//! under four concurrent writers, replaying the batches a subscriber received
//! reproduces the collection exactly, in commit order, with nothing from
//! aborted transactions or failed operations.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use skiff::{Change, ChangeBatch, Db, Error, Model};

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Item {
    #[model(key)]
    id: u32,
    #[model(unique)]
    code: String,
    #[model(index)]
    shelf: u8,
}

fn item(id: u32, shelf: u8) -> Item {
    Item {
        id,
        code: format!("c{id}"),
        shelf,
    }
}

const WAIT: Duration = Duration::from_secs(10);

fn next(sub: &mut skiff::Subscription<Item>) -> ChangeBatch<Item> {
    sub.next_timeout(WAIT).expect("a batch").expect("no error")
}

#[test]
fn each_commit_is_one_batch_and_failures_none() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut all = items.watch()?;
    items.insert(&item(1, 1))?;
    items.update(&1, |i| i.shelf = 2)?;
    assert!(matches!(
        items.insert(&Item {
            id: 2,
            code: "c1".into(),
            shelf: 1
        }),
        Err(Error::UniqueViolation { .. })
    ));
    let _ = db.transaction(|tx| {
        tx.collection::<Item>()?.insert(&item(3, 3))?;
        Err::<(), _>(Error::NotFound {
            collection: "x".into(),
            key: vec![],
        })
    });
    db.transaction(|tx| {
        let items = tx.collection::<Item>()?;
        items.insert(&item(4, 4))?;
        items.remove(&1)?;
        Ok::<_, Error>(())
    })?;
    let a = next(&mut all);
    let b = next(&mut all);
    let c = next(&mut all);
    assert_eq!(a.changes, vec![Change::Inserted(item(1, 1))]);
    assert_eq!(
        b.changes,
        vec![Change::Updated {
            old: item(1, 1),
            new: item(1, 2)
        }]
    );
    assert_eq!(
        c.changes,
        vec![Change::Inserted(item(4, 4)), Change::Removed(item(1, 2))],
        "one batch per transaction"
    );
    assert!(a.seq < b.seq && b.seq < c.seq);
    assert!(
        all.try_next().is_none(),
        "nothing from the failed operation or the aborted transaction"
    );
    Ok(())
}

#[test]
fn filters_match_the_old_or_the_new_record() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut keys = items.watch_range(10..20)?;
    let mut shelf = items.index(Item::SHELF).watch(&5)?;
    let mut shelves = items.index(Item::SHELF).watch_range(6..=7)?;
    items.insert(&item(1, 5))?;
    items.insert(&item(15, 1))?;
    items.update(&1, |i| i.shelf = 6)?; // leaves shelf 5, enters 6..=7
    items.update(&15, |i| i.shelf = 2)?;
    assert_eq!(next(&mut shelf).changes, vec![Change::Inserted(item(1, 5))]);
    assert_eq!(
        next(&mut shelf).changes,
        vec![Change::Updated {
            old: item(1, 5),
            new: item(1, 6)
        }]
    );
    assert_eq!(
        next(&mut shelves).changes,
        vec![Change::Updated {
            old: item(1, 5),
            new: item(1, 6)
        }]
    );
    assert_eq!(next(&mut keys).changes, vec![Change::Inserted(item(15, 1))]);
    assert_eq!(
        next(&mut keys).changes,
        vec![Change::Updated {
            old: item(15, 1),
            new: item(15, 2)
        }]
    );
    for sub in [&mut keys, &mut shelf, &mut shelves] {
        assert!(sub.try_next().is_none());
    }
    Ok(())
}

#[test]
fn a_slow_subscriber_lags_and_writers_do_not_wait() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut slow = items.watch()?;
    let n = u32::try_from(skiff::SUBSCRIPTION_CAPACITY).unwrap() + 10;
    for id in 0..n {
        items.insert(&item(id, 0))?; // completes although nobody reads
    }
    let mut received = 0;
    let lagged = loop {
        match slow.next_timeout(WAIT) {
            Some(Ok(_)) => received += 1,
            Some(Err(Error::Lagged { missed })) => break missed,
            other => panic!("expected Lagged, got {other:?}"),
        }
    };
    assert_eq!(received, skiff::SUBSCRIPTION_CAPACITY);
    assert!((1..=10).contains(&lagged), "{lagged}");
    assert!(slow.next().is_none(), "the stream ends after a lag");
    let mut fresh = items.watch()?; // resubscribing works
    items.remove(&0)?;
    assert_eq!(next(&mut fresh).changes, vec![Change::Removed(item(0, 0))]);
    Ok(())
}

#[test]
fn dropping_the_database_ends_streams() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut sub = items.watch()?;
    let reader = std::thread::spawn(move || sub.next().is_none());
    drop((items, db));
    assert!(reader.join().unwrap());
    Ok(())
}

/// A minimal executor: polls one future on this thread, parking between wakes.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(WAIT);
    }
}

#[test]
fn a_subscription_is_a_future() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut sub = items.watch()?;
    let writer = {
        let items = items.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            items.insert(&item(7, 7))
        })
    };
    let batch = block_on(sub.next_batch()).expect("open").expect("no error");
    assert_eq!(batch.changes, vec![Change::Inserted(item(7, 7))]);
    writer.join().unwrap()?;
    Ok(())
}

/// Applies a batch to the model, checking every old image against it.
fn replay(model: &mut BTreeMap<u32, Item>, batch: &ChangeBatch<Item>) {
    for change in &batch.changes {
        match change {
            Change::Inserted(new) => assert!(
                model.insert(new.id, new.clone()).is_none(),
                "insert of existing {new:?}"
            ),
            Change::Updated { old, new } => {
                assert_eq!(model.remove(&old.id).as_ref(), Some(old), "stale old image");
                model.insert(new.id, new.clone());
            }
            Change::Removed(old) => assert_eq!(model.remove(&old.id).as_ref(), Some(old), "stale removal"),
        }
    }
}

#[test]
fn concurrent_writers_stream_every_commit_once_in_order() -> skiff::Result<()> {
    let master: u64 = std::env::var("SKIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("watch T10: SKIFF_SEED={master}");
    let db = Db::temporary()?;
    let items = db.collection::<Item>()?;
    let mut all = items.watch()?;
    let mut shelf3 = items.index(Item::SHELF).watch(&3)?;
    let ops = if std::env::var("SKIFF_STRESS").is_ok_and(|v| v == "1") {
        50_000
    } else {
        500
    };
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || -> skiff::Result<u64> {
                let mut rng = rand::rngs::StdRng::seed_from_u64(master ^ w);
                let mut committed = 0;
                for _ in 0..ops {
                    let (a, b) = (rng.gen_range(0..30u32), rng.gen_range(0..30u32));
                    let (shelf, abort) = (rng.gen_range(0..5u8), rng.gen_bool(0.2));
                    let code = format!("c{}", rng.gen_range(0..40));
                    let result = db.transaction(|tx| {
                        let items = tx.collection::<Item>()?;
                        items.upsert(&Item {
                            id: a,
                            code: code.clone(),
                            shelf,
                        })?;
                        if items.remove(&b)?.is_none() {
                            items.upsert(&Item {
                                id: b,
                                code: format!("c{b}x{w}"),
                                shelf: (shelf + 1) % 5,
                            })?;
                        }
                        if abort {
                            return Err(Error::NotFound {
                                collection: "aborted".into(),
                                key: vec![],
                            });
                        }
                        Ok(())
                    });
                    match result {
                        Ok(()) => committed += 1,
                        Err(Error::UniqueViolation { .. } | Error::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(committed)
            })
        })
        .collect();
    let committed: u64 = writers
        .into_iter()
        .map(|w| w.join().unwrap())
        .sum::<skiff::Result<u64>>()?;
    let mut model = BTreeMap::new();
    let mut last_seq = 0;
    let mut stream = Vec::new();
    for _ in 0..committed {
        let batch = next(&mut all);
        assert!(
            batch.seq > last_seq,
            "batches in commit order (SKIFF_SEED={master})"
        );
        last_seq = batch.seq;
        replay(&mut model, &batch);
        stream.push(batch);
    }
    assert!(
        all.try_next().is_none(),
        "one batch per committed transaction, nothing else"
    );
    let stored: BTreeMap<u32, Item> = items
        .iter()?
        .map(|i| i.map(|i| (i.id, i)))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        model, stored,
        "replaying the stream reproduces the collection (SKIFF_SEED={master})"
    );
    // The shelf-3 subscriber saw exactly the changes that touched shelf 3
    // (before or after), batch for batch.
    let touches = |c: &Change<Item>| match c {
        Change::Inserted(i) | Change::Removed(i) => i.shelf == 3,
        Change::Updated { old, new } => old.shelf == 3 || new.shelf == 3,
    };
    let expected: Vec<ChangeBatch<Item>> = stream
        .iter()
        .map(|b| ChangeBatch {
            seq: b.seq,
            changes: b.changes.iter().filter(|c| touches(c)).cloned().collect(),
        })
        .filter(|b| !b.changes.is_empty())
        .collect();
    let mut got = Vec::new();
    while let Some(batch) = shelf3.try_next() {
        got.push(batch?);
    }
    assert_eq!(got, expected, "SKIFF_SEED={master}");
    Ok(())
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(change_log = 5)]
struct Logged {
    #[model(key)]
    id: u32,
    #[model(index)]
    tag: u8,
}

#[test]
fn a_change_log_resumes_after_a_restart_without_a_gap() -> skiff::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let seen_seq = {
        let db = Db::open(dir.path())?;
        let logged = db.collection::<Logged>()?;
        let mut sub = logged.watch()?;
        logged.insert(&Logged { id: 1, tag: 1 })?;
        logged.insert(&Logged { id: 2, tag: 2 })?;
        let first = sub.next_timeout(WAIT).unwrap()?;
        assert_eq!(first.seq, 1, "logged collections number their commits 1, 2, 3, …");
        // The consumer stops here; more commits happen before and after a restart.
        logged.insert(&Logged { id: 3, tag: 1 })?;
        first.seq
    };
    let db = Db::open(dir.path())?;
    let logged = db.collection::<Logged>()?;
    logged.remove(&1)?;
    let mut resumed = logged.watch()?.since(seen_seq)?;
    logged.insert(&Logged { id: 4, tag: 2 })?; // live, after resuming
    let got: Vec<(u64, usize)> = (0..4)
        .map(|_| {
            resumed
                .next_timeout(WAIT)
                .unwrap()
                .map(|b| (b.seq, b.changes.len()))
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(got, vec![(2, 1), (3, 1), (4, 1), (5, 1)]);
    assert!(resumed.try_next().is_none(), "no repeat");

    // Filtered resumption keeps only matching batches.
    let mut tagged = logged.index(Logged::TAG).watch(&2)?.since(0)?;
    let seqs: Vec<u64> = std::iter::from_fn(|| tagged.try_next())
        .map(|b| b.unwrap().seq)
        .collect();
    assert_eq!(seqs, vec![2, 5], "only the batches that touched tag 2");

    // Six more commits push seq 2..=6 out of a log that keeps 5: too old.
    for id in 10..16 {
        logged.insert(&Logged { id, tag: 0 })?;
    }
    match logged.watch()?.since(2) {
        Err(Error::Lagged { missed }) => assert_eq!(missed, 4),
        other => panic!("expected Lagged, got {other:?}"),
    }
    assert!(logged.watch()?.since(6).is_ok());
    Ok(())
}
