//! Order-preserving, self-delimiting key encoding: the [`Key`] trait.
//!
//! This module owns the byte format of every key Skiff stores (primary keys and
//! secondary index keys). Its invariants, checked by the property tests in
//! `orm/tests/keys.rs`:
//!
//! - **Order**: for keys `a`, `b` of one type, comparing the encodings as byte
//!   strings gives the same answer as comparing the values (`Ord`, or
//!   `total_cmp` for floats).
//! - **Self-delimiting**: no encoding of a type is a proper prefix of another
//!   encoding of the same type, so components can be concatenated (tuples,
//!   derived structs) and a tuple's leading components are a byte prefix of its
//!   encoding ([`KeyPrefix`]).
//! - **Round trip and canonical form**: decoding an encoding gives the value
//!   back; bytes that decode at all are the encoding of what they decode to.
//! - **Decoding never panics** and reads only its input, so corrupt bytes give a
//!   [`KeyDecodeError`].
//!
//! The exact bytes are listed in ARCHITECTURE.md ("Key encoding"); their version is
//! [`KEY_ENCODING_VERSION`], which the catalog records. Summary:
//!
//! | type | encoding |
//! |------|----------|
//! | `u8`…`u128`, `usize` | big-endian, fixed width (`usize` as 8 bytes) |
//! | `i8`…`i128`, `isize` | big-endian with the sign bit flipped (`isize` as 8 bytes) |
//! | `bool` | `0x00` / `0x01` |
//! | `char` | scalar value as `u32` |
//! | `f32`, `f64` | bits, big-endian; negative: all bits flipped, else sign bit flipped |
//! | `String`, `Vec<u8>` | bytes with `0x00` → `0x00 0xFF`, then `0x00 0x00` |
//! | `[u8; N]` | the `N` bytes as they are |
//! | `Option<T>` | `0x00`, or `0x01` then `T` |
//! | `()`, tuples, derived structs | the components in order |
//! | derived enums | variant index (order-preserving varint), then its fields |
//! | [`Desc<T>`] | `T`'s encoding with every byte complemented |
//!
//! ```
//! use skiff::{Desc, Key, KeyPrefix};
//!
//! let a = ("Berlin".to_string(), 30u32);
//! let b = ("Berlin".to_string(), 31u32);
//! assert!(a.to_key_bytes() < b.to_key_bytes());
//! assert_eq!(<(String, u32)>::from_key_bytes(&a.to_key_bytes())?, a);
//!
//! // A leading component, borrowed, is a prefix of every key that starts with it.
//! let prefix = KeyPrefix::<(String, u32)>::to_prefix_bytes(&("Berlin",));
//! assert!(a.to_key_bytes().starts_with(&prefix));
//!
//! // Desc reverses the order of one component.
//! assert!(Desc(2u8).to_key_bytes() < Desc(1u8).to_key_bytes());
//! # Ok::<(), skiff::KeyDecodeError>(())
//! ```

mod bytes;
mod compound;
mod error;
mod primitive;
pub(crate) mod variant;

pub use compound::Desc;
pub use error::{KeyDecodeError, KeyDecodeErrorKind};

/// Version of the key byte encoding described in this module and in
/// ARCHITECTURE.md ("Key encoding").
///
/// The catalog records it with every collection; any change to the bytes of an
/// existing key type bumps it.
///
/// ```
/// use skiff::Key;
///
/// // Version 1 is the format this module describes: integers big-endian,
/// // strings ended by 0x00 0x00.
/// assert_eq!(skiff::KEY_ENCODING_VERSION, 1);
/// assert_eq!((258u16, String::from("a")).to_key_bytes(), [1, 2, b'a', 0, 0]);
/// ```
pub const KEY_ENCODING_VERSION: u32 = 1;

/// A type usable as a primary or index key: it has an order-preserving,
/// self-delimiting byte encoding.
///
/// For any two values `a` and `b` of the type, `a.cmp(&b)` (for floats:
/// `total_cmp`) equals `a.to_key_bytes().cmp(&b.to_key_bytes())`; no value's
/// encoding is a proper prefix of another's; and
/// `K::from_key_bytes(&k.to_key_bytes()) == Ok(k)` (for floats: the same bits).
///
/// Implement it with `#[derive(Key)]` (newtypes, structs, enums; see the derive's
/// documentation), and derive `PartialOrd`/`Ord` too: the derived key order is
/// the derived `Ord` order, fields and variants in declaration order.
///
/// A hand-written implementation must keep the three properties above: encode
/// the value as a concatenation of the encodings of `Key` components, or
/// otherwise make sure the encoding is prefix-free and order-preserving.
///
/// ```
/// use skiff::Key;
///
/// let mut buf = Vec::new();
/// 7u16.encode_key(&mut buf);
/// "hi".to_string().encode_key(&mut buf);
/// assert_eq!(buf, [0x00, 0x07, b'h', b'i', 0x00, 0x00]);
///
/// let mut input = &buf[..];
/// assert_eq!(u16::decode_key(&mut input)?, 7);
/// assert_eq!(String::decode_key(&mut input)?, "hi");
/// assert!(input.is_empty());
/// # Ok::<(), skiff::KeyDecodeError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key type: it does not implement `skiff::Key`",
    label = "not a `Key`",
    note = "keys are integers, `bool`, `char`, `f32`/`f64`, `String`, `Vec<u8>`, `[u8; N]`, `()`, \
            `Option<K>`, `Desc<K>`, tuples of up to 8 keys, and types with `#[derive(Key)]`"
)]
pub trait Key: Sized {
    /// The form lookups accept: `str` for `String`, `[u8]` for `Vec<u8>`, the
    /// type itself otherwise. It encodes exactly like the owned key.
    ///
    /// ```
    /// use skiff::{Key, KeyRef};
    ///
    /// fn lookup<K: Key>(key: &K::Borrowed) -> Vec<u8> {
    ///     key.to_key_ref_bytes()
    /// }
    /// assert_eq!(lookup::<String>("a"), "a".to_string().to_key_bytes());
    /// assert_eq!(lookup::<u64>(&1), 1u64.to_key_bytes());
    /// ```
    type Borrowed: ?Sized + KeyRef<Self>;

    /// Appends the encoding of `self` to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);

    /// Decodes one value from the front of `input` and advances `input` past it.
    ///
    /// On error `input` is left at (or after) the start of the component that
    /// failed. Never panics, whatever the bytes.
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError>;

    /// The encoding of `self` in a new buffer.
    fn to_key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key(&mut out);
        out
    }

    /// Decodes a complete key: `bytes` must hold exactly one encoded value.
    ///
    /// The error records the offset of the component that failed.
    ///
    /// ```
    /// use skiff::{Key, KeyDecodeErrorKind};
    ///
    /// assert_eq!(bool::from_key_bytes(&[1])?, true);
    /// let err = bool::from_key_bytes(&[1, 0]).unwrap_err();
    /// assert_eq!(err.kind(), &KeyDecodeErrorKind::TrailingBytes { count: 1 });
    /// # Ok::<(), skiff::KeyDecodeError>(())
    /// ```
    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        let mut input = bytes;
        let offset = |input: &[u8]| bytes.len().saturating_sub(input.len());
        let value = Self::decode_key(&mut input).map_err(|e| e.at(offset(input)))?;
        if input.is_empty() {
            Ok(value)
        } else {
            Err(
                KeyDecodeError::new::<Self>(KeyDecodeErrorKind::TrailingBytes { count: input.len() })
                    .at(offset(input)),
            )
        }
    }
}

/// A value that encodes exactly like some key of type `K`, used for lookups
/// without building an owned key.
///
/// Implemented for every [`Key`] type (as itself), for `str` and `&str` (as
/// `String`), and for `[u8]`, `&[u8]`, `[u8; N]` and `&[u8; N]` (as `Vec<u8>`).
/// A collection's `get` can take `&Q where Q: KeyRef<K> + ?Sized`, or the
/// canonical form `&K::Borrowed`.
///
/// ```
/// use skiff::{Key, KeyRef};
///
/// fn lookup<K: Key, Q: KeyRef<K> + ?Sized>(key: &Q) -> Vec<u8> {
///     key.to_key_ref_bytes()
/// }
/// assert_eq!(lookup::<String, _>("a@example.com"), "a@example.com".to_string().to_key_bytes());
/// assert_eq!(lookup::<Vec<u8>, _>(b"raw"), b"raw".to_vec().to_key_bytes());
/// assert_eq!(lookup::<u64, _>(&7), 7u64.to_key_bytes());
/// ```
pub trait KeyRef<K: Key> {
    /// Appends the encoding of `self`, as a `K`, to `out`.
    fn encode_key_ref(&self, out: &mut Vec<u8>);

    /// The encoding of `self`, as a `K`, in a new buffer.
    fn to_key_ref_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key_ref(&mut out);
        out
    }
}

impl<K: Key> KeyRef<K> for K {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        self.encode_key(out);
    }
}

/// The leading components of a tuple key of type `K`, for prefix scans.
///
/// Implemented for every tuple `(Q1, …, Qm)` with `m` at most the arity of `K`
/// (including `()`, which matches every key), where each `Qi` is a
/// [`KeyRef`] of `K`'s `i`-th component — so `("Paris",)` is a prefix of
/// `(String, u32)`. A key's encoding starts with the prefix's encoding exactly
/// when the key's leading components equal the prefix.
///
/// ```
/// use skiff::{Key, KeyPrefix};
///
/// let prefix = KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&("Paris", 30));
/// assert!(("Paris".to_string(), 30u32, true).to_key_bytes().starts_with(&prefix));
/// assert!(!("Paris".to_string(), 31u32, true).to_key_bytes().starts_with(&prefix));
/// assert!(!("Pari".to_string(), 30u32, true).to_key_bytes().starts_with(&prefix));
/// ```
pub trait KeyPrefix<K: Key> {
    /// Appends the encoding of the prefix to `out`.
    fn encode_prefix(&self, out: &mut Vec<u8>);

    /// The encoding of the prefix in a new buffer.
    fn to_prefix_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_prefix(&mut out);
        out
    }
}

/// Removes the first `N` bytes of `input` and returns them, or reports that the
/// input ended early. `input` is only advanced on success.
fn take<T: ?Sized, const N: usize>(input: &mut &[u8]) -> Result<[u8; N], KeyDecodeError> {
    let (head, rest) = input
        .split_first_chunk::<N>()
        .ok_or_else(|| KeyDecodeError::new::<T>(KeyDecodeErrorKind::UnexpectedEnd))?;
    *input = rest;
    Ok(*head)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt::Debug;

    use super::*;

    /// The format checks every key type gets: round trip, canonical form, every
    /// truncation rejected, trailing bytes left alone or rejected, and every
    /// single-byte corruption either rejected or decoded canonically.
    pub(crate) fn assert_format<K: Key + Debug>(value: &K) {
        let bytes = value.to_key_bytes();
        let decoded = K::from_key_bytes(&bytes).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(decoded.to_key_bytes(), bytes, "{value:?} round trip");

        let mut longer = bytes.clone();
        longer.push(0xAB);
        let mut input = &longer[..];
        K::decode_key(&mut input).unwrap();
        assert_eq!(input, [0xAB], "{value:?} must stop at its end");
        assert!(K::from_key_bytes(&longer).is_err());

        for cut in 0..bytes.len() {
            assert!(
                K::from_key_bytes(&bytes[..cut]).is_err(),
                "{value:?} truncated to {cut}"
            );
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                if let Ok(other) = K::from_key_bytes(&corrupt) {
                    assert_eq!(other.to_key_bytes(), corrupt, "{value:?} corrupted at {at}");
                }
            }
        }
    }

    /// `values` are given in strictly increasing key order; so must their
    /// encodings be.
    pub(crate) fn assert_ordered<K: Key + Debug>(values: &[K]) {
        for pair in values.windows(2) {
            assert!(
                pair[0].to_key_bytes() < pair[1].to_key_bytes(),
                "{:?} < {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn from_key_bytes_reports_the_failing_component() {
        let err = <(u8, String, bool)>::from_key_bytes(&[1, b'a', 0, 0, 9]).unwrap_err();
        assert_eq!(err.kind(), &KeyDecodeErrorKind::InvalidTag { tag: 9 });
        assert_eq!(err.type_name(), "bool");
        assert_eq!(err.offset(), Some(4));
        assert_eq!(
            err.to_string(),
            "invalid key bytes for `bool` at offset 4: tag byte 0x09 is neither 0x00 nor 0x01"
        );
        let err = u64::decode_key(&mut &[1u8][..]).unwrap_err();
        assert_eq!(err.offset(), None);
    }

    #[test]
    fn derive_works_inside_this_crate() {
        #[derive(crate::Key, Debug, PartialEq, Eq, PartialOrd, Ord)]
        enum Local {
            A(u8),
            B { s: String },
        }
        assert_ordered(&[Local::A(9), Local::B { s: String::new() }]);
        assert_format(&Local::B { s: "x".to_string() });
    }

    #[test]
    fn version_is_one() {
        assert_eq!(KEY_ENCODING_VERSION, 1);
    }
}
