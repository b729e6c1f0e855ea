//! `Model` and `#[derive(Model)]`: the DESIGN §3 `User` example (with an
//! `Order` and a `v1::User` → `User` migration), what the derive generates for
//! every attribute, and the derive's compile-fail diagnostics (`tests/ui_model`,
//! one case per diagnostic).

use serde::{Deserialize, Serialize};
use skiff::codec::{self, DecodeErrorKind};
use skiff::{Index, Key, Model, NonUnique, Unique};

/// The previous version of `User`: no indexes, no tags, no age.
mod v1 {
    use serde::{Deserialize, Serialize};
    use skiff::Model;

    #[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[model(name = "users")]
    pub struct User {
        #[model(key, auto)]
        pub id: u64,
        pub email: String,
        pub city: String,
    }
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "users", version = 2, from = v1::User)] // name defaults to the struct's
#[model(index(name = "city_age", fields(city, age)))] // composite secondary index
#[model(index(name = "domain", with = User::domain, ty = String))] // computed
struct User {
    #[model(key, auto)]
    id: u64, // auto: `push` assigns the next id
    #[model(unique)]
    email: String, // unique secondary index
    #[model(index)]
    city: String, // non-unique secondary index
    #[model(index)]
    nickname: Option<String>, // None is not indexed; key type String
    #[model(index(multi))]
    tags: Vec<String>, // one index entry per element
    age: u32,
}

impl User {
    fn domain(&self) -> String {
        self.email.rsplit('@').next().unwrap_or_default().to_string()
    }
}

impl From<v1::User> for User {
    fn from(old: v1::User) -> Self {
        User {
            id: old.id,
            email: old.email,
            city: old.city,
            nickname: None,
            tags: Vec::new(),
            age: 0,
        }
    }
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(change_log = 100_000)]
#[model(index(name = "by_total", fields(total, placed), unique))]
struct Order {
    #[model(key)]
    user: u64,
    #[model(key)]
    no: u32,
    total: i64,
    placed: (u16, u8, u8),
    #[model(unique(multi))]
    coupons: Vec<String>,
}

fn alice() -> User {
    User {
        id: 7,
        email: "alice@example.com".into(),
        city: "Paris".into(),
        nickname: None,
        tags: vec!["rust".into(), "db".into(), "rust".into()],
        age: 30,
    }
}

fn order() -> Order {
    Order {
        user: 7,
        no: 2,
        total: -150,
        placed: (2024, 5, 1),
        coupons: vec!["B".into(), "A".into()],
    }
}

fn key_of<K: Key>(key: K) -> Vec<u8> {
    key.to_key_bytes()
}

#[test]
fn model_constants() {
    assert_eq!(User::NAME, "users");
    assert_eq!(User::VERSION, 2);
    assert_eq!(User::KEY_TYPE, "u64");
    const { assert!(User::AUTO_KEY) };
    assert_eq!(User::CHANGE_LOG, None);

    assert_eq!(Order::NAME, "Order");
    assert_eq!(Order::VERSION, 1);
    assert_eq!(Order::KEY_TYPE, "(u64,u32)");
    const { assert!(!Order::AUTO_KEY) };
    assert_eq!(Order::CHANGE_LOG, Some(100_000));

    assert_eq!(<v1::User as Model>::VERSION, 1);
}

#[test]
fn primary_keys() {
    let mut user = alice();
    assert_eq!(user.key(), 7);
    assert_eq!(user.key_bytes(), 7u64.to_key_bytes());
    user.set_key(9);
    assert_eq!(user.id, 9);

    let mut order = order();
    let key: (u64, u32) = order.key();
    assert_eq!(key, (7, 2));
    assert_eq!(order.key_bytes(), (7u64, 2u32).to_key_bytes());
    order.set_key((1, 5));
    assert_eq!((order.user, order.no), (1, 5));
}

#[test]
fn auto_keys() {
    assert_eq!(User::next_auto_key(None), Some(1));
    assert_eq!(User::next_auto_key(Some(&41)), Some(42));
    assert_eq!(User::next_auto_key(Some(&u64::MAX)), None);
    assert_eq!(Order::next_auto_key(Some(&(1, 1))), None);
}

#[test]
fn index_definitions() {
    let described: Vec<_> = User::indexes()
        .iter()
        .map(|index| (index.name(), index.is_unique(), index.definition()))
        .collect();
    assert_eq!(
        described,
        [
            ("email", true, "unique field(email):String"),
            ("city", false, "field(city):String"),
            ("nickname", false, "optional(nickname):String"),
            ("tags", false, "multi(tags):String"),
            ("city_age", false, "fields(city,age):(String,u32)"),
            ("domain", false, "with(User::domain):String"),
        ]
    );
    let described: Vec<_> = Order::indexes()
        .iter()
        .map(|index| (index.name(), index.is_unique(), index.definition()))
        .collect();
    assert_eq!(
        described,
        [
            ("coupons", true, "unique multi(coupons):String"),
            ("by_total", true, "unique fields(total,placed):(i64,(u16,u8,u8))"),
        ]
    );
    assert!(v1::User::indexes().is_empty());
}

#[test]
fn index_keys_for_every_kind() {
    let mut user = alice();
    let keys = |user: &User, index: &str| {
        let def = User::indexes().iter().find(|def| def.name() == index).unwrap();
        def.keys(user)
    };
    assert_eq!(keys(&user, "email"), [key_of(user.email.clone())]);
    assert_eq!(keys(&user, "city"), [key_of("Paris".to_string())]);
    assert!(keys(&user, "nickname").is_empty(), "None is not indexed");
    assert_eq!(
        keys(&user, "tags"),
        [key_of("db".to_string()), key_of("rust".to_string())],
        "one entry per distinct element, in key order"
    );
    assert_eq!(
        keys(&user, "city_age"),
        [("Paris".to_string(), 30u32).to_key_bytes()]
    );
    assert_eq!(keys(&user, "domain"), [key_of("example.com".to_string())]);

    user.nickname = Some("al".into());
    user.tags.clear();
    assert_eq!(keys(&user, "nickname"), [key_of("al".to_string())]);
    assert!(keys(&user, "tags").is_empty());

    let order = order();
    let [coupons, by_total] = Order::indexes() else {
        panic!("two indexes")
    };
    assert_eq!(
        coupons.keys(&order),
        [key_of("A".to_string()), key_of("B".to_string())]
    );
    assert_eq!(
        by_total.keys(&order),
        [(-150i64, (2024u16, 5u8, 1u8)).to_key_bytes()]
    );

    let mut streamed = Vec::new();
    by_total.for_each_key(&order, &mut |key| streamed.push(key.to_vec()));
    assert_eq!(streamed, by_total.keys(&order));
}

fn takes_unique<M, K>(_: Index<M, K, Unique>) {}
fn takes_non_unique<M, K>(_: Index<M, K, NonUnique>) {}

#[test]
fn typed_index_constants() {
    takes_unique::<User, String>(User::EMAIL);
    takes_non_unique::<User, String>(User::CITY);
    takes_non_unique::<User, String>(User::NICKNAME);
    takes_non_unique::<User, String>(User::TAGS);
    takes_non_unique::<User, (String, u32)>(User::CITY_AGE);
    takes_non_unique::<User, String>(User::DOMAIN);
    takes_unique::<Order, String>(Order::COUPONS);
    takes_unique::<Order, (i64, (u16, u8, u8))>(Order::BY_TOTAL);

    const EMAIL: Index<User, String, Unique> = User::EMAIL;
    const { assert!(EMAIL.position() == 0) };
    for (position, def) in User::indexes().iter().enumerate() {
        let constant = match def.name() {
            "email" => User::EMAIL.position(),
            "city" => User::CITY.position(),
            "nickname" => User::NICKNAME.position(),
            "tags" => User::TAGS.position(),
            "city_age" => User::CITY_AGE.position(),
            "domain" => User::DOMAIN.position(),
            other => panic!("unexpected index {other}"),
        };
        assert_eq!(constant, position, "{}", def.name());
    }
    assert_eq!(User::CITY_AGE.name(), "city_age");
    assert_eq!(User::CITY_AGE.def().definition(), "fields(city,age):(String,u32)");
    assert_eq!(
        format!("{:?}", User::EMAIL),
        r#"Index { name: "email", position: 0, unique: true }"#
    );
}

#[test]
#[should_panic(expected = "has no unique index `city` at position 1")]
fn a_hand_made_index_handle_that_lies_is_caught() {
    let wrong: Index<User, String, Unique> = Index::new("city", 1);
    wrong.def();
}

#[test]
fn upgrade_across_versions() {
    let old = v1::User {
        id: 3,
        email: "bob@example.org".into(),
        city: "Lyon".into(),
    };
    let old_bytes = codec::encode(&old).unwrap();
    let upgraded = User::upgrade_from(1, &old_bytes).unwrap();
    assert_eq!(upgraded, User::from(old.clone()));

    let current = alice();
    let bytes = codec::encode(&current).unwrap();
    assert_eq!(User::upgrade_from(2, &bytes).unwrap(), current);

    let err = User::upgrade_from(3, &bytes).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::NewerVersion {
            version: 3,
            current: 2
        }
    );
    let err = User::upgrade_from(0, &old_bytes).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnknownVersion {
            version: 0,
            model_version: 1,
            previous: None,
        }
    );
    assert!(err.type_name().ends_with("v1::User"), "{}", err.type_name());

    // A model without `from` reads only its own version.
    assert_eq!(v1::User::upgrade_from(1, &old_bytes).unwrap(), old);
    let err = Order::upgrade_from(0, &codec::encode(&order()).unwrap()).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnknownVersion {
            version: 0,
            model_version: 1,
            previous: None,
        }
    );

    // Bytes of the wrong version are a decode error, not a panic.
    assert!(matches!(
        User::upgrade_from(2, &old_bytes).unwrap_err().kind(),
        DecodeErrorKind::Invalid(_) | DecodeErrorKind::TrailingBytes { .. }
    ));
}

/// Three versions, each stored differently, upgraded step by step.
mod chain {
    use serde::{Deserialize, Serialize};
    use skiff::Model;

    #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
    #[model(name = "notes")]
    pub struct NoteV1 {
        #[model(key)]
        pub id: u32,
        pub text: String,
    }

    #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
    #[model(name = "notes", version = 2, from = NoteV1)]
    pub struct NoteV2 {
        #[model(key)]
        pub id: u32,
        pub lines: Vec<String>,
    }

    #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
    #[model(name = "notes", version = 5, from = self::NoteV2)]
    pub struct Note {
        #[model(key)]
        pub id: u32,
        pub lines: Vec<String>,
        pub pinned: bool,
    }

    impl From<NoteV1> for NoteV2 {
        fn from(old: NoteV1) -> Self {
            NoteV2 {
                id: old.id,
                lines: old.text.lines().map(str::to_string).collect(),
            }
        }
    }

    impl From<NoteV2> for Note {
        fn from(old: NoteV2) -> Self {
            Note {
                id: old.id,
                lines: old.lines,
                pinned: false,
            }
        }
    }
}

#[test]
fn upgrade_along_a_chain() {
    use chain::{Note, NoteV1, NoteV2};

    let v1 = codec::encode(&NoteV1 {
        id: 1,
        text: "a\nb".into(),
    })
    .unwrap();
    let expected = Note {
        id: 1,
        lines: vec!["a".into(), "b".into()],
        pinned: false,
    };
    assert_eq!(Note::upgrade_from(1, &v1).unwrap(), expected);
    let v2 = codec::encode(&NoteV2 {
        id: 1,
        lines: vec!["a".into(), "b".into()],
    })
    .unwrap();
    assert_eq!(Note::upgrade_from(2, &v2).unwrap(), expected);
    // A version no model of the chain has.
    let err = Note::upgrade_from(4, &v2).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnknownVersion {
            version: 4,
            model_version: 5,
            previous: Some(2),
        }
    );
    assert!(
        err.to_string()
            .ends_with("version 4, but no model has it: `from` goes from version 5 to 2"),
        "{err}"
    );
    let err = Note::upgrade_from(0, &v2).unwrap_err();
    assert!(err.type_name().ends_with("NoteV1"), "{}", err.type_name());
    assert!(
        err.to_string()
            .ends_with("version 0, older than version 1, and no older model is named by `from`"),
        "{err}"
    );
    let v5 = codec::encode(&expected).unwrap();
    assert_eq!(Note::upgrade_from(5, &v5).unwrap(), expected);
}

/// Attribute spellings a user may reach for.
mod spellings {
    use serde::{Deserialize, Serialize};
    use skiff::{Index, Model, NonUnique, Unique};

    #[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[model(index(name = "byKind", fields(r#type), unique), change_log = 10)]
    #[model(index(name = "shout", with = Self::shout, ty = std::string::String))]
    pub(crate) struct Item {
        #[model(key)]
        #[serde(rename = "ident")]
        pub(crate) id: (u8, i16),
        #[model(index)]
        pub(crate) r#type: ::std::string::String,
        #[serde(skip, default)]
        pub(crate) cache: Vec<u8>,
        #[serde(default)]
        #[model(unique)]
        pub(crate) serial: Option<u128>,
    }

    impl Item {
        fn shout(&self) -> String {
            self.r#type.to_uppercase()
        }
    }

    pub(crate) const BY_KIND: Index<Item, (String,), Unique> = Item::BY_KIND;
    pub(crate) const TYPE: Index<Item, String, NonUnique> = Item::TYPE;
    pub(crate) const SERIAL: Index<Item, u128, Unique> = Item::SERIAL;
}

#[test]
fn other_spellings() {
    use spellings::Item;

    let item = Item {
        id: (1, -2),
        r#type: "tool".into(),
        cache: vec![1],
        serial: Some(5),
    };
    assert_eq!(Item::NAME, "Item");
    assert_eq!(Item::KEY_TYPE, "(u8,i16)");
    assert_eq!(Item::CHANGE_LOG, Some(10));
    let described: Vec<_> = Item::indexes()
        .iter()
        .map(|i| (i.name(), i.definition()))
        .collect();
    assert_eq!(
        described,
        [
            ("type", "field(type):String"),
            ("serial", "unique optional(serial):u128"),
            ("byKind", "unique fields(type):(String,)"),
            ("shout", "with(Item::shout):String"),
        ]
    );
    assert_eq!(spellings::BY_KIND.position(), 2);
    assert_eq!(spellings::TYPE.name(), "type");
    assert_eq!(spellings::SERIAL.def().keys(&item), [5u128.to_key_bytes()]);
    assert_eq!(Item::SHOUT.def().keys(&item), [key_of("TOOL".to_string())]);
    assert_eq!(
        Item::BY_KIND.def().keys(&item),
        [("tool".to_string(),).to_key_bytes()]
    );

    let bytes = codec::encode(&item).unwrap();
    let back = Item::upgrade_from(1, &bytes).unwrap();
    assert_eq!(
        back,
        Item {
            cache: Vec::new(),
            ..item
        }
    );
}

/// A model written by hand: the trait's defaults make a minimal one short.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Setting {
    name: String,
    value: String,
}

impl Model for Setting {
    type Key = String;
    const NAME: &'static str = "settings";
    const KEY_TYPE: &'static str = "String";

    fn key(&self) -> String {
        self.name.clone()
    }

    fn set_key(&mut self, key: String) {
        self.name = key;
    }
}

#[test]
fn hand_written_model_uses_the_defaults() {
    let setting = Setting {
        name: "theme".into(),
        value: "dark".into(),
    };
    assert_eq!(Setting::VERSION, 1);
    const { assert!(!Setting::AUTO_KEY) };
    assert_eq!(Setting::CHANGE_LOG, None);
    assert!(Setting::indexes().is_empty());
    assert_eq!(Setting::next_auto_key(None), None);
    assert_eq!(setting.key_bytes(), "theme".to_string().to_key_bytes());
    let bytes = codec::encode(&setting).unwrap();
    assert_eq!(Setting::upgrade_from(1, &bytes).unwrap(), setting);
}

#[test]
fn handles_are_plain_values() {
    fn send_sync_copy<T: Send + Sync + Copy + 'static>(_: T) {}
    send_sync_copy(User::EMAIL);
    send_sync_copy(User::indexes()[0]);
    // Markers for kinds are types only.
    fn kind<K: skiff::IndexKind>() -> bool {
        K::UNIQUE
    }
    assert!(kind::<Unique>() && !kind::<NonUnique>());
}

/// Every diagnostic of `#[derive(Model)]`, one file each, plus all at once.
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui_model/*.rs");
}
