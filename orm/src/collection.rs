//! `Collection<T>`: typed records of one model, read and written on their
//! own (each write its own transaction), inside a transaction, or in a
//! snapshot — one type, three ways of reaching the store ([`Access`]).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::access::{Access, Auto, WriteAccess};
use crate::key::{Key, KeyPrefix, KeyRef};
use crate::model::{Index, IndexKind, Model};
use crate::query::{IndexView, Records};
use crate::records::{self, Meta};
use crate::store::{EngineStore, Read, Store};
use crate::watch::hub::Filter;
use crate::watch::Subscription;
use crate::{Error, Result};

/// The records of model `T`, keyed by `T::Key`, with `T`'s secondary indexes
/// kept in step by every write.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::Model;
///
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// struct City {
///     #[model(key)]
///     name: String,
///     #[model(index)]
///     country: String,
///     population: u32,
/// }
///
/// let db = skiff::Db::temporary()?;
/// let cities = db.collection::<City>()?;
/// for (name, country, population) in [("Lyon", "FR", 522), ("Paris", "FR", 2_103), ("Bonn", "DE", 330)] {
///     cities.insert(&City { name: name.into(), country: country.into(), population })?;
/// }
/// let names: Vec<String> = cities.range("Bonn".."Paris")?.map(|c| c.map(|c| c.name)).collect::<Result<_, _>>()?;
/// assert_eq!(names, ["Bonn", "Lyon"]);
/// cities.update("Lyon", |c| c.population += 1)?;
/// assert_eq!(cities.get("Lyon")?.unwrap().population, 523);
/// assert_eq!(cities.index(City::COUNTRY).count("FR"..="FR")?, 2);
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Collection<T, S: Store = EngineStore, A = Auto<S>> {
    pub(crate) meta: Arc<Meta<S::Space>>,
    pub(crate) access: A,
    marker: PhantomData<fn() -> T>,
}

impl<T, S: Store> Clone for Collection<T, S, Auto<S>> {
    fn clone(&self) -> Self {
        Collection {
            meta: self.meta.clone(),
            access: Auto {
                db: self.access.db.clone(),
            },
            marker: PhantomData,
        }
    }
}

/// Encoded bounds of a primary-key range.
pub(crate) fn key_bounds<K: Key, Q: KeyRef<K> + ?Sized, R: RangeBounds<Q>>(
    range: &R,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let enc = |b: Bound<&Q>| match b {
        Bound::Included(k) => Bound::Included(KeyRef::<K>::to_key_ref_bytes(k)),
        Bound::Excluded(k) => Bound::Excluded(KeyRef::<K>::to_key_ref_bytes(k)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (enc(range.start_bound()), enc(range.end_bound()))
}

impl<T: Model, S: Store, A: Access<S>> Collection<T, S, A> {
    pub(crate) fn new(meta: Arc<Meta<S::Space>>, access: A) -> Self {
        Collection {
            meta,
            access,
            marker: PhantomData,
        }
    }

    /// The record with primary key `key` (`&str` for `String` keys).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert_eq!(cities.get("Lyon")?.map(|c| c.country), Some("FR".into()));
    /// assert_eq!(cities.get("Rome")?, None);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn get(&self, key: &<T::Key as Key>::Borrowed) -> Result<Option<T>> {
        let pk = KeyRef::<T::Key>::to_key_ref_bytes(key);
        self.access
            .point_get(&self.meta.records, &pk, |b| records::decode(&pk, b))?
            .transpose()
    }

    /// Whether a record has primary key `key`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert!(cities.contains("Bonn")?);
    /// assert!(!cities.contains("bonn")?); // keys compare exactly
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn contains(&self, key: &<T::Key as Key>::Borrowed) -> Result<bool> {
        let pk = KeyRef::<T::Key>::to_key_ref_bytes(key);
        Ok(self.access.point_get(&self.meta.records, &pk, |_| ())?.is_some())
    }

    /// The number of records (counts them).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert_eq!(cities.len()?, 3);
    /// cities.remove("Bonn")?;
    /// assert_eq!(cities.len()?, 2);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        records::count(
            self.access
                .reader()
                .scan(&self.meta.records, Bound::Unbounded, Bound::Unbounded),
        )
    }

    /// Whether the collection has no records.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert!(!cities.is_empty()?);
    /// for name in ["Bonn", "Lyon", "Paris"] {
    ///     cities.remove(name)?;
    /// }
    /// assert!(cities.is_empty()?);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.first()?.is_none())
    }

    /// Every record in key order; double-ended, streaming.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// let names: Vec<String> = cities.iter()?.map(|c| c.map(|c| c.name)).collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["Bonn", "Lyon", "Paris"]);
    /// let last = cities.iter()?.next_back().transpose()?;
    /// assert_eq!(last.unwrap().name, "Paris");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn iter(&self) -> Result<Records<T>> {
        Ok(self.scan(Bound::Unbounded, Bound::Unbounded))
    }

    /// The records whose keys are in `range`, in key order; double-ended.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// // Bounds borrow like `get` does: `&str` ranges for `String` keys.
    /// let from_l: Vec<String> = cities.range("L"..)?.map(|c| c.map(|c| c.name)).collect::<Result<_, _>>()?;
    /// assert_eq!(from_l, ["Lyon", "Paris"]);
    /// assert_eq!(cities.range("Lyon"..="Lyon")?.count(), 1);
    /// assert_eq!(cities.range::<str, _>(..)?.rev().next().transpose()?.unwrap().name, "Paris");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn range<Q: KeyRef<T::Key> + ?Sized, R: RangeBounds<Q>>(&self, range: R) -> Result<Records<T>> {
        let (lo, hi) = key_bounds::<T::Key, Q, R>(&range);
        Ok(self.scan(lo, hi))
    }

    /// The records whose (tuple) keys start with `prefix`; double-ended.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Line { #[model(key)] order: u32, #[model(key)] no: u16, sku: String }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let lines = db.collection::<Line>()?;
    /// for (order, no) in [(1, 1), (1, 2), (2, 1)] {
    ///     lines.insert(&Line { order, no, sku: format!("{order}-{no}") })?;
    /// }
    /// let skus: Vec<String> = lines.prefix(&(1u32,))?.rev().map(|l| l.map(|l| l.sku)).collect::<Result<_, _>>()?;
    /// assert_eq!(skus, ["1-2", "1-1"]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn prefix<P: KeyPrefix<T::Key>>(&self, prefix: &P) -> Result<Records<T>> {
        let (lo, hi) = records::prefix_bounds(prefix.to_prefix_bytes());
        Ok(self.scan(lo, hi))
    }

    /// The record with the smallest key.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert_eq!(cities.first()?.unwrap().name, "Bonn");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn first(&self) -> Result<Option<T>> {
        self.iter()?.next().transpose()
    }

    /// The record with the largest key.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// assert_eq!(cities.last()?.unwrap().name, "Paris");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn last(&self) -> Result<Option<T>> {
        self.iter()?.next_back().transpose()
    }

    fn scan(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Records<T> {
        Records::new(self.access.reader().scan(&self.meta.records, lo, hi))
    }

    /// Subscribes to every committed change of the collection.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// let mut changes = cities.watch()?;
    /// cities.update("Bonn", |c| c.country = "Germany".into())?;
    /// let batch = changes.try_next().unwrap()?;
    /// let [skiff::Change::Updated { old, new }] = &batch.changes[..] else { panic!("{batch:?}") };
    /// assert_eq!((old.country.as_str(), new.country.as_str()), ("DE", "Germany"));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn watch(&self) -> Result<Subscription<T>> {
        Ok(Subscription::new(&self.meta, Filter::All))
    }

    /// Subscribes to changes of records whose keys are in `range`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// let mut a_to_m = cities.watch_range("A".."M")?;
    /// cities.remove("Paris")?; // outside the range: not reported
    /// cities.remove("Lyon")?;
    /// let batch = a_to_m.try_next().unwrap()?;
    /// assert!(matches!(&batch.changes[..], [skiff::Change::Removed(c)] if c.name == "Lyon"));
    /// assert!(a_to_m.try_next().is_none());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn watch_range<Q: KeyRef<T::Key> + ?Sized, R: RangeBounds<Q>>(
        &self,
        range: R,
    ) -> Result<Subscription<T>> {
        let (lo, hi) = key_bounds::<T::Key, Q, R>(&range);
        Ok(Subscription::new(&self.meta, Filter::Keys(lo, hi)))
    }

    /// Subscribes to changes of records whose (tuple) keys start with `prefix`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct Line { #[model(key)] order: u32, #[model(key)] no: u16, sku: String }
    ///
    /// let db = skiff::Db::temporary()?;
    /// let lines = db.collection::<Line>()?;
    /// let mut order_7 = lines.watch_prefix(&(7u32,))?;
    /// lines.insert(&Line { order: 8, no: 1, sku: "a".into() })?;
    /// lines.insert(&Line { order: 7, no: 1, sku: "b".into() })?;
    /// let batch = order_7.try_next().unwrap()?;
    /// assert!(matches!(&batch.changes[..], [skiff::Change::Inserted(l)] if l.sku == "b"));
    /// assert!(order_7.try_next().is_none());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn watch_prefix<P: KeyPrefix<T::Key>>(&self, prefix: &P) -> Result<Subscription<T>> {
        let (lo, hi) = records::prefix_bounds(prefix.to_prefix_bytes());
        Ok(Subscription::new(&self.meta, Filter::Keys(lo, hi)))
    }

    /// Queries through the secondary index `index` (a constant such as
    /// `User::EMAIL` that `#[derive(Model)]` generates).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// let french = cities.index(City::COUNTRY);
    /// assert_eq!(french.count("FR"..="FR")?, 2);
    /// let first = french.get_all("FR")?.next().transpose()?;
    /// assert_eq!(first.unwrap().name, "Lyon");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn index<K: Key, Kind: IndexKind>(
        &self,
        index: Index<T, K, Kind>,
    ) -> IndexView<'_, T, K, Kind, S, A> {
        IndexView::new(self, index.position())
    }
}

impl<T: Model, S: Store, A: WriteAccess<S>> Collection<T, S, A> {
    /// Adds `record`; `Error::DuplicateKey` if its key is taken,
    /// `Error::UniqueViolation` if a unique index value is. Either way nothing
    /// is written.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct User { #[model(key, auto)] id: u64, #[model(unique)] email: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// users.insert(&User { id: 7, email: "a@x".into() })?;
    /// let again = users.insert(&User { id: 7, email: "b@x".into() });
    /// assert!(matches!(again, Err(skiff::Error::DuplicateKey { .. })));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn insert(&self, record: &T) -> Result<()> {
        let pk = record.key_bytes();
        self.access.write(|tx, changes| {
            if tx.get(&self.meta.records, &pk)?.is_some() {
                return Err(Error::DuplicateKey {
                    collection: T::NAME.to_string(),
                    key: pk.clone(),
                });
            }
            records::write(tx, changes, &self.meta, &pk, None, Some(record))
        })
    }

    /// Adds `record` under the next key (`#[model(key, auto)]` models: one
    /// more than the greatest key, 1 for an empty collection) and returns it.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct User { #[model(key, auto)] id: u64, #[model(unique)] email: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// assert_eq!(users.push(User { id: 0, email: "a@x".into() })?, 1);
    /// assert_eq!(users.push(User { id: 0, email: "b@x".into() })?, 2);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn push(&self, record: T) -> Result<T::Key> {
        if !T::AUTO_KEY {
            return Err(Error::NoAutoKey {
                collection: T::NAME.to_string(),
            });
        }
        let record = RefCell::new(record);
        self.access.write(|tx, changes| {
            let last = match tx
                .scan(&self.meta.records, Bound::Unbounded, Bound::Unbounded)
                .next_back()
            {
                Some(entry) => {
                    Some(
                        T::Key::from_key_bytes(&entry?.0).map_err(|source| Error::KeyDecode {
                            collection: T::NAME.to_string(),
                            source,
                        })?,
                    )
                }
                None => None,
            };
            let key = T::next_auto_key(last.as_ref()).ok_or_else(|| Error::KeysExhausted {
                collection: T::NAME.to_string(),
            })?;
            let mut record = record.borrow_mut();
            record.set_key(key);
            let pk = record.key_bytes();
            records::write(tx, changes, &self.meta, &pk, None, Some(&*record))?;
            Ok(record.key())
        })
    }

    /// Inserts or replaces `record`; returns the record it replaced.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct User { #[model(key, auto)] id: u64, #[model(unique)] email: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// assert_eq!(users.upsert(&User { id: 1, email: "a@x".into() })?, None);
    /// let old = users.upsert(&User { id: 1, email: "b@x".into() })?;
    /// assert_eq!(old.unwrap().email, "a@x");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn upsert(&self, record: &T) -> Result<Option<T>> {
        let pk = record.key_bytes();
        self.access.write(|tx, changes| {
            let old = records::get_stored::<T, _>(tx, &self.meta, &pk)?;
            records::write(tx, changes, &self.meta, &pk, old.as_ref(), Some(record))?;
            Ok(old.map(|o| o.record))
        })
    }

    /// Changes the record with key `key` with `f`, atomically, and returns the
    /// new record; `Error::NotFound` if there is none. `f` may run more than
    /// once (the write is retried on conflict). If `f` changes the key, the
    /// record moves (`Error::DuplicateKey` if the new key is taken).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct City { #[model(key)] name: String, #[model(index)] country: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let cities = db.collection::<City>()?;
    /// # for (name, country) in [("Bonn", "DE"), ("Lyon", "FR"), ("Paris", "FR")] {
    /// #     cities.insert(&City { name: name.into(), country: country.into() })?;
    /// # }
    /// let paris = cities.update("Paris", |c| c.country = "France".into())?;
    /// assert_eq!(paris.country, "France");
    /// assert_eq!(cities.index(City::COUNTRY).count("FR"..="FR")?, 1); // indexes follow
    /// let missing = cities.update("Rome", |_| ());
    /// assert!(matches!(missing, Err(skiff::Error::NotFound { .. })));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn update(&self, key: &<T::Key as Key>::Borrowed, f: impl FnMut(&mut T)) -> Result<T> {
        let pk = KeyRef::<T::Key>::to_key_ref_bytes(key);
        let f = RefCell::new(f);
        self.access.write(|tx, changes| {
            let Some(bytes) = tx.get(&self.meta.records, &pk)? else {
                return Err(Error::NotFound {
                    collection: T::NAME.to_string(),
                    key: pk.clone(),
                });
            };
            // Decoded twice rather than cloned: `Model` does not require `Clone`.
            let old = records::Stored {
                record: records::decode::<T>(&pk, &bytes)?,
                bytes: bytes.clone(),
            };
            let mut new: T = records::decode(&pk, &bytes)?;
            (f.borrow_mut())(&mut new);
            let new_pk = new.key_bytes();
            if new_pk == pk {
                records::write(tx, changes, &self.meta, &pk, Some(&old), Some(&new))?;
            } else {
                if tx.get(&self.meta.records, &new_pk)?.is_some() {
                    return Err(Error::DuplicateKey {
                        collection: T::NAME.to_string(),
                        key: new_pk,
                    });
                }
                records::write(tx, changes, &self.meta, &pk, Some(&old), None)?;
                records::write(tx, changes, &self.meta, &new_pk, None, Some(&new))?;
            }
            Ok(new)
        })
    }

    /// Removes the record with key `key`; returns it.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # struct User { #[model(key, auto)] id: u64, #[model(unique)] email: String }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// users.insert(&User { id: 1, email: "a@x".into() })?;
    /// assert_eq!(users.remove(&1)?.map(|u| u.email), Some("a@x".into()));
    /// assert_eq!(users.remove(&1)?, None);
    /// assert!(users.index(User::EMAIL).get("a@x")?.is_none(), "its index entries went too");
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn remove(&self, key: &<T::Key as Key>::Borrowed) -> Result<Option<T>> {
        let pk = KeyRef::<T::Key>::to_key_ref_bytes(key);
        self.access.write(|tx, changes| {
            let old = records::get_stored::<T, _>(tx, &self.meta, &pk)?;
            if let Some(old) = &old {
                records::write(tx, changes, &self.meta, &pk, Some(old), None)?;
            }
            Ok(old.map(|o| o.record))
        })
    }
}
