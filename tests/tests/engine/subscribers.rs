//! Subscriptions and futures: `watch_prefix` event order and ends, a
//! `Subscriber` awaited as a `Future`, and `flush_async`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rand::Rng;
use skiff_engine::{Batch, Config, Event, IVec};

use crate::api::open;

#[test]
fn watch_prefix_sees_one_keys_events_in_order() {
    let seed = skiff_tests::seed("watch_prefix_sees_one_keys_events_in_order");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Config::new()
        .path(dir.path())
        .leaf_max_bytes(128)
        .open()
        .expect("open");
    let mut sub = db.watch_prefix(b"w/");
    const N: u32 = 2000;
    let noise: Vec<_> = (0..3u64)
        .map(|t| {
            let db = db.clone();
            let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, t));
            thread::spawn(move || {
                for i in 0..N {
                    // Inside the prefix, each thread its own keys, and outside it.
                    let inside = format!("w/n{t}/{}", rng.gen_range(0..20));
                    db.insert(inside.as_bytes(), i.to_be_bytes().to_vec())
                        .expect("insert");
                    db.insert(format!("x/{t}/{}", rng.gen_range(0..20)), b"x")
                        .expect("insert");
                    if rng.gen_bool(0.1) {
                        db.remove(format!("w/n{t}/{}", rng.gen_range(0..20)))
                            .expect("remove");
                    }
                }
            })
        })
        .collect();
    let writer = {
        let db = db.clone();
        thread::spawn(move || {
            for i in 0..N {
                db.insert(b"w/key", i.to_be_bytes().to_vec()).expect("insert");
                if i % 100 == 99 {
                    db.remove(b"w/key").expect("remove");
                }
            }
            db.insert(b"w/key", b"END").expect("insert");
        })
    };
    let mut seen = Vec::new();
    let mut others: BTreeMap<IVec, Vec<u32>> = BTreeMap::new();
    loop {
        let event = sub
            .next_timeout(Duration::from_secs(120))
            .expect("an event within 120 s");
        match event {
            Event::Insert { key, value } if &*key == b"w/key" => {
                if &*value == b"END" {
                    break;
                }
                seen.push(Some(u32::from_be_bytes((*value).try_into().expect("4 bytes"))));
            }
            Event::Remove { key } if &*key == b"w/key" => seen.push(None),
            Event::Insert { key, value } => {
                assert!(key.starts_with(b"w/"), "event for {key:?} outside the prefix");
                others
                    .entry(key)
                    .or_default()
                    .push(u32::from_be_bytes((*value).try_into().expect("4 bytes")));
            }
            Event::Remove { key } => assert!(key.starts_with(b"w/"), "event for {key:?} outside the prefix"),
            Event::Lagged { missed } => panic!("subscriber lagged by {missed} events"),
        }
    }
    writer.join().expect("writer");
    for h in noise {
        h.join().expect("noise writer");
    }
    let mut expected = Vec::new();
    for i in 0..N {
        expected.push(Some(i));
        if i % 100 == 99 {
            expected.push(None);
        }
    }
    assert_eq!(seen, expected, "the events of w/key are not its writes in order");
    for (key, values) in others {
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "events of {key:?} out of order: {values:?}"
        );
    }
}

#[test]
fn watch_prefix_last_event_matches_the_final_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Config::new().path(dir.path()).open().expect("open");
    let mut sub = db.watch_prefix(b"hot");
    let writers: Vec<_> = (0..4u8)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..500u16 {
                    let mut v = vec![t];
                    v.extend_from_slice(&i.to_be_bytes());
                    if i % 7 == 0 {
                        let mut b = Batch::default();
                        b.insert(b"hot".to_vec(), v);
                        db.apply_batch(b).expect("apply_batch");
                    } else {
                        db.insert(b"hot", v).expect("insert");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let mut last = None;
    let mut count = 0;
    while let Ok(e) = sub.next_timeout(Duration::from_millis(0)) {
        match e {
            Event::Insert { value, .. } => last = Some(value),
            other => panic!("unexpected event {other:?}"),
        }
        count += 1;
    }
    assert_eq!(count, 2000, "events were lost or duplicated");
    assert_eq!(
        last,
        db.get(b"hot").expect("get"),
        "the last event is not the value that won"
    );
}

#[test]
fn subscribers_end_when_their_tree_or_database_goes_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Config::new().path(dir.path()).open().expect("open");
    let t = db.open_tree(b"t").expect("open_tree");
    let mut on_tree = t.watch_prefix(b"");
    let mut on_db = db.watch_prefix(b"");
    t.insert(b"k", b"v").expect("insert");
    db.drop_tree(b"t").expect("drop_tree");
    assert!(matches!(
        on_tree.next_timeout(Duration::from_secs(60)),
        Ok(Event::Insert { .. })
    ));
    assert_eq!(
        on_tree.next_timeout(Duration::from_secs(60)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
        "a subscriber of a dropped tree must end"
    );
    drop((db, t));
    assert_eq!(
        on_db.next_timeout(Duration::from_secs(60)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
        "a subscriber must end when the database closes"
    );
}

/// Wakes the thread that parked in [`block_on`].
struct Unpark(thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls `fut` on this thread, parking between polls.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut fut = Box::pin(fut);
    let mut cx = Context::from_waker(&waker);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => break r,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn flush_async_resolves_once_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = open(&path);
    db.insert(b"k", b"v").expect("insert");
    let written = block_on(db.flush_async()).expect("flush_async");
    assert!(
        written > 0,
        "flush_async wrote nothing although a write was pending"
    );
    assert_eq!(
        block_on(db.flush_async()).expect("flush_async"),
        0,
        "a second flush found work"
    );
    drop(db);
    assert_eq!(open(&path).get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
}

/// A subscriber is also a future: awaiting it yields the next event, woken by
/// a writer on another thread, and `None` once the database is closed.
#[test]
fn a_subscriber_awaited_as_a_future_gets_events_then_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let mut sub = db.watch_prefix(b"k");
    let writer = {
        let db = db.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            db.insert(b"other", b"x").expect("insert");
            db.insert(b"k1", b"v1").expect("insert");
        })
    };
    match block_on(&mut sub) {
        Some(skiff_engine::Event::Insert { key, value }) => {
            assert_eq!(&*key, b"k1");
            assert_eq!(&*value, b"v1");
        }
        other => panic!("awaited {other:?}"),
    }
    writer.join().expect("writer");
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(db);
    });
    assert_eq!(
        block_on(&mut sub),
        None,
        "closing the database must end the stream"
    );
    closer.join().expect("closer");
}
