//! Transactions and snapshots, one behaviour at a time.
//!
//! Conflicts are staged deterministically: a closure that, on its first run,
//! makes another commit behind its own back (from the same thread, which is
//! allowed because nothing is locked while a closure runs) must run again.

use std::cell::Cell;
use std::time::Duration;

use skiff_engine::{
    abort, Batch, Config, ConflictableTransactionError, Db, Error, Event, IVec, TransactionError,
    Transactional, UnabortableTransactionError,
};

type TxResult<T = ()> = Result<T, ConflictableTransactionError<()>>;

fn temp_db() -> Db {
    Config::new().temporary(true).open().expect("open")
}

/// A database whose leaves split and merge after a few entries.
fn tiny_leaves() -> Db {
    Config::new()
        .temporary(true)
        .leaf_max_bytes(256)
        .open()
        .expect("open")
}

fn v(n: u64) -> IVec {
    IVec::from(&n.to_be_bytes())
}

fn num(v: &IVec) -> u64 {
    u64::from_be_bytes(v[..].try_into().expect("8 bytes"))
}

#[test]
fn commit_applies_every_write_and_abort_none() {
    let db = temp_db();
    db.insert(b"a", b"1").unwrap();
    db.transaction(|tx| {
        assert_eq!(tx.insert(b"b", b"2")?, None);
        assert_eq!(
            tx.get(b"b")?.as_deref(),
            Some(&b"2"[..]),
            "a transaction reads its own writes"
        );
        assert_eq!(tx.remove(b"a")?.as_deref(), Some(&b"1"[..]));
        assert_eq!(tx.get(b"a")?, None);
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));

    let result = db.transaction(|tx| {
        tx.insert(b"c", b"3")?;
        tx.remove(b"b")?;
        abort::<(), _>(42)
    });
    assert!(matches!(result, Err(TransactionError::Abort(42))));
    assert_eq!(db.get(b"c").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn storage_errors_end_the_transaction() {
    let db = temp_db();
    let huge = vec![0u8; skiff_engine::MAX_KEY_LEN + 1];
    let result = db.transaction(|tx| {
        tx.insert(b"ok", b"1")?;
        tx.insert(huge.clone(), b"v")?;
        TxResult::Ok(())
    });
    assert!(matches!(
        result,
        Err(TransactionError::Storage(Error::KeyTooLarge { .. }))
    ));
    assert_eq!(
        db.get(b"ok").unwrap(),
        None,
        "nothing of a failed transaction is written"
    );

    let gone = db.open_tree(b"gone").unwrap();
    db.drop_tree(b"gone").unwrap();
    let result = gone.transaction(|tx| {
        tx.insert(b"k", b"v")?;
        TxResult::Ok(())
    });
    assert!(matches!(
        result,
        Err(TransactionError::Storage(Error::CollectionNotFound(_)))
    ));
}

#[test]
fn several_trees_commit_together() {
    let db = temp_db();
    let a = db.open_tree(b"a").unwrap();
    let b = db.open_tree(b"b").unwrap();
    a.insert(b"x", v(10)).unwrap();
    (&a, &b, &a)
        .transaction(|(a1, b, a2)| {
            let x = num(&a1.remove(b"x")?.expect("x"));
            b.insert(b"x", v(x))?;
            // The same tree twice shares one set of writes.
            assert_eq!(a2.get(b"x")?, None);
            TxResult::Ok(())
        })
        .unwrap();
    assert_eq!(a.get(b"x").unwrap(), None);
    assert_eq!(b.get(b"x").unwrap(), Some(v(10)));

    let trees = vec![a.clone(), b.clone()];
    trees
        .as_slice()
        .transaction(|views| {
            for (i, t) in views.iter().enumerate() {
                t.insert(b"slice", v(i as u64))?;
            }
            TxResult::Ok(())
        })
        .unwrap();
    assert_eq!(a.get(b"slice").unwrap(), Some(v(0)));
    assert_eq!(b.get(b"slice").unwrap(), Some(v(1)));

    let other = temp_db();
    let foreign = other.open_tree(b"f").unwrap();
    let result = (&a, &foreign).transaction(|_| TxResult::Ok(()));
    assert!(matches!(
        result,
        Err(TransactionError::Storage(Error::Unsupported(_)))
    ));
}

#[test]
fn transact_picks_trees_at_run_time() {
    let db = temp_db();
    let names: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
    let trees: Vec<_> = names.iter().map(|n| db.open_tree(n).unwrap()).collect();
    db.transact(|tx| {
        for (i, tree) in trees.iter().enumerate() {
            tx.tree(tree)?.insert(b"k", v(i as u64))?;
        }
        TxResult::Ok(())
    })
    .unwrap();
    for (i, tree) in trees.iter().enumerate() {
        assert_eq!(tree.get(b"k").unwrap(), Some(v(i as u64)));
    }
    let result: Result<(), TransactionError<&str>> = db.transact(|tx| {
        tx.tree(&trees[0])?.insert(b"k", b"changed")?;
        abort("no")
    });
    assert!(matches!(result, Err(TransactionError::Abort("no"))));
    assert_eq!(trees[0].get(b"k").unwrap(), Some(v(0)));
}

#[test]
fn batches_and_ids_inside_transactions() {
    let db = temp_db();
    db.insert(b"old", b"x").unwrap();
    let id = db
        .transaction(|tx| {
            let mut batch = Batch::default();
            batch.insert(b"new", b"y");
            batch.remove(b"old");
            tx.apply_batch(&batch)?;
            assert_eq!(tx.get(b"old")?, None);
            Ok::<_, ConflictableTransactionError<()>>(tx.generate_id()?)
        })
        .unwrap();
    assert!(db.generate_id().unwrap() > id);
    assert_eq!(db.get(b"old").unwrap(), None);
    assert_eq!(db.get(b"new").unwrap().as_deref(), Some(&b"y"[..]));
}

#[test]
fn ranges_merge_the_snapshot_with_own_writes() {
    let db = tiny_leaves();
    for i in (0..100u64).step_by(2) {
        db.insert(v(i), v(i)).unwrap();
    }
    db.transaction(|tx| {
        tx.insert(v(11), v(1011))?;
        tx.insert(v(12), v(1012))?;
        tx.remove(v(14))?;
        tx.insert(v(1000), v(0))?;
        let seen: Vec<u64> = tx
            .range(v(10)..v(20))
            .map(|r| r.map(|(k, _)| num(&k)))
            .collect::<Result<_, _>>()?;
        assert_eq!(seen, vec![10, 11, 12, 16, 18]);
        let back: Vec<u64> = tx
            .range(v(10)..v(20))
            .rev()
            .map(|r| r.map(|(k, _)| num(&k)))
            .collect::<Result<_, _>>()?;
        assert_eq!(back, vec![18, 16, 12, 11, 10]);
        let mut both = tx.range(v(10)..=v(16));
        assert_eq!(num(&both.next().unwrap()?.0), 10);
        assert_eq!(num(&both.next_back().unwrap()?.0), 16);
        assert_eq!(num(&both.next_back().unwrap()?.0), 12);
        assert_eq!(num(&both.next().unwrap()?.0), 11);
        assert!(both.next().is_none());
        assert_eq!(tx.get(v(12))?, Some(v(1012)));
        assert_eq!(tx.first()?.map(|(k, _)| num(&k)), Some(0));
        assert_eq!(tx.last()?.map(|(k, _)| num(&k)), Some(1000));
        assert_eq!(tx.iter().count(), 51); // 50 even keys, +11, -14, +1000
        TxResult::Ok(())
    })
    .unwrap();
    let under_256 = db
        .transaction(|tx| Ok::<_, ConflictableTransactionError<()>>(tx.scan_prefix([0u8; 7]).count()))
        .unwrap();
    assert_eq!(under_256, 50);
}

#[test]
fn a_changed_read_makes_the_transaction_run_again() {
    let db = temp_db();
    db.insert(b"x", v(1)).unwrap();
    let runs = Cell::new(0);
    db.transaction(|tx| {
        runs.set(runs.get() + 1);
        let x = num(&tx.get(b"x")?.unwrap());
        if runs.get() == 1 {
            db.insert(b"x", v(100)).unwrap(); // a commit after our snapshot
        }
        tx.insert(b"y", v(x))?;
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(runs.get(), 2);
    assert_eq!(
        db.get(b"y").unwrap(),
        Some(v(100)),
        "the second run read the new value"
    );

    // A write to a key it did not read does not disturb it.
    runs.set(0);
    db.transaction(|tx| {
        runs.set(runs.get() + 1);
        tx.get(b"x")?;
        if runs.get() == 1 {
            db.insert(b"unrelated", v(1)).unwrap();
        }
        tx.insert(b"y", v(0))?;
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(runs.get(), 1);
}

#[test]
fn a_phantom_in_a_scanned_range_makes_the_transaction_run_again() {
    let db = temp_db();
    for k in [b"a1", b"a2", b"c1"] {
        db.insert(k, b"").unwrap();
    }
    for (outside, expected_runs) in [(false, 2), (true, 1)] {
        let runs = Cell::new(0);
        db.transaction(|tx| {
            runs.set(runs.get() + 1);
            let n = tx.scan_prefix(b"a").count() as u64;
            if runs.get() == 1 {
                let key = if outside {
                    b"b9".to_vec()
                } else {
                    format!("a{}", 5 + n).into_bytes()
                };
                db.insert(key, b"").unwrap();
            }
            tx.insert(b"count", v(n))?;
            TxResult::Ok(())
        })
        .unwrap();
        assert_eq!(runs.get(), expected_runs, "insert outside the range: {outside}");
    }
    assert_eq!(db.get(b"count").unwrap(), Some(v(3)));

    // A removal from the range counts too, and so does a key before `first`.
    let runs = Cell::new(0);
    db.transaction(|tx| {
        runs.set(runs.get() + 1);
        let first = tx.first()?.map(|(k, _)| k);
        if runs.get() == 1 {
            db.insert(b"0", b"").unwrap();
        }
        tx.insert(b"first", first.unwrap())?;
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(runs.get(), 2);
    assert_eq!(db.get(b"first").unwrap().as_deref(), Some(&b"0"[..]));
}

#[test]
fn a_cleared_tree_invalidates_its_readers() {
    let db = temp_db();
    let t = db.open_tree(b"t").unwrap();
    t.insert(b"k", b"v").unwrap();
    let runs = Cell::new(0);
    db.transact(|tx| {
        runs.set(runs.get() + 1);
        let seen = tx.tree(&t)?.get(b"k")?;
        if runs.get() == 1 {
            assert!(seen.is_some());
            t.clear().unwrap();
        } else {
            assert_eq!(seen, None);
        }
        tx.tree(&t)?.insert(b"after", b"")?;
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(runs.get(), 2);
}

#[test]
fn conflicts_returned_by_the_closure_retry_and_are_bounded() {
    let db = temp_db();
    let runs = Cell::new(0);
    db.transaction(|tx| {
        runs.set(runs.get() + 1);
        tx.insert(b"k", b"v")?;
        if runs.get() < 3 {
            return Err(UnabortableTransactionError::Conflict.into());
        }
        TxResult::Ok(())
    })
    .unwrap();
    assert_eq!(runs.get(), 3);

    // A transaction that is always invalidated gives up with Error::Conflict.
    db.insert(b"x", v(0)).unwrap();
    let n = Cell::new(0u64);
    let result = db.transaction(|tx| {
        n.set(n.get() + 1);
        tx.get(b"x")?;
        db.insert(b"x", v(n.get())).unwrap();
        tx.insert(b"y", b"")?;
        TxResult::Ok(())
    });
    match result {
        Err(TransactionError::Storage(Error::Conflict { attempts })) => {
            assert_eq!(attempts, skiff_engine::MAX_ATTEMPTS);
            assert_eq!(n.get(), u64::from(attempts));
        }
        other => panic!("expected a conflict error, got {other:?}"),
    }
    assert_eq!(db.get(b"y").unwrap(), None);
}

#[test]
fn subscribers_see_a_transaction_at_once_and_never_an_aborted_one() {
    let db = temp_db();
    let mut sub = db.watch_prefix(b"");
    let _ = db.transaction(|tx| {
        tx.insert(b"aborted", b"")?;
        abort::<(), _>(())
    });
    db.transaction(|tx| {
        tx.insert(b"a", b"1")?;
        tx.insert(b"b", b"2")?;
        tx.remove(b"a")?;
        TxResult::Ok(())
    })
    .unwrap();
    db.insert(b"c", b"3").unwrap();
    let events: Vec<Event> = (0..3)
        .map(|_| sub.next_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(
        events,
        vec![
            Event::Remove { key: b"a".into() },
            Event::Insert {
                key: b"b".into(),
                value: b"2".into()
            },
            Event::Insert {
                key: b"c".into(),
                value: b"3".into()
            },
        ]
    );
}

#[test]
fn durable_transactions_reach_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let open = |durable| {
        Config::new()
            .path(dir.path())
            .flush_every_ms(None)
            .durable_transactions(durable)
            .open()
            .unwrap()
    };
    let db = open(false);
    db.transaction(|tx| {
        tx.insert(b"explicit", b"")?;
        tx.flush();
        TxResult::Ok(())
    })
    .unwrap();
    drop(db);
    let db = open(true);
    assert!(db.contains_key(b"explicit").unwrap());
    db.transaction(|tx| {
        tx.insert(b"by default", b"")?;
        TxResult::Ok(())
    })
    .unwrap();
    drop(db);
    assert!(open(false).contains_key(b"by default").unwrap());
}

#[test]
fn a_snapshot_does_not_see_later_writes() {
    let db = tiny_leaves();
    let t = db.open_tree(b"t").unwrap();
    for i in 0..200u64 {
        t.insert(v(i), v(i)).unwrap();
    }
    let snap = db.snapshot();
    // Splits, merges, overwrites, removes and inserts after the snapshot.
    for i in 0..200u64 {
        match i % 3 {
            0 => drop(t.remove(v(i)).unwrap()),
            1 => drop(t.insert(v(i), v(i + 1000)).unwrap()),
            _ => drop(t.insert(v(i + 500), v(0)).unwrap()),
        }
    }
    let expected: Vec<(IVec, IVec)> = (0..200u64).map(|i| (v(i), v(i))).collect();
    let seen: Vec<_> = snap.iter(&t).collect::<Result<_, _>>().unwrap();
    assert_eq!(seen, expected);
    let mut back: Vec<_> = snap.iter(&t).rev().collect::<Result<_, _>>().unwrap();
    back.reverse();
    assert_eq!(back, expected);
    assert_eq!(snap.get(&t, v(3)).unwrap(), Some(v(3)));
    assert_eq!(snap.get(&t, v(502)).unwrap(), None);
    assert_eq!(snap.range(&t, v(10)..v(13)).count(), 3);
    assert_eq!(snap.first(&t).unwrap().map(|(k, _)| k), Some(v(0)));
    assert_eq!(snap.last(&t).unwrap().map(|(k, _)| k), Some(v(199)));
    assert_eq!(t.get(v(3)).unwrap(), None, "the tree itself moved on");

    // Clearing and dropping do not reach into an older snapshot either.
    let other = db.open_tree(b"other").unwrap();
    other.insert(b"k", b"v").unwrap();
    let snap2 = db.snapshot();
    t.clear().unwrap();
    db.drop_tree(b"other").unwrap();
    assert_eq!(snap.iter(&t).count(), 200);
    assert_eq!(snap2.get(&other, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(snap2.scan_prefix(&other, b"k").count(), 1);
    assert_eq!(db.snapshot().iter(&t).count(), 0);
    assert!(matches!(
        db.snapshot().get(&other, b"k"),
        Err(Error::CollectionNotFound(_))
    ));

    let foreign = temp_db();
    assert!(matches!(
        foreign.snapshot().get(&t, b"k"),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        foreign.snapshot().iter(&t).next(),
        Some(Err(Error::Unsupported(_)))
    ));
}

/// Regression: a commit whose snapshot was the last one open released the
/// leaves' old versions while still holding their locks, and deadlocked.
#[test]
fn a_commit_closing_the_last_snapshot_does_not_deadlock() {
    skiff_tests::with_watchdog("last snapshot closed by a commit", || {
        let db = temp_db();
        db.insert(b"k1", b"0").unwrap();
        let runs = Cell::new(0);
        db.transaction(|tx| {
            runs.set(runs.get() + 1);
            if runs.get() == 1 {
                // Kept as an old version in the leaf, for this transaction.
                db.insert(b"k1", b"1").unwrap();
            }
            tx.insert(b"k2", b"2")?; // same leaf
            TxResult::Ok(())
        })
        .unwrap();
        assert_eq!(db.get(b"k2").unwrap().as_deref(), Some(&b"2"[..]));
    });
}
