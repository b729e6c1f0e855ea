//! Adapter for fjall: one keyspace, default database and keyspace options.

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
    /// Opens a new database in `dir`.
    pub fn open(dir: &Path) -> BenchResult<FjallEngine> {
        let db = Database::builder(dir.join("fjall")).open()?;
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
