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
///
/// ```
/// # use skiff::store::{EngineStore, Read, Store, Write};
/// # let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
/// # let space = store.space("kv")?;
/// # store.transact(|tx| tx.put(&space, b"k", b"value".to_vec()))?;
/// let value: skiff::store::Bytes = store.snapshot().get(&space, b"k")?.unwrap();
/// assert_eq!(&value[..], b"value");
/// # Ok::<(), skiff::Error>(())
/// ```
pub type Bytes = skiff_engine::IVec;

/// A double-ended stream of entries in key order.
///
/// ```
/// use std::ops::Bound::Unbounded;
/// # use skiff::store::{EngineStore, Read, Store, Write};
/// # let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
/// # let space = store.space("kv")?;
///
/// store.transact(|tx| {
///     tx.put(&space, b"b", vec![2])?;
///     tx.put(&space, b"a", vec![1])
/// })?;
/// let mut entries: skiff::store::Entries<'_> = store.snapshot().scan(&space, Unbounded, Unbounded);
/// assert_eq!(&entries.next_back().unwrap()?.0[..], b"b");
/// assert_eq!(&entries.next().unwrap()?.1[..], [1]);
/// # Ok::<(), skiff::Error>(())
/// ```
pub type Entries<'a> = Box<dyn DoubleEndedIterator<Item = Result<(Bytes, Bytes)>> + 'a>;

/// Reading a consistent state: a snapshot, or a transaction's view.
///
/// Code bound on `Read` works on both:
///
/// ```
/// use std::ops::Bound::Unbounded;
/// use skiff::store::{EngineStore, Read, Store, Write};
///
/// fn count<R: Read>(r: &R, space: &R::Space) -> usize {
///     r.scan(space, Unbounded, Unbounded).count()
/// }
///
/// let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
/// let space = store.space("kv")?;
/// let snapshot = store.snapshot();
/// let in_txn = store.transact(|tx| {
///     tx.put(&space, b"k", b"v".to_vec())?;
///     Ok::<_, skiff::Error>(count(tx, &space)) // sees its own write
/// })?;
/// assert_eq!((in_txn, count(&snapshot, &space)), (1, 0)); // the older snapshot does not
/// # Ok::<(), skiff::Error>(())
/// ```
pub trait Read {
    /// A keyspace handle.
    type Space;

    /// The value of `key` in `space`.
    fn get(&self, space: &Self::Space, key: &[u8]) -> Result<Option<Bytes>>;

    /// Calls `f` with the value of `key` in `space`, for decoding it where it
    /// lies. Stores that can lend the value without copying it do so.
    fn get_with<R>(&self, space: &Self::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        Ok(self.get(space, key)?.map(|value| f(&value)))
    }

    /// The entries of `space` between the bounds, in key order. In a
    /// transaction the whole range counts as read.
    fn scan(&self, space: &Self::Space, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static>;
}

/// A transaction's view: reads see a snapshot plus the transaction's writes.
///
/// ```
/// # use skiff::store::{EngineStore, Read, Store, Write};
/// # let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
/// # let space = store.space("kv")?;
/// store.transact(|tx| tx.put(&space, b"k", b"v".to_vec()))?;
/// store.transact(|tx| {
///     tx.delete(&space, b"k")?;
///     assert_eq!(tx.get(&space, b"k")?, None);
///     Ok::<_, skiff::Error>(())
/// })?;
/// assert_eq!(store.snapshot().get(&space, b"k")?, None);
/// # Ok::<(), skiff::Error>(())
/// ```
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
///
/// The typed layer runs on any implementation through
/// [`Db::with_store`](crate::Db::with_store); [`EngineStore`] is the one this
/// crate provides. Used directly, it is a raw key-value store:
///
/// ```
/// use skiff::store::{EngineStore, Read, Store, Write};
///
/// let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
/// let space = store.space("counters")?;
/// for _ in 0..3 {
///     store.transact(|tx| {
///         let n = tx.get(&space, b"hits")?.map_or(0, |b| b[0]);
///         tx.put(&space, b"hits", vec![n + 1])
///     })?;
/// }
/// assert_eq!(store.snapshot().get(&space, b"hits")?.as_deref(), Some(&[3u8][..]));
/// assert!(store.drop_space("counters")?);
/// # Ok::<(), skiff::Error>(())
/// ```
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

    /// The value of `key` in `space` as of now: one point read, consistent
    /// on its own, so it needs no snapshot.
    fn get(&self, space: &Self::Space, key: &[u8]) -> Result<Option<Bytes>>;

    /// `get`, lending the value to `f` (see [`Read::get_with`]).
    fn get_with<R>(&self, space: &Self::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        Ok(self.get(space, key)?.map(|value| f(&value)))
    }

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

    fn get_with<R>(&self, space: &Self::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        (**self).get_with(space, key, f)
    }

    fn scan(&self, space: &Self::Space, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static> {
        (**self).scan(space, lo, hi)
    }
}
