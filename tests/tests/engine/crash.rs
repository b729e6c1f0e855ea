//! T5: a real SIGKILL loop.
//!
//! The `crash_child` binary runs durable operations on a database and announces
//! each one (`BEGIN ...`) before it starts and acknowledges it (`ACK ...`) only
//! after `flush()` returned. This test spawns it, lets it run for a random 20–300
//! ms (sometimes only a few ms, so that it dies while opening and recovering),
//! kills it with SIGKILL, reads everything it printed and reopens the database.
//!
//! The database must hold exactly what the previous check found plus every
//! acknowledged operation, and the operation in flight (at most one: the child
//! is sequential) either wholly applied or not at all: an insert or remove is
//! there or not; a batch has all of its keys or none; an unflushed burst of
//! inserts survives as a prefix of itself (the log is replayed in order). Nothing
//! else may appear or vanish. Ids generated after the reopen must be greater than
//! every id ever acknowledged. State accumulates across the kills that share a
//! database directory (a fresh one every 25 kills keeps every recovery short).
//!
//! A second test crashes in-process instead (`mem::forget` of an open database
//! on a storage that records what was synced) to build a power-loss image after
//! a recovery, which a SIGKILL alone cannot produce.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use skiff_engine::io::{FileSystem, Storage, StorageFile};
use skiff_engine::{Config, Tree};
use skiff_tests::{crash_value, BATCH_WIDTH};

/// `(tree, key) -> value`; the tree is `""` for the default tree.
type State = BTreeMap<(String, Vec<u8>), Vec<u8>>;

const BURSTS: &str = "bursts";
const KILLS_PER_DATABASE: usize = 25;
const SIGKILL: i32 = 9;

/// The operation the child announced but had not acknowledged.
#[derive(Debug, Clone, PartialEq)]
enum InFlight {
    Insert(String),
    Batch(String),
    Remove(String),
    Burst(String, usize),
}

fn batch_keys(n: &str) -> Vec<(String, Vec<u8>)> {
    (0..BATCH_WIDTH)
        .map(|i| (String::new(), format!("batch/{n}/{i}").into_bytes()))
        .collect()
}

fn burst_keys(n: &str, count: usize) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|j| (BURSTS.to_string(), format!("burst/{n}/{j:03}").into_bytes()))
        .collect()
}

fn default_key(k: &str) -> (String, Vec<u8>) {
    (String::new(), k.as_bytes().to_vec())
}

/// What one child printed, and how it ended.
pub(crate) struct Run {
    pub lines: Vec<String>,
    pub stderr: String,
}

/// Spawns the child program `bin` (`<bin> <db> <round> <seed>`), kills it at a
/// random moment and collects its output.
pub(crate) fn run_child(bin: &str, db: &Path, round: usize, seed: u64, rng: &mut StdRng) -> Run {
    let mut child = Command::new(bin)
        .arg(db)
        .arg(round.to_string())
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel::<String>();
    // Read as the child writes, so a full pipe never blocks it; only complete
    // lines count (a line cut by the kill was not acknowledged).
    let reader = std::thread::spawn(move || {
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let _ = tx.send(String::from_utf8_lossy(&line[..end]).into_owned());
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let mut lines = Vec::new();
    if rng.gen_bool(0.2) {
        // Die while opening: recovery itself gets interrupted.
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..15)));
    } else {
        // A liveness guard, not a timing assertion: a child that cannot even
        // open the database in a minute is stuck.
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => lines.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("{bin} printed nothing within 60 s");
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..=300)));
    }
    let _ = child.kill();
    let status = child.wait().expect("waiting for the child");
    reader.join().expect("stdout reader");
    lines.extend(rx.try_iter());
    let stderr = err_reader.join().unwrap_or_default();
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "{bin} ended by itself ({status}) before it was killed; stderr:\n{stderr}\nlast lines: {:?}",
        &lines[lines.len().saturating_sub(5)..]
    );
    Run { lines, stderr }
}

/// Counts of acknowledged operations, for the summary line.
#[derive(Default, Debug)]
struct Acks {
    inserts: usize,
    batches: usize,
    removes: usize,
    bursts: usize,
    ids: usize,
    in_flight_applied: usize,
    in_flight_lost: usize,
}

/// Applies the acknowledged operations of `lines` to `state`; returns the
/// operation left in flight.
fn replay_acks(
    lines: &[String],
    state: &mut State,
    max_id: &mut Option<u64>,
    acks: &mut Acks,
) -> Result<Option<InFlight>, String> {
    let mut in_flight: Option<InFlight> = None;
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["READY"] => {}
            ["BEGIN", kind, rest @ ..] => {
                if let Some(op) = &in_flight {
                    return Err(format!("{line:?} while {op:?} was unacknowledged"));
                }
                in_flight = Some(match (*kind, rest) {
                    ("insert", [k]) => InFlight::Insert(k.to_string()),
                    ("batch", [n]) => InFlight::Batch(n.to_string()),
                    ("remove", [k]) => InFlight::Remove(k.to_string()),
                    ("burst", [n, c]) => InFlight::Burst(
                        n.to_string(),
                        c.parse().map_err(|_| format!("bad line {line:?}"))?,
                    ),
                    _ => return Err(format!("bad line {line:?}")),
                });
            }
            ["ACK", "id", id] => {
                let id: u64 = id.parse().map_err(|_| format!("bad line {line:?}"))?;
                if max_id.is_some_and(|m| id <= m) {
                    return Err(format!(
                        "generate_id returned {id} after {max_id:?} had been handed out"
                    ));
                }
                *max_id = Some(id);
                acks.ids += 1;
            }
            ["ACK", kind, name] => {
                let op = in_flight.take();
                match (op, *kind) {
                    (Some(InFlight::Insert(k)), "insert") if k == *name => {
                        state.insert(default_key(&k), crash_value(k.as_bytes()));
                        acks.inserts += 1;
                    }
                    (Some(InFlight::Batch(n)), "batch") if n == *name => {
                        for key in batch_keys(&n) {
                            let v = crash_value(&key.1);
                            state.insert(key, v);
                        }
                        acks.batches += 1;
                    }
                    (Some(InFlight::Remove(k)), "remove") if k == *name => {
                        if state.remove(&default_key(&k)).is_none() {
                            return Err(format!("the child removed {k}, which the model does not hold"));
                        }
                        acks.removes += 1;
                    }
                    (Some(InFlight::Burst(n, count)), "burst") if n == *name => {
                        for key in burst_keys(&n, count) {
                            let v = crash_value(&key.1);
                            state.insert(key, v);
                        }
                        acks.bursts += 1;
                    }
                    (op, _) => {
                        return Err(format!(
                            "{line:?} does not acknowledge the operation in flight {op:?}"
                        ))
                    }
                }
            }
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    Ok(in_flight)
}

fn read_state(db: &skiff_engine::Db) -> Result<State, String> {
    let mut state = State::new();
    for (name, tree) in [
        (String::new(), Tree::clone(db)),
        (
            BURSTS.to_string(),
            db.open_tree(BURSTS).map_err(|e| e.to_string())?,
        ),
    ] {
        for item in tree.iter() {
            let (k, v) = item.map_err(|e| format!("reading the database: {e}"))?;
            state.insert((name.clone(), k.to_vec()), v.to_vec());
        }
    }
    Ok(state)
}

/// Checks the reopened database against `state` and the operation in flight,
/// then makes `state` what was found.
fn check(
    db_path: &Path,
    state: &mut State,
    in_flight: Option<&InFlight>,
    max_id: &mut Option<u64>,
    acks: &mut Acks,
) -> Result<(), String> {
    let db = Config::new()
        .path(db_path)
        .open()
        .map_err(|e| format!("reopening after the kill failed: {e} ({e:?})"))?;
    let names: Vec<Vec<u8>> = db.tree_names().into_iter().skip(1).map(|n| n.to_vec()).collect();
    if names.iter().any(|n| n != BURSTS.as_bytes()) {
        return Err(format!("unexpected trees {names:?}"));
    }
    let actual = read_state(&db)?;
    // The keys the operation in flight touches, with the value each would have.
    let touched_in_order: Vec<(String, Vec<u8>)> = match in_flight {
        None => Vec::new(),
        Some(InFlight::Insert(k) | InFlight::Remove(k)) => vec![default_key(k)],
        Some(InFlight::Batch(n)) => batch_keys(n),
        Some(InFlight::Burst(n, c)) => burst_keys(n, *c),
    };
    let touched: BTreeSet<&(String, Vec<u8>)> = touched_in_order.iter().collect();
    let untouched = |s: &State| -> State {
        s.iter()
            .filter(|(k, _)| !touched.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (want, got) = (untouched(state), untouched(&actual));
    if want != got {
        let lost: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(10).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(10).collect();
        let changed: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .map(|(k, _)| k)
            .take(10)
            .collect();
        return Err(format!(
            "database differs from the acknowledged state: lost {lost:?}, appeared {extra:?}, changed {changed:?}"
        ));
    }
    let present: Vec<bool> = touched_in_order.iter().map(|k| actual.contains_key(k)).collect();
    for (k, v) in touched_in_order
        .iter()
        .filter_map(|k| actual.get(k).map(|v| (k, v)))
    {
        let expected = match in_flight {
            Some(InFlight::Remove(_)) => state.get(k).cloned().unwrap_or_default(),
            _ => crash_value(&k.1),
        };
        if *v != expected {
            return Err(format!("{k:?} holds a wrong value after the kill"));
        }
    }
    let applied = match in_flight {
        None => None,
        Some(InFlight::Insert(_)) => Some(present[0]),
        Some(InFlight::Remove(_)) => Some(!present[0]),
        Some(InFlight::Batch(n)) => {
            if present.iter().any(|&p| p != present[0]) {
                return Err(format!("batch {n} is torn: keys present {present:?}"));
            }
            Some(present[0])
        }
        Some(InFlight::Burst(n, _)) => {
            let m = present.iter().take_while(|&&p| p).count();
            if present[m..].iter().any(|&p| p) {
                return Err(format!(
                    "burst {n} survived as a non-prefix {present:?}: the log was not replayed in order"
                ));
            }
            Some(m == present.len())
        }
    };
    match applied {
        Some(true) => acks.in_flight_applied += 1,
        Some(false) => acks.in_flight_lost += 1,
        None => {}
    }
    *state = actual;
    if !db.was_recovered() {
        return Err("was_recovered() is false for an existing database".into());
    }
    let id = db
        .generate_id()
        .map_err(|e| format!("generate_id after reopen: {e}"))?;
    if max_id.is_some_and(|m| id <= m) {
        return Err(format!(
            "generate_id after reopen returned {id}, but {max_id:?} had been handed out"
        ));
    }
    *max_id = Some(id);
    Ok(())
}

#[test]
fn sigkill_loop() {
    let master = skiff_tests::seed("sigkill_loop");
    let kills = skiff_tests::size(50, 10_000);
    let mut rng = skiff_tests::rng(master);
    let root = tempfile::tempdir().expect("tempdir");
    let mut acks = Acks::default();
    let mut state = State::new();
    let mut max_id: Option<u64> = None;
    let mut db_path = root.path().join("db-0");
    let (mut child_time, mut check_time) = (Duration::ZERO, Duration::ZERO);
    for kill in 0..kills {
        if kill % KILLS_PER_DATABASE == 0 {
            if kill > 0 {
                std::fs::remove_dir_all(&db_path).expect("removing an old database");
            }
            db_path = root.path().join(format!("db-{kill}"));
            state.clear();
            max_id = None;
        }
        let child_seed = skiff_tests::derive_seed(master, kill as u64);
        let started = std::time::Instant::now();
        let bin = env!("CARGO_BIN_EXE_crash_child");
        let run = run_child(bin, &db_path, kill, child_seed, &mut rng);
        child_time += started.elapsed();
        let started = std::time::Instant::now();
        let result = replay_acks(&run.lines, &mut state, &mut max_id, &mut acks).and_then(|in_flight| {
            if !db_path.join("skiff.meta").exists() {
                // Killed before creation finished: nothing can have been acknowledged.
                return match in_flight {
                    None if state.is_empty() => Ok(()),
                    _ => Err("operations were acknowledged on a database that was never created".into()),
                };
            }
            check(&db_path, &mut state, in_flight.as_ref(), &mut max_id, &mut acks)
        });
        check_time += started.elapsed();
        if let Err(e) = result {
            panic!(
                "SIGKILL loop failed after kill {kill} (SKIFF_SEED={master}, child seed {child_seed}): {e}\n\
                 child's last lines: {:?}\nchild's stderr: {}",
                &run.lines[run.lines.len().saturating_sub(8)..],
                run.stderr
            );
        }
    }
    println!("{kills} kills: {acks:?}; {child_time:?} in children, {check_time:?} checking");
    let acked = acks.inserts + acks.batches + acks.removes + acks.bursts + acks.ids;
    assert!(
        acked > 0,
        "the child never acknowledged anything: the loop tested nothing"
    );
}

/// The real file system, except that the database lock always succeeds (so a
/// database can be "crashed" with `mem::forget` and reopened in-process) and
/// each file's length at its last `sync` is recorded.
#[derive(Debug, Default)]
struct Tracking {
    synced: Arc<Mutex<HashMap<PathBuf, u64>>>,
}

impl Tracking {
    fn synced_len(&self, path: &Path) -> u64 {
        self.synced
            .lock()
            .map(|m| m.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

struct TrackedFile {
    inner: Box<dyn StorageFile>,
    path: PathBuf,
    synced: Arc<Mutex<HashMap<PathBuf, u64>>>,
}

impl Storage for Tracking {
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        FileSystem.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>> {
        FileSystem.list_dir(path)
    }
    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        FileSystem.exists(path)
    }
    fn open(&self, path: &Path, create: bool) -> std::io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(TrackedFile {
            inner: FileSystem.open(path, create)?,
            path: path.to_path_buf(),
            synced: self.synced.clone(),
        }))
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        FileSystem.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> std::io::Result<()> {
        FileSystem.remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        FileSystem.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        FileSystem.sync_dir(path)
    }
}

impl StorageFile for TrackedFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_all_at(buf, offset)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()?;
        let len = self.inner.len()?;
        if let Ok(mut m) = self.synced.lock() {
            m.insert(self.path.clone(), len);
        }
        Ok(())
    }
    fn try_lock(&self) -> std::io::Result<bool> {
        Ok(true)
    }
    fn unlock(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: after a process crash, recovery replayed log bytes that had
/// reached the file but were never fsynced, and the reopened log stamped new
/// records with a `durable_lsn` claiming those bytes durable. A power loss
/// before the next fsync may keep a new record and lose the older bytes
/// (unsynced writes reach the disk in any order), and the next open then
/// reported `Corruption` for a crash image the contract allows. The open now
/// syncs the replayed tail first.
///
/// The test records what was synced and builds the worst legal image: every
/// unsynced byte before the last record lost, the last record kept. That image
/// must open, with every flushed write and no wrong value.
#[test]
fn power_loss_after_recovery_is_not_mistaken_for_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let fs = Arc::new(Tracking::default());
    // No background checkpointer: a forgotten handle's thread would go on
    // working on the directory, which a real crash would have stopped.
    let config = Config::new()
        .path(&path)
        .flush_every_ms(None)
        .checkpoint_every_ms(None)
        .storage(fs.clone());
    let big_b = vec![1u8; 1 << 20];
    let big_c = vec![2u8; 1 << 20];

    // Session 1: `a` is flushed; `b` (over the 1 MiB write threshold) reaches the
    // file unsynced; then the process dies (no drop, so no final flush).
    let db = config.open().expect("open");
    db.insert(b"a", b"flushed").expect("insert");
    db.flush().expect("flush");
    db.insert(b"b", big_b.clone()).expect("insert");
    std::mem::forget(db);
    let log = path.join("wal").join(format!("{:020}.log", 1));
    let len = |p: &Path| std::fs::metadata(p).expect("metadata").len();
    let end_of_b = len(&log);
    assert!(
        end_of_b > fs.synced_len(&log),
        "b should be in the file, unsynced"
    );

    // Session 2: recovery replays `b`; `c` reaches the file unsynced; crash again.
    let db = config.open().expect("recovery");
    assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&big_b[..]));
    db.insert(b"c", big_c.clone()).expect("insert");
    std::mem::forget(db);
    let synced = fs.synced_len(&log);
    assert!(len(&log) > end_of_b, "c should be in the file");

    // Power loss: every unsynced byte before `c` is lost, `c` reached the disk.
    let mut bytes = std::fs::read(&log).expect("read");
    if synced < end_of_b {
        let lost = usize::try_from(synced).expect("small")..usize::try_from(end_of_b).expect("small");
        bytes[lost].fill(0);
    }
    std::fs::write(&log, &bytes).expect("write");

    let db = match Config::new().path(&path).open() {
        Ok(db) => db,
        Err(e) => panic!("a legal power-loss image was refused: {e}"),
    };
    assert_eq!(
        db.get(b"a").expect("get").as_deref(),
        Some(&b"flushed"[..]),
        "a flushed write was lost"
    );
    if synced >= end_of_b {
        assert_eq!(
            db.get(b"b").expect("get").as_deref(),
            Some(&big_b[..]),
            "b was synced at recovery"
        );
    }
    let c = db.get(b"c").expect("get");
    assert!(
        c.is_none() || c.as_deref() == Some(&big_c[..]),
        "c holds a wrong value"
    );
}
