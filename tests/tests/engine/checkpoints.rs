//! Checkpoints and the page store: recovery from a checkpoint plus the log
//! after it, checkpoints racing writers, bounded disk use through segment
//! cleaning, compression, and damage to pages, segments and checkpoint files
//! (T7 for those file kinds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rand::Rng;
use skiff_engine::{Config, Db, Error};

use crate::api::log_files;

/// A database that never checkpoints on its own, and whose drop looks like a
/// crash (no checkpoint at close).
fn config(path: &Path) -> Config {
    Config::new()
        .path(path)
        .flush_every_ms(None)
        .checkpoint_every_ms(None)
        .checkpoint_on_close(false)
}

fn contents(db: &Db, tree: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.open_tree(tree)
        .expect("open tree")
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .expect("iterate")
}

fn segments(db: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(db.join("pages"))
        .expect("pages dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

#[test]
fn recovery_loads_the_checkpoint_and_replays_only_the_log_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut want = BTreeMap::new();
    {
        let db = config(&path).segment_size(64 * 1024).open().expect("open");
        let t = db.open_tree("t").expect("tree");
        for i in 0..5_000u32 {
            t.insert(key(i), vec![1u8; 50]).expect("insert");
            want.insert(key(i), vec![1u8; 50]);
        }
        db.checkpoint().expect("checkpoint");
        assert_eq!(
            log_files(&path).len(),
            1,
            "the log before the checkpoint is removed"
        );
        // After the checkpoint: overwrites, removals, a new tree, a dropped one.
        for i in (0..5_000u32).step_by(3) {
            t.insert(key(i), vec![2u8; 10]).expect("overwrite");
            want.insert(key(i), vec![2u8; 10]);
        }
        for i in (1..5_000u32).step_by(7) {
            t.remove(key(i)).expect("remove");
            want.remove(&key(i));
        }
        db.open_tree("later")
            .expect("tree")
            .insert(b"x", b"y")
            .expect("insert");
        db.open_tree("gone").expect("tree");
        db.drop_tree("gone").expect("drop");
        db.flush().expect("flush");
    }
    let db = config(&path).open().expect("reopen");
    assert!(db.was_recovered());
    assert_eq!(contents(&db, b"t"), want);
    assert_eq!(
        db.open_tree("later")
            .expect("tree")
            .get(b"x")
            .expect("get")
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(!db.tree_names().iter().any(|n| &**n == b"gone"));
    let report = db.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.pages_checked > 10);
}

#[test]
fn a_tree_dropped_after_the_checkpoint_stays_dropped_and_ids_never_repeat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let last_id;
    {
        let db = config(&path).open().expect("open");
        let t = db.open_tree("doomed").expect("tree");
        t.insert(b"k", b"v").expect("insert");
        db.generate_id().expect("id");
        db.checkpoint().expect("checkpoint");
        db.drop_tree("doomed").expect("drop");
        last_id = db.generate_id().expect("id");
        db.open_tree("doomed")
            .expect("recreate")
            .insert(b"k2", b"v2")
            .expect("insert");
        db.flush().expect("flush");
    }
    let db = config(&path).open().expect("reopen");
    assert_eq!(
        contents(&db, b"doomed"),
        BTreeMap::from([(b"k2".to_vec(), b"v2".to_vec())])
    );
    assert!(db.generate_id().expect("id") > last_id);
    db.checkpoint().expect("checkpoint");
    drop(db);
    let db = config(&path).open().expect("reopen");
    assert!(db.generate_id().expect("id") > last_id);
}

/// Checkpoints, mostly single runs of a pass over a few leaves, run in a loop
/// while writers insert, overwrite and remove (so leaves split and merge
/// under them and between the runs). After the last flush, a crash-like
/// reopen must hold exactly what the writers wrote.
#[test]
fn checkpoints_racing_writers_lose_nothing() {
    let seed = skiff_tests::seed("checkpoints_racing_writers_lose_nothing");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let writers = 3u32;
    let per_writer = u32::try_from(skiff_tests::size(6_000, 200_000)).expect("count");
    let models: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = {
        let db = config(&path)
            .leaf_max_bytes(512)
            .segment_size(32 * 1024)
            .checkpoint_run_bytes(4096)
            .open()
            .expect("open");
        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Mostly single runs of a pass, so the table mixes pages
                    // of many moments and the log spans them.
                    if n % 8 == 7 {
                        db.checkpoint().expect("checkpoint");
                    } else {
                        db.checkpoint_once().expect("checkpoint");
                    }
                    n += 1;
                }
                n
            })
        };
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, u64::from(w)));
                    let mut model = BTreeMap::new();
                    for i in 0..per_writer {
                        let k = format!("w{w}-{:05}", rng.gen_range(0..2_000)).into_bytes();
                        if rng.gen_bool(0.3) {
                            db.remove(&k).expect("remove");
                            model.remove(&k);
                        } else {
                            let v = vec![u8::try_from(i % 251).expect("byte"); rng.gen_range(0..120)];
                            db.insert(&k, v.clone()).expect("insert");
                            model.insert(k, v);
                        }
                    }
                    model
                })
            })
            .collect();
        let models = handles.into_iter().map(|h| h.join().expect("writer")).collect();
        stop.store(true, Ordering::Relaxed);
        let rounds = checkpointer.join().expect("checkpointer");
        assert!(rounds > 1, "checkpoints ran during the writes");
        db.flush().expect("flush");
        models
    };
    let db = config(&path).open().expect("reopen");
    let want: BTreeMap<Vec<u8>, Vec<u8>> = models.into_iter().flatten().collect();
    let got = contents(&db, b"__skiff__default");
    assert_eq!(got.len(), want.len(), "seed {seed}");
    assert!(got == want, "seed {seed}: recovered contents differ");
}

/// Random overwrites and deletes with regular checkpoints: cleaning keeps the
/// files within a small factor of the live pages, and mass deletes and
/// `drop_tree` give the space back.
#[test]
fn segment_cleaning_bounds_disk_use_and_gives_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = config(&path).segment_size(256 * 1024).open().expect("open");
    let t = db.open_tree("t").expect("tree");
    let mut rng = skiff_tests::rng(5);
    let n = 20_000u32;
    for i in 0..n {
        t.insert(key(i), vec![7u8; 100]).expect("insert");
    }
    db.checkpoint().expect("checkpoint");
    let raw = u64::from(n) * (11 + 100);
    for pass in 0..6 {
        for _ in 0..n / 2 {
            let i = rng.gen_range(0..n);
            t.insert(key(i), vec![u8::try_from(pass).expect("byte"); 100])
                .expect("overwrite");
        }
        db.checkpoint().expect("checkpoint");
        let stats = db.stats().expect("stats");
        assert!(
            stats.segment_bytes as f64 <= 1.6 * stats.live_bytes as f64,
            "pass {pass}: {} segment bytes for {} live",
            stats.segment_bytes,
            stats.live_bytes
        );
    }
    let full = db.size_on_disk().expect("size");
    assert!(full < raw * 2, "{full} bytes on disk for {raw} bytes of data");
    for i in 0..n {
        if i % 10 != 0 {
            t.remove(key(i)).expect("remove");
        }
    }
    db.checkpoint().expect("checkpoint");
    db.checkpoint().expect("checkpoint");
    let after_delete = db.size_on_disk().expect("size");
    assert!(
        after_delete * 4 < full,
        "deleting 90% left {after_delete} of {full} bytes"
    );
    db.drop_tree("t").expect("drop");
    db.checkpoint().expect("checkpoint");
    let stats = db.stats().expect("stats");
    assert!(
        stats.segment_bytes < 4096,
        "{} segment bytes after drop_tree",
        stats.segment_bytes
    );
    drop((t, db));
    let db = config(&path).open().expect("reopen");
    assert!(!db.tree_names().iter().any(|n| &**n == b"t"));
}

#[test]
fn a_flush_after_mass_deletes_gives_the_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    // The background checkpointer is on (a flush checkpoints only then), but
    // by time only once an hour, and with passes of one run it is due by log
    // size only after 1 MiB of log: none runs between the explicit
    // checkpoint and the flush, so the flush alone must give the space back.
    let db = Config::new()
        .path(&path)
        .segment_size(256 * 1024)
        .checkpoint_every_ms(Some(3_600_000))
        .checkpoint_run_bytes(u64::MAX)
        .open()
        .expect("open");
    let t = db.open_tree("t").expect("tree");
    let n = 20_000u32;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut batch = skiff_engine::Batch::default();
        for &i in chunk {
            batch.insert(key(i), vec![3u8; 200]);
        }
        t.apply_batch(batch).expect("load");
    }
    db.checkpoint().expect("checkpoint");
    for chunk in (0..n).filter(|i| i % 10 != 0).collect::<Vec<_>>().chunks(1000) {
        let mut batch = skiff_engine::Batch::default();
        for &i in chunk {
            batch.remove(key(i));
        }
        t.apply_batch(batch).expect("delete");
    }
    db.flush().expect("flush");
    let left = u64::from(n / 10) * (11 + 200);
    let size = db.size_on_disk().expect("size");
    assert!(
        size * 2 <= left * 3,
        "{size} bytes on disk right after the flush for {left} bytes of data"
    );
    assert_eq!(t.len(), (n / 10) as usize);
    drop((t, db));
    let db = Config::new().path(&path).open().expect("reopen");
    let t = db.open_tree("t").expect("tree");
    for i in 0..n {
        assert_eq!(t.contains_key(key(i)).expect("read"), i % 10 == 0, "key {i}");
    }
}

#[test]
fn compression_shrinks_pages_and_round_trips() {
    let live = |compress: bool| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        {
            let db = config(&path).use_compression(compress).open().expect("open");
            for i in 0..3_000u32 {
                db.insert(
                    key(i),
                    format!("value number {i} and some repetitive text").into_bytes(),
                )
                .expect("insert");
            }
            db.checkpoint().expect("checkpoint");
        }
        let db = config(&path).use_compression(compress).open().expect("reopen");
        assert_eq!(db.len(), 3_000);
        assert_eq!(
            db.get(key(1234)).expect("get").as_deref(),
            Some(&b"value number 1234 and some repetitive text"[..])
        );
        db.stats().expect("stats").live_bytes
    };
    let (plain, packed) = (live(false), live(true));
    assert!(packed * 2 < plain, "compressed {packed} vs plain {plain}");
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).expect("read");
    let at = usize::try_from(at).expect("offset");
    bytes[at] ^= 0x04;
    std::fs::write(path, bytes).expect("write");
}

fn checkpointed(path: &Path) {
    let db = config(path).segment_size(16 * 1024).open().expect("open");
    for i in 0..2_000u32 {
        db.insert(key(i), vec![3u8; 40]).expect("insert");
    }
    db.checkpoint().expect("checkpoint");
}

/// Opens the database at `path`, whose segment `seg` was damaged, and reads
/// everything: the open, a read or `verify` must report the damage (a
/// damaged segment header only `verify` reads), naming `seg`, and no read may
/// return a wrong value.
fn assert_damage_detected(path: &Path, seg: &Path, what: &str) {
    match config(path).open() {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, seg, "{what}"),
        Err(e) => panic!("{what}: unexpected error {e}"),
        Ok(db) => {
            let all: Result<Vec<_>, _> = db.iter().collect();
            let report = db.verify().expect("verify");
            match all {
                Err(Error::Corruption { file, .. }) => assert_eq!(file, seg, "{what}"),
                Err(e) => panic!("{what}: unexpected error {e}"),
                Ok(items) => {
                    assert!(!report.is_ok(), "{what} went unnoticed");
                    assert!(items.iter().all(|(_, v)| **v == [3u8; 40]), "{what}: wrong value");
                }
            }
        }
    }
}

#[test]
fn every_flipped_bit_in_a_segment_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    checkpointed(&path);
    let seg = segments(&path).pop().expect("a segment");
    let pristine = std::fs::read(&seg).expect("read");
    let mut rng = skiff_tests::rng(skiff_tests::seed("every_flipped_bit_in_a_segment_is_detected"));
    for _ in 0..skiff_tests::size(1_000, 100_000) {
        let at = rng.gen_range(0..pristine.len() as u64);
        std::fs::write(&seg, &pristine).expect("restore");
        flip(&seg, at);
        assert_damage_detected(&path, &seg, &format!("flip at {at}"));
    }
}

/// Zeroed 512-byte sectors and truncations of a segment: every read of a
/// damaged page is `Corruption` naming the segment, never a wrong value.
#[test]
fn zeroed_sectors_and_truncated_segments_are_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    checkpointed(&path);
    let seg = segments(&path).pop().expect("a segment");
    let pristine = std::fs::read(&seg).expect("read");
    let check = |what: &str| assert_damage_detected(&path, &seg, what);
    for sector in 0..pristine.len().div_ceil(512) {
        let mut bytes = pristine.clone();
        let end = (sector * 512 + 512).min(bytes.len());
        bytes[sector * 512..end].fill(0);
        std::fs::write(&seg, &bytes).expect("write");
        check(&format!("zeroed sector {sector}"));
    }
    for cut in (0..pristine.len()).step_by(97) {
        std::fs::write(&seg, &pristine[..cut]).expect("write");
        check(&format!("truncated to {cut}"));
    }
}

#[test]
fn a_damaged_or_missing_checkpoint_or_segment_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    checkpointed(&path);
    let ckpt = path.join("checkpoint");
    let pristine = std::fs::read(&ckpt).expect("read");
    for at in 0..pristine.len() as u64 {
        std::fs::write(&ckpt, &pristine).expect("restore");
        flip(&ckpt, at);
        match config(&path).open() {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, ckpt, "flip at {at}"),
            other => panic!("flip at {at}: expected corruption, got {other:?}"),
        }
    }
    for cut in 0..pristine.len() {
        std::fs::write(&ckpt, &pristine[..cut]).expect("truncate");
        assert!(
            matches!(config(&path).open(), Err(Error::Corruption { .. })),
            "cut at {cut}"
        );
    }
    std::fs::write(&ckpt, &pristine).expect("restore");
    let seg = segments(&path).remove(0);
    std::fs::remove_file(&seg).expect("remove");
    match config(&path).open() {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, seg),
        other => panic!("missing segment: expected corruption, got {other:?}"),
    }
}

/// A snapshot taken before `clear` and `drop_tree` keeps reading the old
/// leaves even when they had been evicted and later checkpoints removed their
/// pages from the page table.
#[test]
fn snapshots_read_evicted_leaves_of_cleared_and_dropped_trees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = config(&path)
        .cache_capacity(1)
        .leaf_max_bytes(512)
        .open()
        .expect("open");
    let a = db.open_tree("a").expect("tree");
    let b = db.open_tree("b").expect("tree");
    for i in 0..2_000u32 {
        a.insert(key(i), vec![5u8; 30]).expect("insert");
        b.insert(key(i), vec![6u8; 30]).expect("insert");
    }
    db.checkpoint().expect("checkpoint");
    // Reading one key evicts the rest: the cache holds one byte.
    assert_eq!(a.get(key(7)).expect("get").as_deref(), Some(&[5u8; 30][..]));
    assert!(db.stats().expect("stats").resident_bytes < 4096);
    let snap = db.snapshot();
    a.clear().expect("clear");
    db.drop_tree("b").expect("drop");
    db.checkpoint().expect("checkpoint");
    db.checkpoint().expect("checkpoint");
    let old_a: Vec<_> = snap.iter(&a).collect::<Result<_, _>>().expect("snapshot of a");
    assert_eq!(old_a.len(), 2_000);
    assert!(old_a.iter().all(|(_, v)| **v == [5u8; 30]));
    assert_eq!(
        snap.get(&b, key(1999)).expect("get").as_deref(),
        Some(&[6u8; 30][..])
    );
    assert!(a.is_empty());
    drop(snap);
    let misses = db.stats().expect("stats").cache_misses;
    assert!(misses > 0, "leaves were read back from pages");
}

/// Values of 4 KiB and more are stored out of line: pages stay small, a leaf
/// rewritten for a change to a small neighbour points at its blobs again
/// instead of copying them, cleaning moves blobs along, and everything reads
/// back after a reopen with every leaf evicted.
#[test]
fn large_values_live_out_of_line_and_are_not_copied_with_their_leaf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let big = |i: u32| vec![u8::try_from(i % 251).expect("byte"); 5_000 + (i as usize % 7) * 100];
    let small = |i: u32, round: u8| vec![round; 20 + (i as usize % 5)];
    {
        // Big leaves, so large values share leaves with small ones.
        let db = config(&path)
            .leaf_max_bytes(64 * 1024)
            .segment_size(256 * 1024)
            .open()
            .expect("open");
        for i in 0..200u32 {
            db.insert(format!("k{i:04}-big"), big(i)).expect("insert");
            db.insert(format!("k{i:04}-small"), small(i, 0)).expect("insert");
        }
        db.checkpoint().expect("checkpoint");
        let first = db.stats().expect("stats");
        assert!(first.last_checkpoint_bytes_written > 200 * 5_000);
        for round in 1..=8u8 {
            for i in (0..200u32).step_by(3) {
                db.insert(format!("k{i:04}-small"), small(i, round))
                    .expect("insert");
            }
            db.checkpoint().expect("checkpoint");
            let stats = db.stats().expect("stats");
            // Rewriting the leaves costs their small entries and blob
            // pointers, plus what cleaning copies; never every blob again.
            assert!(
                stats.last_checkpoint_bytes_written * 2 < first.last_checkpoint_bytes_written,
                "round {round}: {} bytes written, the first checkpoint wrote {}",
                stats.last_checkpoint_bytes_written,
                first.last_checkpoint_bytes_written
            );
            assert!(
                stats.segment_bytes as f64 <= 1.6 * stats.live_bytes as f64,
                "round {round}: {} segment bytes for {} live",
                stats.segment_bytes,
                stats.live_bytes
            );
        }
        // Overwrite half the big values and delete a quarter: their blobs
        // die, segments get cleaned and surviving blobs move.
        for i in 0..200u32 {
            if i % 4 == 0 {
                db.remove(format!("k{i:04}-big")).expect("remove");
            } else if i % 2 == 0 {
                db.insert(format!("k{i:04}-big"), big(i + 1)).expect("insert");
            }
        }
        db.checkpoint().expect("checkpoint");
        db.checkpoint().expect("checkpoint");
        let report = db.verify().expect("verify");
        assert!(report.is_ok(), "{:?}", report.problems);
    }
    let db = config(&path)
        .leaf_max_bytes(64 * 1024)
        .cache_capacity(1)
        .open()
        .expect("reopen");
    for i in 0..200u32 {
        let want_big = match i {
            i if i % 4 == 0 => None,
            i if i % 2 == 0 => Some(big(i + 1)),
            i => Some(big(i)),
        };
        let got = db.get(format!("k{i:04}-big")).expect("get").map(|v| v.to_vec());
        assert_eq!(got, want_big, "big value {i}");
        let round = if i % 3 == 0 { 8 } else { 0 };
        let got = db.get(format!("k{i:04}-small")).expect("get").map(|v| v.to_vec());
        assert_eq!(got, Some(small(i, round)), "small value {i}");
    }
    let report = db.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// Damage that happens while the database is open is found by `verify`:
/// here, in the checkpoint file.
#[test]
fn verify_reports_a_checkpoint_file_damaged_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = config(&path).open().expect("open");
    db.insert(b"k", b"v").expect("insert");
    db.checkpoint().expect("checkpoint");
    assert!(db.verify().expect("verify").is_ok());
    let ckpt = path.join("checkpoint");
    flip(&ckpt, 20);
    let report = db.verify().expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|e| matches!(e, Error::Corruption { file, .. } if *file == ckpt)),
        "{:?}",
        report.problems
    );
}

/// Incremental checkpoints: one run writes a share of the dirty leaves and
/// keeps the other pages; the log is kept from the oldest page's checkpoint
/// on. A crash after runs interleaved with writes (so the table mixes pages
/// of several moments, written before and after splits and merges) recovers
/// exactly what was written; `checkpoint` then completes a pass and the
/// log before it goes.
#[test]
fn a_pass_takes_several_runs_and_a_crash_between_them_loses_nothing() {
    let seed = skiff_tests::seed("a_pass_takes_several_runs_and_a_crash_between_them_loses_nothing");
    let mut rng = skiff_tests::rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let open = || {
        config(&path)
            .leaf_max_bytes(512)
            .checkpoint_run_bytes(8 * 1024)
            .open()
            .expect("open")
    };
    let mut model = BTreeMap::new();
    {
        let db = open();
        for i in 0..4_000u32 {
            let v = vec![u8::try_from(i % 251).expect("byte"); 40];
            db.insert(key(i), v.clone()).expect("insert");
            model.insert(key(i), v);
        }
        db.checkpoint().expect("checkpoint");
        for round in 0..12u32 {
            for _ in 0..300 {
                let i = rng.gen_range(0..5_000u32);
                if rng.gen_bool(0.4) {
                    db.remove(key(i)).expect("remove");
                    model.remove(&key(i));
                } else {
                    let v = vec![u8::try_from(round).expect("byte"); rng.gen_range(0..90)];
                    db.insert(key(i), v.clone()).expect("insert");
                    model.insert(key(i), v);
                }
            }
            db.checkpoint_once().expect("one run");
            let stats = db.stats().expect("stats");
            assert!(
                stats.last_checkpoint_pages_written > 0 && stats.last_checkpoint_pages_written < 100,
                "seed {seed}: a run writes a share of the dirty leaves, not all {}",
                stats.last_checkpoint_pages_written
            );
        }
        assert!(
            log_files(&path).len() > 2,
            "seed {seed}: the log since the pass began is kept"
        );
        db.flush().expect("flush");
    }
    let db = open();
    assert!(
        contents(&db, b"__skiff__default") == model,
        "seed {seed}: recovered contents differ"
    );
    let report = db.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    db.checkpoint().expect("checkpoint");
    assert!(
        log_files(&path).len() <= 2,
        "seed {seed}: a completed pass removes the log before it: {:?}",
        log_files(&path)
    );
    drop(db);
    let db = open();
    assert!(
        contents(&db, b"__skiff__default") == model,
        "seed {seed}: after a full pass"
    );
}
