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
    /// Opens the database in `dir` (a new one if there is none), with a cache of
    /// `cache_bytes` if given, else the default.
    pub fn open(dir: &Path, cache_bytes: Option<u64>) -> BenchResult<SkiffEngine> {
        let mut config = Config::new().path(dir.join("skiff"));
        if let Some(bytes) = cache_bytes {
            config = config.cache_capacity(bytes);
        }
        Ok(SkiffEngine { db: config.open()? })
    }

    /// Applies one batch of inserts and removes.
    fn apply<'a>(
        &self,
        puts: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        removes: impl Iterator<Item = &'a [u8]>,
    ) -> BenchResult<()> {
        let mut b = Batch::default();
        for (k, v) in puts {
            b.insert(k, v);
        }
        for k in removes {
            b.remove(k);
        }
        Ok(self.db.apply_batch(b)?)
    }
}

impl Engine for SkiffEngine {
    fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
        self.apply(batch.iter().map(|(k, v)| (&k[..], &v[..])), std::iter::empty())
    }

    fn put_batch(&self, batch: &[(&[u8], &[u8])]) -> BenchResult<()> {
        self.apply(batch.iter().copied(), std::iter::empty())
    }

    fn remove_batch(&self, keys: &[&[u8]]) -> BenchResult<()> {
        self.apply(std::iter::empty(), keys.iter().copied())
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
