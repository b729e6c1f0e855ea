//! [`Store`] on `skiff-engine`: keyspaces are trees, snapshots are engine
//! snapshots, transactions are `Db::transact`.

use std::ops::Bound;

use skiff_engine::transaction::{
    ConflictableTransactionError, TransactionError, UnabortableTransactionError,
};
use skiff_engine::{Snapshot, Transaction, Tree};

use super::{Bytes, Entries, Read, Store, Write};
use crate::{Error, Result};

/// The typed layer's store: a `skiff-engine` database.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{store::EngineStore, Db};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Note { #[model(key)] id: u32 }
///
/// let db: Db<EngineStore> = Db::temporary()?; // the default store
/// db.collection::<Note>()?.insert(&Note { id: 1 })?;
/// assert!(db.collection::<Note>()?.contains(&1)?);
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EngineStore {
    db: skiff_engine::Db,
}

impl EngineStore {
    /// A store on an open engine database.
    ///
    /// ```
    /// use skiff::store::{EngineStore, Read, Store, Write};
    ///
    /// let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
    /// let space = store.space("kv")?;
    /// store.transact(|tx| tx.put(&space, b"k", b"v".to_vec()))?;
    /// assert_eq!(store.snapshot().get(&space, b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn new(db: skiff_engine::Db) -> EngineStore {
        EngineStore { db }
    }

    /// The engine database underneath.
    ///
    /// ```
    /// use skiff::store::{EngineStore, Store};
    ///
    /// let store = EngineStore::new(skiff::engine::Config::new().temporary(true).open()?);
    /// store.space("kv")?;
    /// assert!(store.engine().tree_names().iter().any(|name| name == "kv"));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn engine(&self) -> &skiff_engine::Db {
        &self.db
    }
}

fn unabortable(e: UnabortableTransactionError) -> Error {
    match e {
        UnabortableTransactionError::Storage(e) => Error::from(e),
        // The engine reads snapshots, so operations never report conflicts;
        // a commit that conflicts is retried by `transact`.
        UnabortableTransactionError::Conflict => Error::Conflict { attempts: 0 },
    }
}

impl Store for EngineStore {
    type Space = Tree;
    type Snapshot = Snapshot;
    type Txn = Transaction;

    fn space(&self, name: &str) -> Result<Tree> {
        Ok(self.db.open_tree(name)?)
    }

    fn clear_space(&self, space: &Tree) -> Result<()> {
        Ok(space.clear()?)
    }

    fn drop_space(&self, name: &str) -> Result<bool> {
        Ok(self.db.drop_tree(name)?)
    }

    fn get(&self, space: &Tree, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(space.get(key)?)
    }

    fn get_with<R>(&self, space: &Tree, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        Ok(space.get_with(key, f)?)
    }

    fn snapshot(&self) -> Snapshot {
        self.db.snapshot()
    }

    fn transact<R, E: From<Error>>(
        &self,
        f: impl Fn(&Transaction) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        match self
            .db
            .transact(|tx| f(tx).map_err(ConflictableTransactionError::Abort))
        {
            Ok(r) => Ok(r),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(E::from(Error::from(e))),
        }
    }
}

impl Read for Snapshot {
    type Space = Tree;

    fn get(&self, space: &Tree, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(Snapshot::get(self, space, key)?)
    }

    fn get_with<R>(&self, space: &Tree, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        Ok(Snapshot::get_with(self, space, key, f)?)
    }

    fn scan(&self, space: &Tree, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static> {
        Box::new(self.range(space, (lo, hi)).map(|r| r.map_err(Error::from)))
    }
}

impl Read for Transaction {
    type Space = Tree;

    fn get(&self, space: &Tree, key: &[u8]) -> Result<Option<Bytes>> {
        self.tree(space).and_then(|t| t.get(key)).map_err(unabortable)
    }

    fn scan(&self, space: &Tree, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Entries<'static> {
        match self.tree(space) {
            Ok(t) => Box::new(t.range((lo, hi)).map(|r| r.map_err(unabortable))),
            Err(e) => Box::new(std::iter::once(Err(unabortable(e)))),
        }
    }
}

impl Write for Transaction {
    fn put(&self, space: &Tree, key: &[u8], value: Vec<u8>) -> Result<()> {
        self.tree(space)
            .and_then(|t| t.set(key, value))
            .map_err(unabortable)
    }

    fn delete(&self, space: &Tree, key: &[u8]) -> Result<()> {
        self.tree(space)
            .and_then(|t| t.remove(key))
            .map(drop)
            .map_err(unabortable)
    }

    fn make_durable(&self) {
        self.flush();
    }

    fn on_commit(&self, hook: Box<dyn FnOnce(u64)>) {
        Transaction::on_commit(self, hook);
    }
}
