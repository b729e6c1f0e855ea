//! Long operations on a collection's stored data: building and rebuilding
//! indexes, migrating records to the current model version, dropping retired
//! indexes. Each works in batches of `BATCH` records, one transaction per
//! batch, reports progress, and can be interrupted and run again: a batch is
//! all or nothing and redoing one is harmless.

use std::ops::Bound;

use crate::catalog::{self, Schema};
use crate::db::{Db, Progress, BATCH};
use crate::model::Model;
use crate::records::{self, Meta};
use crate::store::{Read, Store, Write};
use crate::{codec, Error, Result};

impl<S: Store> Db<S> {
    /// Visits every record of `meta`, `BATCH` per transaction, calling `visit`
    /// with the transaction, the primary key and the stored bytes; reports
    /// progress as `task`. Returns how many visits returned `true`.
    fn in_batches<T: Model>(
        &self,
        meta: &Meta<S::Space>,
        task: &str,
        visit: impl Fn(&S::Txn, &[u8], &[u8]) -> Result<bool>,
    ) -> Result<u64> {
        let total = self.count_records(meta)?;
        let (mut done, mut hits) = (0u64, 0u64);
        let mut after: Option<Vec<u8>> = None;
        loop {
            let lo = after.clone().map_or(Bound::Unbounded, Bound::Excluded);
            let (count, batch_hits, last) = self.store().transact(|tx| {
                let (mut count, mut batch_hits, mut last) = (0usize, 0u64, None);
                for entry in tx.scan(&meta.records, lo.clone(), Bound::Unbounded).take(BATCH) {
                    let (pk, bytes) = entry?;
                    batch_hits += u64::from(visit(tx, &pk, &bytes)?);
                    last = Some(pk.to_vec());
                    count += 1;
                }
                Ok::<_, Error>((count, batch_hits, last))
            })?;
            done += count as u64;
            hits += batch_hits;
            self.report(Progress {
                collection: T::NAME,
                task: task.to_string(),
                done,
                total,
            });
            match last {
                Some(last) if count == BATCH => after = Some(last),
                _ => return Ok(hits),
            }
        }
    }

    /// Fills the (empty) index at `pos` from the records, in batches.
    pub(crate) fn build_index<T: Model>(&self, meta: &Meta<S::Space>, pos: usize) -> Result<()> {
        let def = &T::indexes()[pos];
        let space = &meta.indexes[pos];
        let task = format!("build index {}", def.name());
        self.in_batches::<T>(meta, &task, |tx, pk, bytes| {
            let record: T = records::decode(pk, bytes)?;
            for ik in def.keys(&record) {
                if def.is_unique() {
                    if let Some(owner) = tx.get(space, &ik)? {
                        if *owner != *pk {
                            return Err(Error::UniqueViolation {
                                collection: T::NAME.to_string(),
                                index: def.name().to_string(),
                                key: ik,
                            });
                        }
                    }
                }
                tx.put(space, &records::entry_key(def.is_unique(), &ik, pk), pk.to_vec())?;
            }
            Ok(true)
        })?;
        Ok(())
    }

    /// Empties and rebuilds the index called `name` of `T` from the records
    /// (after a bug, or to be sure), in batches, with progress.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct User { #[model(key)] id: u32, #[model(unique)] email: String }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let users = db.collection::<User>()?;
    /// users.insert(&User { id: 1, email: "a@x".into() })?;
    /// db.rebuild_index::<User>("email")?;
    /// assert_eq!(users.index(User::EMAIL).get("a@x")?.map(|u| u.id), Some(1));
    /// let typo = db.rebuild_index::<User>("e-mail");
    /// assert!(matches!(typo, Err(skiff::Error::SchemaMismatch { .. })));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn rebuild_index<T: Model>(&self, name: &str) -> Result<()> {
        let meta = self.meta::<T>()?;
        let Some(pos) = T::indexes().iter().position(|d| d.name() == name) else {
            return Err(Error::SchemaMismatch {
                collection: T::NAME.to_string(),
                what: format!("the model declares no index {name:?}"),
            });
        };
        self.store().clear_space(&meta.indexes[pos])?;
        self.build_index::<T>(&meta, pos)
    }

    /// Rewrites every record of `T` stored by an older model version in the
    /// current one (upgrading it through the `from` chain), then rebuilds the
    /// indexes; returns how many records were rewritten. Batches commit one by
    /// one, so an interrupted migration resumes where it stopped when run
    /// again. Progress goes to [`on_progress`](Db::on_progress).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use skiff::Model;
    /// #[derive(Model, Serialize, Deserialize)]
    /// #[model(name = "notes")]
    /// struct NoteV1 { #[model(key)] id: u32, text: String }
    ///
    /// #[derive(Model, Serialize, Deserialize)]
    /// #[model(name = "notes", version = 2, from = NoteV1)]
    /// struct Note { #[model(key)] id: u32, text: String, words: usize }
    ///
    /// impl From<NoteV1> for Note {
    ///     fn from(n: NoteV1) -> Note {
    ///         let words = n.text.split_whitespace().count();
    ///         Note { id: n.id, text: n.text, words }
    ///     }
    /// }
    ///
    /// let db = skiff::Db::temporary()?;
    /// db.collection::<NoteV1>()?.insert(&NoteV1 { id: 1, text: "hello typed world".into() })?;
    /// assert_eq!(db.collection::<Note>()?.get(&1)?.unwrap().words, 3); // upgraded on read
    /// assert_eq!(db.migrate::<Note>()?, 1);                             // rewritten once
    /// assert_eq!(db.migrate::<Note>()?, 0);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn migrate<T: Model>(&self) -> Result<u64> {
        let meta = self.meta::<T>()?;
        let task = format!("migrate to version {}", T::VERSION);
        let rewritten = self.in_batches::<T>(&meta, &task, |tx, pk, bytes| {
            let version = bytes
                .get(..4)
                .map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes")));
            if version == Some(T::VERSION) {
                return Ok(false);
            }
            let record: T = records::decode(pk, bytes)?;
            tx.put(&meta.records, pk, records::encode(&record)?)?;
            Ok(true)
        })?;
        for pos in 0..T::indexes().len() {
            self.store().clear_space(&meta.indexes[pos])?;
            self.build_index::<T>(&meta, pos)?;
        }
        let mut schema = catalog::declared::<T>();
        if let Some(stored) = self.stored_schema::<T>()? {
            schema.retired = stored.retired;
        }
        self.put_schema::<T>(&schema)?;
        Ok(rewritten)
    }

    /// Deletes the data of the indexes of `T` that the model no longer
    /// declares (they are kept, unmaintained, until this is called); returns
    /// their names.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// mod v1 {
    ///     #[derive(skiff::Model, serde::Serialize, serde::Deserialize)]
    ///     #[model(name = "users")]
    ///     pub struct User { #[model(key)] pub id: u32, #[model(index)] pub city: String }
    /// }
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// #[model(name = "users")]
    /// struct User { #[model(key)] id: u32, city: String } // no longer indexed
    ///
    /// let db = skiff::Db::temporary()?;
    /// db.collection::<v1::User>()?.insert(&v1::User { id: 1, city: "Oslo".into() })?;
    /// let _users = db.collection::<User>()?;
    /// assert_eq!(db.drop_retired_indexes::<User>()?, ["city"]);
    /// assert!(db.drop_retired_indexes::<User>()?.is_empty());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn drop_retired_indexes<T: Model>(&self) -> Result<Vec<String>> {
        self.meta::<T>()?;
        let Some(mut schema) = self.stored_schema::<T>()? else {
            return Ok(Vec::new());
        };
        let retired: Vec<String> = schema.retired.drain(..).map(|i| i.name).collect();
        for name in &retired {
            self.store().drop_space(&records::index_space(T::NAME, name))?;
        }
        self.put_schema::<T>(&schema)?;
        Ok(retired)
    }

    pub(crate) fn count_records(&self, meta: &Meta<S::Space>) -> Result<u64> {
        let entries = self
            .store()
            .snapshot()
            .scan(&meta.records, Bound::Unbounded, Bound::Unbounded);
        Ok(records::count(entries)? as u64)
    }

    pub(crate) fn stored_schema<T: Model>(&self) -> Result<Option<Schema>> {
        match self.store().snapshot().get(self.catalog(), T::NAME.as_bytes())? {
            Some(bytes) => Ok(Some(codec::decode(&bytes).map_err(|e| {
                Error::SchemaMismatch {
                    collection: T::NAME.to_string(),
                    what: format!("unreadable catalog entry: {e}"),
                }
            })?)),
            None => Ok(None),
        }
    }

    pub(crate) fn put_schema<T: Model>(&self, schema: &Schema) -> Result<()> {
        let bytes = codec::encode(schema)?;
        let catalog = self.catalog();
        self.store().transact(|tx| {
            tx.make_durable();
            tx.put(catalog, T::NAME.as_bytes(), bytes.clone())
        })
    }
}
