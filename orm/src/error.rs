//! `skiff::Error`, the typed layer's one error type.

use std::fmt;

use crate::codec::{DecodeError, EncodeError};
use crate::key::KeyDecodeError;

/// The result type of the typed layer.
///
/// The error type is a parameter (default [`Error`]) so application code can
/// use the alias with its own error:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u32, name: String }
///
/// fn name(db: &skiff::Db, id: u32) -> skiff::Result<Option<String>> {
///     Ok(db.collection::<User>()?.get(&id)?.map(|u| u.name))
/// }
/// fn greeting(db: &skiff::Db, id: u32) -> skiff::Result<String, Box<dyn std::error::Error>> {
///     Ok(format!("hello {}", name(db, id)?.ok_or("no such user")?))
/// }
///
/// let db = skiff::Db::temporary()?;
/// db.collection::<User>()?.insert(&User { id: 1, name: "Ada".into() })?;
/// assert_eq!(greeting(&db, 1)?, "hello Ada");
/// assert_eq!(greeting(&db, 2).unwrap_err().to_string(), "no such user");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the typed layer. Messages name the
/// collection, index and key involved.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # use skiff::Model;
/// #[derive(Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u32, #[model(unique)] email: String }
///
/// let db = skiff::Db::temporary()?;
/// let users = db.collection::<User>()?;
/// users.insert(&User { id: 1, email: "a@x".into() })?;
/// match users.insert(&User { id: 2, email: "a@x".into() }) {
///     Err(skiff::Error::UniqueViolation { collection, index, .. }) => {
///         assert_eq!((collection.as_str(), index.as_str()), ("User", "email"));
///     }
///     other => panic!("expected a unique violation, got {other:?}"),
/// }
/// assert!(users.get(&2)?.is_none(), "the failed insert left nothing behind");
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `insert` found a record with the same primary key.
    DuplicateKey {
        /// The collection.
        collection: String,
        /// The encoded primary key.
        key: Vec<u8>,
    },
    /// A write would give two records the same value of a unique index; the
    /// whole operation (or transaction) was undone.
    UniqueViolation {
        /// The collection.
        collection: String,
        /// The unique index.
        index: String,
        /// The encoded index key both records would have.
        key: Vec<u8>,
    },
    /// `update` found no record with that key.
    NotFound {
        /// The collection.
        collection: String,
        /// The encoded primary key.
        key: Vec<u8>,
    },
    /// The stored schema of a collection disagrees with the model: a changed
    /// key type, a changed index definition under the same name, or data
    /// written by a newer model version.
    SchemaMismatch {
        /// The collection.
        collection: String,
        /// What differs.
        what: String,
    },
    /// `push` ran out of keys: the greatest key is the key type's maximum.
    KeysExhausted {
        /// The collection.
        collection: String,
    },
    /// `push` on a model without `#[model(key, auto)]`.
    NoAutoKey {
        /// The collection.
        collection: String,
    },
    /// A transaction kept conflicting with concurrent ones and gave up.
    Conflict {
        /// How many times it ran.
        attempts: u32,
    },
    /// A subscription fell more than its buffer behind and its stream ended:
    /// at least `missed` batches were dropped (from the moment it lagged it
    /// is no longer followed). Resubscribe (and reread what you need).
    Lagged {
        /// Batches dropped (at least).
        missed: u64,
    },
    /// A stored record could not be decoded into the model.
    Decode {
        /// The collection.
        collection: String,
        /// The encoded primary key of the record.
        key: Vec<u8>,
        /// Why.
        source: DecodeError,
    },
    /// A stored key could not be decoded into the key type.
    KeyDecode {
        /// The collection.
        collection: String,
        /// Why.
        source: KeyDecodeError,
    },
    /// A record could not be encoded.
    Encode(EncodeError),
    /// The storage engine failed.
    Storage(skiff_engine::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DuplicateKey { collection, key } => {
                write!(f, "collection {collection:?} already has a record with key {key:?}")
            }
            Error::UniqueViolation { collection, index, key } => write!(
                f,
                "unique index {index:?} of collection {collection:?} already has key {key:?}; nothing was written"
            ),
            Error::NotFound { collection, key } => {
                write!(f, "collection {collection:?} has no record with key {key:?}")
            }
            Error::SchemaMismatch { collection, what } => {
                write!(f, "collection {collection:?} does not match its stored schema: {what}")
            }
            Error::KeysExhausted { collection } => {
                write!(f, "collection {collection:?} has no key left to assign")
            }
            Error::NoAutoKey { collection } => write!(
                f,
                "push on collection {collection:?}, whose key is not `#[model(key, auto)]`; use insert"
            ),
            Error::Conflict { attempts } => write!(
                f,
                "transaction gave up after {attempts} attempts, each invalidated by a concurrent commit"
            ),
            Error::Lagged { missed } => write!(
                f,
                "subscription fell behind and missed {missed} change batches; resubscribe"
            ),
            Error::Decode { collection, key, source } => {
                write!(f, "record {key:?} of collection {collection:?}: {source}")
            }
            Error::KeyDecode { collection, source } => write!(f, "a key of collection {collection:?}: {source}"),
            Error::Encode(e) => e.fmt(f),
            Error::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Decode { source, .. } => Some(source),
            Error::KeyDecode { source, .. } => Some(source),
            Error::Encode(e) => Some(e),
            Error::Storage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<skiff_engine::Error> for Error {
    fn from(e: skiff_engine::Error) -> Self {
        match e {
            skiff_engine::Error::Conflict { attempts } => Error::Conflict { attempts },
            other => Error::Storage(other),
        }
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}
