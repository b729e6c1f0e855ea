//! How records and index entries are laid out in keyspaces, and the one
//! function that writes a record together with its index entries.
//!
//! - Records: keyspace `skiff:<name>`; key = the primary key's `Key` encoding;
//!   value = the model version (u32, little-endian) and the codec's bytes.
//! - A unique index: keyspace `skiff:<name>:<index>`; key = the index key's
//!   encoding; value = the record's primary key.
//! - A non-unique index: same keyspace naming; key = index key followed by the
//!   primary key (the `Key` encoding is self-delimiting, so entries of one index
//!   key are contiguous and sorted by primary key); value = the primary key.
//!
//! Names are length-prefixed (`skiff:5:users`), so no two collections or
//! indexes can map to the same keyspace.

use std::ops::Bound;

use std::sync::Arc;

use crate::model::Model;
use crate::store::{Bytes, Read, Write};
use crate::watch::hub::{ChangeBuf, Hub, RawChange};
use crate::{codec, Error, Result};

/// A collection's keyspaces, resolved once when it is opened, and its
/// subscriptions.
pub(crate) struct Meta<Space> {
    pub records: Space,
    /// One per `Model::indexes()`, in that order.
    pub indexes: Vec<Space>,
    pub hub: Arc<Hub>,
    /// Reads the change log after a sequence number, if the collection keeps one.
    pub history: Option<HistoryFn>,
}

/// Reads a collection's change log after a sequence number.
pub(crate) type HistoryFn = Arc<dyn Fn(u64) -> Result<crate::watch::hub::History> + Send + Sync>;

pub(crate) fn records_space(collection: &str) -> String {
    format!("skiff:{}:{collection}", collection.len())
}

pub(crate) fn change_log_space(collection: &str) -> String {
    format!("skiff:{}:{collection}#changes", collection.len())
}

pub(crate) fn index_space(collection: &str, index: &str) -> String {
    format!("skiff:{}:{collection}:{index}", collection.len())
}

/// The stored form of `record`.
pub(crate) fn encode<M: Model>(record: &M) -> Result<Vec<u8>> {
    let mut out = M::VERSION.to_le_bytes().to_vec();
    codec::encode_into(record, &mut out)?;
    Ok(out)
}

/// A stored record of collection `M`, upgraded to the current model version.
pub(crate) fn decode<M: Model>(key: &[u8], bytes: &[u8]) -> Result<M> {
    let fail = |source| Error::Decode {
        collection: M::NAME.to_string(),
        key: key.to_vec(),
        source,
    };
    let Some((version, body)) = bytes.split_first_chunk::<4>() else {
        return Err(fail(codec::DecodeError::new::<M>(
            codec::DecodeErrorKind::Invalid("record shorter than its version header".into()),
        )));
    };
    M::upgrade_from(u32::from_le_bytes(*version), body).map_err(fail)
}

/// The record with primary key `key`.
pub(crate) fn get<M: Model, R: Read>(r: &R, meta: &Meta<R::Space>, key: &[u8]) -> Result<Option<M>> {
    r.get_with(&meta.records, key, |bytes| decode(key, bytes))?
        .transpose()
}

/// The record with primary key `key`, with its stored bytes.
pub(crate) fn get_stored<M: Model, R: Read>(
    r: &R,
    meta: &Meta<R::Space>,
    key: &[u8],
) -> Result<Option<Stored<M>>> {
    match r.get(&meta.records, key)? {
        Some(bytes) => Ok(Some(Stored {
            record: decode(key, &bytes)?,
            bytes,
        })),
        None => Ok(None),
    }
}

/// A record as read, with the bytes it was read from (a change stream reuses
/// them instead of encoding the record again).
pub(crate) struct Stored<M> {
    pub record: M,
    pub bytes: Bytes,
}

/// The entry key of index key `ik` for the record `pk`.
pub(crate) fn entry_key(unique: bool, ik: &[u8], pk: &[u8]) -> Vec<u8> {
    if unique {
        ik.to_vec()
    } else {
        [ik, pk].concat()
    }
}

/// Replaces record `old` (if any) with `new` (if any), both with primary key
/// `pk`, and updates every index: stale entries go, new ones come, and a
/// unique index key owned by another record is a `UniqueViolation` (the
/// caller's transaction then aborts, so nothing is left behind).
pub(crate) fn write<M: Model, W: Write>(
    w: &W,
    changes: &ChangeBuf,
    meta: &Meta<W::Space>,
    pk: &[u8],
    old: Option<&Stored<M>>,
    new: Option<&M>,
) -> Result<()> {
    let watched = meta.hub.recording();
    let (old_bytes, old) = (old.map(|o| &o.bytes), old.map(|o| &o.record));
    let mut index_keys = Vec::new();
    for (def, space) in M::indexes().iter().zip(&meta.indexes) {
        let before = old.map(|o| def.keys(o)).unwrap_or_default();
        let after = new.map(|n| def.keys(n)).unwrap_or_default();
        for ik in before.iter().filter(|k| !after.contains(k)) {
            w.delete(space, &entry_key(def.is_unique(), ik, pk))?;
        }
        for ik in after.iter().filter(|k| !before.contains(k)) {
            if def.is_unique() {
                if let Some(owner) = w.get(space, ik)? {
                    if *owner != *pk {
                        return Err(Error::UniqueViolation {
                            collection: M::NAME.to_string(),
                            index: def.name().to_string(),
                            key: ik.clone(),
                        });
                    }
                }
            }
            w.put(space, &entry_key(def.is_unique(), ik, pk), pk.to_vec())?;
        }
        if watched {
            index_keys.push((before, after));
        }
    }
    let encoded = new.map(encode).transpose()?;
    if watched {
        changes.record(
            &meta.hub,
            RawChange {
                pk: pk.to_vec(),
                old: old_bytes.map(|b| b.to_vec()),
                new: encoded.clone(),
                index_keys,
            },
        );
    }
    match encoded {
        Some(bytes) => w.put(&meta.records, pk, bytes),
        None => w.delete(&meta.records, pk),
    }
}

/// How many items a fallible stream yields; the first error stops it.
pub(crate) fn count<T>(mut items: impl Iterator<Item = Result<T>>) -> Result<usize> {
    items.try_fold(0, |n, item| item.map(|_| n + 1))
}

/// The smallest key above every key starting with `prefix` (`None` if none).
pub(crate) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut s = prefix[..=last].to_vec();
    s[last] += 1;
    Some(s)
}

/// The bounds of the keys starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: Vec<u8>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let hi = successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(prefix), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_names_do_not_collide() {
        assert_ne!(index_space("a", "b:c"), index_space("a:b", "c"));
        assert_ne!(records_space("a:1"), index_space("a", "1"));
    }

    #[test]
    fn successor_covers_every_extension() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF]), None);
        assert_eq!(successor(b""), None);
    }
}
