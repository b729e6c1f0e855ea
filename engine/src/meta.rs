//! The database marker file `skiff.meta`: what makes a directory a Skiff database.
//!
//! ```text
//!  0  8  magic "SKIFF-DB"
//!  8  4  format version (LE)
//! 12  4  crc32 (LE) of bytes 0..12
//! ```
//!
//! It is written once, when the database is created, as the last step: to a
//! temporary name, fsynced, renamed into place, and the directory fsynced. A
//! directory without it is either foreign (left untouched) or a creation that
//! crashed before finishing (started over).

/// The file name inside the database directory.
pub(crate) const FILE_NAME: &str = "skiff.meta";
/// The temporary name used while creating it.
pub(crate) const TEMP_NAME: &str = "skiff.meta.tmp";
/// The format version this build writes; it reads versions up to this one,
/// and opening an older database upgrades its marker.
///
/// 1. The first format.
/// 2. Pages may store their keys without the prefix all of them share
///    (flag bit 1, see `page`).
pub(crate) const FORMAT_VERSION: u32 = 2;

const MAGIC: &[u8; 8] = b"SKIFF-DB";
pub(crate) const LEN: usize = 16;

pub(crate) fn encode() -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Why a marker file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetaError {
    /// Not our magic: some other program's file.
    Foreign,
    /// Our magic, but damaged.
    Damaged,
    /// A format version this build does not know.
    Version(u32),
}

/// Decodes the marker, returning the format version.
pub(crate) fn decode(bytes: &[u8]) -> Result<u32, MetaError> {
    if bytes.len() < 8 || &bytes[0..8] != MAGIC {
        return Err(MetaError::Foreign);
    }
    if bytes.len() != LEN {
        return Err(MetaError::Damaged);
    }
    let stored = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc32fast::hash(&bytes[..12]) != stored {
        return Err(MetaError::Damaged);
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(MetaError::Version(version));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode()), Ok(FORMAT_VERSION));
    }

    #[test]
    fn every_truncation_is_rejected() {
        let b = encode();
        for cut in 0..LEN {
            assert!(decode(&b[..cut]).is_err());
        }
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let b = encode();
        for byte in 0..LEN {
            for bit in 0..8 {
                let mut bad = b;
                bad[byte] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "flip {byte}:{bit} accepted");
            }
        }
    }

    #[test]
    fn newer_version_is_reported() {
        let mut b = encode();
        b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let crc = crc32fast::hash(&b[..12]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&b), Err(MetaError::Version(FORMAT_VERSION + 1)));
    }
}
