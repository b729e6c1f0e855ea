//! Adapters for skiff-engine and sled 0.34: one definition for both, since
//! skiff-engine's API is sled's (switching is renaming the crate).

use std::path::Path;

use super::Engine;
use crate::data::{Key, Value};
use crate::BenchResult;

/// Defines an adapter `$name` for a crate with sled 0.34's API, storing its
/// files under `<dir>/$sub`.
macro_rules! sled_api_adapter {
    ($name:ident, $krate:ident, $sub:literal, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            db: $krate::Db,
        }

        impl $name {
            /// Opens the database in `dir` (a new one if there is none), with a
            /// cache of `cache_bytes` if given, else the default.
            pub fn open(dir: &Path, cache_bytes: Option<u64>) -> BenchResult<$name> {
                let mut config = $krate::Config::new().path(dir.join($sub));
                if let Some(bytes) = cache_bytes {
                    config = config.cache_capacity(bytes);
                }
                Ok($name { db: config.open()? })
            }

            /// Applies one batch of inserts and removes.
            fn apply<'a>(
                &self,
                puts: impl Iterator<Item = (&'a [u8], &'a [u8])>,
                removes: impl Iterator<Item = &'a [u8]>,
            ) -> BenchResult<()> {
                let mut b = $krate::Batch::default();
                for (k, v) in puts {
                    b.insert(k, v);
                }
                for k in removes {
                    b.remove(k);
                }
                Ok(self.db.apply_batch(b)?)
            }
        }

        impl Engine for $name {
            fn load(&self, batch: &[(Key, Value)]) -> BenchResult<()> {
                self.apply(
                    batch.iter().map(|(k, v)| (&k[..], &v[..])),
                    std::iter::empty(),
                )
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
    };
}

sled_api_adapter!(
    SkiffEngine,
    skiff_engine,
    "skiff",
    "A skiff-engine database with its default configuration (flush every 500 ms)."
);
sled_api_adapter!(
    SledEngine,
    sled,
    "sled",
    "A sled 0.34 database with its default configuration (flush every 500 ms)."
);
