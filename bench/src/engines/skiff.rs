//! Adapter for `skiff-engine` with its default configuration.

use std::path::Path;

use skiff_engine::{Batch, Config, Db};

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// A skiff database (default `flush_every_ms`, i.e. 500 ms).
pub struct SkiffEngine {
    db: Db,
}

impl SkiffEngine {
    /// Opens a new database in `dir`.
    pub fn open(dir: &Path) -> BenchResult<SkiffEngine> {
        Ok(SkiffEngine {
            db: Config::new().path(dir.join("skiff")).open()?,
        })
    }
}

impl Engine for SkiffEngine {
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        let mut b = Batch::default();
        for (k, v) in batch {
            b.insert(&k[..], &v[..]);
        }
        Ok(self.db.apply_batch(b)?)
    }

    fn get(&self, key: &[u8]) -> BenchResult<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, start: &[u8], n: usize) -> BenchResult<usize> {
        let mut seen = 0;
        for item in self.db.range(start..).take(n) {
            let (_k, _v) = item?;
            seen += 1;
        }
        Ok(seen)
    }

    fn remove(&self, key: &[u8]) -> BenchResult<()> {
        self.db.remove(key)?;
        Ok(())
    }

    fn flush(&self) -> BenchResult<()> {
        self.db.flush()?;
        Ok(())
    }
}
