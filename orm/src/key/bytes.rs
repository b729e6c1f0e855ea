//! Variable-length keys: `String` and `Vec<u8>` (escaped and terminated), and
//! fixed-length `[u8; N]`.
//!
//! A byte string is written with every `0x00` escaped as `0x00 0xFF` and is
//! closed by the terminator `0x00 0x00`. The terminator sorts below every byte
//! that can follow a shared prefix (`0x00 0xFF` or any non-zero byte), so a
//! shorter string sorts before its extensions, and because `0x00 0x00` never
//! occurs inside the escaped body, the end is unambiguous and no encoding is a
//! prefix of another. UTF-8 preserves code point order bytewise, so `String`
//! uses the same scheme on its bytes.

use super::{Key, KeyDecodeError, KeyDecodeErrorKind, KeyRef};

/// Byte that follows `0x00` in the body: an escaped zero.
const ESCAPED_ZERO: u8 = 0xFF;
/// Byte that follows `0x00` at the end: the terminator.
const END: u8 = 0x00;

/// Appends `bytes` escaped and terminated.
fn encode_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for chunk in bytes.split_inclusive(|&b| b == 0) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&0) {
            out.push(ESCAPED_ZERO);
        }
    }
    out.extend_from_slice(&[0, END]);
}

/// Reads an escaped, terminated byte string from the front of `input`; errors
/// are reported as errors of `T`. `input` is only advanced on success.
fn decode_escaped<T: ?Sized>(input: &mut &[u8]) -> Result<Vec<u8>, KeyDecodeError> {
    let err = |kind| KeyDecodeError::new::<T>(kind);
    let mut bytes = Vec::new();
    let mut rest = *input;
    loop {
        let zero = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| err(KeyDecodeErrorKind::UnexpectedEnd))?;
        let (body, tail) = rest.split_at(zero);
        bytes.extend_from_slice(body);
        let ([_zero, marker], after) = tail
            .split_first_chunk::<2>()
            .ok_or_else(|| err(KeyDecodeErrorKind::UnexpectedEnd))?;
        rest = after;
        match *marker {
            END => break,
            ESCAPED_ZERO => bytes.push(0),
            byte => return Err(err(KeyDecodeErrorKind::InvalidEscape { byte })),
        }
    }
    *input = rest;
    Ok(bytes)
}

/// The UTF-8 bytes, escaped and terminated (see the module docs). Look up with
/// `&str`.
impl Key for String {
    type Borrowed = str;

    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let mut rest = *input;
        let bytes = decode_escaped::<Self>(&mut rest)?;
        let s = String::from_utf8(bytes)
            .map_err(|_| KeyDecodeError::new::<Self>(KeyDecodeErrorKind::InvalidUtf8))?;
        *input = rest;
        Ok(s)
    }
}

/// Encodes like the `String` with the same contents.
impl KeyRef<String> for str {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
}

/// Encodes like the `String` with the same contents.
impl KeyRef<String> for &str {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
}

/// Encodes like the `String` it points to.
impl KeyRef<String> for &String {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
}

/// The bytes, escaped and terminated (see the module docs). Look up with
/// `&[u8]`.
impl Key for Vec<u8> {
    type Borrowed = [u8];

    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        decode_escaped::<Self>(input)
    }
}

/// Encodes like the `Vec<u8>` with the same contents.
impl KeyRef<Vec<u8>> for [u8] {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}

/// Encodes like the `Vec<u8>` with the same contents.
impl KeyRef<Vec<u8>> for &[u8] {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}

/// Encodes like the `Vec<u8>` it points to.
impl KeyRef<Vec<u8>> for &Vec<u8> {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}

/// Encodes like the `Vec<u8>` with the same contents (so `b"literal"` works).
impl<const N: usize> KeyRef<Vec<u8>> for [u8; N] {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}

/// Encodes like the `Vec<u8>` with the same contents (so `b"literal"` works).
impl<const N: usize> KeyRef<Vec<u8>> for &[u8; N] {
    fn encode_key_ref(&self, out: &mut Vec<u8>) {
        encode_escaped(*self, out);
    }
}

/// The `N` bytes as they are, with no escape or terminator: every value of the
/// type has the same length, so the encoding is already self-delimiting, and
/// arrays compare lexicographically like their bytes.
impl<const N: usize> Key for [u8; N] {
    type Borrowed = Self;

    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }

    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        super::take::<Self, N>(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::{assert_format, assert_ordered};

    #[test]
    fn escapes_zero_and_terminates() {
        assert_eq!(String::new().to_key_bytes(), [0, 0]);
        assert_eq!("ab".to_string().to_key_bytes(), [b'a', b'b', 0, 0]);
        assert_eq!("a\0b".to_string().to_key_bytes(), [b'a', 0, 0xFF, b'b', 0, 0]);
        assert_eq!(vec![0u8, 0].to_key_bytes(), [0, 0xFF, 0, 0xFF, 0, 0]);
        assert_eq!(vec![0xFFu8].to_key_bytes(), [0xFF, 0, 0]);
        assert_eq!([1u8, 0, 2].to_key_bytes(), [1, 0, 2]);
    }

    #[test]
    fn shorter_sorts_first_and_zero_is_ordered() {
        let strings = [
            "",
            "\0",
            "\0\0",
            "\0a",
            "a",
            "a\0",
            "a\0\0",
            "a\u{1}",
            "ab",
            "b",
            "é",
            "\u{10FFFF}",
        ];
        assert_ordered(&strings.map(String::from));
        let bytes: [&[u8]; 8] = [
            &[],
            &[0],
            &[0, 0],
            &[0, 0xFF],
            &[1],
            &[0xFF],
            &[0xFF, 0],
            &[0xFF, 0xFF],
        ];
        assert_ordered(&bytes.map(<[u8]>::to_vec));
        for s in strings {
            assert_format(&s.to_string());
        }
        for b in bytes {
            assert_format(&b.to_vec());
        }
        assert_format(&[0u8, 0xFF, 7]);
        assert_format(&[0u8; 0]);
    }

    #[test]
    fn borrowed_forms_encode_like_owned() {
        let owned = "x\0y".to_string();
        assert_eq!(KeyRef::<String>::to_key_ref_bytes("x\0y"), owned.to_key_bytes());
        assert_eq!(KeyRef::<String>::to_key_ref_bytes(&"x\0y"), owned.to_key_bytes());
        assert_eq!(KeyRef::<String>::to_key_ref_bytes(&&owned), owned.to_key_bytes());
        let owned = vec![0u8, 1];
        assert_eq!(
            KeyRef::<Vec<u8>>::to_key_ref_bytes(&owned[..]),
            owned.to_key_bytes()
        );
        assert_eq!(
            KeyRef::<Vec<u8>>::to_key_ref_bytes(&[0u8, 1]),
            owned.to_key_bytes()
        );
        assert_eq!(
            KeyRef::<Vec<u8>>::to_key_ref_bytes(&&[0u8, 1]),
            owned.to_key_bytes()
        );
        assert_eq!(KeyRef::<Vec<u8>>::to_key_ref_bytes(&&owned), owned.to_key_bytes());
    }

    #[test]
    fn malformed_escapes_are_rejected() {
        let kind = |bytes: &[u8]| String::from_key_bytes(bytes).unwrap_err().kind().clone();
        assert_eq!(kind(b"ab"), KeyDecodeErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"ab\0"), KeyDecodeErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"a\0\x01"), KeyDecodeErrorKind::InvalidEscape { byte: 1 });
        assert_eq!(kind(b"\xFF\0\0"), KeyDecodeErrorKind::InvalidUtf8);
        assert_eq!(Vec::<u8>::from_key_bytes(b"\xFF\0\0"), Ok(vec![0xFF]));
        let err = String::from_key_bytes(b"a\0\0b").unwrap_err();
        assert_eq!(err.kind(), &KeyDecodeErrorKind::TrailingBytes { count: 1 });
        assert_eq!(err.offset(), Some(3));
    }
}
