//! The value codec: the bytes stored for a record (the key is stored apart, in
//! the [`Key`](crate::Key) encoding).
//!
//! This module owns the value format and is the one seam between Skiff and its
//! serializer: values are serde-serialized with bincode 2 in its `standard`
//! configuration (little-endian, variable-length integers, no field names and
//! no type tags). Because the format is not self-describing, only serde
//! constructs that do not ask the data what comes next round-trip;
//! `#[derive(Model)]` rejects the serde attributes that do (`flatten`,
//! `skip_serializing_if`, `tag`, `untagged`, one-way skips). Its invariants:
//!
//! - **Round trip**: `decode(&encode(v)?)` gives back `v` for every value whose
//!   `Serialize` and `Deserialize` agree.
//! - **Exact length**: [`decode`] must consume every byte; a truncated buffer is
//!   an error (bincode reads sequentially, so no proper prefix of a valid
//!   encoding decodes completely) and so are trailing bytes.
//! - **Not canonical, not checksummed**: bincode accepts over-long varints, so
//!   two byte strings can decode to one value, and a corrupt byte may decode to
//!   another value. Integrity is the engine's job (it checksums what it
//!   stores); values are never compared as bytes.
//! - **Decoding never panics and allocates boundedly**: a corrupt length can
//!   make the decoder reserve at most
//!   [`MAX_VALUE_LEN`](skiff_engine::MAX_VALUE_LEN) bytes in total (the
//!   engine's limit for a stored value, so every valid value fits) before it
//!   finds the input too short.
//!
//! The version of the format is [`VALUE_ENCODING_VERSION`]. A record's *model*
//! version (which Rust type wrote it) is a different thing, handled by
//! [`Model::upgrade_from`](crate::Model::upgrade_from).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use skiff::codec;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Point {
//!     x: i32,
//!     label: String,
//! }
//!
//! let p = Point { x: -2, label: "a".into() };
//! let bytes = codec::encode(&p)?;
//! assert_eq!(bytes, [3, 1, b'a']); // zigzag varint, then length-prefixed text
//! assert_eq!(codec::decode::<Point>(&bytes)?, p);
//! assert!(codec::decode::<Point>(&bytes[..2]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use bincode::config::Config;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Version of the value byte format described in this module.
///
/// The catalog can record it next to [`KEY_ENCODING_VERSION`](crate::KEY_ENCODING_VERSION);
/// any change to the bytes written for an existing value bumps it.
///
/// ```
/// // Version 1 is the format this module describes:
/// assert_eq!(skiff::codec::VALUE_ENCODING_VERSION, 1);
/// assert_eq!(skiff::codec::encode(&(1u8, "hi"))?, [1, 2, b'h', b'i']);
/// # Ok::<(), skiff::codec::EncodeError>(())
/// ```
pub const VALUE_ENCODING_VERSION: u32 = 1;

/// The configuration for writing.
fn encode_config() -> impl Config {
    bincode::config::standard()
}

/// The same wire format, with the allocation limit for reading.
fn decode_config() -> impl Config {
    bincode::config::standard().with_limit::<{ skiff_engine::MAX_VALUE_LEN }>()
}

/// Encodes `value` into a new buffer.
///
/// Fails only if `value`'s `Serialize` implementation fails, or serializes a
/// sequence or map without telling its length up front.
///
/// ```
/// assert_eq!(skiff::codec::encode(&(1u8, "hi"))?, [1, 2, b'h', b'i']);
/// # Ok::<(), skiff::codec::EncodeError>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`; on error `out` is left as it was.
///
/// ```
/// let mut buf = vec![0xAA];
/// skiff::codec::encode_into(&7u32, &mut buf)?;
/// assert_eq!(buf, [0xAA, 7]);
/// # Ok::<(), skiff::codec::EncodeError>(())
/// ```
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    match bincode::serde::encode_into_std_write(value, out, encode_config()) {
        Ok(_) => Ok(()),
        Err(error) => {
            out.truncate(start);
            Err(EncodeError {
                type_name: std::any::type_name::<T>(),
                message: match error {
                    // The serializer's own words, not bincode's wrapper.
                    bincode::error::EncodeError::OtherString(message) => message,
                    error => error.to_string(),
                },
            })
        }
    }
}

/// Decodes a complete value: `bytes` must hold exactly one encoded `T`.
///
/// Never panics, whatever the bytes.
///
/// ```
/// use skiff::codec::{self, DecodeErrorKind};
///
/// assert_eq!(codec::decode::<(u8, String)>(&[1, 2, b'h', b'i'])?, (1, "hi".to_string()));
/// let err = codec::decode::<u8>(&[1, 2]).unwrap_err();
/// assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
/// # Ok::<(), codec::DecodeError>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    // The borrowing decoder reads strings and byte buffers straight from the
    // input; `T` is owned, so nothing stays borrowed.
    let (value, read) = bincode::serde::borrow_decode_from_slice::<T, _>(bytes, decode_config())
        .map_err(|error| DecodeError::new::<T>(DecodeErrorKind::Invalid(error.to_string())))?;
    match bytes.len().checked_sub(read) {
        Some(0) => Ok(value),
        Some(count) => Err(DecodeError::new::<T>(DecodeErrorKind::TrailingBytes { count })),
        // The decoder never reports reading more than it was given.
        None => Err(DecodeError::new::<T>(DecodeErrorKind::Invalid(
            "decoder read past the input".to_string(),
        ))),
    }
}

/// A value that could not be encoded; see [`encode`].
///
/// ```
/// use serde::{Serialize, Serializer};
///
/// struct Secret;
/// impl Serialize for Secret {
///     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         Err(serde::ser::Error::custom("secrets are not stored"))
///     }
/// }
///
/// let err = skiff::codec::encode(&Secret).unwrap_err();
/// assert!(err.to_string().starts_with("cannot encode `"));
/// assert!(err.to_string().contains("secrets are not stored"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    type_name: &'static str,
    message: String,
}

impl EncodeError {
    /// The name of the type being encoded.
    ///
    /// ```
    /// # use serde::{Serialize, Serializer};
    /// # struct Secret;
    /// # impl Serialize for Secret {
    /// #     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
    /// #         Err(serde::ser::Error::custom("secrets are not stored"))
    /// #     }
    /// # }
    /// let err = skiff::codec::encode(&("id", Secret)).unwrap_err();
    /// assert!(err.type_name().ends_with("Secret)"), "the value given to encode: {}", err.type_name());
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// What the serializer reported.
    ///
    /// ```
    /// # use serde::{Serialize, Serializer};
    /// # struct Secret;
    /// # impl Serialize for Secret {
    /// #     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
    /// #         Err(serde::ser::Error::custom("secrets are not stored"))
    /// #     }
    /// # }
    /// let err = skiff::codec::encode(&Secret).unwrap_err();
    /// assert_eq!(err.message(), "secrets are not stored");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode `{}`: {}", self.type_name, self.message)
    }
}

impl std::error::Error for EncodeError {}

/// Bytes that are not a value of the expected type, or a record whose model
/// version cannot be read; see [`decode`] and
/// [`Model::upgrade_from`](crate::Model::upgrade_from).
///
/// ```
/// let err = skiff::codec::decode::<String>(&[5, b'a']).unwrap_err();
/// assert!(err.to_string().starts_with("cannot decode `alloc::string::String`: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    type_name: &'static str,
    kind: DecodeErrorKind,
}

/// What was wrong; see [`DecodeError::kind`].
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::codec::{self, DecodeErrorKind};
/// use skiff::Model;
///
/// #[derive(Model, Serialize, Deserialize, Debug)]
/// struct Note { #[model(key)] id: u32, text: String }
///
/// let bytes = codec::encode(&Note { id: 1, text: "hi".into() })?;
/// let kind = |r: Result<Note, codec::DecodeError>| r.unwrap_err().kind().clone();
/// assert!(matches!(kind(codec::decode(&bytes[..2])), DecodeErrorKind::Invalid(_)));
/// let longer = [&bytes[..], &[0]].concat();
/// assert_eq!(kind(codec::decode(&longer)), DecodeErrorKind::TrailingBytes { count: 1 });
/// assert_eq!(kind(Note::upgrade_from(2, &bytes)), DecodeErrorKind::NewerVersion { version: 2, current: 1 });
/// # Ok::<(), codec::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes are not an encoding of the type (truncated, corrupt, or
    /// written for another type); the text is the decoder's.
    Invalid(String),
    /// A complete value was decoded with bytes left over.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// The record was written by a newer model version than this program knows.
    NewerVersion {
        /// The record's version.
        version: u32,
        /// The model's current [`VERSION`](crate::Model::VERSION).
        current: u32,
    },
    /// The record's version is older than the model's and no model of the
    /// `from` chain has it: the model has no `from` (`previous` is `None`), or
    /// its `from` model is older still (a version was skipped).
    UnknownVersion {
        /// The record's version.
        version: u32,
        /// The version of the model that gave up (the error's type).
        model_version: u32,
        /// The version of that model's `from` model, if it has one.
        previous: Option<u32>,
    },
}

impl DecodeError {
    /// An error while decoding a value of type `T`.
    ///
    /// A hand-written [`Model::upgrade_from`](crate::Model::upgrade_from) uses it
    /// to reject a version it cannot read:
    ///
    /// ```
    /// use skiff::codec::{DecodeError, DecodeErrorKind};
    ///
    /// struct Note;
    /// let err = DecodeError::new::<Note>(DecodeErrorKind::NewerVersion { version: 3, current: 2 });
    /// assert!(err.type_name().ends_with("Note"));
    /// assert!(err.to_string().ends_with("model version 3, newer than this program's version 2"));
    /// ```
    pub fn new<T: ?Sized>(kind: DecodeErrorKind) -> Self {
        DecodeError {
            type_name: std::any::type_name::<T>(),
            kind,
        }
    }

    /// What was wrong.
    ///
    /// ```
    /// use skiff::codec::{self, DecodeErrorKind};
    ///
    /// let err = codec::decode::<(u8, u8)>(&[1]).unwrap_err();
    /// assert!(matches!(err.kind(), DecodeErrorKind::Invalid(_)));
    /// ```
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The name of the type that was being decoded (for a version error, the
    /// model that rejected the version).
    ///
    /// ```
    /// let err = skiff::codec::decode::<Vec<u32>>(&[2, 1]).unwrap_err();
    /// assert_eq!(err.type_name(), "alloc::vec::Vec<u32>");
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode `{}`: ", self.type_name)?;
        match &self.kind {
            DecodeErrorKind::Invalid(message) => f.write_str(message),
            DecodeErrorKind::TrailingBytes { count } => write!(f, "{count} bytes left over after the value"),
            DecodeErrorKind::NewerVersion { version, current } => write!(
                f,
                "the record has model version {version}, newer than this program's version {current}"
            ),
            DecodeErrorKind::UnknownVersion {
                version,
                model_version,
                previous: None,
            } => write!(
                f,
                "the record has model version {version}, older than version {model_version}, and \
                 no older model is named by `from`"
            ),
            DecodeErrorKind::UnknownVersion {
                version,
                model_version,
                previous: Some(previous),
            } => write!(
                f,
                "the record has model version {version}, but no model has it: `from` goes from \
                 version {model_version} to {previous}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u32, h: u32 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Record {
        id: u64,
        name: String,
        nick: Option<String>,
        tags: Vec<String>,
        blob: Vec<u8>,
        shape: Shape,
        map: BTreeMap<String, i64>,
        #[serde(default)]
        extra: (bool, char, i128),
    }

    fn sample() -> Record {
        Record {
            id: 1 << 40,
            name: "Ada \u{1F980}".into(),
            nick: Some(String::new()),
            tags: vec!["a".into(), "b\0c".into()],
            blob: vec![0, 255, 7],
            shape: Shape::Rect { w: 3, h: 300 },
            map: [("x".to_string(), -1), ("y".to_string(), i64::MIN)].into(),
            extra: (true, 'é', -5),
        }
    }

    /// Round trip, every truncation rejected, trailing bytes rejected.
    fn assert_format<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let bytes = encode(value).unwrap();
        assert_eq!(&decode::<T>(&bytes).unwrap(), value);
        for cut in 0..bytes.len() {
            assert!(
                decode::<T>(&bytes[..cut]).is_err(),
                "{value:?} truncated to {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = decode::<T>(&longer).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    }

    #[test]
    fn round_trip_and_truncation() {
        assert_format(&sample());
        assert_format(&Record {
            nick: None,
            tags: Vec::new(),
            shape: Shape::Dot,
            map: BTreeMap::new(),
            ..sample()
        });
        assert_format(&Shape::Circle(-0.5));
        assert_format(&(0u8, u128::MAX, String::from("x")));
        assert_format(&());
    }

    /// The codec has no checksum (the engine checks what it stores) and
    /// bincode accepts over-long varints, so a corrupt byte may decode to some
    /// value; it must never panic, and what decodes is a value like any other.
    #[test]
    fn corruption_is_an_error_or_another_value_never_a_panic() {
        let bytes = encode(&sample()).unwrap();
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                if let Ok(other) = decode::<Record>(&corrupt) {
                    let again = encode(&other).unwrap();
                    assert_eq!(decode::<Record>(&again).unwrap(), other, "corrupted at {at}");
                }
            }
        }
    }

    #[test]
    fn huge_lengths_are_rejected_without_allocating_them() {
        // A string claiming u64::MAX bytes (varint tag 0xFD, then 8 bytes).
        let mut bytes = vec![0xFD];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<String>(&bytes).is_err());
        assert!(decode::<Vec<u8>>(&bytes).is_err());
        assert!(decode::<Vec<String>>(&bytes).is_err());
        // Just above the engine's value limit.
        let mut bytes = vec![0xFD];
        let len = u64::try_from(skiff_engine::MAX_VALUE_LEN).unwrap() + 1;
        bytes.extend_from_slice(&len.to_le_bytes());
        assert!(decode::<String>(&bytes).is_err());
    }

    #[test]
    fn encode_into_appends_and_restores_on_error() {
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(None)?;
                seq.serialize_element(&1u8)?;
                seq.end()
            }
        }
        let mut buf = vec![9];
        encode_into(&(1u8, 2u16), &mut buf).unwrap();
        assert_eq!(buf, [9, 1, 2]);
        let err = encode_into(&(5u8, Unsized), &mut buf).unwrap_err();
        assert_eq!(buf, [9, 1, 2]);
        assert!(err.type_name().ends_with("Unsized)"), "{}", err.type_name());
        assert!(err.to_string().starts_with("cannot encode `"), "{err}");
    }

    #[test]
    fn errors_name_the_type_and_the_problem() {
        let err = decode::<u32>(&[]).unwrap_err();
        assert_eq!(err.type_name(), "u32");
        assert!(matches!(err.kind(), DecodeErrorKind::Invalid(_)));
        let err = DecodeError::new::<Record>(DecodeErrorKind::NewerVersion {
            version: 3,
            current: 2,
        });
        assert_eq!(
            err.to_string(),
            "cannot decode `skiff::codec::tests::Record`: the record has model version 3, newer than \
             this program's version 2"
        );
        assert_eq!(VALUE_ENCODING_VERSION, 1);
    }
}
