//! The engines with sled 0.34's transaction API (skiff and sled itself), behind one
//! trait so that both run exactly the same transactions.
//!
//! Both open with `flush_every_ms(None)`: no background flusher, so the only
//! fsyncs are the ones the durable transactions ask for (`tx.flush()`), and the
//! non-durable transfers measure the commit path without any fsync at all.

use std::fmt;
use std::path::Path;

use crate::engines::EngineKind;
use crate::BenchResult;

/// An engine whose transactions the `txn` subcommand measures. Shared by reference
/// between the worker threads.
pub trait TxnEngine: Sync {
    /// Runs one transaction inserting `key` → `value` and marked durable with
    /// `tx.flush()`: it returns only once the commit is fsynced.
    fn durable_insert(&self, key: &[u8], value: &[u8]) -> BenchResult<()>;
    /// Runs one non-durable transaction that reads the balances of accounts `from`
    /// and `to` and writes both back with one unit moved (see [`moved`]).
    fn transfer(&self, from: &[u8], to: &[u8]) -> BenchResult<()>;
    /// Writes `entries` as one batch (untimed setup).
    fn load(&self, entries: &[(&[u8], &[u8])]) -> BenchResult<()>;
    /// Makes every earlier write durable (untimed setup).
    fn flush(&self) -> BenchResult<()>;
    /// Counts every entry and sums the 8-byte values, for the post-run checks.
    fn census(&self) -> BenchResult<Census>;
}

/// What a full scan found: the checks compare it with what the workload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Number of entries.
    pub entries: u64,
    /// Sum of the values that are 8-byte big-endian numbers (account balances).
    pub balance_sum: u128,
}

impl Census {
    /// Counts one entry with value `v`.
    fn add(&mut self, v: &[u8]) {
        self.entries += 1;
        if let Ok(b) = <[u8; 8]>::try_from(v) {
            self.balance_sum += u128::from(u64::from_be_bytes(b));
        }
    }
}

/// The new balances of a transfer of one unit from `from` to `to`; an empty
/// account sends nothing, so the total is conserved either way. `None` if either
/// value is missing or not an 8-byte balance (the transaction then aborts).
pub fn moved(from: Option<&[u8]>, to: Option<&[u8]>) -> Option<(u64, u64)> {
    let from = u64::from_be_bytes(from?.try_into().ok()?);
    let to = u64::from_be_bytes(to?.try_into().ok()?);
    let amount = from.min(1);
    Some((from - amount, to.checked_add(amount)?))
}

/// Why a transfer transaction aborted: an account was missing or malformed, which
/// means the preload or an earlier commit went wrong.
#[derive(Debug, Clone, Copy)]
pub struct BadAccount;

impl fmt::Display for BadAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("transfer found a missing or malformed account balance")
    }
}

impl std::error::Error for BadAccount {}

/// Opens a fresh instance of `kind` in the empty directory `dir`; only engines with
/// sled's transaction API qualify.
pub fn open(kind: EngineKind, dir: &Path) -> BenchResult<Box<dyn TxnEngine>> {
    Ok(match kind {
        EngineKind::Skiff => Box::new(SkiffTxn::open(&dir.join("skiff"))?),
        EngineKind::Sled => Box::new(SledTxn::open(&dir.join("sled"))?),
        other => return Err(format!("{} has no sled-style transactions", other.name()).into()),
    })
}

/// Implements [`TxnEngine`] for a crate with sled 0.34's API: `$krate` holds `Db`,
/// `Tree`, `Config`, `Batch` and `Transactional`, `$txn` holds
/// `ConflictableTransactionError` (`sled::transaction` in sled). One body for both
/// crates guarantees they run the very same code.
macro_rules! txn_engine {
    ($(#[$doc:meta])* $name:ident, $krate:ident, $($txn:ident)::+) => {
        $(#[$doc])*
        pub struct $name {
            db: $krate::Db,
        }

        impl $name {
            /// Opens a new database at `path` with the background flusher off.
            pub fn open(path: &Path) -> BenchResult<$name> {
                let db = $krate::Config::new().path(path).flush_every_ms(None).open()?;
                Ok($name { db })
            }
        }

        impl TxnEngine for $name {
            fn durable_insert(&self, key: &[u8], value: &[u8]) -> BenchResult<()> {
                // Through the trait, not sled's inherent `Tree::transaction` (skiff
                // has only the trait), so both crates take the same path.
                let tree: &$krate::Tree = &self.db;
                $krate::Transactional::transaction(&tree, |tx| {
                    tx.insert(key, value)?;
                    tx.flush();
                    Ok::<_, $($txn)::+::ConflictableTransactionError>(())
                })?;
                Ok(())
            }

            fn transfer(&self, from: &[u8], to: &[u8]) -> BenchResult<()> {
                use $($txn)::+::ConflictableTransactionError;
                let tree: &$krate::Tree = &self.db;
                $krate::Transactional::transaction(&tree, |tx| {
                    let a = tx.get(from)?;
                    let b = tx.get(to)?;
                    let (a, b) = moved(a.as_deref(), b.as_deref())
                        .ok_or(ConflictableTransactionError::Abort(BadAccount))?;
                    tx.insert(from, &a.to_be_bytes()[..])?;
                    tx.insert(to, &b.to_be_bytes()[..])?;
                    Ok(())
                })?;
                Ok(())
            }

            fn load(&self, entries: &[(&[u8], &[u8])]) -> BenchResult<()> {
                let mut batch = $krate::Batch::default();
                for (k, v) in entries {
                    batch.insert(*k, *v);
                }
                Ok(self.db.apply_batch(batch)?)
            }

            fn flush(&self) -> BenchResult<()> {
                self.db.flush()?;
                Ok(())
            }

            fn census(&self) -> BenchResult<Census> {
                let mut census = Census::default();
                for item in self.db.iter() {
                    let (_k, v) = item?;
                    census.add(&v);
                }
                Ok(census)
            }
        }
    };
}

txn_engine!(
    /// A skiff database for the transaction workloads.
    SkiffTxn,
    skiff_engine,
    skiff_engine
);
txn_engine!(
    /// A sled 0.34 database for the transaction workloads.
    SledTxn,
    sled,
    sled::transaction
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_conserves_and_rejects_garbage() {
        let b = |x: u64| x.to_be_bytes();
        assert_eq!(moved(Some(&b(5)), Some(&b(7))), Some((4, 8)));
        assert_eq!(moved(Some(&b(0)), Some(&b(7))), Some((0, 7)));
        assert_eq!(moved(None, Some(&b(7))), None);
        assert_eq!(moved(Some(&b(5)), Some(b"short")), None);
        assert_eq!(moved(Some(&b(5)), Some(&b(u64::MAX))), None);
    }

    /// Runs every operation once on both engines and checks the census.
    #[test]
    fn both_engines_transfer_and_insert() {
        let dir = tempfile::tempdir().unwrap();
        for kind in [EngineKind::Skiff, EngineKind::Sled] {
            let sub = dir.path().join(kind.name());
            let engine = open(kind, &sub).unwrap();
            let (a, b) = (10u64.to_be_bytes(), 3u64.to_be_bytes());
            engine.load(&[(b"acct-a", &a), (b"acct-b", &b)]).unwrap();
            engine.transfer(b"acct-a", b"acct-b").unwrap();
            engine.durable_insert(b"durable-key", &[7u8; 100]).unwrap();
            let census = engine.census().unwrap();
            assert_eq!(census.entries, 3, "{}", kind.name());
            assert_eq!(census.balance_sum, 13, "{}", kind.name());
            assert!(engine.transfer(b"acct-a", b"missing").is_err());
        }
        assert!(open(EngineKind::Redb, dir.path()).is_err());
    }
}
