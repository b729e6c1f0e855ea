//! Adapter for LMDB through heed (which builds the bundled LMDB from source).

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, FlagSetMode};

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// An LMDB environment with one unnamed database of byte strings.
pub struct LmdbEngine {
    env: Env,
    db: Database<Bytes, Bytes>,
}

impl LmdbEngine {
    /// Opens a new environment in `dir`, with a map big enough for `keys` entries.
    pub fn open(dir: &Path, keys: usize) -> BenchResult<LmdbEngine> {
        let path = dir.join("lmdb");
        std::fs::create_dir_all(&path)?;
        // 1 GiB plus 1 KiB per entry: far above what 116-byte entries take, and the
        // file only grows as pages are used. A whole number of 4 KiB pages.
        let map_size = (1 << 30) + keys.div_ceil(4) * 4096;
        // SAFETY: the directory is fresh and private to this process, no other
        // environment is open on it, and no unsafe flag is set at open time.
        let env = unsafe { EnvOpenOptions::new().map_size(map_size).max_dbs(1).open(&path)? };
        let mut txn = env.write_txn()?;
        let db = env.create_database(&mut txn, None)?;
        txn.commit()?;
        Ok(LmdbEngine { env, db })
    }
}

impl Engine for LmdbEngine {
    /// One write transaction per batch, committed durably (LMDB's default).
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        let mut txn = self.env.write_txn()?;
        for (k, v) in batch {
            self.db.put(&mut txn, &k[..], &v[..])?;
        }
        txn.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> BenchResult<Option<usize>> {
        let txn = self.env.read_txn()?;
        Ok(self.db.get(&txn, key)?.map(<[u8]>::len))
    }

    fn scan(&self, start: &[u8], n: usize) -> BenchResult<usize> {
        let txn = self.env.read_txn()?;
        let range = (Bound::Included(start), Bound::Unbounded);
        let mut seen = 0;
        for item in self.db.range(&txn, &range)?.take(n) {
            let (_k, _v) = item?;
            seen += 1;
        }
        Ok(seen)
    }

    /// One write transaction per remove; made non-durable by
    /// [`LmdbEngine::begin_single_writes`] until the next flush.
    fn remove(&self, key: &[u8]) -> BenchResult<()> {
        let mut txn = self.env.write_txn()?;
        self.db.delete(&mut txn, key)?;
        txn.commit()?;
        Ok(())
    }

    /// Turns synchronous commits back on and forces a sync.
    fn flush(&self) -> BenchResult<()> {
        // SAFETY: clearing NO_SYNC restores LMDB's default, fully durable mode;
        // no transaction is open in this environment while it changes.
        unsafe { self.env.set_flags(EnvFlags::NO_SYNC, FlagSetMode::Disable)? };
        self.env.force_sync()?;
        Ok(())
    }

    /// Sets `NO_SYNC`, so that each single write's commit skips its fsync.
    fn begin_single_writes(&self) -> BenchResult<()> {
        // SAFETY: NO_SYNC only delays durability to the next `force_sync` in
        // `flush`; no transaction is open in this environment while it changes.
        unsafe { self.env.set_flags(EnvFlags::NO_SYNC, FlagSetMode::Enable)? };
        Ok(())
    }
}
