//! Adapter for redb: one table of byte strings, one transaction per operation or batch.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// The single table everything goes in.
const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("bench");

/// A redb database file.
pub struct RedbEngine {
    db: Database,
}

impl RedbEngine {
    /// Opens the database file in `dir`, with a cache of `cache_bytes` if given,
    /// else redb's default. A new file gets the table created; an existing one is
    /// opened without a write.
    pub fn open(dir: &Path, cache_bytes: Option<u64>) -> BenchResult<RedbEngine> {
        let path = dir.join("bench.redb");
        let fresh = !path.exists();
        let mut builder = Database::builder();
        if let Some(bytes) = cache_bytes {
            builder.set_cache_size(usize::try_from(bytes)?);
        }
        let db = builder.create(path)?;
        if fresh {
            let txn = db.begin_write()?;
            txn.open_table(TABLE)?;
            txn.commit()?;
        }
        Ok(RedbEngine { db })
    }

    /// Runs `f` on the table in one write transaction, committed with the default
    /// durability (`Immediate`: fsynced before `commit` returns).
    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> BenchResult<()>,
    ) -> BenchResult<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            f(&mut table)?;
        }
        txn.commit()?;
        Ok(())
    }
}

impl Engine for RedbEngine {
    /// One write transaction per batch, committed with the default durability
    /// (`Immediate`: fsynced before `commit` returns).
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        self.write(|table| {
            for (k, v) in batch {
                table.insert(&k[..], &v[..])?;
            }
            Ok(())
        })
    }

    fn put_batch(&self, batch: &[(&[u8], &[u8])]) -> BenchResult<()> {
        self.write(|table| {
            for &(k, v) in batch {
                table.insert(k, v)?;
            }
            Ok(())
        })
    }

    fn remove_batch(&self, keys: &[&[u8]]) -> BenchResult<()> {
        self.write(|table| {
            for &k in keys {
                table.remove(k)?;
            }
            Ok(())
        })
    }

    fn get(&self, key: &[u8]) -> BenchResult<Option<usize>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let len = table.get(key)?.map(|v| v.value().len());
        Ok(len)
    }

    fn scan(&self, start: &[u8], n: usize) -> BenchResult<usize> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        let mut seen = 0;
        for item in table.range(start..)?.take(n) {
            let (_k, _v) = item?;
            seen += 1;
        }
        Ok(seen)
    }

    /// One write transaction per remove, committed with `Durability::None`;
    /// [`RedbEngine::flush`] makes them durable.
    fn remove(&self, key: &[u8]) -> BenchResult<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        {
            let mut table = txn.open_table(TABLE)?;
            table.remove(key)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Commits an empty `Immediate` transaction, which persists all earlier ones.
    fn flush(&self) -> BenchResult<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }
}
