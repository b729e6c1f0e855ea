//! T7 for the log: torn tails are trimmed silently, damage to synced records is
//! `Error::Corruption` naming the file and offset, and no flipped bit ever
//! yields a wrong value.

use std::path::Path;

use rand::Rng;
use skiff_engine::{Config, Db, Error, IVec};

use crate::api::{file_len, log_files, open};

/// Writes `n` keys with a flush after each, so that every record but the last
/// is proven synced by its successor. Returns the file length after each flush.
fn write_flushed(path: &Path, n: u32, segment: Option<usize>) -> Vec<u64> {
    let mut config = Config::new()
        .path(path)
        .flush_every_ms(None)
        .checkpoint_on_close(false);
    if let Some(s) = segment {
        config = config.segment_size(s);
    }
    let db = config.open().expect("open");
    let mut ends = Vec::new();
    for i in 0..n {
        db.insert(key(i), value(i)).expect("insert");
        db.flush().expect("flush");
        if segment.is_none() {
            ends.push(file_len(&log_files(path)[0]));
        }
    }
    ends
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    vec![u8::try_from(i % 251).unwrap_or(0); usize::try_from(i % 90).unwrap_or(0)]
}

/// The database holds exactly keys `0..n` with their values.
fn assert_holds(db: &Db, n: u32) {
    let items: Vec<(IVec, IVec)> = db.iter().collect::<Result<_, _>>().expect("iterate");
    let want: Vec<(IVec, IVec)> = (0..n)
        .map(|i| (IVec::from(key(i)), IVec::from(value(i))))
        .collect();
    assert!(
        items == want,
        "database holds {} entries, expected keys 0..{n}",
        items.len()
    );
}

#[test]
fn torn_log_tail_is_trimmed_silently() {
    let seed = skiff_tests::seed("torn_log_tail_is_trimmed_silently");
    let mut rng = skiff_tests::rng(seed);
    for variant in 0..4 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let ends = write_flushed(&path, 30, None);
        let log = log_files(&path).pop().expect("a log file");
        let good_len = file_len(&log);
        let mut bytes = std::fs::read(&log).expect("read");
        let survivors = match variant {
            // Garbage after the last record.
            0 => {
                bytes.extend((0..rng.gen_range(1..300)).map(|_| rng.gen::<u8>()));
                30
            }
            // Zeros after the last record (space allocated, never written).
            1 => {
                bytes.extend(std::iter::repeat_n(0u8, rng.gen_range(1..5000)));
                30
            }
            // The last record cut short.
            2 => {
                let start = ends[28];
                bytes.truncate(usize::try_from(rng.gen_range(start + 1..good_len)).expect("small"));
                29
            }
            // The last record garbled in place.
            _ => {
                let at = rng.gen_range(ends[28]..good_len);
                bytes[usize::try_from(at).expect("small")] ^= 1 << rng.gen_range(0..8);
                29
            }
        };
        std::fs::write(&log, &bytes).expect("write");
        let db = open(&path);
        assert_holds(&db, survivors);
        // Appending resumes right after the last good record.
        db.insert(key(survivors), value(survivors)).expect("insert");
        db.flush().expect("flush");
        drop(db);
        let db = open(&path);
        assert_holds(&db, survivors + 1);
        drop(db);
        assert_eq!(log_files(&path).len(), 1, "variant {variant}: log files");
    }
}

#[test]
fn flipped_byte_in_the_middle_of_the_log_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let ends = write_flushed(&path, 40, None);
    let log = log_files(&path).pop().expect("a log file");
    let mut bytes = std::fs::read(&log).expect("read");
    let at = usize::try_from((ends[10] + ends[11]) / 2).expect("small");
    bytes[at] ^= 0x10;
    std::fs::write(&log, &bytes).expect("write");
    match Config::new().path(&path).checkpoint_on_close(false).open() {
        Err(e @ Error::Corruption { .. }) => {
            assert!(
                e.to_string().contains(&log.display().to_string()),
                "error does not name {}: {e}",
                log.display()
            );
            let Error::Corruption { file, offset, .. } = e else {
                unreachable!()
            };
            assert_eq!(file, log);
            assert_eq!(offset, ends[10], "offset of the damaged record");
        }
        other => panic!(
            "a flipped byte in synced data gave {:?}",
            other.map(|_| "an open database")
        ),
    }
    assert_eq!(
        std::fs::read(&log).expect("read"),
        bytes,
        "a corrupt log was modified"
    );
}

#[test]
fn damage_in_an_older_log_file_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    write_flushed(&path, 200, Some(4096));
    let files = log_files(&path);
    assert!(
        files.len() >= 3,
        "expected several log files, got {}",
        files.len()
    );
    for (what, damage) in [("garbage appended", 0), ("byte flipped", 1)] {
        let victim = &files[files.len() - 2];
        let original = std::fs::read(victim).expect("read");
        let mut bytes = original.clone();
        if damage == 0 {
            bytes.extend_from_slice(b"garbage after a sealed file");
        } else {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
        }
        std::fs::write(victim, &bytes).expect("write");
        match Config::new().path(&path).checkpoint_on_close(false).open() {
            Err(e @ Error::Corruption { .. }) => {
                assert!(
                    e.to_string().contains(&victim.display().to_string()),
                    "{what}: {e}"
                );
            }
            other => panic!(
                "{what} in an older log file gave {:?}",
                other.map(|_| "an open database")
            ),
        }
        assert_eq!(
            std::fs::read(victim).expect("read"),
            bytes,
            "{what}: the damaged file was modified"
        );
        std::fs::write(victim, &original).expect("restore");
    }
    assert_holds(&open(&path), 200);
}

/// T7 in small: a flipped bit anywhere in a log whose records were each
/// flushed is `Corruption`, except in the last record, which may be trimmed as
/// a torn tail; no other outcome, and never a wrong value.
#[test]
fn every_flipped_bit_is_detected() {
    let seed = skiff_tests::seed("every_flipped_bit_is_detected");
    let mut rng = skiff_tests::rng(seed);
    let flips = skiff_tests::size(200, 20_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("template");
    let ends = write_flushed(&template, 25, None);
    let log_name = log_files(&template)
        .pop()
        .expect("log")
        .file_name()
        .expect("name")
        .to_owned();
    let pristine = std::fs::read(template.join("wal").join(&log_name)).expect("read");
    let meta = std::fs::read(template.join("skiff.meta")).expect("read");
    for flip in 0..flips {
        let path = dir.path().join(format!("copy-{flip}"));
        std::fs::create_dir_all(path.join("wal")).expect("mkdir");
        std::fs::write(path.join("skiff.meta"), &meta).expect("write");
        let at = rng.gen_range(0..pristine.len());
        let mut bytes = pristine.clone();
        bytes[at] ^= 1 << rng.gen_range(0..8);
        let log = path.join("wal").join(&log_name);
        std::fs::write(&log, &bytes).expect("write");
        let in_last_record = at as u64 >= ends[23];
        match Config::new()
            .path(&path)
            .flush_every_ms(None)
            .checkpoint_on_close(false)
            .open()
        {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, log, "flip at {at}"),
            Ok(db) if in_last_record => assert_holds(&db, 24),
            Ok(_) => panic!("flip at byte {at} (SKIFF_SEED={seed}) went unnoticed"),
            Err(e) => panic!("flip at byte {at} (SKIFF_SEED={seed}) gave {e:?}"),
        }
        std::fs::remove_dir_all(&path).expect("cleanup");
    }
}
