//! The [`Model`] trait: what the typed layer knows about a record type without
//! knowing the type — its collection name and version, its primary key, its
//! secondary indexes and how to read records written by older versions.
//!
//! `#[derive(Model)]` implements it (see the derive's documentation for the
//! attributes). Invariants a runtime may rely on, and a hand-written
//! implementation must keep:
//!
//! - [`Model::key_bytes`] is `self.key().to_key_bytes()`, and after
//!   `set_key(k)`, `key()` returns `k`.
//! - [`Model::indexes`] returns the same slice every time, index names are
//!   unique, and each [`IndexDef`] emits already-encoded keys, each once.
//! - [`Model::upgrade_from`] with [`Model::VERSION`] decodes exactly what
//!   [`codec::encode`](crate::codec::encode) wrote for a value of the type.
//! - [`Model::next_auto_key`] returns `None` when [`Model::AUTO_KEY`] is
//!   `false`, and otherwise a key greater than `last`.

mod index;
mod support;

#[doc(hidden)]
pub use support::{
    assert_older, clone_key, decode_current, emit_composite, emit_each, emit_key, emit_optional,
    encode_component, encode_model_key, next_auto_key, upgrade_via,
};

pub use index::{ExtractFn, Index, IndexDef, IndexKind, NonUnique, Unique};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::DecodeError;
use crate::key::Key;

/// A record type stored in a collection: implement it with
/// `#[derive(Model, Serialize, Deserialize)]`.
///
/// The derive documents the attributes; this trait is what a runtime uses.
/// Values are stored with the [`codec`](crate::codec), keys and index keys in
/// the [`Key`] encoding.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::{Key, Model};
///
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// #[model(name = "users")]
/// struct User {
///     #[model(key, auto)]
///     id: u64,
///     #[model(index)]
///     city: String,
/// }
///
/// /// What a runtime can do knowing only `M: Model`.
/// fn describe<M: Model>(record: &M) -> String {
///     let indexes: Vec<_> = M::indexes().iter().map(|index| index.definition()).collect();
///     format!("{} v{} key {:?} indexes {indexes:?}", M::NAME, M::VERSION, record.key_bytes())
/// }
///
/// let mut user = User { id: 0, city: "Paris".into() };
/// user.set_key(User::next_auto_key(Some(&6)).unwrap());
/// assert_eq!(user.key(), 7);
/// assert_eq!(describe(&user), r#"users v1 key [0, 0, 0, 0, 0, 0, 0, 7] indexes ["field(city):String"]"#);
///
/// let bytes = skiff::codec::encode(&user)?;
/// assert_eq!(User::upgrade_from(User::VERSION, &bytes)?, user);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Skiff model",
    label = "not a `Model`",
    note = "derive it: `#[derive(Model, Serialize, Deserialize)]` with a `#[model(key)]` field"
)]
pub trait Model: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The primary key: the `#[model(key)]` field's type, or the tuple of the
    /// key fields' types in declaration order.
    type Key: Key;

    /// The collection's name (`#[model(name = "…")]`, by default the struct's
    /// name as written).
    const NAME: &'static str;

    /// The model version this program writes (`#[model(version = N)]`, by
    /// default 1). Each stored record carries the version that wrote it.
    const VERSION: u32 = 1;

    /// The key type as the derive spells it (`"u64"`, `"(String,u32)"`), with
    /// module paths dropped, for the catalog's schema check.
    const KEY_TYPE: &'static str;

    /// Whether `push` assigns keys (`#[model(key, auto)]`); see
    /// [`next_auto_key`](Self::next_auto_key).
    const AUTO_KEY: bool = false;

    /// The number of changes kept in the collection's persisted change log
    /// (`#[model(change_log = N)]`), or `None` for no persisted log.
    const CHANGE_LOG: Option<u64> = None;

    /// The record's primary key (a clone of the key fields).
    fn key(&self) -> Self::Key;

    /// The encoding of the record's primary key, built from the fields without
    /// cloning them; equal to `self.key().to_key_bytes()`.
    fn key_bytes(&self) -> Vec<u8> {
        self.key().to_key_bytes()
    }

    /// Replaces the record's primary key: `push` calls it with the key it
    /// assigned. Allowed for every model.
    fn set_key(&mut self, key: Self::Key);

    /// For an auto-key model, the key to assign after `last`, the greatest key
    /// in use (`None` if the collection is empty): integer keys start at 1 and
    /// count up; `None` when `last` is the type's maximum. Always `None` for
    /// other models.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # use skiff::Model;
    /// #[derive(Model, Serialize, Deserialize)]
    /// struct Ticket {
    ///     #[model(key, auto)]
    ///     no: u8,
    /// }
    /// assert_eq!(Ticket::next_auto_key(None), Some(1));
    /// assert_eq!(Ticket::next_auto_key(Some(&9)), Some(10));
    /// assert_eq!(Ticket::next_auto_key(Some(&255)), None);
    /// ```
    fn next_auto_key(last: Option<&Self::Key>) -> Option<Self::Key> {
        let _ = last;
        None
    }

    /// Every secondary index: field indexes in field order, then the
    /// struct-level `index(…)`s in attribute order. The typed constants
    /// (`User::EMAIL`) hold their position here.
    fn indexes() -> &'static [IndexDef<Self>] {
        &[]
    }

    /// Decodes a record stored by model version `version`.
    ///
    /// At [`VERSION`](Self::VERSION) the bytes are decoded as `Self`. A model
    /// with `#[model(version = N, from = Previous)]` reads an older version
    /// with `Previous::upgrade_from` and converts the result with
    /// `From<Previous>`, so versions upgrade step by step along the chain.
    /// An older version that no model of the chain has (no `from`, past the
    /// chain's end, or a skipped version) is a
    /// [`DecodeErrorKind::UnknownVersion`](crate::codec::DecodeErrorKind::UnknownVersion)
    /// error, never a guess; a newer one is always
    /// [`DecodeErrorKind::NewerVersion`](crate::codec::DecodeErrorKind::NewerVersion).
    fn upgrade_from(version: u32, bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_current::<Self>(version, bytes)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Key types `push` can assign: the primitive integers.
///
/// `#[model(key, auto)]` requires its field's type to implement it.
///
/// ```
/// use skiff::AutoKey;
///
/// fn ids_after<K: AutoKey>(last: K, n: usize) -> Vec<K> {
///     std::iter::successors(last.checked_next(), K::checked_next).take(n).collect()
/// }
/// assert_eq!(ids_after(7u32, 3), [8, 9, 10]);
/// assert_eq!(ids_after(i8::MAX - 1, 3), [i8::MAX]); // stops at the maximum
/// ```
///
/// Any other key type is rejected at compile time:
///
/// ```compile_fail,E0277
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct Tag { #[model(key, auto)] name: String }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an auto-assigned key",
    label = "`#[model(key, auto)]` needs an integer type here",
    note = "auto keys are `u8`…`u128`, `usize`, `i8`…`i128` or `isize`: `push` assigns the \
            greatest key plus one"
)]
pub trait AutoKey: Key + Copy + sealed::Sealed {
    /// The key of the first record pushed into an empty collection: 1.
    ///
    /// ```
    /// use skiff::AutoKey;
    ///
    /// assert_eq!((u8::FIRST, i64::FIRST), (1, 1));
    /// ```
    const FIRST: Self;

    /// The next key, or `None` at the type's maximum.
    ///
    /// ```
    /// use skiff::AutoKey;
    ///
    /// assert_eq!(41u64.checked_next(), Some(42));
    /// assert_eq!(u16::MAX.checked_next(), None);
    /// ```
    fn checked_next(&self) -> Option<Self>;
}

macro_rules! auto_key {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}

        impl AutoKey for $t {
            const FIRST: Self = 1;

            fn checked_next(&self) -> Option<Self> {
                self.checked_add(1)
            }
        }
    )*};
}

auto_key!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);
