//! Skiff: a typed embedded database built on `skiff-engine`.
#![forbid(unsafe_code)]

// Lets `#[derive(Key)]` output (which names `::skiff::__private`) compile inside
// this crate's own tests and modules too.
#[allow(unused_extern_crates)]
extern crate self as skiff;

pub use skiff_engine as engine;

pub mod key;

pub use key::{Desc, Key, KeyDecodeError, KeyDecodeErrorKind, KeyPrefix, KeyRef, KEY_ENCODING_VERSION};

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

/// What derive output names. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::key::variant::{decode_uninhabited, decode_variant, encode_variant};
    pub use crate::key::{Key, KeyDecodeError};
    pub use core::primitive::u8;
    pub use core::result::Result::{self, Err, Ok};
    pub use std::vec::Vec;
}
