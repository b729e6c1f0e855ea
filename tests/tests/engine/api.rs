//! Edge cases of the public API: limits, foreign and damaged files, locking,
//! dropped trees, export/import, subscriptions, and torn or corrupt logs.
//!
//! Every refusal is checked twice: the call returns the documented error, and
//! nothing that was committed before is lost — the database (or the foreign
//! directory) is byte-for-byte or entry-for-entry what it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rand::Rng;
use skiff_engine::{Batch, Config, Db, Error, IVec, Tree, MAX_KEY_LEN, MAX_VALUE_LEN};

/// Every file and directory under `root`, with file contents.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if path.is_dir() {
                out.insert(rel, None);
                walk(&path, root, out);
            } else {
                out.insert(rel, Some(std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Every tree's entries, by tree name.
type Dump = BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

/// Every tree's entries.
fn dump(db: &Db) -> Dump {
    db.tree_names()
        .into_iter()
        .map(|name| {
            let tree = db.open_tree(&name).expect("open_tree");
            let items = tree
                .iter()
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<Vec<_>, _>>()
                .expect("iterate");
            (name.to_vec(), items)
        })
        .collect()
}

pub(crate) fn open(path: &Path) -> Db {
    Config::new()
        .path(path)
        .flush_every_ms(None)
        .open()
        .expect("open")
}

/// The log files of the database at `db`, oldest first.
pub(crate) fn log_files(db: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(db.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

pub(crate) fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).expect("metadata").len()
}

#[test]
fn oversized_keys_and_values_are_refused_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let tree = db.open_tree(b"t").expect("open_tree");
    tree.insert(b"keep", b"me").expect("insert");
    let max_key = vec![b'k'; MAX_KEY_LEN];
    tree.insert(&max_key, vec![1u8; 1 << 20])
        .expect("a key of exactly MAX_KEY_LEN");
    let big_key = vec![b'k'; MAX_KEY_LEN + 1];

    match tree.insert(&big_key, b"v") {
        Err(Error::KeyTooLarge { len, max }) => assert_eq!((len, max), (MAX_KEY_LEN + 1, MAX_KEY_LEN)),
        other => panic!("insert of an oversized key gave {other:?}"),
    }
    assert!(matches!(
        tree.compare_and_swap(&big_key, None as Option<&[u8]>, Some(b"v")),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(tree.remove(&big_key), Err(Error::KeyTooLarge { .. })));
    assert!(matches!(db.open_tree(&big_key), Err(Error::KeyTooLarge { .. })));

    // An oversized value, without touching its pages more than needed.
    let big_value: Arc<[u8]> = vec![0u8; MAX_VALUE_LEN + 1].into();
    match tree.insert(b"keep", IVec::from(big_value.clone())) {
        Err(Error::ValueTooLarge { len, max }) => assert_eq!((len, max), (MAX_VALUE_LEN + 1, MAX_VALUE_LEN)),
        other => panic!(
            "insert of an oversized value gave {:?}",
            other.map(|o| o.map(|v| v.len()))
        ),
    }
    assert!(matches!(
        tree.compare_and_swap(b"keep", Some(b"me"), Some(IVec::from(big_value.clone()))),
        Err(Error::ValueTooLarge { .. })
    ));
    // One bad write spoils the whole batch, and nothing of it is applied.
    let mut batch = Batch::default();
    batch.insert(b"a".to_vec(), b"1".to_vec());
    batch.insert(IVec::from(b"b"), IVec::from(big_value));
    batch.remove(b"keep".to_vec());
    assert!(matches!(
        tree.apply_batch(batch),
        Err(Error::ValueTooLarge { .. })
    ));
    let mut batch = Batch::default();
    batch.insert(b"a".to_vec(), b"1".to_vec());
    batch.insert(big_key.clone(), b"x".to_vec());
    assert!(matches!(tree.apply_batch(batch), Err(Error::KeyTooLarge { .. })));

    let check = |db: &Db| {
        let tree = db.open_tree(b"t").expect("open_tree");
        let keys: Vec<IVec> = tree.iter().keys().collect::<Result<_, _>>().expect("iterate");
        assert_eq!(keys, vec![IVec::from(b"keep"), IVec::from(max_key.clone())]);
        assert_eq!(tree.get(b"keep").expect("get").as_deref(), Some(&b"me"[..]));
        assert_eq!(tree.get(&max_key).expect("get").map(|v| v.len()), Some(1 << 20));
    };
    check(&db);
    // The engine still works after the refusals, and they left nothing in the log.
    tree.insert(b"after", b"1").expect("insert");
    tree.remove(b"after").expect("remove");
    drop((db, tree));
    check(&open(dir.path()));
}

#[test]
fn foreign_directory_is_not_a_database_and_is_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("photos");
    std::fs::create_dir_all(foreign.join("2024")).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), b"do not delete").expect("write");
    std::fs::write(foreign.join("2024/img.bin"), [0u8, 1, 2, 3]).expect("write");
    std::fs::create_dir(foreign.join("wal")).expect("mkdir");
    std::fs::write(
        foreign.join("wal/00000000000000000001.log"),
        b"someone else's log",
    )
    .expect("write");
    let before = snapshot(&foreign);
    for create_new in [false, true] {
        match Config::new().path(&foreign).create_new(create_new).open() {
            Err(e @ Error::NotADatabase { .. }) => {
                assert!(e.to_string().contains(&foreign.display().to_string()), "{e}");
                let Error::NotADatabase { path } = e else {
                    unreachable!()
                };
                assert_eq!(path, foreign);
            }
            other => panic!("opening a foreign directory gave {other:?}"),
        }
        assert_eq!(snapshot(&foreign), before, "the foreign directory was modified");
    }

    // A file where the directory should be.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"just a file").expect("write");
    assert!(matches!(
        Config::new().path(&file).open(),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(std::fs::read(&file).expect("read"), b"just a file");

    // Another program's file under the marker's name.
    let marked = dir.path().join("marked");
    std::fs::create_dir(&marked).expect("mkdir");
    std::fs::write(marked.join("skiff.meta"), b"not ours at all").expect("write");
    let before = snapshot(&marked);
    assert!(matches!(
        Config::new().path(&marked).open(),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(snapshot(&marked), before);
}

/// `skiff.meta` as the engine writes it, with another version.
fn marker(version: u32) -> Vec<u8> {
    let mut b = b"SKIFF-DB".to_vec();
    b.extend_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn an_older_format_opens_and_its_marker_is_upgraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = open(&path);
        db.insert(b"k", b"v").expect("insert");
    }
    std::fs::write(path.join("skiff.meta"), marker(1)).expect("write");
    {
        let db = open(&path);
        assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    }
    assert_eq!(std::fs::read(path.join("skiff.meta")).expect("read"), marker(2));
}

/// Entry `i` of the default tree of `fixtures/format-v1` (a blob at 7).
fn v1_user(i: u32) -> (Vec<u8>, Vec<u8>) {
    let len = if i == 7 { 5000 } else { (i % 40 + 1) as usize };
    (
        format!("user/{i:06}").into_bytes(),
        vec![u8::try_from(i % 251).expect("byte"); len],
    )
}

/// Entry `i` of its `orders` tree.
fn v1_order(i: u64) -> (Vec<u8>, Vec<u8>) {
    let mut k = b"o".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    (k, (i * 3).to_le_bytes().to_vec())
}

/// `fixtures/format-v1` was written by the last build of format version 1
/// (fixed-width log ops, pages with whole keys, fixed-width checkpoint
/// entries): users 0..1200 and orders 0..300, a checkpoint, then in the log
/// only every fifth user of 0..1200 removed, users 1200..1400 and orders
/// 300..340 added and flushed, and no closing checkpoint.
#[test]
fn a_database_of_format_version_1_opens_with_everything_in_it() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/format-v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    for (rel, bytes) in snapshot(&fixture) {
        match bytes {
            None => std::fs::create_dir_all(path.join(rel)).expect("mkdir"),
            Some(bytes) => {
                std::fs::create_dir_all(path.join(&rel).parent().expect("parent")).expect("mkdir");
                std::fs::write(path.join(rel), bytes).expect("write");
            }
        }
    }
    let users: Vec<_> = (0..1400)
        .filter(|i| i >= &1200 || i % 5 != 0)
        .map(v1_user)
        .collect();
    let orders: Vec<_> = (0..340).map(v1_order).collect();
    let expected: Dump = [
        (b"__skiff__default".to_vec(), users),
        (b"orders".to_vec(), orders),
    ]
    .into();
    for round in 0..2 {
        let db = open(&path);
        assert_eq!(dump(&db), expected, "round {round}");
        assert!(db.verify().expect("verify").is_ok());
        // Pages of the new format beside the old ones, read back after the reopen.
        db.checkpoint().expect("checkpoint");
    }
    assert_eq!(std::fs::read(path.join("skiff.meta")).expect("read"), marker(2));
}

#[test]
fn newer_format_and_damaged_marker_are_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = open(&path);
        db.insert(b"k", b"v").expect("insert");
    }
    assert_eq!(
        std::fs::read(path.join("skiff.meta")).expect("read"),
        marker(2),
        "marker layout changed"
    );

    std::fs::write(path.join("skiff.meta"), marker(3)).expect("write");
    let before = snapshot(&path);
    match Config::new().path(&path).open() {
        Err(Error::UnsupportedFormat { found, supported, .. }) => assert_eq!((found, supported), (3, 2)),
        other => panic!("a newer format gave {other:?}"),
    }
    assert_eq!(snapshot(&path), before);

    let mut damaged = marker(2);
    damaged[9] ^= 0x40;
    std::fs::write(path.join("skiff.meta"), &damaged).expect("write");
    let before = snapshot(&path);
    match Config::new().path(&path).open() {
        Err(e @ Error::Corruption { .. }) => assert!(e.to_string().contains("skiff.meta"), "{e}"),
        other => panic!("a damaged marker gave {other:?}"),
    }
    assert_eq!(snapshot(&path), before);

    std::fs::write(path.join("skiff.meta"), marker(2)).expect("write");
    assert_eq!(open(&path).get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
}

#[test]
fn second_open_of_the_same_path_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = open(&path);
    db.insert(b"k", b"v").expect("insert");
    match Config::new().path(&path).open() {
        Err(Error::Locked { path: p }) => assert_eq!(p, path),
        other => panic!("a second open gave {other:?}"),
    }
    // The same directory by another spelling.
    let other_spelling = dir.path().join(".").join("db");
    assert!(matches!(
        Config::new().path(&other_spelling).open(),
        Err(Error::Locked { .. })
    ));
    // A remaining tree handle keeps the database open.
    let tree = db.open_tree(b"t").expect("open_tree");
    drop(db);
    assert!(matches!(
        Config::new().path(&path).open(),
        Err(Error::Locked { .. })
    ));
    tree.insert(b"via-tree", b"1").expect("insert");
    drop(tree);
    let db = Config::new()
        .path(&path)
        .open()
        .expect("open after the last handle dropped");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    assert_eq!(db.open_tree(b"t").expect("open_tree").len(), 1);
}

#[test]
fn create_new_refuses_an_existing_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = Config::new()
            .path(&path)
            .create_new(true)
            .open()
            .expect("create_new on a fresh path");
        assert!(!db.was_recovered());
        db.insert(b"k", b"v").expect("insert");
    }
    let before = snapshot(&path);
    match Config::new().path(&path).create_new(true).open() {
        Err(Error::AlreadyExists { path: p }) => assert_eq!(p, path),
        other => panic!("create_new on an existing database gave {other:?}"),
    }
    assert_eq!(snapshot(&path), before);
    let db = open(&path);
    assert!(db.was_recovered());
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
}

#[test]
fn temporary_database_is_removed_when_dropped() {
    let db = Config::new().temporary(true).open().expect("open");
    let other = Config::new().temporary(true).open().expect("open");
    db.insert(b"k", b"v").expect("insert");
    assert!(other.is_empty(), "two temporary databases share data");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tmpdb");
    let named = Config::new().temporary(true).path(&path).open().expect("open");
    named.insert(b"k", b"v").expect("insert");
    assert!(path.exists());
    drop(named);
    assert!(!path.exists(), "a temporary database outlived its last handle");
}

#[test]
fn dropped_tree_handles_fail_with_collection_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = open(&path);
    let t = db.open_tree(b"t").expect("open_tree");
    for i in 0..100u32 {
        t.insert(i.to_be_bytes(), b"v").expect("insert");
    }
    assert!(db.drop_tree(b"t").expect("drop_tree"));
    let not_found = |what: &str, r: Result<(), Error>| match r {
        Err(Error::CollectionNotFound(name)) => assert_eq!(&*name, b"t", "{what}"),
        other => panic!("{what} on a dropped tree gave {other:?}"),
    };
    not_found("get", t.get(b"k").map(drop));
    not_found("contains_key", t.contains_key(b"k").map(drop));
    not_found("insert", t.insert(b"k", b"v").map(drop));
    not_found("remove", t.remove(0u32.to_be_bytes()).map(drop));
    not_found(
        "compare_and_swap",
        t.compare_and_swap(b"k", None as Option<&[u8]>, Some(b"v"))
            .map(drop),
    );
    not_found(
        "update_and_fetch",
        t.update_and_fetch(b"k", |_| Some(b"v".to_vec())).map(drop),
    );
    let mut batch = Batch::default();
    batch.insert(b"k".to_vec(), b"v".to_vec());
    not_found("apply_batch", t.apply_batch(batch));
    not_found("iter", t.iter().next().expect("an error item").map(drop));
    not_found(
        "iter().rev()",
        t.iter().next_back().expect("an error item").map(drop),
    );
    not_found(
        "scan_prefix",
        t.scan_prefix(b"").next().expect("an error item").map(drop),
    );
    not_found("first", t.first().map(drop));
    not_found("last", t.last().map(drop));
    not_found("pop_min", t.pop_min().map(drop));
    not_found("get_lt", t.get_lt(b"k").map(drop));
    not_found("get_gt", t.get_gt(b"k").map(drop));
    assert!(!db.drop_tree(b"t").expect("drop_tree again"), "dropping twice");
    assert!(!db.drop_tree(b"never-existed").expect("drop_tree"));
    assert_eq!(db.tree_names(), vec![db.name()]);

    let fresh = db.open_tree(b"t").expect("open_tree");
    assert!(fresh.is_empty(), "a reopened dropped tree is not empty");
    fresh.insert(b"new", b"1").expect("insert");
    drop((db, t, fresh));
    let db = open(&path);
    assert_eq!(db.tree_names().len(), 2);
    let keys: Vec<IVec> = db
        .open_tree(b"t")
        .expect("open_tree")
        .iter()
        .keys()
        .collect::<Result<_, _>>()
        .expect("iter");
    assert_eq!(keys, vec![IVec::from(b"new")]);
}

/// A dropped tree with a handle still around: `(dir, db path, db, handle)`.
fn dropped_tree_with_handle() -> (tempfile::TempDir, PathBuf, Db, Tree) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = open(&path);
    let t = db.open_tree(b"t").expect("open_tree");
    t.insert(b"k", b"v").expect("insert");
    db.insert(b"default", b"data").expect("insert");
    assert!(db.drop_tree(b"t").expect("drop_tree"));
    (dir, path, db, t)
}

/// Regression: `clear` through a dropped tree's handle returned `Ok` and
/// brought the handle back to life; it must fail like every other call.
#[test]
fn clear_through_a_dropped_tree_handle_is_collection_not_found() {
    let (_dir, _path, _db, t) = dropped_tree_with_handle();
    match t.clear() {
        Err(Error::CollectionNotFound(name)) => assert_eq!(&*name, b"t"),
        other => panic!("clear on a dropped tree gave {other:?}"),
    }
    match t.get(b"k") {
        Err(Error::CollectionNotFound(_)) => {}
        other => panic!("get on a dropped tree after clear gave {other:?}"),
    }
}

/// Regression: `clear` through a dropped tree's handle logged a `ClearTree`
/// record for a tree id that replay no longer knew, and every later open failed
/// with `ReportableBug("log refers to unknown tree id 1")`.
#[test]
fn clear_through_a_dropped_tree_handle_keeps_the_database_openable() {
    let (_dir, path, db, t) = dropped_tree_with_handle();
    let _ = t.clear();
    db.flush().expect("flush");
    drop((db, t));
    let db = match Config::new().path(&path).open() {
        Ok(db) => db,
        Err(e) => panic!("reopening after clear on a dropped tree failed: {e} ({e:?})"),
    };
    assert_eq!(db.get(b"default").expect("get").as_deref(), Some(&b"data"[..]));
    assert_eq!(db.tree_names(), vec![db.name()]);
}

#[test]
fn the_default_tree_cannot_be_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.insert(b"k", b"v").expect("insert");
    assert!(matches!(db.drop_tree(db.name()), Err(Error::Unsupported(_))));
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    db.insert(b"k2", b"v").expect("the default tree still works");
    assert_eq!(db.len(), 2);
}

#[test]
fn tree_names_lists_the_default_tree_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = open(&path);
    for name in ["zeta", "alpha", "", "mid\u{0}dle"] {
        db.open_tree(name).expect("open_tree");
    }
    let mut expected: Vec<IVec> = ["zeta", "alpha", "", "mid\u{0}dle"]
        .iter()
        .map(|n| IVec::from(*n))
        .collect();
    expected.sort();
    let names = db.tree_names();
    assert_eq!(names[0], db.name(), "the default tree comes first");
    let mut rest = names[1..].to_vec();
    rest.sort();
    assert_eq!(rest, expected);
    assert!(db.drop_tree("zeta").expect("drop_tree"));
    expected.retain(|n| n != "zeta");
    drop(db);
    let db = open(&path);
    let mut rest = db.tree_names()[1..].to_vec();
    rest.sort();
    assert_eq!(rest, expected, "after a restart");
}

#[test]
fn export_import_round_trip_preserves_checksum() {
    let seed = skiff_tests::seed("export_import_round_trip_preserves_checksum");
    let mut rng = skiff_tests::rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let old = Config::new()
        .path(dir.path().join("old"))
        .leaf_max_bytes(256)
        .open()
        .expect("open");
    for name in [&b"users"[..], b"empty", b"bin\xff"] {
        old.open_tree(name).expect("open_tree");
    }
    for _ in 0..3000 {
        let tree = match rng.gen_range(0..3) {
            0 => Tree::clone(&old),
            1 => old.open_tree(b"users").expect("open_tree"),
            _ => old.open_tree(b"bin\xff").expect("open_tree"),
        };
        let key: Vec<u8> = (0..rng.gen_range(0..20)).map(|_| rng.gen()).collect();
        let value: Vec<u8> = (0..rng.gen_range(0..100)).map(|_| rng.gen()).collect();
        tree.insert(key, value).expect("insert");
    }
    let new = Config::new().path(dir.path().join("new")).open().expect("open");
    new.import(old.export().expect("export")).expect("import");
    assert_eq!(dump(&new), dump(&old));
    assert_eq!(
        new.checksum().expect("checksum"),
        old.checksum().expect("checksum")
    );
    // Import refuses to merge into data.
    assert!(matches!(
        new.import(old.export().expect("export")),
        Err(Error::Unsupported(_))
    ));
    // The checksum does see a one-byte change.
    let before = old.checksum().expect("checksum");
    let (k, v) = old.first().expect("first").expect("not empty");
    let mut changed = v.to_vec();
    changed.push(0);
    old.insert(&k, changed).expect("insert");
    assert_ne!(
        old.checksum().expect("checksum"),
        before,
        "the checksum missed a change"
    );
    old.insert(&k, v).expect("insert");
    let expected = old.checksum().expect("checksum");
    drop(new);
    let new = Config::new().path(dir.path().join("new")).open().expect("reopen");
    assert_eq!(
        new.checksum().expect("checksum"),
        expected,
        "imported data after a restart"
    );
}

/// Regression: the database lock is a `flock` on `LOCK`, which belongs to the
/// open file description. A child that another thread has forked but not yet
/// exec'd holds a copy of the descriptor (even after `spawn()` returned: the
/// kernel wakes the parent before it closes the child's close-on-exec
/// descriptors), so when closing only closed the descriptor, reopening in that
/// window failed with `Error::Locked` although nobody held the database. The
/// crash test's spawns made the model test fail that way. Closing now unlocks
/// explicitly.
///
/// The sleeps only order the steps (fork, then reopen, then exec); nothing is
/// timed.
#[test]
fn reopen_while_another_thread_spawns_a_process() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = Config::new().path(&path).open().expect("open");
    let spawner = thread::spawn(|| {
        let mut cmd = std::process::Command::new("true");
        // SAFETY: the hook runs in the forked child before exec and only sleeps;
        // nanosleep is async-signal-safe and `thread::sleep` does not allocate.
        unsafe {
            cmd.pre_exec(|| {
                thread::sleep(Duration::from_secs(1));
                Ok(())
            });
        }
        cmd.status()
    });
    thread::sleep(Duration::from_millis(200));
    drop(db);
    let reopened = Config::new().path(&path).open();
    spawner.join().expect("spawner").expect("true runs");
    if let Err(e) = reopened {
        panic!("reopening a closed database failed while a child was being spawned: {e}");
    }
}

#[test]
fn the_empty_key_is_an_ordinary_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Config::new()
        .path(dir.path())
        .leaf_max_bytes(64)
        .open()
        .expect("open");
    for k in [&b"b"[..], b"a", b"\x00"] {
        db.insert(k, k).expect("insert");
    }
    assert_eq!(db.insert(b"", b"empty").expect("insert"), None);
    assert_eq!(db.get(b"").expect("get").as_deref(), Some(&b"empty"[..]));
    assert_eq!(db.first().expect("first").map(|p| p.0), Some(IVec::from(b"")));
    assert_eq!(db.get_lt(b"").expect("get_lt"), None);
    assert_eq!(
        db.get_lt(b"\x00").expect("get_lt").map(|p| p.0),
        Some(IVec::from(b""))
    );
    assert_eq!(
        db.get_gt(b"").expect("get_gt").map(|p| p.0),
        Some(IVec::from(b"\x00"))
    );
    let back: Vec<IVec> = db.iter().keys().rev().collect::<Result<_, _>>().expect("iterate");
    assert_eq!(
        back,
        vec![
            IVec::from(b"b"),
            IVec::from(b"a"),
            IVec::from(b"\x00"),
            IVec::from(b"")
        ]
    );
    assert_eq!(db.scan_prefix(b"").count(), 4);
    assert_eq!(db.range(..=&b""[..]).count(), 1);
    db.flush().expect("flush");
    drop(db);
    let db = open(dir.path());
    assert_eq!(
        db.pop_min().expect("pop_min").map(|p| p.1),
        Some(IVec::from(b"empty"))
    );
    assert_eq!(db.len(), 3);
}
