//! The two typed databases behind one trait, so that both run exactly the same
//! workload code: skiff's typed layer (`skiff::Db`) and native_db 0.8.
//!
//! Each has its own model type with the same fields and the same indexes: `id`
//! (primary key), `email` (unique), `city` and `score` (non-unique). Both make every
//! write transaction durable: native_db 0.8.2 always commits redb write
//! transactions at redb's default `Durability::Immediate` and has no setting to
//! lower it, so skiff is opened with `durable_transactions(true)` to match.

use std::path::Path;
use std::sync::OnceLock;

use native_db::{native_db, Builder, Database, Models, ToKey};
use native_model::{native_model, Model};
use serde::{Deserialize, Serialize};

use super::data::{city_name, Person};
use crate::BenchResult;

/// A typed database the `typed` subcommand measures.
pub trait TypedEngine {
    /// The engine's own model type.
    type Record;
    /// Short name for progress messages.
    const NAME: &'static str;

    /// Converts a generated record into the engine's model (untimed).
    fn record(p: &Person) -> Self::Record;
    /// Inserts `batch` in one transaction; fails if any key is taken.
    fn insert_many(&self, batch: Vec<Self::Record>) -> BenchResult<()>;
    /// Inserts `record` in a transaction of its own.
    fn insert_one(&self, record: Self::Record) -> BenchResult<()>;
    /// The record with primary key `id` (its id), if any.
    fn get(&self, id: u64) -> BenchResult<Option<u64>>;
    /// The record with email `email` (its id), through the unique index.
    fn by_email(&self, email: &str) -> BenchResult<Option<u64>>;
    /// How many records the city index returns for `city`.
    fn by_city(&self, city: &str) -> BenchResult<u64>;
    /// How many records the score index returns for scores in `lo..hi`.
    fn by_score(&self, lo: u32, hi: u32) -> BenchResult<u64>;
    /// Moves the record with primary key `id` to `city`, in a transaction of its
    /// own that reads the record and rewrites it with its index entries.
    fn set_city(&self, id: u64, city: &str) -> BenchResult<()>;
    /// The city of the record with primary key `id` (for the checks).
    fn city_of(&self, id: u64) -> BenchResult<Option<String>>;
    /// Counts every record (for the checks).
    fn count(&self) -> BenchResult<u64>;
}

/// The record as a skiff model.
#[derive(skiff::Model, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[model(name = "people")]
pub struct SkiffPerson {
    #[model(key)]
    id: u64,
    #[model(unique)]
    email: String,
    #[model(index)]
    city: String,
    #[model(index)]
    score: u32,
    name: String,
    bio: String,
}

/// Skiff's typed layer on a skiff-engine database whose every transaction is
/// fsynced before it returns.
pub struct SkiffTyped {
    db: skiff::Db,
    people: skiff::Collection<SkiffPerson>,
}

impl SkiffTyped {
    /// Opens a new database at `path`. `flush_every_ms(None)`: every commit is
    /// already durable, so the background flusher would only add fsyncs.
    pub fn open(path: &Path) -> BenchResult<SkiffTyped> {
        let engine = skiff_engine::Config::new()
            .path(path)
            .durable_transactions(true)
            .flush_every_ms(None)
            .open()?;
        let db = skiff::Db::from_engine(engine)?;
        let people = db.collection::<SkiffPerson>()?;
        Ok(SkiffTyped { db, people })
    }
}

impl TypedEngine for SkiffTyped {
    type Record = SkiffPerson;
    const NAME: &'static str = "skiff";

    fn record(p: &Person) -> SkiffPerson {
        SkiffPerson {
            id: p.id,
            email: p.email.clone(),
            city: city_name(p.city),
            score: p.score,
            name: p.name.clone(),
            bio: p.bio.clone(),
        }
    }

    fn insert_many(&self, batch: Vec<SkiffPerson>) -> BenchResult<()> {
        self.db.transaction(|tx| {
            let people = tx.collection::<SkiffPerson>()?;
            for p in &batch {
                people.insert(p)?;
            }
            Ok::<_, skiff::Error>(())
        })?;
        Ok(())
    }

    fn insert_one(&self, record: SkiffPerson) -> BenchResult<()> {
        Ok(self.people.insert(&record)?)
    }

    fn get(&self, id: u64) -> BenchResult<Option<u64>> {
        Ok(self.people.get(&id)?.map(|p| p.id))
    }

    fn by_email(&self, email: &str) -> BenchResult<Option<u64>> {
        Ok(self.people.index(SkiffPerson::EMAIL).get(email)?.map(|p| p.id))
    }

    fn by_city(&self, city: &str) -> BenchResult<u64> {
        let mut n = 0;
        for p in self.people.index(SkiffPerson::CITY).get_all(city)? {
            p?;
            n += 1;
        }
        Ok(n)
    }

    fn by_score(&self, lo: u32, hi: u32) -> BenchResult<u64> {
        let mut n = 0;
        for p in self.people.index(SkiffPerson::SCORE).range(lo..hi)? {
            p?;
            n += 1;
        }
        Ok(n)
    }

    fn set_city(&self, id: u64, city: &str) -> BenchResult<()> {
        self.people.update(&id, |p| city.clone_into(&mut p.city))?;
        Ok(())
    }

    fn city_of(&self, id: u64) -> BenchResult<Option<String>> {
        Ok(self.people.get(&id)?.map(|p| p.city))
    }

    fn count(&self) -> BenchResult<u64> {
        Ok(u64::try_from(self.people.len()?)?)
    }
}

/// The record as a native_db model (serialized by native_model's default, bincode 1.3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[native_model(id = 1, version = 1)]
#[native_db]
pub struct NativePerson {
    #[primary_key]
    id: u64,
    #[secondary_key(unique)]
    email: String,
    #[secondary_key]
    city: String,
    #[secondary_key]
    score: u32,
    name: String,
    bio: String,
}

/// native_db's model registry. A `Database` borrows it, so it lives as long as
/// the program: that lets [`NativeTyped`] own its `Database<'static>`.
static MODELS: OnceLock<Models> = OnceLock::new();

/// The registry with [`NativePerson`] defined, built on first use.
fn models() -> BenchResult<&'static Models> {
    if let Some(models) = MODELS.get() {
        return Ok(models);
    }
    let mut models = Models::new();
    models.define::<NativePerson>()?;
    // A racing thread may have set it first; its registry is the same.
    Ok(MODELS.get_or_init(|| models))
}

/// A native_db 0.8 database (redb 2 underneath).
pub struct NativeTyped {
    db: Database<'static>,
}

impl NativeTyped {
    /// Creates a new database file at `path`.
    pub fn open(path: &Path) -> BenchResult<NativeTyped> {
        let db = Builder::new().create(models()?, path)?;
        Ok(NativeTyped { db })
    }
}

impl TypedEngine for NativeTyped {
    type Record = NativePerson;
    const NAME: &'static str = "native_db";

    fn record(p: &Person) -> NativePerson {
        NativePerson {
            id: p.id,
            email: p.email.clone(),
            city: city_name(p.city),
            score: p.score,
            name: p.name.clone(),
            bio: p.bio.clone(),
        }
    }

    fn insert_many(&self, batch: Vec<NativePerson>) -> BenchResult<()> {
        let rw = self.db.rw_transaction()?;
        for p in batch {
            rw.insert(p)?;
        }
        rw.commit()?;
        Ok(())
    }

    fn insert_one(&self, record: NativePerson) -> BenchResult<()> {
        let rw = self.db.rw_transaction()?;
        rw.insert(record)?;
        rw.commit()?;
        Ok(())
    }

    fn get(&self, id: u64) -> BenchResult<Option<u64>> {
        let r = self.db.r_transaction()?;
        let p: Option<NativePerson> = r.get().primary(id)?;
        Ok(p.map(|p| p.id))
    }

    fn by_email(&self, email: &str) -> BenchResult<Option<u64>> {
        let r = self.db.r_transaction()?;
        let p: Option<NativePerson> = r.get().secondary(NativePersonKey::email, email)?;
        Ok(p.map(|p| p.id))
    }

    fn by_city(&self, city: &str) -> BenchResult<u64> {
        let r = self.db.r_transaction()?;
        let scan = r.scan().secondary::<NativePerson>(NativePersonKey::city)?;
        let mut n = 0;
        for p in scan.range(city..=city)? {
            p?;
            n += 1;
        }
        Ok(n)
    }

    fn by_score(&self, lo: u32, hi: u32) -> BenchResult<u64> {
        let r = self.db.r_transaction()?;
        let scan = r.scan().secondary::<NativePerson>(NativePersonKey::score)?;
        let mut n = 0;
        for p in scan.range(lo..hi)? {
            p?;
            n += 1;
        }
        Ok(n)
    }

    fn set_city(&self, id: u64, city: &str) -> BenchResult<()> {
        let rw = self.db.rw_transaction()?;
        let old: NativePerson = rw.get().primary(id)?.ok_or("update of a missing record")?;
        let mut new = old.clone();
        city.clone_into(&mut new.city);
        rw.update(old, new)?;
        rw.commit()?;
        Ok(())
    }

    fn city_of(&self, id: u64) -> BenchResult<Option<String>> {
        let r = self.db.r_transaction()?;
        let p: Option<NativePerson> = r.get().primary(id)?;
        Ok(p.map(|p| p.city))
    }

    fn count(&self) -> BenchResult<u64> {
        let r = self.db.r_transaction()?;
        Ok(r.len().primary::<NativePerson>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: u64, city: u32, score: u32) -> Person {
        Person {
            id,
            email: super::super::data::email_of(id),
            city,
            score,
            name: "n".into(),
            bio: "b".into(),
        }
    }

    /// Every operation once on `engine`, with the answers checked.
    fn exercise<E: TypedEngine>(engine: &E) {
        let batch = [person(1, 7, 10), person(2, 7, 20), person(3, 8, 30)];
        engine.insert_many(batch.iter().map(E::record).collect()).unwrap();
        engine.insert_one(E::record(&person(4, 8, 40))).unwrap();
        assert!(
            engine.insert_one(E::record(&person(4, 9, 50))).is_err(),
            "{}",
            E::NAME
        );
        assert_eq!(engine.count().unwrap(), 4);
        assert_eq!(engine.get(3).unwrap(), Some(3));
        assert_eq!(engine.get(5).unwrap(), None);
        assert_eq!(engine.by_email(&batch[1].email).unwrap(), Some(2));
        assert_eq!(engine.by_email("nobody@x").unwrap(), None);
        assert_eq!(engine.by_city(&city_name(7)).unwrap(), 2);
        assert_eq!(engine.by_score(10, 30).unwrap(), 2, "{}: end excluded", E::NAME);
        engine.set_city(1, &city_name(8)).unwrap();
        assert!(engine.set_city(99, &city_name(8)).is_err(), "{}", E::NAME);
        assert_eq!(
            engine.by_city(&city_name(7)).unwrap(),
            1,
            "{}: old entry gone",
            E::NAME
        );
        assert_eq!(engine.by_city(&city_name(8)).unwrap(), 3);
        assert_eq!(engine.city_of(1).unwrap(), Some(city_name(8)));
    }

    #[test]
    fn both_engines_answer_alike() {
        let dir = tempfile::tempdir().unwrap();
        exercise(&SkiffTyped::open(&dir.path().join("skiff")).unwrap());
        exercise(&NativeTyped::open(&dir.path().join("native_db.redb")).unwrap());
    }
}
