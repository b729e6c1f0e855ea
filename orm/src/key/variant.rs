//! The variant index of a derived enum key: an order-preserving varint.
//!
//! Index `i` below `0xF8` is the single byte `i`. A larger index is the tag byte
//! `0xF7 + n` followed by the index in `n` big-endian bytes, `n` as small as
//! possible (1 to 4 for a `u32`; tags up to `0xFF`, i.e. 8 bytes, are reserved).
//! Single-byte indexes sort below every tag, a longer minimal form always holds
//! a larger number, and equal lengths compare big-endian, so byte order is index
//! order. Decoding rejects non-minimal forms, so every index has one encoding.
//!
//! These functions are called by `#[derive(Key)]` output through
//! `skiff::__private` and are not a public API.

use super::{take, KeyDecodeError, KeyDecodeErrorKind};

/// Largest index written as a single byte.
const MAX_SINGLE: u8 = 0xF7;

/// Appends the order-preserving varint of a variant index.
pub fn encode_variant(index: u32, out: &mut Vec<u8>) {
    match u8::try_from(index) {
        Ok(small) if small <= MAX_SINGLE => out.push(small),
        _ => {
            let bytes = index.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            // 1 to 4 significant bytes: the tag is at most 0xF7 + 4.
            let n = u8::try_from(significant.len()).unwrap_or(4);
            out.push(MAX_SINGLE + n);
            out.extend_from_slice(significant);
        }
    }
}

/// Reads a variant index of enum `T`, which has `variants` variants; an index
/// that is not below `variants` is an error. `input` is only advanced on
/// success.
pub fn decode_variant<T: ?Sized>(input: &mut &[u8], variants: u32) -> Result<u32, KeyDecodeError> {
    let err = |kind| KeyDecodeError::new::<T>(kind);
    let mut rest = *input;
    let [tag] = take::<T, 1>(&mut rest)?;
    let index = if tag <= MAX_SINGLE {
        u64::from(tag)
    } else {
        let n = usize::from(tag - MAX_SINGLE);
        let (bytes, after) = rest
            .split_at_checked(n)
            .ok_or_else(|| err(KeyDecodeErrorKind::UnexpectedEnd))?;
        rest = after;
        let minimal = match bytes {
            [single] => *single > MAX_SINGLE,
            [first, ..] => *first != 0,
            [] => false,
        };
        if !minimal {
            return Err(err(KeyDecodeErrorKind::NonCanonical));
        }
        bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    let found = u32::try_from(index).ok().filter(|&i| i < variants);
    let index = found.ok_or_else(|| err(KeyDecodeErrorKind::UnknownVariant { index, variants }))?;
    *input = rest;
    Ok(index)
}

/// Decoding an enum with no variants: always an error (no bytes encode a value
/// of an uninhabited type).
pub fn decode_uninhabited<T>(input: &mut &[u8]) -> Result<T, KeyDecodeError> {
    match decode_variant::<T>(input, 0) {
        Ok(index) => Err(KeyDecodeError::new::<T>(KeyDecodeErrorKind::UnknownVariant {
            index: u64::from(index),
            variants: 0,
        })),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(i: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_variant(i, &mut out);
        out
    }

    #[test]
    fn format() {
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(0xF7), [0xF7]);
        assert_eq!(enc(0xF8), [0xF8, 0xF8]);
        assert_eq!(enc(0xFF), [0xF8, 0xFF]);
        assert_eq!(enc(0x100), [0xF9, 0x01, 0x00]);
        assert_eq!(enc(u32::MAX), [0xFB, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn order_round_trip_and_truncation() {
        let mut samples: Vec<u32> = (0..600).collect();
        samples.extend([0xFFFF, 0x1_0000, 0xFF_FFFF, 0x100_0000, u32::MAX - 1, u32::MAX]);
        for w in samples.windows(2) {
            assert!(enc(w[0]) < enc(w[1]), "{} < {}", w[0], w[1]);
        }
        for &i in &samples {
            let bytes = enc(i);
            let mut input = &bytes[..];
            assert_eq!(
                decode_variant::<()>(&mut input, i.saturating_add(1)).ok(),
                (i < u32::MAX).then_some(i)
            );
            assert!(i == u32::MAX || input.is_empty());
            for cut in 0..bytes.len() {
                assert!(decode_variant::<()>(&mut &bytes[..cut], u32::MAX).is_err());
            }
        }
    }

    #[test]
    fn rejects_non_minimal_and_unknown() {
        let kind = |bytes: &[u8], n| {
            decode_variant::<()>(&mut &bytes[..], n)
                .unwrap_err()
                .kind()
                .clone()
        };
        assert_eq!(kind(&[0xF8, 0x05], 10), KeyDecodeErrorKind::NonCanonical);
        assert_eq!(kind(&[0xF9, 0x00, 0xFF], 1000), KeyDecodeErrorKind::NonCanonical);
        assert_eq!(
            kind(&[3], 3),
            KeyDecodeErrorKind::UnknownVariant {
                index: 3,
                variants: 3
            }
        );
        let big = [0xFF, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            kind(&big, u32::MAX),
            KeyDecodeErrorKind::UnknownVariant {
                index: 1 << 56,
                variants: u32::MAX
            }
        );
        assert!(decode_uninhabited::<std::convert::Infallible>(&mut &[0u8][..]).is_err());
    }
}
