//! Helpers that `#[derive(Model)]` output calls through `skiff::__private`.
//! Not a public API.
//!
//! Each takes the key type as a type parameter with a `Key` (or `AutoKey`)
//! bound; the derive spans the call on the field's type, so a type that is not
//! a key is reported at the field.

use super::{AutoKey, Model};
use crate::codec::{self, DecodeError, DecodeErrorKind};
use crate::key::Key;

/// Emits the encoding of `key`.
pub fn emit_key<K: Key>(key: &K, sink: &mut dyn FnMut(&[u8])) {
    sink(&key.to_key_bytes());
}

/// Emits the encoding of the value of `key`, or nothing for `None`.
pub fn emit_optional<K: Key>(key: &Option<K>, sink: &mut dyn FnMut(&[u8])) {
    if let Some(key) = key {
        emit_key(key, sink);
    }
}

/// Emits the encoding of each distinct element of `keys`, in key order.
pub fn emit_each<K: Key>(keys: &[K], sink: &mut dyn FnMut(&[u8])) {
    let mut encoded: Vec<Vec<u8>> = keys.iter().map(Key::to_key_bytes).collect();
    encoded.sort_unstable();
    encoded.dedup();
    for key in &encoded {
        sink(key);
    }
}

/// Appends the encoding of one component of a composite key.
pub fn encode_component<K: Key>(key: &K, out: &mut Vec<u8>) {
    key.encode_key(out);
}

/// Emits a composite key built by `build` (which appends its components).
pub fn emit_composite(build: impl FnOnce(&mut Vec<u8>), sink: &mut dyn FnMut(&[u8])) {
    let mut out = Vec::new();
    build(&mut out);
    sink(&out);
}

/// The key `push` gives the next record: the first key, or the one after `last`.
pub fn next_auto_key<K: AutoKey>(last: Option<&K>) -> Option<K> {
    match last {
        None => Some(K::FIRST),
        Some(last) => last.checked_next(),
    }
}

/// Clones one key field. No `Key` bound: `type Key = …` reports that once.
pub fn clone_key<K: Clone>(key: &K) -> K {
    key.clone()
}

/// Appends the encoding of a model's single-field key. Bounded on the model,
/// not the field type, so a field type that is not a `Key` is reported once,
/// by `type Key = …`.
pub fn encode_model_key<M: Model>(key: &M::Key, out: &mut Vec<u8>) {
    key.encode_key(out);
}

/// Decodes a record of `M` written at `version`, for a model without `from`.
pub fn decode_current<M: Model>(version: u32, bytes: &[u8]) -> Result<M, DecodeError> {
    if version == M::VERSION {
        codec::decode(bytes)
    } else if version > M::VERSION {
        Err(DecodeError::new::<M>(DecodeErrorKind::NewerVersion {
            version,
            current: M::VERSION,
        }))
    } else {
        Err(DecodeError::new::<M>(DecodeErrorKind::UnknownVersion {
            version,
            model_version: M::VERSION,
            previous: None,
        }))
    }
}

/// Decodes a record of `M` written at `version`, reading older versions as the
/// previous model `P` and converting.
///
/// Each step of a `from` chain goes to a strictly lower version (checked at
/// compile time by [`assert_older`], and here again), so the chain ends.
pub fn upgrade_via<M, P>(version: u32, bytes: &[u8]) -> Result<M, DecodeError>
where
    M: Model + From<P>,
    P: Model,
{
    if version >= M::VERSION || P::VERSION >= M::VERSION {
        decode_current::<M>(version, bytes)
    } else if version > P::VERSION {
        Err(DecodeError::new::<M>(DecodeErrorKind::UnknownVersion {
            version,
            model_version: M::VERSION,
            previous: Some(P::VERSION),
        }))
    } else {
        P::upgrade_from(version, bytes).map(M::from)
    }
}

/// Fails compilation (as a constant) unless a `from` model is older.
pub const fn assert_older(previous: u32, current: u32) {
    assert!(
        previous < current,
        "#[model(from = ...)] must name an older model: its VERSION must be lower than this model's"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_emits_distinct_keys_in_order() {
        let mut seen = Vec::new();
        emit_each(&[3u8, 1, 3, 2, 1], &mut |k| seen.push(k.to_vec()));
        assert_eq!(seen, [[1], [2], [3]]);
        emit_optional::<u8>(&None, &mut |_| panic!("None is not indexed"));
        emit_each::<u8>(&[], &mut |_| panic!("no elements"));
    }

    #[test]
    fn auto_keys_start_at_one_and_stop_at_the_maximum() {
        assert_eq!(next_auto_key::<u64>(None), Some(1));
        assert_eq!(next_auto_key(Some(&41u64)), Some(42));
        assert_eq!(next_auto_key(Some(&-5i32)), Some(-4));
        assert_eq!(next_auto_key(Some(&u8::MAX)), None);
        assert_eq!(next_auto_key(Some(&i128::MAX)), None);
    }
}
