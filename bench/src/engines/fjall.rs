//! Adapter for fjall: one keyspace, default database and keyspace options (but
//! the cache size, when one is asked for).

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// A fjall database with one keyspace.
pub struct FjallEngine {
    db: Database,
    ks: Keyspace,
}

impl FjallEngine {
    /// Opens the database in `dir` (a new one if there is none), with a block cache
    /// of `cache_bytes` if given, else fjall's default.
    pub fn open(dir: &Path, cache_bytes: Option<u64>) -> BenchResult<FjallEngine> {
        let mut builder = Database::builder(dir.join("fjall"));
        if let Some(bytes) = cache_bytes {
            builder = builder.cache_size(bytes);
        }
        let db = builder.open()?;
        let ks = db.keyspace("bench", KeyspaceCreateOptions::default)?;
        Ok(FjallEngine { db, ks })
    }
}

impl Engine for FjallEngine {
    /// One `WriteBatch` per batch, with the database's default durability.
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        let mut b = self.db.batch();
        for (k, v) in batch {
            b.insert(&self.ks, &k[..], &v[..]);
        }
        b.commit()?;
        Ok(())
    }

    fn put_batch(&self, batch: &[(&[u8], &[u8])]) -> BenchResult<()> {
        let mut b = self.db.batch();
        for &(k, v) in batch {
            b.insert(&self.ks, k, v);
        }
        b.commit()?;
        Ok(())
    }

    fn remove_batch(&self, keys: &[&[u8]]) -> BenchResult<()> {
        let mut b = self.db.batch();
        for &k in keys {
            b.remove(&self.ks, k);
        }
        b.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> BenchResult<Option<usize>> {
        Ok(self.ks.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, start: &[u8], n: usize) -> BenchResult<usize> {
        let mut seen = 0;
        for guard in self.ks.range(start..).take(n) {
            let (_k, _v) = guard.into_inner()?;
            seen += 1;
        }
        Ok(seen)
    }

    fn remove(&self, key: &[u8]) -> BenchResult<()> {
        self.ks.remove(key)?;
        Ok(())
    }

    /// Syncs the journal (`PersistMode::SyncAll`).
    fn flush(&self) -> BenchResult<()> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}
