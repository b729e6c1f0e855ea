//! Engine adapters: one module per engine, all behind the [`Engine`] trait.
//!
//! Durability: `load` commits each batch with the engine's default durability
//! (redb and LMDB fsync every write transaction; skiff, sled and fjall buffer and
//! sync in the background). `remove` is a single, unbatched operation: redb and LMDB
//! then commit one non-durable transaction per remove (the way skiff, sled and fjall
//! treat single writes), and `flush` makes everything durable in every engine.
//! `put_batch` and `remove_batch` (used by the `space` subcommand) commit like `load`.
//!
//! [`EngineKind::open_with`] opens a new or an existing database with an optional
//! cache budget ([`OpenOptions`]); opening an existing one writes nothing.

mod fjall;
mod lmdb;
mod redb;
mod sled_api;

use std::path::Path;

use crate::data::{Key, Value, KEY_LEN, VALUE_LEN};
use crate::BenchResult;

/// A key-value engine under test. Shared by reference between reader threads.
pub trait Engine: Sync {
    /// Writes `batch` as one atomic batch or write transaction.
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()>;
    /// Looks `key` up; returns the value's length if it is present.
    fn get(&self, key: &[u8]) -> BenchResult<Option<usize>>;
    /// Reads up to `n` consecutive entries (keys and values) from `start` on;
    /// returns how many it read.
    fn scan(&self, start: &[u8], n: usize) -> BenchResult<usize>;
    /// Removes `key` as a single operation of its own.
    fn remove(&self, key: &[u8]) -> BenchResult<()>;
    /// Writes `batch` (keys and values of any length) as one atomic batch or write
    /// transaction, committed like [`Engine::load`].
    fn put_batch(&self, batch: &[(&[u8], &[u8])]) -> BenchResult<()>;
    /// Removes `keys` as one atomic batch or write transaction, committed like
    /// [`Engine::load`].
    fn remove_batch(&self, keys: &[&[u8]]) -> BenchResult<()>;
    /// Makes every earlier write durable.
    fn flush(&self) -> BenchResult<()>;
    /// Called once before a run of single (unbatched) writes.
    fn begin_single_writes(&self) -> BenchResult<()> {
        Ok(())
    }
}

/// The engines this benchmark knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// `skiff-engine`, this project.
    Skiff,
    /// sled 0.34.
    Sled,
    /// redb.
    Redb,
    /// fjall.
    Fjall,
    /// LMDB through heed.
    Lmdb,
}

impl EngineKind {
    /// Every engine, in the default run order (skiff first).
    pub const ALL: [EngineKind; 5] = [
        EngineKind::Skiff,
        EngineKind::Sled,
        EngineKind::Redb,
        EngineKind::Fjall,
        EngineKind::Lmdb,
    ];

    /// Short name, as accepted by `--engines`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Skiff => "skiff",
            EngineKind::Sled => "sled",
            EngineKind::Redb => "redb",
            EngineKind::Fjall => "fjall",
            EngineKind::Lmdb => "lmdb",
        }
    }

    /// Column heading for the report, with the crate and version measured.
    pub fn label(self) -> &'static str {
        match self {
            EngineKind::Skiff => "skiff",
            EngineKind::Sled => "sled 0.34",
            EngineKind::Redb => "redb 4",
            EngineKind::Fjall => "fjall 3",
            EngineKind::Lmdb => "lmdb (heed 0.22)",
        }
    }

    /// Parses a name given to `--engines` (`heed` is accepted for `lmdb`).
    pub fn parse(name: &str) -> BenchResult<EngineKind> {
        let lower = name.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "heed" => EngineKind::Lmdb,
            "skiff-engine" | "skiff_engine" => EngineKind::Skiff,
            other => EngineKind::ALL
                .into_iter()
                .find(|k| k.name() == other)
                .ok_or_else(|| {
                    format!("unknown engine `{name}` (expected skiff, sled, redb, fjall or lmdb)")
                })?,
        };
        Ok(kind)
    }

    /// Opens a fresh instance of this engine in the empty directory `dir`, with the
    /// engine's default cache. `keys` sizes engines that need to know their data's
    /// size up front (LMDB).
    pub fn open(self, dir: &Path, keys: usize) -> BenchResult<Box<dyn Engine>> {
        self.open_with(dir, &OpenOptions::new(keys))
    }

    /// Opens this engine's database in `dir`: a new one if `dir` holds none, else
    /// the one an earlier `open_with` (or [`EngineKind::open`]) left there.
    pub fn open_with(self, dir: &Path, opts: &OpenOptions) -> BenchResult<Box<dyn Engine>> {
        Ok(match self {
            EngineKind::Skiff => Box::new(sled_api::SkiffEngine::open(dir, opts.cache_bytes)?),
            EngineKind::Sled => Box::new(sled_api::SledEngine::open(dir, opts.cache_bytes)?),
            EngineKind::Redb => Box::new(redb::RedbEngine::open(dir, opts.cache_bytes)?),
            EngineKind::Fjall => Box::new(fjall::FjallEngine::open(dir, opts.cache_bytes)?),
            EngineKind::Lmdb => Box::new(lmdb::LmdbEngine::open(dir, opts.keys, opts.entry_len)?),
        })
    }

    /// How this engine's cache is set by [`OpenOptions::cache_bytes`], for reports.
    pub fn cache_setting(self) -> &'static str {
        match self {
            EngineKind::Skiff => "`Config::cache_capacity`",
            EngineKind::Sled => "`Config::cache_capacity`",
            EngineKind::Redb => "`Builder::set_cache_size`",
            EngineKind::Fjall => "`DatabaseBuilder::cache_size`",
            EngineKind::Lmdb => "none: OS page cache of the mmap",
        }
    }
}

/// How [`EngineKind::open_with`] opens an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Number of keys the database will hold at most (sizes LMDB's map).
    pub keys: usize,
    /// Bytes of one key plus its value (sizes LMDB's map).
    pub entry_len: usize,
    /// Cache budget in bytes; `None` keeps the engine's default. LMDB has no cache
    /// of its own and ignores it.
    pub cache_bytes: Option<u64>,
}

impl OpenOptions {
    /// Options for up to `keys` entries of the `engine` benchmark's size, default cache.
    pub fn new(keys: usize) -> OpenOptions {
        OpenOptions {
            keys,
            entry_len: KEY_LEN + VALUE_LEN,
            cache_bytes: None,
        }
    }
}
