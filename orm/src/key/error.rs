//! The error returned when bytes are not a valid key encoding.
//!
//! Decoding never panics: every malformed input maps to a [`KeyDecodeError`] that
//! names the type being decoded, what was wrong and, when known, the byte offset
//! of the component that failed.

use std::fmt;

/// Bytes that are not the key encoding of the expected type.
///
/// Returned by [`Key::decode_key`](crate::Key::decode_key) and
/// [`Key::from_key_bytes`](crate::Key::from_key_bytes). The message names the type
/// that was being decoded and what was wrong:
///
/// ```
/// use skiff::Key;
///
/// let err = u32::from_key_bytes(&[0, 1]).unwrap_err();
/// assert_eq!(err.to_string(), "invalid key bytes for `u32` at offset 0: unexpected end of input");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDecodeError {
    type_name: &'static str,
    kind: KeyDecodeErrorKind,
    offset: Option<usize>,
}

/// What was wrong with the bytes; see [`KeyDecodeError::kind`].
///
/// ```
/// use skiff::{Key, KeyDecodeErrorKind};
///
/// let kind = |r: Result<String, skiff::KeyDecodeError>| r.unwrap_err().kind().clone();
/// assert_eq!(kind(String::from_key_bytes(b"ab")), KeyDecodeErrorKind::UnexpectedEnd);
/// assert_eq!(kind(String::from_key_bytes(&[0xC3, 0x00, 0x00])), KeyDecodeErrorKind::InvalidUtf8);
/// assert_eq!(kind(String::from_key_bytes(&[0x00, 0x07])), KeyDecodeErrorKind::InvalidEscape { byte: 7 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyDecodeErrorKind {
    /// The input ended in the middle of a component.
    UnexpectedEnd,
    /// A tag byte (of a `bool` or an `Option`) was neither `0x00` nor `0x01`.
    InvalidTag {
        /// The byte found.
        tag: u8,
    },
    /// In an escaped byte string, `0x00` was followed by a byte other than `0x00`
    /// (terminator) or `0xFF` (escaped zero).
    InvalidEscape {
        /// The byte found after `0x00`.
        byte: u8,
    },
    /// A string's bytes were not valid UTF-8.
    InvalidUtf8,
    /// A `char`'s four bytes were not a Unicode scalar value.
    InvalidChar {
        /// The decoded 32-bit value.
        value: u32,
    },
    /// The value does not fit the type on this platform (`usize`/`isize` are
    /// always encoded with 64 bits).
    OutOfRange,
    /// An enum variant index was not encoded in its shortest form.
    NonCanonical,
    /// An enum variant index was not below the number of variants.
    UnknownVariant {
        /// The decoded index.
        index: u64,
        /// The number of variants of the enum.
        variants: u32,
    },
    /// Bytes were left over after a complete key was decoded.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A hand-written [`Key`](crate::Key) implementation rejected the bytes.
    Other(&'static str),
}

impl KeyDecodeError {
    /// An error while decoding a value of type `T`.
    ///
    /// Hand-written [`Key`](crate::Key) implementations use this (usually with
    /// [`KeyDecodeErrorKind::Other`]) to reject bytes they cannot decode.
    ///
    /// ```
    /// use skiff::{Key, KeyDecodeError, KeyDecodeErrorKind};
    ///
    /// /// A percentage, stored as one byte.
    /// #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    /// struct Percent(u8);
    ///
    /// impl Key for Percent {
    ///     type Borrowed = Self;
    ///     fn encode_key(&self, out: &mut Vec<u8>) {
    ///         self.0.encode_key(out);
    ///     }
    ///     fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
    ///         match u8::decode_key(input)? {
    ///             p @ 0..=100 => Ok(Percent(p)),
    ///             _ => Err(KeyDecodeError::new::<Self>(KeyDecodeErrorKind::Other("percent above 100"))),
    ///         }
    ///     }
    /// }
    ///
    /// assert_eq!(Percent::from_key_bytes(&[42])?, Percent(42));
    /// let err = Percent::from_key_bytes(&[101]).unwrap_err();
    /// assert_eq!(err.kind(), &KeyDecodeErrorKind::Other("percent above 100"));
    /// assert!(err.type_name().ends_with("Percent"));
    /// # Ok::<(), KeyDecodeError>(())
    /// ```
    pub fn new<T: ?Sized>(kind: KeyDecodeErrorKind) -> Self {
        Self {
            type_name: std::any::type_name::<T>(),
            kind,
            offset: None,
        }
    }

    /// What was wrong with the bytes.
    ///
    /// ```
    /// use skiff::{Key, KeyDecodeErrorKind};
    ///
    /// let err = Option::<u8>::from_key_bytes(&[2, 0]).unwrap_err();
    /// assert_eq!(err.kind(), &KeyDecodeErrorKind::InvalidTag { tag: 2 });
    /// ```
    pub fn kind(&self) -> &KeyDecodeErrorKind {
        &self.kind
    }

    /// The name of the type whose decoding failed (the innermost component).
    ///
    /// ```
    /// use skiff::Key;
    ///
    /// let err = <(u32, bool)>::from_key_bytes(&[0, 0, 0, 1, 5]).unwrap_err();
    /// assert_eq!(err.type_name(), "bool");
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The byte offset, within the buffer given to
    /// [`Key::from_key_bytes`](crate::Key::from_key_bytes), of the start of the
    /// component that failed to decode. `None` when the error came from
    /// [`Key::decode_key`](crate::Key::decode_key) directly, which does not know
    /// where its input started.
    ///
    /// ```
    /// use skiff::Key;
    ///
    /// let bytes = [b'a', 0, 0, 9]; // ("a", then a bool tag 9)
    /// let err = <(String, bool)>::from_key_bytes(&bytes).unwrap_err();
    /// assert_eq!(err.offset(), Some(3));
    /// assert_eq!(bool::decode_key(&mut &bytes[3..]).unwrap_err().offset(), None);
    /// ```
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// Records `offset` unless an offset is already known.
    pub(crate) fn at(mut self, offset: usize) -> Self {
        self.offset.get_or_insert(offset);
        self
    }
}

impl fmt::Display for KeyDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid key bytes for `{}`", self.type_name)?;
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset}")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            KeyDecodeErrorKind::UnexpectedEnd => f.write_str("unexpected end of input"),
            KeyDecodeErrorKind::InvalidTag { tag } => {
                write!(f, "tag byte {tag:#04x} is neither 0x00 nor 0x01")
            }
            KeyDecodeErrorKind::InvalidEscape { byte } => {
                write!(
                    f,
                    "0x00 followed by {byte:#04x}, expected 0x00 (end) or 0xff (escaped zero)"
                )
            }
            KeyDecodeErrorKind::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            KeyDecodeErrorKind::InvalidChar { value } => {
                write!(f, "{value:#x} is not a Unicode scalar value")
            }
            KeyDecodeErrorKind::OutOfRange => f.write_str("value does not fit the type on this platform"),
            KeyDecodeErrorKind::NonCanonical => f.write_str("variant index is not in its shortest form"),
            KeyDecodeErrorKind::UnknownVariant { index, variants } => {
                write!(f, "variant index {index} but the enum has {variants} variants")
            }
            KeyDecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} bytes left over after the key")
            }
            KeyDecodeErrorKind::Other(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for KeyDecodeError {}
