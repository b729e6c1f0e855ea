//! How a [`Collection`](crate::Collection) reaches the store: on its own,
//! each call atomic ([`Auto`]); inside a transaction ([`InTxn`]); or at a
//! snapshot ([`InSnapshot`]). One collection type serves all three, and the
//! sealed traits here are what its methods call.

use sealed::Writes;

use crate::db::Db;
use crate::store::{Read, Store};
use crate::watch::hub::ChangeBuf;
use crate::Result;

/// How a [`Collection`](crate::Collection) reaches the store. Sealed: the three kinds are
/// [`Auto`], [`InTxn`] and [`InSnapshot`].
///
/// Bound on it to write read helpers that work in all three:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{store::Store, Access, Collection};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Item { #[model(key)] sku: String, stock: u32 }
///
/// fn total_stock<S: Store, A: Access<S>>(items: &Collection<Item, S, A>) -> skiff::Result<u32> {
///     items.iter()?.map(|i| i.map(|i| i.stock)).sum()
/// }
///
/// let db = skiff::Db::temporary()?;
/// db.collection::<Item>()?.insert(&Item { sku: "a".into(), stock: 3 })?;
/// assert_eq!(total_stock(&db.collection::<Item>()?)?, 3);
/// assert_eq!(db.transaction(|tx| total_stock(&tx.collection::<Item>()?))?, 3);
/// assert_eq!(db.read(|r| total_stock(&r.collection::<Item>()?))?, 3);
/// # Ok::<(), skiff::Error>(())
/// ```
pub trait Access<S: Store>: sealed::Sealed + sealed::PointRead<S> {
    /// What reads go through.
    type Reader: Read<Space = S::Space>;

    /// A reader for one operation.
    fn reader(&self) -> Self::Reader;
}

/// An [`Access`] that can write: [`Auto`] and [`InTxn`].
///
/// Bound on it for write helpers that run on their own or as part of a
/// larger transaction:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{store::Store, Collection, WriteAccess};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Item { #[model(key)] sku: String, stock: u32 }
///
/// fn restock<S: Store, A: WriteAccess<S>>(items: &Collection<Item, S, A>, sku: &str) -> skiff::Result<u32> {
///     Ok(items.update(sku, |i| i.stock += 10)?.stock)
/// }
///
/// let db = skiff::Db::temporary()?;
/// let items = db.collection::<Item>()?;
/// items.insert(&Item { sku: "a".into(), stock: 0 })?;
/// assert_eq!(restock(&items, "a")?, 10);
/// assert_eq!(db.transaction(|tx| restock(&tx.collection::<Item>()?, "a"))?, 20);
/// # Ok::<(), skiff::Error>(())
/// ```
pub trait WriteAccess<S: Store>: Access<S> + sealed::Writes<S> {}

pub(crate) mod sealed {
    use super::{ChangeBuf, Result, Store};

    pub trait Sealed {}

    pub trait PointRead<S: Store> {
        /// One point read, lent to `f`: alone, it needs no snapshot to be
        /// consistent.
        fn point_get<R>(&self, space: &S::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R)
            -> Result<Option<R>>;
    }

    pub trait Writes<S: Store> {
        /// Runs `f` in a transaction: its own, or the one this access is part
        /// of. `f` records its changes for subscribers in the buffer given.
        fn write<X>(&self, f: impl Fn(&S::Txn, &ChangeBuf) -> Result<X>) -> Result<X>;
    }
}

/// Every call is atomic on its own: each write is one transaction, each read a
/// fresh snapshot. What `Db::collection` returns.
///
/// Such a collection is cheap to clone and can move to other threads; their
/// writes are serialized by the store (here, concurrent `push`es get distinct keys).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{store::EngineStore, Auto, Collection};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Hit { #[model(key, auto)] id: u64 }
///
/// let db = skiff::Db::temporary()?;
/// let hits: Collection<Hit, EngineStore, Auto<EngineStore>> = db.collection()?;
/// let threads: Vec<_> = (0..4).map(|_| {
///     let hits = hits.clone();
///     std::thread::spawn(move || hits.push(Hit { id: 0 }))
/// }).collect();
/// let mut ids: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect::<Result<_, _>>()?;
/// ids.sort();
/// assert_eq!(ids, [1, 2, 3, 4]);
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Auto<S: Store> {
    pub(crate) db: Db<S>,
}

/// Part of a transaction (what `tx.collection()` returns).
///
/// Reads see the transaction's own writes; if the transaction fails, none of
/// its writes happened.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Seat { #[model(key)] no: u32 }
///
/// let db = skiff::Db::temporary()?;
/// db.collection::<Seat>()?.insert(&Seat { no: 2 })?;
/// let booked = db.transaction(|tx| {
///     let seats = tx.collection::<Seat>()?; // Collection<Seat, EngineStore, InTxn<'_, EngineStore>>
///     seats.insert(&Seat { no: 1 })?;
///     assert!(seats.contains(&1)?);
///     seats.insert(&Seat { no: 2 }) // taken: the whole transaction fails
/// });
/// assert!(matches!(booked, Err(skiff::Error::DuplicateKey { .. })));
/// assert!(!db.collection::<Seat>()?.contains(&1)?);
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct InTxn<'a, S: Store> {
    pub(crate) txn: &'a S::Txn,
    pub(crate) changes: &'a ChangeBuf,
}

/// Read-only, at a snapshot (what `db.read(|r| r.collection())` returns).
///
/// Later writes do not show through, however long the snapshot is kept:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Seat { #[model(key)] no: u32 }
///
/// let db = skiff::Db::temporary()?;
/// let seats = db.collection::<Seat>()?;
/// db.read(|r| {
///     let then = r.collection::<Seat>()?; // Collection<Seat, EngineStore, InSnapshot<EngineStore>>
///     seats.insert(&Seat { no: 1 })?;
///     assert!(seats.contains(&1)? && !then.contains(&1)?);
///     Ok::<_, skiff::Error>(())
/// })?;
/// # Ok::<(), skiff::Error>(())
/// ```
///
/// It has no write methods:
///
/// ```compile_fail,E0599
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize)]
/// # struct Seat { #[model(key)] no: u32 }
/// # let db = skiff::Db::temporary()?;
/// db.read(|r| r.collection::<Seat>()?.insert(&Seat { no: 1 }))?;
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct InSnapshot<S: Store> {
    pub(crate) snapshot: S::Snapshot,
}

impl<S: Store> sealed::Sealed for Auto<S> {}
impl<S: Store> sealed::Sealed for InTxn<'_, S> {}
impl<S: Store> sealed::Sealed for InSnapshot<S> {}

impl<S: Store> sealed::PointRead<S> for Auto<S> {
    fn point_get<R>(&self, space: &S::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        // The latest value, without opening and closing a snapshot for it.
        self.db.store().get_with(space, key, f)
    }
}

impl<S: Store> sealed::PointRead<S> for InTxn<'_, S> {
    fn point_get<R>(&self, space: &S::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.txn.get_with(space, key, f)
    }
}

impl<S: Store> sealed::PointRead<S> for InSnapshot<S> {
    fn point_get<R>(&self, space: &S::Space, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.snapshot.get_with(space, key, f)
    }
}

impl<S: Store> Access<S> for Auto<S> {
    type Reader = S::Snapshot;

    fn reader(&self) -> S::Snapshot {
        self.db.store().snapshot()
    }
}

impl<S: Store> WriteAccess<S> for Auto<S> {}

impl<S: Store> Writes<S> for Auto<S> {
    fn write<X>(&self, f: impl Fn(&S::Txn, &ChangeBuf) -> Result<X>) -> Result<X> {
        self.db.store().transact(|tx| {
            let changes = ChangeBuf::default();
            let x = f(tx, &changes)?;
            changes.register(tx)?;
            Ok(x)
        })
    }
}

impl<'a, S: Store> Access<S> for InTxn<'a, S> {
    type Reader = &'a S::Txn;

    fn reader(&self) -> &'a S::Txn {
        self.txn
    }
}

impl<S: Store> WriteAccess<S> for InTxn<'_, S> {}

impl<S: Store> Writes<S> for InTxn<'_, S> {
    fn write<X>(&self, f: impl Fn(&S::Txn, &ChangeBuf) -> Result<X>) -> Result<X> {
        f(self.txn, self.changes)
    }
}

impl<S: Store> Access<S> for InSnapshot<S> {
    type Reader = S::Snapshot;

    fn reader(&self) -> S::Snapshot {
        self.snapshot.clone()
    }
}
