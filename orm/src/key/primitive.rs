//! Fixed-width keys: integers, `bool`, `char`, floats and `()`.
//!
//! Every encoding here has a width fixed by the type, so it is trivially
//! self-delimiting; order comes from writing big-endian and mapping the sign so
//! that unsigned byte comparison agrees with the value order.

use super::{take, Key, KeyDecodeError, KeyDecodeErrorKind};

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        /// Big-endian, fixed width.
        impl Key for $t {
            type Borrowed = Self;

            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }

            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                Ok(<$t>::from_be_bytes(take::<Self, { size_of::<$t>() }>(input)?))
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, u128);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        /// Big-endian with the sign bit flipped, so negatives sort first.
        impl Key for $t {
            type Borrowed = Self;

            fn encode_key(&self, out: &mut Vec<u8>) {
                let flipped = <$u>::from_be_bytes(self.to_be_bytes()) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }

            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                let flipped = <$u>::from_be_bytes(take::<Self, { size_of::<$t>() }>(input)?);
                Ok(<$t>::from_be_bytes((flipped ^ (1 << (<$u>::BITS - 1))).to_be_bytes()))
            }
        }
    )*};
}

signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

/// As a `u64` (8 bytes) on every platform, so keys are portable.
impl Key for usize {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        // usize is at most 64 bits on every platform Rust supports.
        let wide = u64::try_from(*self).unwrap_or(u64::MAX);
        wide.encode_key(out);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let wide = u64::decode_key(&mut rest).map_err(|e| KeyDecodeError::new::<Self>(e.kind().clone()))?;
        let value =
            usize::try_from(wide).map_err(|_| KeyDecodeError::new::<Self>(KeyDecodeErrorKind::OutOfRange))?;
        *input = rest;
        Ok(value)
    }
}

/// As an `i64` (8 bytes) on every platform, so keys are portable.
impl Key for isize {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        // isize is at most 64 bits on every platform Rust supports.
        let wide = i64::try_from(*self).unwrap_or(if *self < 0 { i64::MIN } else { i64::MAX });
        wide.encode_key(out);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let wide = i64::decode_key(&mut rest).map_err(|e| KeyDecodeError::new::<Self>(e.kind().clone()))?;
        let value =
            isize::try_from(wide).map_err(|_| KeyDecodeError::new::<Self>(KeyDecodeErrorKind::OutOfRange))?;
        *input = rest;
        Ok(value)
    }
}

/// `false` is `0x00`, `true` is `0x01`; any other byte is rejected.
impl Key for bool {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let value = match take::<Self, 1>(&mut rest)? {
            [0] => false,
            [1] => true,
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

/// The scalar value as a big-endian `u32`; surrogates and values above
/// `0x10FFFF` are rejected.
impl Key for char {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        u32::from(*self).encode_key(out);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let value = u32::from_be_bytes(take::<Self, 4>(&mut rest)?);
        let c = char::from_u32(value)
            .ok_or_else(|| KeyDecodeError::new::<Self>(KeyDecodeErrorKind::InvalidChar { value }))?;
        *input = rest;
        Ok(c)
    }
}

macro_rules! float {
    ($($t:ty => $u:ty),*) => {$(
        #[doc = concat!("IEEE 754 total order, as [`", stringify!($t), "::total_cmp`]:")]
        /// the bits, big-endian, with every bit flipped for a negative sign and
        /// only the sign bit flipped otherwise. So `-NaN < -∞ < … < -0.0 < +0.0 <
        /// … < +∞ < +NaN`, and the exact bits (NaN payloads too) round-trip.
        impl Key for $t {
            type Borrowed = Self;

            fn encode_key(&self, out: &mut Vec<u8>) {
                const SIGN: $u = 1 << (<$u>::BITS - 1);
                let bits = self.to_bits();
                let mapped = if bits & SIGN != 0 { !bits } else { bits ^ SIGN };
                mapped.encode_key(out);
            }

            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                const SIGN: $u = 1 << (<$u>::BITS - 1);
                let mapped = <$u>::from_be_bytes(take::<Self, { size_of::<$t>() }>(input)?);
                let bits = if mapped & SIGN != 0 { mapped ^ SIGN } else { !mapped };
                Ok(<$t>::from_bits(bits))
            }
        }
    )*};
}

float!(f32 => u32, f64 => u64);

/// The empty encoding: `()` has one value.
impl Key for () {
    type Borrowed = Self;

    fn encode_key(&self, _out: &mut Vec<u8>) {}

    fn decode_key(_input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::{assert_format, assert_ordered};

    #[test]
    fn integers_are_big_endian_with_sign_flipped() {
        assert_eq!(0x0102u16.to_key_bytes(), [0x01, 0x02]);
        assert_eq!(0i8.to_key_bytes(), [0x80]);
        assert_eq!((-1i8).to_key_bytes(), [0x7F]);
        assert_eq!(i32::MIN.to_key_bytes(), [0, 0, 0, 0]);
        assert_eq!(i32::MAX.to_key_bytes(), [0xFF; 4]);
        assert_eq!(1usize.to_key_bytes(), 1u64.to_key_bytes());
        assert_eq!((-1isize).to_key_bytes(), (-1i64).to_key_bytes());
        assert_ordered(&[i64::MIN, -2, -1, 0, 1, i64::MAX]);
        assert_ordered(&[i128::MIN, -1, 0, 1, i128::MAX]);
        assert_ordered(&[0u128, 1, u128::MAX]);
        assert_ordered(&[isize::MIN, -1, 0, isize::MAX]);
        for v in [i16::MIN, -1, 0, 1, i16::MAX] {
            assert_format(&v);
        }
        for v in [0u64, 1, u64::MAX] {
            assert_format(&v);
        }
        assert_format(&usize::MAX);
        assert_format(&isize::MIN);
    }

    #[test]
    fn bool_and_char() {
        assert_eq!(false.to_key_bytes(), [0]);
        assert_eq!(true.to_key_bytes(), [1]);
        assert_ordered(&[false, true]);
        assert_eq!(
            bool::from_key_bytes(&[2]).unwrap_err().kind(),
            &KeyDecodeErrorKind::InvalidTag { tag: 2 }
        );
        assert_eq!('a'.to_key_bytes(), [0, 0, 0, 0x61]);
        assert_ordered(&['\0', 'a', 'é', '\u{D7FF}', '\u{E000}', char::MAX]);
        assert_format(&'\u{10FFFF}');
        assert_eq!(
            char::from_key_bytes(&0xD800u32.to_be_bytes()).unwrap_err().kind(),
            &KeyDecodeErrorKind::InvalidChar { value: 0xD800 }
        );
        assert!(char::from_key_bytes(&0x11_0000u32.to_be_bytes()).is_err());
    }

    #[test]
    fn floats_follow_total_cmp() {
        let values = [
            -f64::NAN,
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in values.windows(2) {
            assert_eq!(w[0].total_cmp(&w[1]), std::cmp::Ordering::Less);
            assert!(w[0].to_key_bytes() < w[1].to_key_bytes(), "{} < {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(
                f64::from_key_bytes(&v.to_key_bytes()).unwrap().to_bits(),
                v.to_bits()
            );
            assert_format(&v);
        }
        assert_eq!(0.0f32.to_key_bytes(), [0x80, 0, 0, 0]);
        assert_eq!((-0.0f32).to_key_bytes(), [0x7F, 0xFF, 0xFF, 0xFF]);
        assert!(f32::NEG_INFINITY.to_key_bytes() < (-0.0f32).to_key_bytes());
        assert_format(&f32::NAN);
    }

    #[test]
    fn unit_is_empty() {
        assert_eq!(().to_key_bytes(), Vec::<u8>::new());
        assert_eq!(<()>::from_key_bytes(&[]), Ok(()));
        assert!(<()>::from_key_bytes(&[0]).is_err());
    }
}
