//! `Db`: opening a database directory, its trees, ids and whole-database calls.
//!
//! Directory layout:
//!
//! ```text
//! <path>/LOCK        advisory lock: one open Db per directory at a time
//! <path>/skiff.meta  marker and format version (see `meta`), written last at creation
//! <path>/wal/        write-ahead log files (see `log` and `record`)
//! <path>/pages/      segment files of leaf pages (see `page_store` and `page`)
//! <path>/checkpoint  the page table and where log replay starts (see `checkpoint`)
//! ```
//!
//! The engine state shared by every handle lives in `Engine`. Trees do not point
//! back to it, so dropping the last `Db` or `Tree` handle really closes the
//! database: the flusher stops, the log is flushed and the lock released.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::background::Periodic;
use crate::btree::{Shared, TreeCore};
use crate::checkpointer::{self, Checkpoints};
use crate::config::Config;
use crate::io::{Storage, StorageFile};
use crate::log::{self, Log};
use crate::page_store::PageStore;
use crate::record::{OpRef, TreeId};
use crate::sync::{lock, read, write, Arc, AtomicU64, Mutex, RwLock};
use crate::tree::check_key;
use crate::{meta, recovery, Error, IVec, Result, Tree};

/// Name of the tree every `Db` derefs to.
pub(crate) const DEFAULT_TREE: &[u8] = b"__skiff__default";
const LOCK_FILE: &str = "LOCK";
pub(crate) const WAL_DIR: &str = "wal";
/// Ids reserved (and made durable) at a time by `generate_id`.
const ID_BLOCK: u64 = 1_000_000;

/// The trees by name, and the id the next new tree gets.
pub(crate) struct Catalog {
    pub by_name: BTreeMap<IVec, Arc<TreeCore>>,
    pub next_id: TreeId,
}

impl Catalog {
    /// Adds an empty default tree (id 0) and returns it.
    pub(crate) fn add_default_tree(&mut self, leaf_max: usize, shared: &Arc<Shared>) -> Arc<TreeCore> {
        let core = Arc::new(TreeCore::new(
            0,
            IVec::from(DEFAULT_TREE),
            leaf_max,
            shared.clone(),
        ));
        self.by_name.insert(core.name.clone(), core.clone());
        core
    }
}

impl Default for Catalog {
    fn default() -> Catalog {
        Catalog {
            by_name: BTreeMap::new(),
            next_id: 1,
        }
    }
}

pub(crate) struct IdGen {
    next: u64,
    reserved: u64,
}

impl IdGen {
    /// Every id below this may have been handed out (a checkpoint records it).
    pub(crate) fn reserved_upto(&self) -> u64 {
        self.reserved.max(self.next)
    }
}

pub(crate) struct Engine {
    pub(crate) path: PathBuf,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) log: Arc<Log>,
    pub(crate) catalog: Arc<RwLock<Catalog>>,
    ids: Arc<Mutex<IdGen>>,
    leaf_max: usize,
    pub(crate) checkpoints: Arc<Checkpoints>,
    checkpointer: Mutex<Option<Periodic>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) durable_transactions: bool,
    checkpoint_on_close: bool,
    was_recovered: bool,
    temporary: bool,
    flusher: Mutex<Option<Periodic>>,
    _lock: Box<dyn StorageFile>,
}

/// An open database: a set of named [`Tree`]s sharing one log. Cheap to clone;
/// derefs to its default tree, so `db.insert(..)` works as in sled.
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// db.insert(b"k", b"v")?;                 // the default tree
/// let users = db.open_tree(b"users")?;    // a named tree
/// users.insert(b"1", b"ada")?;
/// db.flush()?;                            // durable from here on
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) engine: Arc<Engine>,
    default: Tree,
}

enum DirState {
    /// Nothing there, or an empty directory, or a creation that crashed first.
    Fresh,
    /// A database to recover, and the format version its marker names.
    Existing(u32),
}

fn inspect(storage: &dyn Storage, dir: &Path) -> Result<DirState> {
    if !storage
        .exists(dir)
        .map_err(|e| Error::io("check database path", dir, e))?
    {
        return Ok(DirState::Fresh);
    }
    let names = storage.list_dir(dir).map_err(|_| Error::NotADatabase {
        path: dir.to_path_buf(),
    })?;
    if names.iter().any(|n| n == meta::FILE_NAME) {
        let path = dir.join(meta::FILE_NAME);
        let bytes = read_small_file(storage, &path)?;
        return match meta::decode(&bytes) {
            Ok(version) => Ok(DirState::Existing(version)),
            Err(meta::MetaError::Foreign) => Err(Error::NotADatabase {
                path: dir.to_path_buf(),
            }),
            Err(meta::MetaError::Damaged) => Err(Error::corruption(path, 0, "damaged database marker file")),
            Err(meta::MetaError::Version(found)) => Err(Error::UnsupportedFormat {
                path: dir.to_path_buf(),
                found,
                supported: meta::FORMAT_VERSION,
            }),
        };
    }
    if names
        .iter()
        .all(|n| n == LOCK_FILE || n == meta::TEMP_NAME || n == WAL_DIR)
    {
        return Ok(DirState::Fresh);
    }
    Err(Error::NotADatabase {
        path: dir.to_path_buf(),
    })
}

fn read_small_file(storage: &dyn Storage, path: &Path) -> Result<Vec<u8>> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open", path, e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, e))?.min(4096);
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(4096)];
    file.read_exact_at(&mut buf, 0)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(buf)
}

/// Creates the files of a new database; the marker file goes last.
fn create(storage: &dyn Storage, dir: &Path, wal: &Path) -> Result<crate::log::Tail> {
    storage
        .create_dir_all(wal)
        .map_err(|e| Error::io("create log directory", wal, e))?;
    // Leftovers of a creation that crashed before its marker was written.
    for name in storage
        .list_dir(wal)
        .map_err(|e| Error::io("list log directory", wal, e))?
    {
        if crate::log::parse_file_name(&name).is_some() {
            let p = wal.join(&name);
            storage
                .remove_file(&p)
                .map_err(|e| Error::io("remove stale log file", &p, e))?;
        }
    }
    let tail = Log::create_first_file(storage, wal)?;
    crate::io::replace_file(storage, dir, meta::TEMP_NAME, meta::FILE_NAME, &meta::encode())?;
    Ok(tail)
}

impl Db {
    pub(crate) fn open_with(config: Config) -> Result<Db> {
        let storage = config.storage.clone();
        let dir = config.path.clone();
        let state = inspect(&*storage, &dir)?;
        if matches!(state, DirState::Existing(_)) && config.create_new {
            return Err(Error::AlreadyExists { path: dir });
        }
        storage
            .create_dir_all(&dir)
            .map_err(|e| Error::io("create database directory", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = storage
            .open(&lock_path, true)
            .map_err(|e| Error::io("open lock file", &lock_path, e))?;
        if !lock_file
            .try_lock()
            .map_err(|e| Error::io("lock", &lock_path, e))?
        {
            return Err(Error::Locked { path: dir });
        }
        let leaf_max = config.leaf_max_bytes;
        let wal = dir.join(WAL_DIR);
        let pages_dir = dir.join(crate::page_store::DIR);
        let (recovered, pages, shared, loaded) = match state {
            DirState::Fresh => {
                let tail = create(&*storage, &dir, &wal)?;
                let pages = Arc::new(PageStore::open(storage.clone(), &pages_dir, None)?);
                let shared = Arc::new(Shared::new(pages.clone(), config.cache_capacity));
                let mut catalog = Catalog::default();
                catalog.add_default_tree(leaf_max, &shared);
                let fresh = recovery::Recovered {
                    catalog,
                    ids_next: 0,
                    tail,
                };
                (fresh, pages, shared, None)
            }
            DirState::Existing(version) => {
                let ckpt = recovery::read_checkpoint(&*storage, &dir)?;
                let pages = Arc::new(PageStore::open(storage.clone(), &pages_dir, ckpt.as_ref())?);
                let shared = Arc::new(Shared::new(pages.clone(), config.cache_capacity));
                let recovered = recovery::recover(&*storage, &wal, ckpt.as_ref(), leaf_max, &shared)?;
                if version < meta::FORMAT_VERSION {
                    // Before anything is written in the new format: from here
                    // on, older builds refuse the database instead of
                    // misreading it.
                    crate::io::replace_file(
                        &*storage,
                        &dir,
                        meta::TEMP_NAME,
                        meta::FILE_NAME,
                        &meta::encode(),
                    )?;
                }
                (recovered, pages, shared, Some(ckpt))
            }
        };
        let was_recovered = loaded.is_some();
        let loaded = loaded.flatten();
        let recovery::Recovered {
            catalog,
            ids_next,
            tail,
        } = recovered;
        let default = catalog
            .by_name
            .get(DEFAULT_TREE)
            .cloned()
            .ok_or_else(|| Error::ReportableBug("recovery lost the default tree".into()))?;
        let log = Arc::new(Log::open(
            storage.clone(),
            &wal,
            config.segment_size as u64,
            tail,
        )?);
        let flusher = config
            .flush_every_ms
            .map(|ms| log::start_flusher(log.clone(), Duration::from_millis(ms.max(1))))
            .transpose()?;
        let catalog = Arc::new(RwLock::new(catalog));
        let ids = Arc::new(Mutex::new(IdGen {
            next: ids_next,
            reserved: ids_next,
        }));
        let checkpoints = Arc::new(Checkpoints {
            path: dir.clone(),
            storage: storage.clone(),
            log: log.clone(),
            pages,
            catalog: catalog.clone(),
            ids: ids.clone(),
            shared: shared.clone(),
            level: config.use_compression.then_some(config.compression_factor),
            segment_size: config.segment_size as u64,
            run_bytes: config.checkpoint_run_bytes,
            state: Mutex::new(checkpointer::State::new(loaded.as_ref(), log.next_lsn())),
            last: Mutex::default(),
            stale_checked: AtomicU64::new(0),
            removes_seen: AtomicU64::new(0),
        });
        // Temporary databases checkpoint too: dirty leaves cannot be evicted.
        let checkpointer = match config.checkpoint_every_ms {
            Some(ms) => Some(checkpointer::start(
                checkpoints.clone(),
                Duration::from_millis(ms),
            )?),
            None => None,
        };
        let engine = Arc::new(Engine {
            path: dir,
            storage,
            log,
            catalog,
            ids,
            leaf_max,
            checkpoints,
            checkpointer: Mutex::new(checkpointer),
            shared,
            durable_transactions: config.durable_transactions,
            checkpoint_on_close: config.checkpoint_on_close && !config.temporary,
            was_recovered,
            temporary: config.temporary,
            flusher: Mutex::new(flusher),
            _lock: lock_file,
        });
        Ok(Db {
            default: Tree {
                core: default,
                engine: engine.clone(),
            },
            engine,
        })
    }

    /// Opens (creating if needed) the tree called `name`.
    pub fn open_tree<V: AsRef<[u8]>>(&self, name: V) -> Result<Tree> {
        let name = name.as_ref();
        check_key(name)?;
        if let Some(core) = read(&self.engine.catalog).by_name.get(name) {
            return Ok(Tree {
                core: core.clone(),
                engine: self.engine.clone(),
            });
        }
        let mut catalog = write(&self.engine.catalog);
        if let Some(core) = catalog.by_name.get(name) {
            return Ok(Tree {
                core: core.clone(),
                engine: self.engine.clone(),
            });
        }
        let id = catalog.next_id;
        let next = id
            .checked_add(1)
            .ok_or_else(|| Error::Unsupported("too many trees created".into()))?;
        self.engine.log.append([OpRef::CreateTree { tree: id, name }])?;
        catalog.next_id = next;
        let core = Arc::new(TreeCore::new(
            id,
            IVec::from(name),
            self.engine.leaf_max,
            self.engine.shared.clone(),
        ));
        catalog.by_name.insert(core.name.clone(), core.clone());
        Ok(Tree {
            core,
            engine: self.engine.clone(),
        })
    }

    /// Removes the tree called `name` and all its data; `Ok(false)` if there is
    /// none. Handles to it fail with `Error::CollectionNotFound` afterwards. The
    /// default tree cannot be dropped.
    pub fn drop_tree<V: AsRef<[u8]>>(&self, name: V) -> Result<bool> {
        let name = name.as_ref();
        if name == DEFAULT_TREE {
            return Err(Error::Unsupported("the default tree cannot be dropped".into()));
        }
        let mut catalog = write(&self.engine.catalog);
        let Some(core) = catalog.by_name.get(name).cloned() else {
            return Ok(false);
        };
        let log = &self.engine.log;
        core.reset(true, || log.append([OpRef::DropTree { tree: core.id }]))?;
        catalog.by_name.remove(name);
        Ok(true)
    }

    /// Names of all trees, the default tree first.
    pub fn tree_names(&self) -> Vec<IVec> {
        let catalog = read(&self.engine.catalog);
        let mut names = vec![IVec::from(DEFAULT_TREE)];
        names.extend(catalog.by_name.keys().filter(|n| &***n != DEFAULT_TREE).cloned());
        names
    }

    /// A new id, unique for the life of the database — never repeated, even
    /// after a crash. Ids are reserved in durable blocks, so they are increasing
    /// but not contiguous across restarts.
    pub fn generate_id(&self) -> Result<u64> {
        self.engine.generate_id()
    }

    /// Runs `f` as one serializable transaction over the trees it asks for with
    /// [`Transaction::tree`](crate::transaction::Transaction::tree), for
    /// callers that choose trees at run time (not in sled). Retried on conflict
    /// like [`Transactional::transaction`], which `Db` keeps for its default
    /// tree.
    ///
    /// [`Transactional::transaction`]: crate::Transactional::transaction
    pub fn transact<F, A, E>(&self, f: F) -> crate::TransactionResult<A, E>
    where
        F: Fn(&crate::Transaction) -> crate::ConflictableTransactionResult<A, E>,
    {
        crate::transaction::run(|| Ok(crate::Transaction::open(&self.engine)), f)
    }

    /// A consistent read-only view of every tree as of now, unaffected by
    /// later writes. See [`Snapshot`](crate::Snapshot).
    pub fn snapshot(&self) -> crate::Snapshot {
        crate::Snapshot::new(self.engine.clone())
    }

    /// Checkpoints now: every changed leaf goes to the page store, emptied
    /// segments are cleaned, and the log before the call is removed. The
    /// background checkpointer does this on its own, a share of the database
    /// at a time, when enough log has accumulated (and every
    /// `Config::checkpoint_every_ms`); call it to make the next open replay
    /// nothing, or to give space back at once.
    /// Not in sled.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = skiff_engine::open(dir.path().join("db"))?;
    /// db.insert(b"k", b"v")?;
    /// db.checkpoint()?;
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        self.engine.checkpoints.run_all()
    }

    /// Test knob: writes one incremental checkpoint, the next run of the
    /// current pass over the database, as the background checkpointer does.
    /// Not in sled.
    #[doc(hidden)]
    pub fn checkpoint_once(&self) -> Result<()> {
        self.engine.checkpoints.run()
    }

    /// Whether this open found an existing database (and replayed its log).
    pub fn was_recovered(&self) -> bool {
        self.engine.was_recovered
    }

    /// Bytes the database's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        crate::io::dir_bytes(
            &*self.engine.storage,
            &self.engine.path,
            &[WAL_DIR, crate::page_store::DIR],
        )
    }

    /// A crc32 over every tree's name, keys and values.
    pub fn checksum(&self) -> Result<u32> {
        let mut hasher = crc32fast::Hasher::new();
        for name in self.tree_names() {
            hasher.update(&name);
            hasher.update(&self.open_tree(&name)?.checksum()?.to_le_bytes());
        }
        Ok(hasher.finalize())
    }
}

impl Engine {
    /// `Tree::flush`: makes every write so far durable, then, with the
    /// background checkpointer on, finishes the checkpoint pass if the data
    /// is shrinking much faster than checkpoints follow (see
    /// `Checkpoints::lagging_shrink`), so that the space of deleted data is
    /// back when the flush returns. With the checkpointer off, checkpoints
    /// are the caller's (`Db::checkpoint`) and the closing one only.
    pub(crate) fn flush(&self) -> Result<usize> {
        let bytes = self.log.flush()?;
        let background = lock(&self.checkpointer).is_some();
        if background && self.checkpoints.lagging_shrink() {
            self.checkpoints.run_all()?;
        }
        Ok(bytes)
    }

    pub(crate) fn generate_id(&self) -> Result<u64> {
        let mut ids = lock(&self.ids);
        if ids.next >= ids.reserved {
            let upto = ids
                .next
                .checked_add(ID_BLOCK)
                .ok_or_else(|| Error::Unsupported("id space exhausted".into()))?;
            let lsn = self.log.append([OpRef::ReserveIds { upto }])?.lsn;
            self.log.sync_to(lsn + 1)?;
            ids.reserved = upto;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }
}

impl Deref for Db {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.default
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.engine.path).finish()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        drop(lock(&self.checkpointer).take());
        self.log.backlog.lift();
        drop(lock(&self.flusher).take());
        // Best effort: a failure here is a lost buffered write, which C2 allows.
        let _ = self.log.flush();
        if self.checkpoint_on_close && self.checkpoints.due(Duration::ZERO) {
            // So that the next open replays nothing; a failure leaves the log.
            let _ = self.checkpoints.run_all();
        }
        for core in read(&self.catalog).by_name.values() {
            core.subscribers.close_all();
        }
        let _ = self._lock.unlock();
        if self.temporary {
            let _ = self.storage.remove_dir_all(&self.path);
        }
    }
}

/// The future of `flush_async`: a flush on a helper thread.
type FlushSlot = Arc<Mutex<(Option<Result<usize>>, Option<Waker>)>>;

pub(crate) struct FlushFuture {
    slot: FlushSlot,
}

impl FlushFuture {
    pub(crate) fn spawn(log: Arc<Log>) -> FlushFuture {
        let slot: FlushSlot = Arc::new(Mutex::new((None, None)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("skiff-flush-async".into())
            .spawn(move || {
                let result = log.flush();
                let mut s = lock(&theirs);
                s.0 = Some(result);
                if let Some(w) = s.1.take() {
                    w.wake();
                }
            });
        if let Err(e) = spawned {
            lock(&slot).0 = Some(Err(Error::io("spawn flush thread", "", e)));
        }
        FlushFuture { slot }
    }
}

impl Future for FlushFuture {
    type Output = Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        let mut s = lock(&self.slot);
        match s.0.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
