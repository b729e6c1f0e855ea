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
    /// Opens the environment in `dir` (a new one if there is none), with a map big
    /// enough for `keys` entries of `entry_len` bytes. An existing environment is
    /// opened without a write.
    pub fn open(dir: &Path, keys: usize, entry_len: usize) -> BenchResult<LmdbEngine> {
        let path = dir.join("lmdb");
        let fresh = !path.join("data.mdb").exists();
        std::fs::create_dir_all(&path)?;
        // 1 GiB plus 1 KiB (or 4 entries' worth, if more) per entry: far above what
        // the entries take, and the file only grows as pages are used. A whole
        // number of 4 KiB pages.
        let per_entry = entry_len.saturating_mul(4).max(1024);
        let map_size = (1 << 30) + keys.saturating_mul(per_entry).div_ceil(4096) * 4096;
        // SAFETY: the directory is private to this process, no other environment is
        // open on it, and no unsafe flag is set at open time.
        let env = unsafe { EnvOpenOptions::new().map_size(map_size).max_dbs(1).open(&path)? };
        let db = if fresh {
            let mut txn = env.write_txn()?;
            let db = env.create_database(&mut txn, None)?;
            txn.commit()?;
            db
        } else {
            let txn = env.read_txn()?;
            let db = env
                .open_database(&txn, None)?
                .ok_or("LMDB environment without its unnamed database")?;
            txn.commit()?;
            db
        };
        Ok(LmdbEngine { env, db })
    }

    /// Runs `f` in one write transaction, committed durably (LMDB's default).
    fn write(&self, f: impl FnOnce(&mut heed::RwTxn<'_>) -> BenchResult<()>) -> BenchResult<()> {
        let mut txn = self.env.write_txn()?;
        f(&mut txn)?;
        txn.commit()?;
        Ok(())
    }
}

impl Engine for LmdbEngine {
    /// One write transaction per batch, committed durably (LMDB's default).
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        self.write(|txn| {
            for (k, v) in batch {
                self.db.put(txn, &k[..], &v[..])?;
            }
            Ok(())
        })
    }

    fn put_batch(&self, batch: &[(&[u8], &[u8])]) -> BenchResult<()> {
        self.write(|txn| {
            for &(k, v) in batch {
                self.db.put(txn, k, v)?;
            }
            Ok(())
        })
    }

    fn remove_batch(&self, keys: &[&[u8]]) -> BenchResult<()> {
        self.write(|txn| {
            for &k in keys {
                self.db.delete(txn, k)?;
            }
            Ok(())
        })
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
