//! Skiff: a typed embedded database built on `skiff-engine`.
//!
//! A [`Db`] holds typed [`Collection`]s of [`Model`]s, whose secondary indexes
//! every write keeps in step, with serializable transactions
//! ([`Db::transaction`]), snapshots ([`Db::read`]), change streams
//! ([`Subscription`]) and migrations ([`Db::migrate`]). They rest on the
//! order-preserving [`Key`] encoding with `#[derive(Key)]`, the [`Model`] trait
//! with `#[derive(Model)]` (keys, secondary-index definitions, typed index
//! handles such as `User::EMAIL`, versions and `from` chains), and the value
//! [`codec`]. The storage engine underneath is re-exported as [`engine`].
//!
//! ```
//! use skiff::Key;
//! let a = (String::from("Paris"), 7u32).to_key_bytes();
//! let b = (String::from("Paris"), 12u32).to_key_bytes();
//! assert!(a < b); // byte order is the tuple's order
//! ```
#![forbid(unsafe_code)]

// Lets `#[derive(Key)]` output (which names `::skiff::__private`) compile inside
// this crate's own tests and modules too.
#[allow(unused_extern_crates)]
extern crate self as skiff;

pub use skiff_engine as engine;

mod access;
mod catalog;
pub mod codec;
mod collection;
mod db;
mod error;
pub mod key;
mod maintenance;
pub mod model;
mod query;
mod records;
pub mod store;
mod watch;

pub use access::{Access, Auto, InSnapshot, InTxn, WriteAccess};
pub use collection::Collection;
pub use db::{Db, Progress, ReadTx, Tx};
pub use error::{Error, Result};
pub use key::{Desc, Key, KeyDecodeError, KeyDecodeErrorKind, KeyPrefix, KeyRef, KEY_ENCODING_VERSION};
pub use model::{AutoKey, Index, IndexDef, IndexKind, Model, NonUnique, Unique};
pub use query::{Cursor, IndexIter, IndexView, Records};
pub use watch::{Change, ChangeBatch, NextBatch, Subscription, SUBSCRIPTION_CAPACITY};

/// Derives [`Key`](trait@Key) for a newtype, a struct or an enum.
///
/// - Structs (named, tuple, newtype or unit) encode their fields in declaration
///   order, each with its own `Key` encoding.
/// - Enums encode the variant's index in declaration order (an
///   order-preserving varint: one byte below 248 variants) and then the
///   variant's fields. Explicit discriminants are accepted only as integer
///   literals increasing in declaration order, because derived `Ord` orders
///   variants by discriminant.
/// - Type parameters get a `Key` bound. Unions are rejected.
///
/// Derive `PartialEq, Eq, PartialOrd, Ord` along with it: the key order is then
/// the `Ord` order. Every field's type must implement `Key`; the compiler points
/// at the field that does not.
///
/// ```
/// use skiff::{Desc, Key};
///
/// #[derive(Key, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// struct UserId(u64);
///
/// #[derive(Key, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// struct Event {
///     day: u32,
///     priority: Desc<u8>,
///     user: UserId,
/// }
///
/// #[derive(Key, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// enum Shape {
///     Empty,
///     Circle(u32),
///     Rect { w: u32, h: u32 },
/// }
///
/// let a = Event { day: 7, priority: Desc(9), user: UserId(1) };
/// let b = Event { day: 7, priority: Desc(3), user: UserId(0) };
/// assert!(a < b && a.to_key_bytes() < b.to_key_bytes());
/// assert_eq!(Event::from_key_bytes(&a.to_key_bytes())?, a);
///
/// assert_eq!(Shape::Empty.to_key_bytes(), [0]);
/// assert_eq!(Shape::Rect { w: 1, h: 2 }.to_key_bytes(), [2, 0, 0, 0, 1, 0, 0, 0, 2]);
/// assert!(Shape::Circle(u32::MAX).to_key_bytes() < Shape::Rect { w: 0, h: 0 }.to_key_bytes());
/// # Ok::<(), skiff::KeyDecodeError>(())
/// ```
pub use skiff_derive::Key;

/// Derives [`Model`](trait@Model) for a struct with named fields, and one
/// typed [`Index`] constant per secondary index.
///
/// Derive `Serialize` and `Deserialize` along with it: records are stored with
/// the [`codec`]. All options live in `#[model(…)]` attributes, which may be
/// split over several attributes.
///
/// **On the struct**
///
/// | attribute | meaning |
/// |-----------|---------|
/// | `name = "users"` | the collection's name ([`Model::NAME`]); default: the struct's name as written |
/// | `version = 2` | the model version ([`Model::VERSION`]), at least 1; default 1 |
/// | `from = v1::User` | the previous version's model; needs `version` ≥ 2 and `impl From<v1::User> for User` (see below) |
/// | `change_log = 100_000` | keep a persisted change log of that many entries ([`Model::CHANGE_LOG`]) |
/// | `index(name = "city_age", fields(city, age))` | composite index; key type: the tuple of the fields' types, always a tuple (`(T,)` for one field) |
/// | `index(name = "domain", with = User::domain, ty = String)` | computed index: `with` names a `fn(&User) -> String` (`Self::domain` works too) and `ty` its return type |
/// | `unique` inside either `index(…)` | make it a unique index |
///
/// **On a field**
///
/// | attribute | meaning |
/// |-----------|---------|
/// | `key` | the primary key; with several `key` fields the key is the tuple of them in declaration order (at most 8). Key fields must be `Clone` ([`Model::key`] clones them) |
/// | `key, auto` | `push` assigns the key: the greatest key plus one, starting at 1. Only for a single key field of an integer type ([`AutoKey`]) |
/// | `index` | non-unique index on the field; key type: the field's type, or `T` for an `Option<T>` field, whose `None` is not indexed |
/// | `unique` | unique index on the field, same key type rules (several `None`s do not collide) |
/// | `index(multi)`, `unique(multi)` | on a `Vec<T>` field: one entry per distinct element, key type `T` |
///
/// Field indexes are named after their field (without `r#`); the constant is
/// the index name in upper snake case (`city_age` and `cityAge` give
/// `CITY_AGE`), typed `Index<Model, KeyType, Unique | NonUnique>`, with the
/// struct's visibility. [`Model::indexes`] lists field indexes in field order,
/// then the struct-level ones in attribute order; each definition's text
/// (`"unique field(email):String"`, `"fields(city,age):(String,u32)"`,
/// `"with(User::domain):String"`) is what the catalog compares.
///
/// **Versions.** A record stores the version that wrote it. With
/// `#[model(version = 2, from = v1::User)]`, [`Model::upgrade_from`] decodes a
/// version-2 record as `User` and anything older as `v1::User` (itself a
/// `Model`, usually a copy of the old struct with its `#[model(key)]`, whose
/// own `from` may go further back), then converts with `From`. The `from`
/// model's `VERSION` must be lower (checked at compile time). A version older
/// than the chain reaches, or any version without `from`, is an error, never a
/// guess.
///
/// **Rejected at compile time**, each at the offending item and all at once:
/// a missing `key`; `auto` without `key`, with several key fields or on a
/// non-integer; unknown or duplicate attributes; `unique` together with
/// `index`; `multi` on a non-`Vec`; `fields(…)` naming a missing field; `with`
/// without `ty`; index names that are not identifiers or that clash; an index or
/// key whose type is not a [`Key`](trait@Key); generic structs, tuple and unit
/// structs, enums and unions; and the serde attributes the codec cannot
/// round-trip: `flatten`, `skip_serializing_if`, one-way `skip_serializing` or
/// `skip_deserializing`, `tag`/`untagged` on the struct, and `skip` on a key
/// or indexed field. Other serde attributes (`rename`, `default`, `skip`, …)
/// are fine.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::{Index, Key, Model, NonUnique, Unique};
///
/// mod v1 {
///     #[derive(skiff::Model, serde::Serialize, serde::Deserialize)]
///     #[model(name = "users")]
///     pub struct User {
///         #[model(key, auto)]
///         pub id: u64,
///         pub email: String,
///     }
/// }
///
/// #[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// #[model(name = "users", version = 2, from = v1::User)]
/// #[model(index(name = "city_age", fields(city, age)))]
/// #[model(index(name = "domain", with = User::domain, ty = String))]
/// struct User {
///     #[model(key, auto)]
///     id: u64,
///     #[model(unique)]
///     email: String,
///     #[model(index)]
///     city: String,
///     #[model(index)]
///     nickname: Option<String>,
///     #[model(index(multi))]
///     tags: Vec<String>,
///     age: u32,
/// }
///
/// impl User {
///     fn domain(&self) -> String {
///         self.email.rsplit('@').next().unwrap_or_default().to_string()
///     }
/// }
///
/// impl From<v1::User> for User {
///     fn from(old: v1::User) -> Self {
///         let (city, nickname, tags, age) = (String::new(), None, Vec::new(), 0);
///         User { id: old.id, email: old.email, city, nickname, tags, age }
///     }
/// }
///
/// let _: Index<User, String, Unique> = User::EMAIL;
/// let _: Index<User, (String, u32), NonUnique> = User::CITY_AGE;
/// let _: Index<User, String, NonUnique> = User::NICKNAME; // Option<String> field
/// let alice = User {
///     id: 1,
///     email: "alice@example.com".into(),
///     city: "Paris".into(),
///     nickname: None,
///     tags: vec!["rust".into()],
///     age: 30,
/// };
/// assert_eq!(User::CITY_AGE.def().keys(&alice), [("Paris".to_string(), 30u32).to_key_bytes()]);
/// assert!(User::NICKNAME.def().keys(&alice).is_empty());
///
/// let old = skiff::codec::encode(&v1::User { id: 2, email: "b@x".into() })?;
/// assert_eq!(User::upgrade_from(1, &old)?.email, "b@x");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub use skiff_derive::Model;

/// What derive output names. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::DecodeError;
    pub use crate::key::variant::{decode_uninhabited, decode_variant, encode_variant};
    pub use crate::key::{Key, KeyDecodeError};
    pub use crate::model::{
        assert_older, clone_key, emit_composite, emit_each, emit_key, emit_optional, encode_component,
        encode_model_key, next_auto_key, upgrade_via, AutoKey, Index, IndexDef, Model, NonUnique, Unique,
    };
    pub use core::ops::FnMut;
    pub use core::option::Option::{self, None, Some};
    pub use core::primitive::{bool, str, u32, u64, u8};
    pub use core::result::Result::{self, Err, Ok};
    pub use std::vec::Vec;
}
