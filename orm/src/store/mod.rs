//! The seam between the typed layer and a transactional key-value store.
//!
//! Everything above this module reaches storage only through [`Store`] and the
//! [`Read`]/[`Write`] views it hands out, so the typed layer could run on any
//! store that offers ordered keyspaces, snapshots and serializable
//! transactions with range reads. [`EngineStore`] implements it on
//! `skiff-engine`; it is the only module that names the engine.

mod engine;

use std::ops::Bound;

pub use engine::EngineStore;

use crate::Result;

/// Bytes as the store returns them (cheap to clone).
pub type Bytes = skiff_engine::IVec;

/// A double-ended stream of entries in key order.
pub type Entries<'a> = Box<dyn DoubleEndedIterator<Item = Result<(Bytes, Bytes)>> + 'a>;

/// Reading a consistent state: a snapshot, or a transaction's view.
pub trait Read {
    /// A keyspace handle.
    type Space;

    /// The value of `key` in `space`.
    fn get(&self, space: &Self::Space, key: &[u8]) -> Result<Option<Bytes>>;

    /// The entries of `space` between the bounds, in key order. In a
    /// transaction the whole range counts as read.
    fn scan(&self, space: &Self::Space, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static>;
}

/// A transaction's view: reads see a snapshot plus the transaction's writes.
pub trait Write: Read {
    /// Sets `key` in `space` at commit. A blind write: it does not count as a
    /// read of `key` (read it first if the outcome depends on it).
    fn put(&self, space: &Self::Space, key: &[u8], value: Vec<u8>) -> Result<()>;

    /// Removes `key` from `space` at commit.
    fn delete(&self, space: &Self::Space, key: &[u8]) -> Result<()>;

    /// Makes the commit durable before the transaction returns.
    fn make_durable(&self);

    /// Runs `hook` with the commit's sequence number if this run commits, in
    /// commit order across transactions; it must be quick and not block.
    fn on_commit(&self, hook: Box<dyn FnOnce(u64)>);
}

/// A transactional store of named, ordered keyspaces.
pub trait Store: Clone + Send + Sync + 'static {
    /// A keyspace handle.
    type Space: Clone + Send + Sync + 'static;
    /// A consistent read-only view.
    type Snapshot: Read<Space = Self::Space> + Clone;
    /// A transaction's view.
    type Txn: Write<Space = Self::Space>;

    /// The keyspace called `name`, created if needed.
    fn space(&self, name: &str) -> Result<Self::Space>;

    /// Removes every entry of `space`, atomically.
    fn clear_space(&self, space: &Self::Space) -> Result<()>;

    /// Removes the keyspace called `name` and its data; false if absent.
    fn drop_space(&self, name: &str) -> Result<bool>;

    /// A snapshot of every keyspace as of now.
    fn snapshot(&self) -> Self::Snapshot;

    /// Runs `f` as one serializable transaction, retrying it on conflict (so it
    /// may run more than once); an `Err` from `f` aborts it and is returned.
    fn transact<R, E: From<crate::Error>>(
        &self,
        f: impl Fn(&Self::Txn) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E>;
}

impl<T: Read> Read for &T {
    type Space = T::Space;

    fn get(&self, space: &Self::Space, key: &[u8]) -> Result<Option<Bytes>> {
        (**self).get(space, key)
    }

    fn scan(&self, space: &Self::Space, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static> {
        (**self).scan(space, lo, hi)
    }
}
