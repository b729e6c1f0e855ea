//! The typed layer's runtime: collections, indexes, transactions, the catalog
//! and model versions, one behaviour at a time.

use serde::{Deserialize, Serialize};
use skiff::{Db, Error, Model};

mod v1 {
    use serde::{Deserialize, Serialize};
    use skiff::Model;

    #[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[model(name = "users")]
    pub struct User {
        #[model(key, auto)]
        pub id: u64,
        #[model(unique)]
        pub email: String,
        pub city: String,
    }
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "users", version = 2, from = v1::User)]
#[model(index(name = "city_age", fields(city, age)))]
#[model(index(name = "domain", with = User::domain, ty = String))]
struct User {
    #[model(key, auto)]
    id: u64,
    #[model(unique)]
    email: String,
    #[model(index)]
    city: String,
    #[model(index)]
    nickname: Option<String>,
    #[model(index(multi))]
    tags: Vec<String>,
    age: u32,
}

impl User {
    fn domain(&self) -> String {
        self.email.rsplit('@').next().unwrap_or_default().to_string()
    }

    fn new(id: u64, email: &str, city: &str, age: u32) -> User {
        User {
            id,
            email: email.into(),
            city: city.into(),
            nickname: None,
            tags: Vec::new(),
            age,
        }
    }
}

impl From<v1::User> for User {
    fn from(old: v1::User) -> Self {
        User::new(old.id, &old.email, &old.city, 0)
    }
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "orders")]
struct Order {
    #[model(key)]
    user: u64,
    #[model(key)]
    no: u32,
    total: u64,
}

fn ids(users: impl Iterator<Item = skiff::Result<User>>) -> Vec<u64> {
    users.map(|u| u.unwrap().id).collect()
}

#[test]
fn records_round_trip_in_key_order() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    for id in [5u64, 1, 30, 12, 20] {
        users.insert(&User::new(id, &format!("u{id}@x.org"), "Paris", 30))?;
    }
    assert_eq!(users.len()?, 5);
    assert_eq!(ids(users.iter()?), vec![1, 5, 12, 20, 30]);
    assert_eq!(ids(users.range(10..20)?), vec![12]);
    assert_eq!(
        ids(users.range(10..=20)?.rev()),
        vec![20, 12],
        "..= includes its end"
    );
    assert_eq!(users.first()?.unwrap().id, 1);
    assert_eq!(users.last()?.unwrap().id, 30);
    assert!(users.contains(&12)? && !users.contains(&13)?);
    assert!(matches!(
        users.insert(&User::new(5, "other@x.org", "Rome", 1)),
        Err(Error::DuplicateKey { .. })
    ));
    let old = users.upsert(&User::new(5, "u5@x.org", "Rome", 31))?;
    assert_eq!(old.unwrap().city, "Paris");
    let updated = users.update(&5, |u| u.age += 1)?;
    assert_eq!(updated.age, 32);
    assert!(matches!(
        users.update(&99, |u| u.age += 1),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(users.remove(&5)?.unwrap().age, 32);
    assert_eq!(users.remove(&5)?, None);
    assert_eq!(users.len()?, 4);
    Ok(())
}

#[test]
fn push_assigns_increasing_keys() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    let a = users.push(User::new(0, "a@x", "Oslo", 1))?;
    let b = users.push(User::new(0, "b@x", "Oslo", 1))?;
    assert_eq!((a, b), (1, 2));
    users.insert(&User::new(10, "c@x", "Oslo", 1))?;
    assert_eq!(users.push(User::new(0, "d@x", "Oslo", 1))?, 11);
    let orders = db.collection::<Order>()?;
    assert!(matches!(
        orders.push(Order {
            user: 1,
            no: 1,
            total: 0
        }),
        Err(Error::NoAutoKey { .. })
    ));
    Ok(())
}

#[test]
fn tuple_keys_scan_by_prefix() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let orders = db.collection::<Order>()?;
    for (user, no) in [(2, 1), (1, 2), (1, 1), (3, 1), (1, 10)] {
        orders.insert(&Order {
            user,
            no,
            total: u64::from(no) * 100,
        })?;
    }
    let of_one: Vec<(u64, u32)> = orders
        .prefix(&(1u64,))?
        .map(|o| o.map(|o| (o.user, o.no)))
        .collect::<Result<_, _>>()?;
    assert_eq!(of_one, vec![(1, 1), (1, 2), (1, 10)]);
    assert_eq!(orders.get(&(3, 1))?.unwrap().total, 100);
    Ok(())
}

#[test]
fn secondary_indexes_answer_every_query() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    let mut alice = User::new(1, "alice@rust.org", "Berlin", 30);
    alice.tags = vec!["rust".into(), "go".into()];
    alice.nickname = Some("al".into());
    let mut bob = User::new(2, "bob@rust.org", "Berlin", 25);
    bob.tags = vec!["rust".into()];
    let carol = User::new(3, "carol@mail.com", "Paris", 41);
    for u in [&alice, &bob, &carol] {
        users.insert(u)?;
    }
    assert_eq!(users.index(User::EMAIL).get("bob@rust.org")?.unwrap().id, 2);
    assert_eq!(users.index(User::EMAIL).get("nobody@x")?, None);
    assert_eq!(ids(users.index(User::CITY).get_all("Berlin")?), vec![1, 2]);
    assert_eq!(
        ids(users.index(User::CITY).range("Berlin"..="Berlin")?),
        vec![1, 2]
    );
    assert_eq!(ids(users.index(User::CITY).range("A".."C")?), vec![1, 2]);
    assert_eq!(
        ids(users.index(User::CITY).range("Berlin"..)?.rev()),
        vec![3, 2, 1]
    );
    assert_eq!(
        ids(users.index(User::CITY_AGE).prefix(&("Berlin",))?),
        vec![2, 1],
        "ordered by age"
    );
    assert_eq!(ids(users.index(User::TAGS).get_all("rust")?), vec![1, 2]);
    assert_eq!(users.index(User::TAGS).count("go"..="go")?, 1);
    assert_eq!(
        ids(users.index(User::NICKNAME).range::<str, _>(..)?),
        vec![1],
        "None is not indexed"
    );
    assert_eq!(ids(users.index(User::DOMAIN).get_all("rust.org")?), vec![1, 2]);
    let cities: Vec<String> = users
        .index(User::CITY)
        .range::<str, _>(..)?
        .keys()
        .collect::<Result<_, _>>()?;
    assert_eq!(cities, ["Berlin", "Berlin", "Paris"]);

    // Updates move index entries; removes delete them.
    users.update(&2, |u| {
        u.city = "Paris".into();
        u.tags.clear();
    })?;
    assert_eq!(ids(users.index(User::CITY).get_all("Paris")?), vec![2, 3]);
    assert_eq!(ids(users.index(User::TAGS).get_all("rust")?), vec![1]);
    users.remove(&1)?;
    assert_eq!(users.index(User::EMAIL).get("alice@rust.org")?, None);
    assert_eq!(users.index(User::TAGS).count::<str, _>(..)?, 0);
    Ok(())
}

#[test]
fn pages_resume_after_a_cursor() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    for id in 1..=10u64 {
        users.insert(&User::new(
            id,
            &format!("{id}@x"),
            if id % 2 == 0 { "A" } else { "B" },
            1,
        ))?;
    }
    let mut page = users.index(User::CITY).range("A"..="B")?;
    let first: Vec<u64> = page.by_ref().take(4).map(|u| u.unwrap().id).collect();
    assert_eq!(first, vec![2, 4, 6, 8]);
    let cursor = page.cursor().unwrap();
    // A record inserted before the cursor does not shift the next page.
    users.insert(&User::new(0, "0@x", "A", 1))?;
    let next: Vec<u64> = ids(users.index(User::CITY).range("A"..="B")?.after(&cursor).take(4));
    assert_eq!(next, vec![10, 1, 3, 5]);
    Ok(())
}

#[test]
fn a_unique_violation_leaves_nothing_behind() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    users.insert(&User::new(1, "taken@x", "Rome", 1))?;
    let mut dup = User::new(2, "taken@x", "Oslo", 2);
    dup.tags = vec!["t".into()];
    match users.insert(&dup) {
        Err(Error::UniqueViolation {
            collection,
            index,
            key,
        }) => {
            assert_eq!((collection.as_str(), index.as_str()), ("users", "email"));
            assert_eq!(key, skiff::Key::to_key_bytes(&"taken@x".to_string()));
        }
        other => panic!("expected UniqueViolation, got {other:?}"),
    }
    assert!(!users.contains(&2)?);
    assert_eq!(
        users.index(User::CITY).count("Oslo"..="Oslo")?,
        0,
        "no index entry either"
    );
    assert_eq!(users.index(User::TAGS).count("t"..="t")?, 0);
    assert!(matches!(users.upsert(&dup), Err(Error::UniqueViolation { .. })));
    users.insert(&User::new(2, "free@x", "Oslo", 2))?;
    assert!(matches!(
        users.update(&2, |u| u.email = "taken@x".into()),
        Err(Error::UniqueViolation { .. })
    ));
    assert_eq!(users.get(&2)?.unwrap().email, "free@x");
    assert_eq!(users.index(User::EMAIL).get("free@x")?.unwrap().id, 2);
    Ok(())
}

#[test]
fn transactions_span_collections_and_abort_whole() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    let orders = db.collection::<Order>()?;
    db.transaction(|tx| {
        let users = tx.collection::<User>()?;
        let orders = tx.collection::<Order>()?;
        let id = users.push(User::new(0, "a@x", "Rome", 1))?;
        orders.insert(&Order {
            user: id,
            no: 1,
            total: 5,
        })?;
        assert_eq!(
            users.index(User::EMAIL).get("a@x")?.unwrap().id,
            id,
            "reads see own writes"
        );
        Ok::<_, Error>(())
    })?;
    assert_eq!((users.len()?, orders.len()?), (1, 1));

    let result = db.transaction(|tx| {
        let users = tx.collection::<User>()?;
        let orders = tx.collection::<Order>()?;
        orders.insert(&Order {
            user: 1,
            no: 2,
            total: 7,
        })?;
        users.insert(&User::new(2, "a@x", "Rome", 1))?; // unique violation
        Ok::<_, Error>(())
    });
    assert!(matches!(result, Err(Error::UniqueViolation { .. })));
    assert_eq!(
        orders.len()?,
        1,
        "the order written before the violation is gone too"
    );

    // A user error aborts as well.
    #[derive(Debug)]
    enum AppError {
        Db(#[allow(dead_code)] Error),
        Refused,
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Db(e)
        }
    }
    let result: Result<(), AppError> = db.transaction(|tx| {
        tx.collection::<Order>()?.insert(&Order {
            user: 9,
            no: 9,
            total: 9,
        })?;
        Err(AppError::Refused)
    });
    assert!(matches!(result, Err(AppError::Refused)));
    assert!(!orders.contains(&(9, 9))?);
    Ok(())
}

#[test]
fn a_read_is_one_snapshot() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    users.insert(&User::new(1, "a@x", "Rome", 1))?;
    let (count, by_city) = db.read(|r| {
        let users_then = r.collection::<User>()?;
        users.insert(&User::new(2, "b@x", "Rome", 1))?; // after the snapshot
        Ok::<_, Error>((
            users_then.len()?,
            users_then.index(User::CITY).count("Rome"..="Rome")?,
        ))
    })?;
    assert_eq!((count, by_city), (1, 1));
    assert_eq!(users.len()?, 2);
    Ok(())
}

#[test]
fn the_catalog_builds_new_indexes_and_refuses_changed_ones() -> skiff::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path())?;
        let old = db.collection::<v1::User>()?;
        for i in 1..=2500u64 {
            old.insert(&v1::User {
                id: i,
                email: format!("{i}@x"),
                city: if i % 2 == 0 { "A" } else { "B" }.into(),
            })?;
        }
    }
    let db = Db::open(dir.path())?;
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    db.on_progress(move |p| seen.lock().unwrap().push((p.task.clone(), p.done, p.total)));
    let users = db.collection::<User>()?;
    // Version 1 records upgrade on read; the new indexes were built from them.
    assert_eq!(users.get(&7)?.unwrap(), User::new(7, "7@x", "B", 0));
    assert_eq!(users.index(User::CITY).count("A"..="A")?, 1250);
    assert_eq!(users.index(User::DOMAIN).count("x"..="x")?, 2500);
    let reports = progress.lock().unwrap().clone();
    assert!(
        reports.contains(&("build index city".to_string(), 2500, 2500)),
        "{reports:?}"
    );
    assert!(
        reports.contains(&("build index city".to_string(), 1000, 2500)),
        "in batches: {reports:?}"
    );
    drop(users);
    drop(db);

    #[derive(Model, Serialize, Deserialize)]
    #[model(name = "users")]
    struct WrongKey {
        #[model(key)]
        id: String,
    }
    #[derive(Model, Serialize, Deserialize)]
    #[model(name = "users", version = 2)]
    struct ChangedIndex {
        #[model(key)]
        id: u64,
        #[model(index)]
        email: String,
    }
    let db = Db::open(dir.path())?;
    for err in [
        db.collection::<WrongKey>().err(),
        db.collection::<ChangedIndex>().err(),
    ] {
        assert!(matches!(err, Some(Error::SchemaMismatch { .. })), "{err:?}");
    }
    // Older code cannot read records of a newer version.
    assert!(matches!(
        db.collection::<v1::User>().err(),
        Some(Error::SchemaMismatch { .. })
    ));
    Ok(())
}

#[test]
fn concurrent_writers_never_break_a_unique_index() -> skiff::Result<()> {
    let db = Db::temporary()?;
    let users = db.collection::<User>()?;
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let users = users.clone();
            std::thread::spawn(move || {
                let mut won = 0;
                for i in 0..200u64 {
                    let email = format!("{}@x", (i * 7 + t) % 50);
                    match users.push(User::new(0, &email, "Rome", 1)) {
                        Ok(_) => won += 1,
                        Err(Error::UniqueViolation { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 50, "each of the 50 emails was taken exactly once");
    assert_eq!(users.len()?, 50);
    let mut emails: Vec<String> = users.iter()?.map(|u| u.unwrap().email).collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 50);
    assert_eq!(users.index(User::EMAIL).count::<str, _>(..)?, 50);
    assert_eq!(
        ids(users.iter()?),
        (1..=50).collect::<Vec<_>>(),
        "push keys are dense"
    );
    Ok(())
}

#[test]
fn migrate_rewrites_old_versions_in_batches_and_indexes_can_be_rebuilt() -> skiff::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path())?;
        let old = db.collection::<v1::User>()?;
        for i in 1..=2100u64 {
            old.insert(&v1::User {
                id: i,
                email: format!("{i}@x"),
                city: "C".into(),
            })?;
        }
    }
    let db = Db::open(dir.path())?;
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    db.on_progress(move |p| seen.lock().unwrap().push((p.task.clone(), p.done)));
    assert_eq!(db.migrate::<User>()?, 2100);
    assert_eq!(db.migrate::<User>()?, 0, "a second run finds nothing to do");
    let reports = progress.lock().unwrap().clone();
    let migrate: Vec<u64> = reports
        .iter()
        .filter(|(t, _)| t == "migrate to version 2")
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(&migrate[..3], &[1000, 2000, 2100]);
    let users = db.collection::<User>()?;
    assert_eq!(users.get(&2100)?.unwrap().email, "2100@x");
    assert_eq!(users.index(User::EMAIL).count::<str, _>(..)?, 2100);
    db.rebuild_index::<User>("city")?;
    assert_eq!(users.index(User::CITY).count("C"..="C")?, 2100);
    assert!(matches!(
        db.rebuild_index::<User>("nope"),
        Err(Error::SchemaMismatch { .. })
    ));
    drop((users, db));

    // Version 1 code can no longer open the collection: every record is v2.
    let db = Db::open(dir.path())?;
    assert!(matches!(
        db.collection::<v1::User>().err(),
        Some(Error::SchemaMismatch { .. })
    ));

    // An index the model stops declaring is retired, then dropped on request.
    #[derive(Model, Serialize, Deserialize)]
    #[model(name = "users", version = 3, from = User)]
    struct Slim {
        #[model(key)]
        id: u64,
        #[model(unique)]
        email: String,
    }
    impl From<User> for Slim {
        fn from(u: User) -> Slim {
            Slim {
                id: u.id,
                email: u.email,
            }
        }
    }
    assert_eq!(db.collection::<Slim>()?.len()?, 2100);
    let mut dropped = db.drop_retired_indexes::<Slim>()?;
    dropped.sort();
    assert_eq!(dropped, ["city", "city_age", "domain", "nickname", "tags"]);
    assert!(db.drop_retired_indexes::<Slim>()?.is_empty());
    Ok(())
}
