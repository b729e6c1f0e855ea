//! The blob format: one large value, stored out of line in a segment.
//!
//! A value of at least [`MIN_LEN`] bytes is written by a checkpoint as a blob
//! of its own, and the leaf's page holds only where it lies (see `page`), so
//! pages stay small and a leaf rewritten for a change to another key keeps
//! pointing at the blob it already has instead of copying the value again.
//!
//! ```text
//! offset  size  field
//!      0     4  crc32 (LE) of bytes 4..20+len
//!      4     4  magic "BLOB"
//!      8     4  len (LE)
//!     12     8  id (LE) of the leaf that wrote it
//!     20   len  the value
//! ```

use crate::IVec;

/// Values this long or longer are stored as blobs.
pub(crate) const MIN_LEN: usize = 4096;
const MAGIC: &[u8; 4] = b"BLOB";
/// Bytes before the value.
pub(crate) const HEADER_LEN: usize = 20;

/// Frames `value`, written by leaf `leaf`.
pub(crate) fn encode(leaf: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(MAGIC);
    // Values are at most `MAX_VALUE_LEN`, far below 4 GiB.
    out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&leaf.to_le_bytes());
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[4..]);
    out[0..4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a whole frame and returns the leaf that wrote it.
pub(crate) fn check(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < HEADER_LEN {
        return Err("blob header cut short".into());
    }
    if &bytes[4..8] != MAGIC {
        return Err("not a blob".into());
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if bytes.len() != HEADER_LEN + len {
        return Err(format!(
            "blob is {} bytes, its header says {}",
            bytes.len(),
            HEADER_LEN + len
        ));
    }
    if crc32fast::hash(&bytes[4..]) != u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) {
        return Err("blob checksum mismatch".into());
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[12..20]);
    Ok(u64::from_le_bytes(id))
}

/// Decodes a whole frame: the writing leaf and the value.
pub(crate) fn decode(bytes: &[u8]) -> Result<(u64, IVec), String> {
    let leaf = check(bytes)?;
    Ok((leaf, IVec::from(&bytes[HEADER_LEN..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn round_trip() {
        for len in [0, 1, MIN_LEN, 70_000] {
            let value: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let bytes = encode(9, &value);
            assert_eq!(decode(&bytes).unwrap(), (9, IVec::from(value)));
        }
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = encode(3, &[7u8; 64]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[byte] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "flip {byte}:{bit} accepted");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let cases = if std::env::var_os("SKIFF_STRESS").is_some() {
            100_000
        } else {
            256
        };
        for _ in 0..cases {
            let len = rng.gen_range(0..100);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if bytes.len() >= 8 {
                bytes[4..8].copy_from_slice(MAGIC);
            }
            let _ = decode(&bytes);
        }
    }
}
