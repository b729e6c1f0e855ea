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
    /// Creates a new database file in `dir`, with the table already created.
    pub fn open(dir: &Path) -> BenchResult<RedbEngine> {
        let db = Database::create(dir.join("bench.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(RedbEngine { db })
    }
}

impl Engine for RedbEngine {
    /// One write transaction per batch, committed with the default durability
    /// (`Immediate`: fsynced before `commit` returns).
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            for (k, v) in batch {
                table.insert(&k[..], &v[..])?;
            }
        }
        txn.commit()?;
        Ok(())
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
