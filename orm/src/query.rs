//! Reading: record iterators and queries through secondary indexes.

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use crate::access::Access;
use crate::collection::{key_bounds, Collection};
use crate::key::{Key, KeyPrefix, KeyRef};
use crate::model::{IndexKind, Model, Unique};
use crate::records::{self, successor};
use crate::store::{Entries, Read, Store};
use crate::watch::hub::Filter;
use crate::watch::Subscription;
use crate::{Error, Result};

/// Records in key order, decoded as they are read; double-ended.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # #[model(index(name = "city_age", fields(city, age)))]
/// # struct User {
/// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
/// # }
/// # let db = skiff::Db::temporary()?;
/// # let users = db.collection::<User>()?;
/// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
/// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
/// # }
/// let mut records: skiff::Records<User> = users.iter()?;
/// assert_eq!(records.next().transpose()?.map(|u| u.id), Some(1));
/// assert_eq!(records.next_back().transpose()?.map(|u| u.id), Some(3));
/// assert_eq!(records.count(), 1); // only user 2 was left in between
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct Records<T> {
    entries: Entries<'static>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Model> Records<T> {
    pub(crate) fn new(entries: Entries<'static>) -> Self {
        Records {
            entries,
            marker: PhantomData,
        }
    }

    fn decode(item: Result<(crate::store::Bytes, crate::store::Bytes)>) -> Result<T> {
        let (k, v) = item?;
        records::decode(&k, &v)
    }
}

impl<T: Model> Iterator for Records<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        self.entries.next().map(Self::decode)
    }
}

impl<T: Model> DoubleEndedIterator for Records<T> {
    fn next_back(&mut self) -> Option<Result<T>> {
        self.entries.next_back().map(Self::decode)
    }
}

/// A position in an index scan, for paging: [`IndexIter::cursor`] after
/// reading a page, [`IndexIter::after`] to read the next one. Stable under
/// concurrent writes: the next page starts after the last entry returned,
/// whatever was inserted or removed meanwhile.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # #[model(index(name = "city_age", fields(city, age)))]
/// # struct User {
/// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
/// # }
/// # let db = skiff::Db::temporary()?;
/// # let users = db.collection::<User>()?;
/// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
/// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
/// # }
/// // Pages of two by age, resumed from a cursor the client sent back.
/// let by_age = users.index(User::CITY_AGE);
/// let mut page = by_age.range::<(String, u8), _>(..)?;
/// let first: Vec<u32> = page.by_ref().take(2).map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
/// let cursor: skiff::Cursor = page.cursor().unwrap();
/// users.remove(&3)?; // the page boundary survives concurrent writes
/// let rest = by_age.range::<(String, u8), _>(..)?.after(&cursor);
/// let rest: Vec<u32> = rest.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
/// assert_eq!((first, rest), (vec![3, 1], vec![2]));
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(Vec<u8>);

/// Queries through one secondary index of a collection.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # #[model(index(name = "city_age", fields(city, age)))]
/// # struct User {
/// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
/// # }
/// # let db = skiff::Db::temporary()?;
/// # let users = db.collection::<User>()?;
/// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
/// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
/// # }
/// let by_city = users.index(User::CITY); // IndexView<User, String, NonUnique, …>
/// assert_eq!(by_city.count("Oslo"..="Oslo")?, 2);
/// assert_eq!(by_city.get_all("Rome")?.next().transpose()?.map(|u| u.id), Some(2));
/// assert!(by_city.get_all("Paris")?.next().is_none());
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct IndexView<'c, T, K, Kind, S: Store, A> {
    collection: &'c Collection<T, S, A>,
    position: usize,
    marker: PhantomData<fn() -> (K, Kind)>,
}

impl<'c, T: Model, K: Key, Kind: IndexKind, S: Store, A: Access<S>> IndexView<'c, T, K, Kind, S, A> {
    pub(crate) fn new(collection: &'c Collection<T, S, A>, position: usize) -> Self {
        IndexView {
            collection,
            position,
            marker: PhantomData,
        }
    }

    /// Entry-key bounds for index-key bounds: a non-unique entry is the index
    /// key followed by the primary key.
    fn entry_bounds(&self, (lo, hi): (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        if Kind::UNIQUE {
            return (lo, hi);
        }
        let lo = match lo {
            Bound::Excluded(k) => match successor(&k) {
                Some(s) => Bound::Included(s),
                // Nothing sorts after every extension of an all-0xFF key.
                None => return (Bound::Included(k.clone()), Bound::Excluded(k)),
            },
            other => other,
        };
        let hi = match hi {
            Bound::Included(k) => successor(&k).map_or(Bound::Unbounded, Bound::Excluded),
            other => other,
        };
        (lo, hi)
    }

    fn iter(&self, bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> IndexIter<T, K, A::Reader> {
        let (lo, hi) = self.entry_bounds(bounds);
        let reader = self.collection.access.reader();
        let space = self.collection.meta.indexes[self.position].clone();
        IndexIter {
            entries: reader.scan(&space, lo, hi.clone()),
            reader,
            records: self.collection.meta.records.clone(),
            space,
            hi,
            last: None,
            marker: PhantomData,
        }
    }

    /// Every record whose index value is `key`, in primary-key order.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User { #[model(key)] id: u32, #[model(index)] city: String, age: u8 }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), age })?;
    /// # }
    /// let ids: Vec<u32> = users.index(User::CITY).get_all("Oslo")?.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [1, 3]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn get_all(&self, key: &K::Borrowed) -> Result<IndexIter<T, K, A::Reader>> {
        let k = KeyRef::<K>::to_key_ref_bytes(key);
        Ok(self.iter((Bound::Included(k.clone()), Bound::Included(k))))
    }

    /// The records whose index values are in `range`, in index order (then
    /// primary-key order); double-ended, streaming.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let a_to_p = users.index(User::CITY).range("A".."P")?;
    /// let ids: Vec<u32> = a_to_p.map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
    /// assert_eq!(ids, [1, 3]); // Oslo, in primary-key order
    /// let mut from_oslo = users.index(User::CITY_AGE).range(("Oslo".to_string(), 0)..)?;
    /// assert_eq!(from_oslo.next().transpose()?.map(|u| u.age), Some(20));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn range<Q: KeyRef<K> + ?Sized, R: RangeBounds<Q>>(
        &self,
        range: R,
    ) -> Result<IndexIter<T, K, A::Reader>> {
        Ok(self.iter(key_bounds::<K, Q, R>(&range)))
    }

    /// The records whose (tuple) index values start with `prefix`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User { #[model(key)] id: u32, #[model(index)] city: String, age: u8 }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), age })?;
    /// # }
    /// // Oslo's users, youngest first: the composite index orders by (city, age).
    /// let ages: Vec<u8> = users.index(User::CITY_AGE).prefix(&("Oslo",))?.map(|u| u.map(|u| u.age)).collect::<Result<_, _>>()?;
    /// assert_eq!(ages, [20, 30]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn prefix<P: KeyPrefix<K>>(&self, prefix: &P) -> Result<IndexIter<T, K, A::Reader>> {
        Ok(self.iter(records::prefix_bounds(prefix.to_prefix_bytes())))
    }

    /// Subscribes to changes of records whose index value is `key` before or
    /// after the change.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let mut in_rome = users.index(User::CITY).watch("Rome")?;
    /// users.update(&1, |u| u.age += 1)?; // an Oslo user: not reported
    /// users.update(&1, |u| u.city = "Rome".into())?; // moves into Rome: reported
    /// let batch = in_rome.try_next().unwrap()?;
    /// let [skiff::Change::Updated { old, new }] = &batch.changes[..] else { panic!("{batch:?}") };
    /// assert_eq!((old.city.as_str(), new.city.as_str()), ("Oslo", "Rome"));
    /// assert!(in_rome.try_next().is_none());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn watch(&self, key: &K::Borrowed) -> Result<Subscription<T>> {
        let k = KeyRef::<K>::to_key_ref_bytes(key);
        Ok(Subscription::new(
            &self.collection.meta,
            Filter::IndexValue(self.position, k),
        ))
    }

    /// Subscribes to changes of records whose index value is in `range`
    /// before or after the change.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let mut cities_a_to_p = users.index(User::CITY).watch_range("A".."P")?;
    /// users.insert(&User { id: 4, city: "Turin".into(), email: "t@x".into(), age: 40 })?;
    /// users.insert(&User { id: 5, city: "Bern".into(), email: "b@x".into(), age: 50 })?;
    /// let batch = cities_a_to_p.try_next().unwrap()?;
    /// assert!(matches!(&batch.changes[..], [skiff::Change::Inserted(u)] if u.id == 5));
    /// assert!(cities_a_to_p.try_next().is_none());
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn watch_range<Q: KeyRef<K> + ?Sized, R: RangeBounds<Q>>(&self, range: R) -> Result<Subscription<T>> {
        let (lo, hi) = key_bounds::<K, Q, R>(&range);
        Ok(Subscription::new(
            &self.collection.meta,
            Filter::Index(self.position, lo, hi),
        ))
    }

    /// How many index entries have values in `range` (reads no record).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let by_city = users.index(User::CITY);
    /// assert_eq!(by_city.count("Oslo"..="Oslo")?, 2);
    /// assert_eq!(by_city.count::<str, _>(..)?, 3);
    /// // On a composite index, a range over whole tuples: Oslo users under 25.
    /// let young = users.index(User::CITY_AGE).count(("Oslo".to_string(), 0)..("Oslo".to_string(), 25))?;
    /// assert_eq!(young, 1);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn count<Q: KeyRef<K> + ?Sized, R: RangeBounds<Q>>(&self, range: R) -> Result<usize> {
        records::count(self.range(range)?.entries)
    }
}

impl<T: Model, K: Key, S: Store, A: Access<S>> IndexView<'_, T, K, Unique, S, A> {
    /// The record whose unique index value is `key`.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let by_email = users.index(User::EMAIL);
    /// assert_eq!(by_email.get("u2@x")?.map(|u| u.id), Some(2));
    /// assert_eq!(by_email.get("nobody@x")?, None);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn get(&self, key: &K::Borrowed) -> Result<Option<T>> {
        // Two point reads from one snapshot: the index entry, then the record.
        let reader = self.collection.access.reader();
        let ik = KeyRef::<K>::to_key_ref_bytes(key);
        let Some(pk) = reader.get(&self.collection.meta.indexes[self.position], &ik)? else {
            return Ok(None);
        };
        match records::get(&reader, &self.collection.meta, &pk)? {
            Some(record) => Ok(Some(record)),
            None => Err(Error::NotFound {
                collection: T::NAME.to_string(),
                key: pk.to_vec(),
            }),
        }
    }
}

/// Records found through an index, in index order; double-ended, streaming.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
/// # #[model(index(name = "city_age", fields(city, age)))]
/// # struct User {
/// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
/// # }
/// # let db = skiff::Db::temporary()?;
/// # let users = db.collection::<User>()?;
/// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
/// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
/// # }
/// let mut oslo = users.index(User::CITY).get_all("Oslo")?;
/// assert_eq!(oslo.next_back().transpose()?.map(|u| u.id), Some(3));
/// assert_eq!(oslo.next().transpose()?.map(|u| u.id), Some(1));
/// assert!(oslo.next().is_none());
/// # Ok::<(), skiff::Error>(())
/// ```
pub struct IndexIter<T, K, R: Read> {
    entries: Entries<'static>,
    reader: R,
    records: R::Space,
    space: R::Space,
    hi: Bound<Vec<u8>>,
    /// The entry key last returned from the front, for `cursor`.
    last: Option<crate::store::Bytes>,
    marker: PhantomData<fn() -> (T, K)>,
}

impl<T: Model, K: Key, R: Read> IndexIter<T, K, R> {
    fn record(&self, entry: Result<(crate::store::Bytes, crate::store::Bytes)>) -> Result<T> {
        let (_, pk) = entry?;
        match self
            .reader
            .get_with(&self.records, &pk, |bytes| records::decode(&pk, bytes))?
        {
            Some(record) => record,
            None => Err(Error::NotFound {
                collection: T::NAME.to_string(),
                key: pk.to_vec(),
            }),
        }
    }

    /// Where the next page starts: after the last entry returned from the
    /// front (`None` before the first).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u32, #[model(index)] city: String, #[model(unique)] email: String, age: u8,
    /// # }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), email: format!("u{id}@x"), age })?;
    /// # }
    /// let mut page = users.index(User::CITY).get_all("Oslo")?;
    /// assert_eq!(page.cursor(), None);
    /// page.next().transpose()?;
    /// let after_first = page.cursor().unwrap();
    /// let rest = users.index(User::CITY).get_all("Oslo")?.after(&after_first);
    /// assert_eq!(rest.map(|u| u.map(|u| u.id)).collect::<Result<Vec<_>, _>>()?, [3]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn cursor(&self) -> Option<Cursor> {
        self.last.as_ref().map(|k| Cursor(k.to_vec()))
    }

    /// Restarts the scan just after `cursor` (from a previous page).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User { #[model(key)] id: u32, #[model(index)] city: String, age: u8 }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), age })?;
    /// # }
    /// let mut page = users.index(User::CITY).range::<str, _>(..)?;
    /// let first: Vec<u32> = page.by_ref().take(2).map(|u| u.unwrap().id).collect();
    /// let cursor = page.cursor().expect("read something");
    /// let next: Vec<u32> = users.index(User::CITY).range::<str, _>(..)?.after(&cursor).map(|u| u.unwrap().id).collect();
    /// assert_eq!((first, next), (vec![1, 3], vec![2]));
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn after(mut self, cursor: &Cursor) -> Self {
        self.entries = self
            .reader
            .scan(&self.space, Bound::Excluded(cursor.0.clone()), self.hi.clone());
        self.last = Some(crate::store::Bytes::from(&cursor.0[..]));
        self
    }

    /// The index values instead of the records (reads no record).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize, Debug, PartialEq)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User { #[model(key)] id: u32, #[model(index)] city: String, age: u8 }
    /// # let db = skiff::Db::temporary()?;
    /// # let users = db.collection::<User>()?;
    /// # for (id, city, age) in [(1, "Oslo", 30), (2, "Rome", 25), (3, "Oslo", 20)] {
    /// #     users.insert(&User { id, city: city.into(), age })?;
    /// # }
    /// let cities: Vec<String> = users.index(User::CITY).range::<str, _>(..)?.keys().collect::<Result<_, _>>()?;
    /// assert_eq!(cities, ["Oslo", "Oslo", "Rome"]);
    /// # Ok::<(), skiff::Error>(())
    /// ```
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<K>> {
        self.entries.map(|entry| {
            let (key, _) = entry?;
            let mut input = &key[..];
            K::decode_key(&mut input).map_err(|source| Error::KeyDecode {
                collection: T::NAME.to_string(),
                source,
            })
        })
    }
}

impl<T: Model, K: Key, R: Read> Iterator for IndexIter<T, K, R> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let entry = self.entries.next()?;
        if let Ok((k, _)) = &entry {
            // A cheap clone, not a copy: most scans never ask for a cursor.
            self.last = Some(k.clone());
        }
        Some(self.record(entry))
    }
}

impl<T: Model, K: Key, R: Read> DoubleEndedIterator for IndexIter<T, K, R> {
    fn next_back(&mut self) -> Option<Result<T>> {
        let entry = self.entries.next_back()?;
        Some(self.record(entry))
    }
}
