//! Adapter for `sled 0.34 with its default configuration.

use std::path::Path;

use sled::{Batch, Config, Db};

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// A sled database (default `flush_every_ms`, i.e. 500 ms).
pub struct SledEngine {
    db: Db,
}

impl SledEngine {
    /// Opens a new database in `dir`.
    pub fn open(dir: &Path) -> BenchResult<SledEngine> {
        Ok(SledEngine {
            db: Config::new().path(dir.join("sled")).open()?,
        })
    }
}

impl Engine for SledEngine {
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
