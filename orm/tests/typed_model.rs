//! T3 for the typed layer, with T10: random operations on a collection with
//! unique, non-unique, optional and multi-valued indexes, checked against an
//! in-memory model of the records. Operations include inserts, pushes,
//! upserts, updates (some of which move a record to a new key), removes,
//! transactions of several operations (committed, failing on a unique
//! violation, or aborted by the caller) and reopening the database. After every
//! operation the touched record must match; after every case, and at every
//! reopen, every record and every index (rebuilt from the model's records and
//! compared entry by entry) must match.
//!
//! `SKIFF_SEED=<seed>` replays a run; `SKIFF_STRESS=1` runs 100× more cases.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use skiff::{Db, Error, Model};

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "people")]
#[model(index(name = "city_age", fields(city, age)))]
struct Person {
    #[model(key, auto)]
    id: u32,
    #[model(unique)]
    email: String,
    #[model(index)]
    city: String,
    #[model(index)]
    nick: Option<String>,
    #[model(index(multi))]
    tags: Vec<String>,
    age: u8,
}

type Records = BTreeMap<u32, Person>;

#[derive(Debug, Clone)]
enum Op {
    Insert(Person),
    Push(Person),
    Upsert(Person),
    Update { id: u32, to: Person },
    Remove(u32),
    Tx { ops: Vec<Op>, abort: bool },
    Reopen,
}

fn person(rng: &mut StdRng) -> Person {
    let tags = ["a", "b", "c", "d"];
    Person {
        id: rng.gen_range(0..40),
        email: format!("{}@x", rng.gen_range(0..30)),
        city: ["Oslo", "Rome", "Lima"][rng.gen_range(0..3)].to_string(),
        nick: rng.gen_bool(0.5).then(|| format!("n{}", rng.gen_range(0..5))),
        tags: (0..rng.gen_range(0..3))
            .map(|_| tags[rng.gen_range(0..4)].to_string())
            .fold(Vec::new(), |mut v, t| {
                if !v.contains(&t) {
                    v.push(t);
                }
                v
            }),
        age: rng.gen_range(0..100),
    }
}

fn op(rng: &mut StdRng, depth: u32) -> Op {
    match rng.gen_range(0..100) {
        0..=24 => Op::Insert(person(rng)),
        25..=39 => Op::Push(person(rng)),
        40..=54 => Op::Upsert(person(rng)),
        55..=69 => Op::Update {
            id: rng.gen_range(0..40),
            to: person(rng),
        },
        70..=84 => Op::Remove(rng.gen_range(0..40)),
        85..=96 if depth == 0 => Op::Tx {
            ops: (0..rng.gen_range(1..6)).map(|_| op(rng, 1)).collect(),
            abort: rng.gen_bool(0.2),
        },
        _ if depth == 0 => Op::Reopen,
        _ => Op::Remove(rng.gen_range(0..40)),
    }
}

/// What `op` does to the model: `Err(())` when the engine must refuse it
/// (duplicate key, unique violation, not found), leaving the model unchanged.
fn apply_model(m: &mut Records, op: &Op) -> Result<(), ()> {
    let email_free = |m: &Records, p: &Person, except: Option<u32>| {
        !m.values().any(|o| o.email == p.email && Some(o.id) != except)
    };
    match op {
        Op::Insert(p) => {
            if m.contains_key(&p.id) || !email_free(m, p, None) {
                return Err(());
            }
            m.insert(p.id, p.clone());
        }
        Op::Push(p) => {
            let id = m.keys().next_back().map_or(1, |k| k + 1);
            if !email_free(m, p, None) {
                return Err(());
            }
            m.insert(id, Person { id, ..p.clone() });
        }
        Op::Upsert(p) => {
            if !email_free(m, p, Some(p.id)) {
                return Err(());
            }
            m.insert(p.id, p.clone());
        }
        Op::Update { id, to } => {
            if !m.contains_key(id) {
                return Err(());
            }
            // The update replaces every field but keeps the key half the time.
            let new = Person {
                id: if to.age % 2 == 0 { *id } else { to.id },
                ..to.clone()
            };
            if new.id != *id && m.contains_key(&new.id) {
                return Err(());
            }
            if !email_free(m, &new, Some(*id)) {
                return Err(());
            }
            m.remove(id);
            m.insert(new.id, new);
        }
        Op::Remove(id) => {
            m.remove(id);
        }
        Op::Tx { ops, abort } => {
            let mut scratch = m.clone();
            for op in ops {
                apply_model(&mut scratch, op)?;
            }
            if *abort {
                return Err(());
            }
            *m = scratch;
        }
        Op::Reopen => {}
    }
    Ok(())
}

fn run<A: skiff::WriteAccess<skiff::store::EngineStore>>(
    people: &skiff::Collection<Person, skiff::store::EngineStore, A>,
    op: &Op,
) -> skiff::Result<()> {
    match op {
        Op::Insert(p) => people.insert(p),
        Op::Push(p) => people.push(p.clone()).map(drop),
        Op::Upsert(p) => people.upsert(p).map(drop),
        Op::Update { id, to } => people
            .update(id, |p| {
                let id = if to.age % 2 == 0 { p.id } else { to.id };
                *p = Person { id, ..to.clone() };
            })
            .map(drop),
        Op::Remove(id) => people.remove(id).map(drop),
        Op::Tx { .. } | Op::Reopen => unreachable!("handled by the caller"),
    }
}

#[derive(Debug)]
enum TxError {
    Db(#[allow(dead_code)] Error),
    Aborted,
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Db(e)
    }
}

/// Every record and every index entry, as the database has them, against the
/// model: each index is rebuilt from the model's records.
fn check_all(db: &Db, m: &Records) -> Result<(), String> {
    let people = db.collection::<Person>().map_err(|e| e.to_string())?;
    let stored: Vec<Person> = people
        .iter()
        .and_then(|i| i.collect())
        .map_err(|e| e.to_string())?;
    let want: Vec<Person> = m.values().cloned().collect();
    if stored != want {
        return Err(format!("records differ:\n db {stored:?}\n model {want:?}"));
    }
    let ids = |it: skiff::Result<skiff::IndexIter<Person, _, _>>| -> Result<Vec<u32>, String> {
        it.and_then(|i| i.map(|p| p.map(|p| p.id)).collect())
            .map_err(|e| e.to_string())
    };
    // Expected index order: by index key, then by primary key.
    let mut by_email: Vec<(String, u32)> = m.values().map(|p| (p.email.clone(), p.id)).collect();
    by_email.sort();
    let mut by_city: Vec<(String, u32)> = m.values().map(|p| (p.city.clone(), p.id)).collect();
    by_city.sort();
    let mut by_nick: Vec<(String, u32)> = m
        .values()
        .filter_map(|p| p.nick.clone().map(|n| (n, p.id)))
        .collect();
    by_nick.sort();
    let mut by_tag: Vec<(String, u32)> = m
        .values()
        .flat_map(|p| p.tags.iter().map(|t| (t.clone(), p.id)))
        .collect();
    by_tag.sort();
    let mut by_city_age: Vec<((String, u8), u32)> =
        m.values().map(|p| ((p.city.clone(), p.age), p.id)).collect();
    by_city_age.sort();
    let second = |v: Vec<(String, u32)>| v.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let checks = [
        (
            "email",
            ids(people.index(Person::EMAIL).range::<str, _>(..))?,
            second(by_email),
        ),
        (
            "city",
            ids(people.index(Person::CITY).range::<str, _>(..))?,
            second(by_city),
        ),
        (
            "nick",
            ids(people.index(Person::NICK).range::<str, _>(..))?,
            second(by_nick),
        ),
        (
            "tags",
            ids(people.index(Person::TAGS).range::<str, _>(..))?,
            second(by_tag),
        ),
        (
            "city_age",
            people
                .index(Person::CITY_AGE)
                .prefix(&())
                .and_then(|i| i.map(|p| p.map(|p| p.id)).collect())
                .map_err(|e| e.to_string())?,
            by_city_age.into_iter().map(|(_, id)| id).collect(),
        ),
    ];
    for (name, got, want) in checks {
        if got != want {
            return Err(format!("index {name}: db {got:?}, rebuilt from records {want:?}"));
        }
    }
    Ok(())
}

fn run_case(seed: u64, ops: usize) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut db = Db::open(dir.path()).map_err(|e| e.to_string())?;
    let mut model = Records::new();
    for i in 0..ops {
        let op = op(&mut rng, 0);
        let expected = apply_model(&mut model, &op);
        let got: Result<(), String> = match &op {
            Op::Reopen => {
                drop(db);
                db = Db::open(dir.path()).map_err(|e| e.to_string())?;
                check_all(&db, &model).map_err(|e| format!("after reopen: {e}"))?;
                Ok(())
            }
            Op::Tx { ops, abort } => {
                let r = db.transaction(|tx| {
                    let people = tx.collection::<Person>()?;
                    for op in ops {
                        run(&people, op)?;
                    }
                    if *abort {
                        return Err(TxError::Aborted);
                    }
                    Ok(())
                });
                r.map_err(|e| format!("{e:?}"))
            }
            op => run(&db.collection::<Person>().map_err(|e| e.to_string())?, op).map_err(|e| e.to_string()),
        };
        if got.is_ok() != expected.is_ok() {
            return Err(format!(
                "op {i} {op:?}: db {got:?}, model expected ok = {}",
                expected.is_ok()
            ));
        }
        if i % 16 == 0 {
            check_all(&db, &model).map_err(|e| format!("after op {i} {op:?}: {e}"))?;
        }
    }
    check_all(&db, &model)
}

#[test]
fn typed_model_vs_in_memory_model() {
    let master: u64 = std::env::var("SKIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let stress = std::env::var("SKIFF_STRESS").is_ok_and(|v| v == "1");
    let cases = if stress { 6_400 } else { 64 };
    println!("typed model: SKIFF_SEED={master}");
    let mut rng = StdRng::seed_from_u64(master);
    for case in 0..cases {
        let seed: u64 = rng.gen();
        if let Err(e) = run_case(seed, 200) {
            panic!("case {case} (case seed {seed}, SKIFF_SEED={master}) failed: {e}");
        }
    }
}
