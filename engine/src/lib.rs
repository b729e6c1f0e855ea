//! `skiff-engine`: an embedded, crash-safe key-value store with sled 0.34's API.
//!
//! Keys and values are byte strings ([`IVec`]). A [`Db`] holds named [`Tree`]s,
//! each an ordered map kept in a concurrent B+ tree in memory and made durable by
//! a write-ahead log. Switching from sled is mostly renaming the crate; the README
//! lists the deviations.
//!
//! ```
//! let db = skiff_engine::Config::new().temporary(true).open()?;
//! db.insert(b"greeting", b"hello")?;
//! assert_eq!(db.get(b"greeting")?.as_deref(), Some(&b"hello"[..]));
//! let prefix: Vec<_> = db.scan_prefix(b"gr").keys().collect::<Result<_, _>>()?;
//! assert_eq!(prefix.len(), 1);
//! db.flush()?; // durable: survives a crash or power loss from here on
//! # Ok::<(), skiff_engine::Error>(())
//! ```
//!
//! Durability: a write is in memory and in the log buffer when the call returns.
//! The background flusher fsyncs every `flush_every_ms` (500 ms by default);
//! [`Tree::flush`] returns once everything before it is fsynced. After a crash
//! the database holds a prefix of the writes, never part of a batch.

mod background;
mod batch;
mod blob;
mod btree;
mod cache;
mod checkpoint;
mod checkpointer;
mod config;
mod db;
mod error;
mod export;
mod fingerprint;
mod group_commit;
mod id_hash;
mod index;
pub mod io;
mod iter;
mod ivec;
mod leaf;
mod log;
mod meta;
mod page;
mod page_store;
mod record;
mod recovery;
mod snapshot;
mod span;
mod stats;
mod subscriber;
mod sync;
pub mod transaction;
mod tree;
mod varint;
mod versions;

pub use batch::Batch;
pub use config::{open, Config, Mode};
pub use db::Db;
pub use error::{Error, Result};
pub use export::{Export, ExportEntry, ExportedTree};
pub use iter::Iter;
pub use ivec::IVec;
pub use snapshot::Snapshot;
pub use stats::{Stats, Verification};
pub use subscriber::{Event, Subscriber};
pub use transaction::{
    abort, ConflictableTransactionError, ConflictableTransactionResult, Transaction, TransactionError,
    TransactionResult, Transactional, TransactionalTree, TxIter, UnabortableTransactionError,
    UnabortableTransactionResult, MAX_ATTEMPTS,
};
pub use tree::{CompareAndSwapError, CompareAndSwapResult, MergeOperator, Tree};

/// Longest key accepted, in bytes (16 KiB). Tree names share this limit.
pub const MAX_KEY_LEN: usize = 16 * 1024;
/// Longest value accepted, in bytes (128 MiB).
pub const MAX_VALUE_LEN: usize = 128 * 1024 * 1024;
/// Largest encoded batch or transaction accepted, in bytes (1 GiB).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024 * 1024;
