//! LEB128 varints, the length and number encoding of log ops, pages and
//! checkpoints:
//! 7 bits a byte, low bits first, the high bit set on every byte but the
//! last; at most 10 bytes for a `u64`. Small numbers (lengths, segment
//! numbers) take one or two bytes instead of four or eight.

/// Appends `n`.
pub(crate) fn put(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n & 0x7F) as u8 | 0x80);
        n >>= 7;
    }
    buf.push(u8::try_from(n).unwrap_or(0x7F));
}

/// How many bytes `put` takes for `n`.
pub(crate) fn len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

/// Why bytes are not a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The bytes end before the last byte of the varint.
    CutShort,
    /// More than 10 bytes, or a value above `u64::MAX`.
    Overlong,
}

/// Reads the varint at `*pos` and moves `*pos` past it.
pub(crate) fn get(bytes: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    let mut n = 0u64;
    for i in 0..10 {
        let &b = bytes.get(*pos).ok_or(VarintError::CutShort)?;
        *pos += 1;
        let bits = u64::from(b & 0x7F);
        // The tenth byte holds bit 63 only.
        if i == 9 && bits > 1 {
            return Err(VarintError::Overlong);
        }
        n |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(VarintError::Overlong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_width() {
        let mut values = vec![0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX];
        values.extend((0..64).map(|bit| 1u64 << bit));
        for n in values {
            let mut buf = vec![0xAA];
            put(&mut buf, n);
            let mut pos = 1;
            assert_eq!(get(&buf, &mut pos), Ok(n));
            assert_eq!(pos, buf.len(), "{n}");
            assert_eq!(len(n), buf.len() - 1, "{n}");
            for cut in 1..buf.len() {
                let mut pos = 1;
                assert_eq!(get(&buf[..cut], &mut pos), Err(VarintError::CutShort));
            }
        }
    }

    #[test]
    fn overlong_varints_are_refused() {
        let mut pos = 0;
        assert_eq!(get(&[0xFF; 11], &mut pos), Err(VarintError::Overlong));
        // Ten bytes whose last carries more than bit 63.
        let mut too_big = vec![0xFF; 9];
        too_big.push(0x02);
        let mut pos = 0;
        assert_eq!(get(&too_big, &mut pos), Err(VarintError::Overlong));
    }
}
