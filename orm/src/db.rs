//! `skiff::Db`: opening a database, its collections, transactions and
//! snapshots.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::access::{Auto, InSnapshot, InTxn};
use crate::catalog::{self, CATALOG_SPACE};
use crate::collection::Collection;
use crate::model::Model;
use crate::records::{self, HistoryFn, Meta};
use crate::store::{EngineStore, Store, Write};
use crate::watch::hub::{read_history, ChangeBuf, ChangeLog, Hub};
use crate::{Error, Result};

/// Records written per transaction when an index is built or a collection
/// migrated: big enough to amortize commits, small enough to keep each
/// transaction's memory and conflict window modest.
pub(crate) const BATCH: usize = 1_000;

/// Progress of a long operation (building an index, migrating).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # use std::sync::{Arc, Mutex};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u32, #[model(index)] city: String }
///
/// let db = skiff::Db::temporary()?;
/// let users = db.collection::<User>()?;
/// users.insert(&User { id: 1, city: "Oslo".into() })?;
/// let last = Arc::new(Mutex::new(None));
/// let seen = last.clone();
/// db.on_progress(move |p: &skiff::Progress| *seen.lock().unwrap() = Some(p.clone()));
/// db.rebuild_index::<User>("city")?;
/// let p = last.lock().unwrap().clone().unwrap();
/// assert_eq!((p.collection, p.task.as_str(), p.done, p.total), ("User", "build index city", 1, 1));
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The collection.
    pub collection: &'static str,
    /// What is being done, e.g. `build index email`.
    pub task: String,
    /// Records processed so far.
    pub done: u64,
    /// Records in all (as counted when the operation started).
    pub total: u64,
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

struct Inner<S: Store> {
    store: S,
    catalog: S::Space,
    /// Opened collections by model type: `Arc<Meta<S::Space>>`.
    open: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// Held while a collection is opened, so its indexes are built once.
    opening: Mutex<()>,
    /// Every open collection's subscriptions, closed when the database is.
    hubs: Mutex<Vec<Arc<Hub>>>,
    progress: RwLock<Option<ProgressFn>>,
}

/// A typed database: collections of [`Model`]s with secondary indexes, on a
/// transactional store (by default `skiff-engine`). Cheap to clone; `Send +
/// Sync + 'static`, so it can live in application state.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::Model;
///
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// struct Note {
///     #[model(key, auto)]
///     id: u64,
///     #[model(index)]
///     topic: String,
///     text: String,
/// }
///
/// let db = skiff::Db::temporary()?;
/// let notes = db.collection::<Note>()?;
/// let id = notes.push(Note { id: 0, topic: "rust".into(), text: "ownership".into() })?;
/// notes.push(Note { id: 0, topic: "rust".into(), text: "borrowing".into() })?;
/// assert_eq!(notes.get(&id)?.unwrap().text, "ownership");
/// assert_eq!(notes.index(Note::TOPIC).get_all("rust")?.count(), 2);
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Db<S: Store = EngineStore> {
    inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Db<S> {
    fn clone(&self) -> Self {
        Db {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Store> std::fmt::Debug for Db<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl<S: Store> Drop for Inner<S> {
    fn drop(&mut self) {
        for hub in self.hubs.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            hub.close();
        }
    }
}

impl Db<EngineStore> {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Note { #[model(key)] id: u32, text: String }
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = skiff::Db::open(dir.path().join("notes.db"))?;
    /// db.collection::<Note>()?.insert(&Note { id: 1, text: "kept".into() })?;
    /// drop(db);
    /// let db = skiff::Db::open(dir.path().join("notes.db"))?;
    /// assert_eq!(db.collection::<Note>()?.get(&1)?.unwrap().text, "kept");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> Result<Self> {
        Self::from_engine(skiff_engine::open(path)?)
    }

    /// A scratch database in a temporary directory, removed when dropped.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Note { #[model(key)] id: u32 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// db.collection::<Note>()?.insert(&Note { id: 1 })?;
    /// assert!(skiff::Db::temporary()?.collection::<Note>()?.is_empty()?, "each one starts empty");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn temporary() -> Result<Self> {
        Self::from_engine(skiff_engine::Config::new().temporary(true).open()?)
    }

    /// A typed database on an engine database opened with its own
    /// [`Config`](skiff_engine::Config) (durability, flush interval, …).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Note { #[model(key)] id: u32 }
    ///
    /// let engine = skiff::engine::Config::new().temporary(true).durable_transactions(true).open()?;
    /// let db = skiff::Db::from_engine(engine)?;
    /// db.collection::<Note>()?.insert(&Note { id: 1 })?;
    /// assert!(db.collection::<Note>()?.contains(&1)?);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn from_engine(db: skiff_engine::Db) -> Result<Self> {
        Self::with_store(EngineStore::new(db))
    }

    /// The engine database underneath.
    ///
    /// For what the typed layer does not wrap, such as database-wide unique ids:
    ///
    /// ```
    /// let db = skiff::Db::temporary()?;
    /// let (a, b) = (db.engine().generate_id()?, db.engine().generate_id()?);
    /// assert!(b > a);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn engine(&self) -> &skiff_engine::Db {
        self.inner.store.engine()
    }
}

impl<S: Store> Db<S> {
    /// A typed database on any [`Store`].
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// use skiff::{store::EngineStore, Db};
    ///
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Note { #[model(key)] id: u32 }
    ///
    /// let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
    /// let db: Db<EngineStore> = Db::with_store(store)?;
    /// db.collection::<Note>()?.insert(&Note { id: 1 })?;
    /// assert_eq!(db.collection::<Note>()?.len()?, 1);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn with_store(store: S) -> Result<Self> {
        let catalog = store.space(CATALOG_SPACE)?;
        Ok(Db {
            inner: Arc::new(Inner {
                store,
                catalog,
                open: Mutex::new(HashMap::new()),
                opening: Mutex::new(()),
                hubs: Mutex::new(Vec::new()),
                progress: RwLock::new(None),
            }),
        })
    }

    pub(crate) fn store(&self) -> &S {
        &self.inner.store
    }

    pub(crate) fn catalog(&self) -> &S::Space {
        &self.inner.catalog
    }

    /// Calls `f` as long operations (index builds, migrations) progress.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use std::sync::{Arc, Mutex};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct User { #[model(key)] id: u32, #[model(index)] city: String }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let users = db.collection::<User>()?;
    /// for id in 0..2_500 {
    ///     users.insert(&User { id, city: "Oslo".into() })?;
    /// }
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let log = reports.clone();
    /// db.on_progress(move |p| log.lock().unwrap().push((p.done, p.total)));
    /// db.rebuild_index::<User>("city")?;
    /// // One report per batch of records, the last when all are done.
    /// let reports = reports.lock().unwrap();
    /// assert!(reports.len() > 1 && reports.windows(2).all(|w| w[0].0 < w[1].0));
    /// assert_eq!(reports.last(), Some(&(2_500, 2_500)));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn on_progress(&self, f: impl Fn(&Progress) + Send + Sync + 'static) {
        *self
            .inner
            .progress
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(f));
    }

    pub(crate) fn report(&self, p: Progress) {
        let f = self
            .inner
            .progress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(f) = f {
            f(&p);
        }
    }

    /// The collection of `T`, created on first use. Checks `T` against the
    /// catalog (`Error::SchemaMismatch` if its key type or an index definition
    /// changed) and builds any index the catalog does not have yet.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// mod v1 {
    ///     #[derive(skiff::Model, serde::Serialize, serde::Deserialize)]
    ///     #[model(name = "users")]
    ///     pub struct User { #[model(key)] pub id: u32 }
    /// }
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// #[model(name = "users")]
    /// struct User { #[model(key)] id: String }
    ///
    /// let db = skiff::Db::temporary()?;
    /// db.collection::<v1::User>()?.insert(&v1::User { id: 1 })?;
    /// let changed_key = db.collection::<User>();
    /// assert!(matches!(changed_key, Err(skiff::Error::SchemaMismatch { .. })));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn collection<T: Model>(&self) -> Result<Collection<T, S, Auto<S>>> {
        let meta = self.meta::<T>()?;
        Ok(Collection::new(meta, Auto { db: self.clone() }))
    }

    /// Runs `f` as one serializable transaction and returns its result; `f`
    /// may run more than once (it reruns when a concurrent commit changed what
    /// it read), up to a bound after which it fails with `Error::Conflict`. An
    /// `Err` from `f` aborts the transaction: nothing of it is written.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use skiff::Model;
    /// #[derive(Model, Serialize, Deserialize)]
    /// struct Account { #[model(key)] name: String, balance: i64 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let accounts = db.collection::<Account>()?;
    /// accounts.insert(&Account { name: "a".into(), balance: 10 })?;
    /// accounts.insert(&Account { name: "b".into(), balance: 0 })?;
    /// db.transaction(|tx| {
    ///     let accounts = tx.collection::<Account>()?;
    ///     accounts.update("a", |a| a.balance -= 5)?;
    ///     accounts.update("b", |b| b.balance += 5)?;
    ///     Ok::<_, skiff::Error>(())
    /// })?;
    /// assert_eq!(accounts.get("b")?.unwrap().balance, 5);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn transaction<R, E: From<Error>>(&self, f: impl Fn(&Tx<'_, S>) -> Result<R, E>) -> Result<R, E> {
        self.inner.store.transact(|txn| {
            let tx = Tx {
                db: self,
                txn,
                changes: ChangeBuf::default(),
            };
            let r = f(&tx)?;
            tx.changes.register(txn)?;
            Ok(r)
        })
    }

    /// Runs `f` on a consistent snapshot of every collection; never conflicts.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Account { #[model(key)] name: String, balance: i64 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let accounts = db.collection::<Account>()?;
    /// accounts.insert(&Account { name: "a".into(), balance: 10 })?;
    /// let total = db.read(|r| {
    ///     let accounts = r.collection::<Account>()?;
    ///     // Committed after the snapshot was taken: not counted.
    ///     db.collection::<Account>()?.insert(&Account { name: "b".into(), balance: 5 })?;
    ///     accounts.iter()?.map(|a| a.map(|a| a.balance)).sum::<skiff::Result<i64>>()
    /// })?;
    /// assert_eq!(total, 10);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn read<R, E: From<Error>>(&self, f: impl FnOnce(&ReadTx<'_, S>) -> Result<R, E>) -> Result<R, E> {
        let snapshot = self.inner.store.snapshot();
        f(&ReadTx { db: self, snapshot })
    }

    /// The keyspaces of `T`, opening the collection (see `collection`) the
    /// first time.
    pub(crate) fn meta<T: Model>(&self) -> Result<Arc<Meta<S::Space>>> {
        let id = TypeId::of::<T>();
        let cached = |db: &Self| {
            let open = db.inner.open.lock().unwrap_or_else(PoisonError::into_inner);
            open.get(&id)
                .cloned()
                .and_then(|m| m.downcast::<Meta<S::Space>>().ok())
        };
        if let Some(meta) = cached(self) {
            return Ok(meta);
        }
        let _opening = self.inner.opening.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(meta) = cached(self) {
            return Ok(meta);
        }
        let meta = Arc::new(self.open_collection::<T>()?);
        let erased: Arc<dyn Any + Send + Sync> = meta.clone();
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, erased);
        Ok(meta)
    }

    fn open_collection<T: Model>(&self) -> Result<Meta<S::Space>> {
        let store = &self.inner.store;
        let stored = self.stored_schema::<T>()?;
        let plan = catalog::plan::<T>(stored.clone())?;
        if !plan.build.is_empty() {
            // Recorded first, so that a crash mid-build rebuilds on next open.
            let mut building = plan.schema.clone();
            for &pos in &plan.build {
                building.indexes[pos].ready = false;
            }
            self.put_schema::<T>(&building)?;
            for &pos in &plan.build {
                store.drop_space(&records::index_space(T::NAME, T::indexes()[pos].name()))?;
            }
        }
        let (hub, history) = match T::CHANGE_LOG {
            Some(keep) => {
                let space = store.space(&records::change_log_space(T::NAME))?;
                let (reader, log_space) = (store.clone(), space.clone());
                let history: HistoryFn =
                    Arc::new(move |since| read_history(&reader.snapshot(), &log_space, since));
                let log = ChangeLog {
                    space: Box::new(space),
                    keep: keep.max(1),
                };
                (Hub::with_log(log), Some(history))
            }
            None => (Hub::default(), None),
        };
        let hub = Arc::new(hub);
        self.inner
            .hubs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hub.clone());
        let meta = Meta {
            hub,
            history,
            records: store.space(&records::records_space(T::NAME))?,
            indexes: T::indexes()
                .iter()
                .map(|d| store.space(&records::index_space(T::NAME, d.name())))
                .collect::<Result<_>>()?,
        };
        for &pos in &plan.build {
            self.build_index::<T>(&meta, pos)?;
        }
        if stored.as_ref() != Some(&plan.schema) {
            self.put_schema::<T>(&plan.schema)?;
        }
        Ok(meta)
    }
}

/// An open transaction (see [`Db::transaction`]).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Order { #[model(key)] id: u32, item: String }
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Stock { #[model(key)] item: String, count: u32 }
///
/// let db = skiff::Db::temporary()?;
/// db.collection::<Stock>()?.insert(&Stock { item: "pen".into(), count: 1 })?;
/// // One transaction across two collections: both writes or neither.
/// db.transaction(|tx: &skiff::Tx<'_>| {
///     tx.collection::<Order>()?.insert(&Order { id: 1, item: "pen".into() })?;
///     tx.collection::<Stock>()?.update("pen", |s| s.count -= 1)
/// })?;
/// assert_eq!(db.collection::<Stock>()?.get("pen")?.unwrap().count, 0);
/// assert!(db.collection::<Order>()?.contains(&1)?);
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Tx<'a, S: Store = EngineStore> {
    db: &'a Db<S>,
    txn: &'a S::Txn,
    changes: ChangeBuf,
}

impl<S: Store> Tx<'_, S> {
    /// The collection of `T` inside this transaction.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Counter { #[model(key)] name: String, value: u64 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let next = db.transaction(|tx| {
    ///     let counters = tx.collection::<Counter>()?;
    ///     let value = counters.get("orders")?.map_or(1, |c| c.value + 1);
    ///     counters.upsert(&Counter { name: "orders".into(), value })?;
    ///     Ok::<_, skiff::Error>(value)
    /// })?;
    /// assert_eq!(next, 1);
    /// assert_eq!(db.collection::<Counter>()?.get("orders")?.unwrap().value, 1);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn collection<T: Model>(&self) -> Result<Collection<T, S, InTxn<'_, S>>> {
        let meta = self.db.meta::<T>()?;
        Ok(Collection::new(
            meta,
            InTxn {
                txn: self.txn,
                changes: &self.changes,
            },
        ))
    }

    /// Makes this transaction durable (fsynced) before it returns.
    ///
    /// For the writes that must survive a crash (a payment, say) on a database
    /// whose other transactions are not durable:
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Payment { #[model(key)] id: u64, cents: u64 }
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = skiff::Db::open(dir.path().join("db"))?;
    /// db.transaction(|tx| {
    ///     tx.make_durable();
    ///     tx.collection::<Payment>()?.insert(&Payment { id: 1, cents: 500 })
    /// })?;
    /// assert!(db.collection::<Payment>()?.contains(&1)?);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn make_durable(&self) {
        self.txn.make_durable();
    }
}

/// A consistent read-only view (see [`Db::read`]).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Order { #[model(key)] id: u32, item: String }
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Stock { #[model(key)] item: String, count: u32 }
///
/// let db = skiff::Db::temporary()?;
/// db.collection::<Stock>()?.insert(&Stock { item: "pen".into(), count: 3 })?;
/// // Both collections as of one moment.
/// let (orders, stock) = db.read(|r: &skiff::ReadTx<'_>| {
///     Ok::<_, skiff::Error>((r.collection::<Order>()?.len()?, r.collection::<Stock>()?.len()?))
/// })?;
/// assert_eq!((orders, stock), (0, 1));
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct ReadTx<'a, S: Store = EngineStore> {
    db: &'a Db<S>,
    snapshot: S::Snapshot,
}

impl<S: Store> ReadTx<'_, S> {
    /// The collection of `T` as of the snapshot.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Stock { #[model(key)] item: String, count: u32 }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let stock = db.collection::<Stock>()?;
    /// stock.insert(&Stock { item: "pen".into(), count: 3 })?;
    /// db.read(|r| {
    ///     let then = r.collection::<Stock>()?;
    ///     stock.update("pen", |s| s.count = 0)?;
    ///     assert_eq!(then.get("pen")?.unwrap().count, 3); // as of the snapshot
    ///     Ok::<_, skiff::Error>(())
    /// })?;
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn collection<T: Model>(&self) -> Result<Collection<T, S, InSnapshot<S>>> {
        let meta = self.db.meta::<T>()?;
        Ok(Collection::new(
            meta,
            InSnapshot {
                snapshot: self.snapshot.clone(),
            },
        ))
    }
}
