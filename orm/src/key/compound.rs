//! Keys built from other keys: `Option<T>`, tuples (and their prefixes) and
//! [`Desc<T>`].
//!
//! Composition relies on every component encoding being prefix-free: a
//! concatenation of prefix-free, order-preserving encodings compares
//! component by component, exactly like a tuple, and is itself prefix-free.

use std::cmp::Ordering;

use super::{Key, KeyDecodeError, KeyDecodeErrorKind, KeyPrefix, KeyRef};

/// `None` is `0x00`; `Some(v)` is `0x01` followed by `v`'s encoding, so `None`
/// sorts before every `Some`.
impl<T: Key> Key for Option<T> {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode_key(out);
            }
        }
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let value = match super::take::<Self, 1>(&mut rest)? {
            [0] => None,
            [1] => {
                *input = rest;
                return T::decode_key(input).map(Some);
            }
            [tag] => {
                return Err(KeyDecodeError::new::<Self>(KeyDecodeErrorKind::InvalidTag {
                    tag,
                }))
            }
        };
        *input = rest;
        Ok(value)
    }
}

/// A key component in descending order: `Desc(a) < Desc(b)` exactly when
/// `b < a`.
///
/// Its encoding is `T`'s encoding with every byte complemented (`!b`). Because
/// `T`'s encoding is prefix-free, two different values differ at some byte
/// before either ends, and complementing that byte reverses the comparison; the
/// complemented set of encodings is still prefix-free, so `Desc<T>` can be
/// followed by further components.
///
/// ```
/// use skiff::{Desc, Key};
///
/// // Newest first, then by name ascending.
/// let older = (Desc(2023u16), "b".to_string());
/// let newer = (Desc(2024u16), "a".to_string());
/// assert!(newer < older);
/// assert!(newer.to_key_bytes() < older.to_key_bytes());
/// assert!(Desc("ab".to_string()).to_key_bytes() < Desc("a".to_string()).to_key_bytes());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Desc<T>(pub T);

impl<T> Desc<T> {
    /// The wrapped value.
    ///
    /// ```
    /// use skiff::Desc;
    ///
    /// let mut years = vec![Desc(2022u16), Desc(2024), Desc(2023)];
    /// years.sort(); // newest first
    /// assert_eq!(years.into_iter().map(Desc::into_inner).collect::<Vec<_>>(), [2024, 2023, 2022]);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Desc<T> {
    fn from(value: T) -> Self {
        Desc(value)
    }
}

impl<T: PartialOrd> PartialOrd for Desc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        other.0.partial_cmp(&self.0)
    }
}

impl<T: Ord> Ord for Desc<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

/// `T`'s encoding with every byte complemented.
impl<T: Key> Key for Desc<T> {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.0.encode_key(out);
        if let Some(written) = out.get_mut(start..) {
            written.iter_mut().for_each(|b| *b = !*b);
        }
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        // T's decoder reads plain bytes, so un-complement what follows and see
        // how much of it T consumes. Keys are short; the copy is cheap.
        let plain: Vec<u8> = input.iter().map(|b| !b).collect();
        let mut rest = &plain[..];
        let value = match T::decode_key(&mut rest) {
            Ok(value) => value,
            Err(e) => {
                // Leave `input` where T's decoder stopped, as if it had read in
                // place, so the error's offset points into this component.
                *input = &input[plain.len() - rest.len()..];
                return Err(e);
            }
        };
        let used = plain.len() - rest.len();
        let (_, after) = input
            .split_at_checked(used)
            .ok_or_else(|| KeyDecodeError::new::<Self>(KeyDecodeErrorKind::UnexpectedEnd))?;
        *input = after;
        Ok(Desc(value))
    }
}

macro_rules! tuple {
    ($($T:ident . $idx:tt),+) => {
        /// The components' encodings, concatenated in order.
        impl<$($T: Key),+> Key for ($($T,)+) {
            type Borrowed = Self;

            fn encode_key(&self, out: &mut Vec<u8>) {
                $( self.$idx.encode_key(out); )+
            }

            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                Ok(($( $T::decode_key(input)?, )+))
            }
        }
    };
}

tuple!(T0.0);
tuple!(T0.0, T1.1);
tuple!(T0.0, T1.1, T2.2);
tuple!(T0.0, T1.1, T2.2, T3.3);
tuple!(T0.0, T1.1, T2.2, T3.3, T4.4);
tuple!(T0.0, T1.1, T2.2, T3.3, T4.4, T5.5);
tuple!(T0.0, T1.1, T2.2, T3.3, T4.4, T5.5, T6.6);
tuple!(T0.0, T1.1, T2.2, T3.3, T4.4, T5.5, T6.6, T7.7);

/// `prefix!([key components] [prefix component: key component . index, …])`
macro_rules! prefix {
    ([$($T:ident),+] [$($Q:ident : $P:ident . $idx:tt),*]) => {
        /// The leading components, each in a [`KeyRef`] form of its key component.
        impl<$($T: Key,)+ $($Q: KeyRef<$P>,)*> KeyPrefix<($($T,)+)> for ($($Q,)*) {
            #[allow(unused_variables)]
            fn encode_prefix(&self, out: &mut Vec<u8>) {
                $( KeyRef::<$P>::encode_key_ref(&self.$idx, out); )*
            }
        }
    };
}

prefix!([T0] []);
prefix!([T0] [Q0: T0 . 0]);
prefix!([T0, T1] []);
prefix!([T0, T1] [Q0: T0 . 0]);
prefix!([T0, T1] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2] []);
prefix!([T0, T1, T2] [Q0: T0 . 0]);
prefix!([T0, T1, T2] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3] []);
prefix!([T0, T1, T2, T3] [Q0: T0 . 0]);
prefix!([T0, T1, T2, T3] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2, T3] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3]);
prefix!([T0, T1, T2, T3, T4] []);
prefix!([T0, T1, T2, T3, T4] [Q0: T0 . 0]);
prefix!([T0, T1, T2, T3, T4] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2, T3, T4] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3, T4] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3]);
prefix!([T0, T1, T2, T3, T4] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4]);
prefix!([T0, T1, T2, T3, T4, T5] []);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0]);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3]);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4]);
prefix!([T0, T1, T2, T3, T4, T5] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5]);
prefix!([T0, T1, T2, T3, T4, T5, T6] []);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5]);
prefix!([T0, T1, T2, T3, T4, T5, T6] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5, Q6: T6 . 6]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] []);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5, Q6: T6 . 6]);
prefix!([T0, T1, T2, T3, T4, T5, T6, T7] [Q0: T0 . 0, Q1: T1 . 1, Q2: T2 . 2, Q3: T3 . 3, Q4: T4 . 4, Q5: T5 . 5, Q6: T6 . 6, Q7: T7 . 7]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::{assert_format, assert_ordered};

    #[test]
    fn errors_inside_desc_point_at_the_failing_component() {
        // The `bool` inside the `Desc` starts at offset 2 and holds 0xF0 once
        // un-complemented: not a bool.
        let err = <(u8, Desc<(u8, bool)>)>::from_key_bytes(&[1, 0xFE, 0x0F]).unwrap_err();
        assert_eq!((err.type_name(), err.offset()), ("bool", Some(2)));
    }

    #[test]
    fn option_none_first() {
        assert_eq!(None::<u8>.to_key_bytes(), [0]);
        assert_eq!(Some(5u8).to_key_bytes(), [1, 5]);
        assert_ordered(&[None, Some(i8::MIN), Some(0), Some(i8::MAX)]);
        assert_ordered(&[None, Some(None), Some(Some(false)), Some(Some(true))]);
        assert_format(&Some(Some("x".to_string())));
        assert_format(&None::<String>);
        assert_eq!(
            Option::<u8>::from_key_bytes(&[7]).unwrap_err().kind(),
            &KeyDecodeErrorKind::InvalidTag { tag: 7 }
        );
    }

    #[test]
    fn desc_reverses_even_variable_length() {
        assert_eq!(Desc(0u8).to_key_bytes(), [0xFF]);
        assert_eq!(Desc(String::new()).to_key_bytes(), [0xFF, 0xFF]);
        assert_eq!(Desc("ab".to_string()).to_key_bytes(), [0x9E, 0x9D, 0xFF, 0xFF]);
        let strings = ["\u{10FFFF}", "b", "ab", "a\0", "a", "\0", ""].map(|s| Desc(s.to_string()));
        assert_ordered(&strings);
        assert_ordered(&[Desc(Some(3u8)), Desc(Some(1)), Desc(None)]);
        assert_ordered(&[Desc(Desc(1u8)), Desc(Desc(2))]);
        let pairs = [
            (Desc("b".to_string()), 0u8),
            (Desc("a\0".to_string()), 9),
            (Desc("a".to_string()), 0),
        ];
        assert_ordered(&pairs);
        for p in pairs {
            assert_format(&p);
        }
        assert_format(&Desc(vec![0u8, 0xFF]));
        assert_format(&(Desc(-1.5f64), Desc(Desc(String::from("z")))));
    }

    #[test]
    fn tuples_compare_component_wise() {
        assert_eq!((1u8, 2u8).to_key_bytes(), [1, 2]);
        assert_ordered(&[
            ("a".to_string(), 9u8),
            ("a".to_string(), 10),
            ("a\0".to_string(), 0),
            ("b".to_string(), 0),
        ]);
        assert_format(&(1u8,));
        assert_format(&(
            1u8,
            -2i16,
            '3',
            "4".to_string(),
            vec![5u8],
            Some(6u32),
            Desc(7u64),
            [8u8; 2],
        ));
    }

    #[test]
    fn tuple_prefixes_match_leading_components() {
        let key = ("Paris".to_string(), 30u32, true);
        let bytes = key.to_key_bytes();
        assert_eq!(
            KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&()),
            Vec::<u8>::new()
        );
        assert!(bytes.starts_with(&KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&("Paris",))));
        assert!(bytes.starts_with(&KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&(&key.0, 30))));
        assert_eq!(
            KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&("Paris", 30, true)),
            bytes
        );
        assert!(!bytes.starts_with(&KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&("Pari",))));
        assert!(!bytes.starts_with(&KeyPrefix::<(String, u32, bool)>::to_prefix_bytes(&("Paris", 3))));
    }
}
