//! `Config`: how to open a database, as sled 0.34's builder.

use std::path::{Path, PathBuf};

use crate::io::{FileSystem, Storage};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::{Db, Result};

/// Tuning hint, as in sled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Favour small files over write speed.
    LowSpace,
    /// Favour write speed over small files (the default).
    #[default]
    HighThroughput,
}

/// Builder for opening a [`Db`].
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let db = skiff_engine::Config::new()
///     .path(dir.path().join("db"))
///     .flush_every_ms(Some(100))
///     .open()?;
/// db.insert(b"k", b"v")?;
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) path: PathBuf,
    pub(crate) temporary: bool,
    pub(crate) create_new: bool,
    pub(crate) cache_capacity: u64,
    pub(crate) flush_every_ms: Option<u64>,
    pub(crate) use_compression: bool,
    pub(crate) compression_factor: i32,
    pub(crate) segment_size: usize,
    pub(crate) mode: Mode,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) leaf_max_bytes: usize,
    pub(crate) durable_transactions: bool,
    pub(crate) checkpoint_every_ms: Option<u64>,
    pub(crate) checkpoint_on_close: bool,
    pub(crate) checkpoint_run_bytes: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            path: PathBuf::from("default.skiff"),
            temporary: false,
            create_new: false,
            cache_capacity: 1024 * 1024 * 1024,
            flush_every_ms: Some(500),
            use_compression: false,
            compression_factor: 5,
            segment_size: 8 * 1024 * 1024,
            mode: Mode::default(),
            storage: Arc::new(FileSystem),
            leaf_max_bytes: 8 * 1024,
            durable_transactions: false,
            checkpoint_every_ms: Some(1_000),
            checkpoint_on_close: true,
            checkpoint_run_bytes: None,
        }
    }
}

impl Config {
    /// The default configuration: path `default.skiff`, flush every 500 ms.
    pub fn new() -> Config {
        Config::default()
    }

    /// The directory holding the database.
    pub fn path<P: AsRef<Path>>(mut self, path: P) -> Config {
        self.path = path.as_ref().to_path_buf();
        self
    }

    /// A scratch database in the system's temporary directory (unless `path` is
    /// also set), removed when the last handle drops.
    pub fn temporary(mut self, to: bool) -> Config {
        self.temporary = to;
        self
    }

    /// Fail with `Error::AlreadyExists` if the database exists.
    pub fn create_new(mut self, to: bool) -> Config {
        self.create_new = to;
        self
    }

    /// Bytes of leaves to keep in memory (default 1 GiB). Beyond it, leaves
    /// not used lately are evicted and read back from their pages on demand;
    /// changed leaves are written by a checkpoint first.
    pub fn cache_capacity(mut self, to: u64) -> Config {
        self.cache_capacity = to;
        self
    }

    /// Whether every transaction is durable (fsynced) before it returns, as if
    /// each called [`TransactionalTree::flush`](crate::TransactionalTree::flush).
    /// Concurrent durable commits share one fsync. Default `false`: commits
    /// become durable with the next background flush. Not in sled.
    pub fn durable_transactions(mut self, to: bool) -> Config {
        self.durable_transactions = to;
        self
    }

    /// How often the background flusher fsyncs the log; `None` disables it, so
    /// only `flush` makes writes durable. Default 500 ms.
    pub fn flush_every_ms(mut self, every: Option<u64>) -> Config {
        self.flush_every_ms = every;
        self
    }

    /// How often the background checkpointer writes a checkpoint if anything
    /// changed (default 1 s: deletes free space only once their leaves are
    /// rewritten); it also writes one whenever the log has grown by 1 MiB or
    /// an eighth of the database (or a quarter of the cache, if
    /// less), and it runs the cache's eviction as writes grow resident leaves.
    /// `None` turns the background checkpointer off: checkpoints happen only
    /// through `Db::checkpoint` and at close, and changed leaves stay in memory
    /// until then. Not in sled.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = skiff_engine::Config::new()
    ///     .path(dir.path().join("db"))
    ///     .checkpoint_every_ms(Some(5_000))
    ///     .open()?;
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn checkpoint_every_ms(mut self, every: Option<u64>) -> Config {
        self.checkpoint_every_ms = every;
        self
    }

    /// Compress pages with zstd (the log is never compressed).
    pub fn use_compression(mut self, to: bool) -> Config {
        self.use_compression = to;
        self
    }

    /// zstd level (1–22) used when compression is on.
    pub fn compression_factor(mut self, to: i32) -> Config {
        self.compression_factor = to.clamp(1, 22);
        self
    }

    /// Size of segment files, and of log files before the next one starts
    /// (default 8 MiB).
    pub fn segment_size(mut self, to: usize) -> Config {
        self.segment_size = to.max(4096);
        self
    }

    /// Space/throughput tuning hint.
    pub fn mode(mut self, to: Mode) -> Config {
        self.mode = to;
        self
    }

    /// Runs the database on another [`Storage`], e.g. a simulated file system in
    /// crash tests. Not in sled.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Config {
        self.storage = storage;
        self
    }

    /// Test knob: the size at which leaves split (tiny values make splits and
    /// merges happen constantly). Not in sled.
    #[doc(hidden)]
    pub fn leaf_max_bytes(mut self, to: usize) -> Config {
        self.leaf_max_bytes = to.max(1);
        self
    }

    /// Test knob: whether closing the database writes a checkpoint (default
    /// true). Off, a closed database looks like a crashed one: tests of the
    /// log's recovery use it. Not in sled.
    #[doc(hidden)]
    pub fn checkpoint_on_close(mut self, to: bool) -> Config {
        self.checkpoint_on_close = to;
        self
    }

    /// Test knob: the dirty bytes one checkpoint writes before it may stop
    /// (default: a sixteenth of the database, at least 1 MiB). Small, every
    /// pass over the database takes several checkpoints. Not in sled.
    #[doc(hidden)]
    pub fn checkpoint_run_bytes(mut self, to: u64) -> Config {
        self.checkpoint_run_bytes = Some(to.max(1));
        self
    }

    /// Opens the database.
    pub fn open(&self) -> Result<Db> {
        let mut config = self.clone();
        if config.temporary && config.path == Config::default().path {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            config.path = std::env::temp_dir().join(format!("skiff-{}-{nanos}-{n}", std::process::id()));
        }
        Db::open_with(config)
    }
}

/// Opens the database at `path` with the default configuration.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let db = skiff_engine::open(dir.path().join("db"))?;
/// # Ok::<(), skiff_engine::Error>(())
/// ```
pub fn open<P: AsRef<Path>>(path: P) -> Result<Db> {
    Config::new().path(path).open()
}
