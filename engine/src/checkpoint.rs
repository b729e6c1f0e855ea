//! The checkpoint file format: the page table and what recovery needs with it.
//!
//! A checkpoint names, for every tree, every leaf's low key and where its page
//! lies, plus the point in the log where replay starts. It is written whole to
//! `checkpoint.tmp`, fsynced, renamed to `checkpoint` and the directory
//! fsynced, so there is always exactly one valid checkpoint (or none yet).
//!
//! ```text
//! offset  size  field
//!      0     8  magic "SKIFFCKP"
//!      8     4  crc32 (LE) of bytes 12..24+body_len
//!     12     4  format version (LE)
//!     16     8  body_len (LE)
//!     24     n  body
//!
//! body := log_seq u64        first log file recovery reads
//!         start_lsn u64      LSN of the first record to replay
//!         next_tree u32      trees below this id existed (ops on missing ones are skipped)
//!         ids_reserved u64   `generate_id` hands out ids from here
//!         next_leaf u64      leaf ids below this are taken
//!         next_segment u64   the next segment file number
//!         written_ms u64     wall clock, for `stats`
//!         tree_count u32, tree_count × tree
//! tree := id u32, name_len u32, name, leaf_count u32, leaf_count × leaf (in key order)
//! leaf := id, segment, offset, len                      (varints)
//!         shared, rest_len, rest                        lo = previous lo[..shared] ++ rest
//!         blob_count, blob_count × (segment, offset, len)  (varints)
//! ```
//!
//! Varints are LEB128 (see `varint`). A leaf's low key shares most of its
//! bytes with the one before it, so a table entry takes about 20 bytes (52 and the key in version 1): the
//! file is rewritten by every checkpoint, and small is fast. Version 1 wrote
//! every leaf field fixed-width (`id u64, segment u64, offset u64, len u32,
//! lo_len u32, lo, blob_count u32, blobs of u64, u64, u32`); it is still read.
//!
//! A leaf's blobs (its values stored out of line, see `blob`) are listed so
//! that live bytes per segment are known without reading pages.

use std::fmt;

use crate::record::TreeId;
use crate::varint;
use crate::IVec;

/// The file name inside the database directory.
pub(crate) const FILE_NAME: &str = "checkpoint";
/// The temporary name it is written under.
pub(crate) const TEMP_NAME: &str = "checkpoint.tmp";
const MAGIC: &[u8; 8] = b"SKIFFCKP";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 24;

/// Where a page or blob lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Loc {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

/// One leaf in the page table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafEntry {
    pub id: u64,
    pub lo: IVec,
    pub loc: Loc,
    /// The blobs its page points to.
    pub blobs: Vec<Loc>,
}

/// One tree: its name and its leaves in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    pub id: TreeId,
    pub name: IVec,
    pub leaves: Vec<LeafEntry>,
}

/// A decoded checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Checkpoint {
    pub log_seq: u64,
    pub start_lsn: u64,
    pub next_tree: TreeId,
    pub ids_reserved: u64,
    pub next_leaf: u64,
    pub next_segment: u64,
    pub written_ms: u64,
    pub trees: Vec<TreeEntry>,
}

/// Why bytes are not a valid checkpoint, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckpointError {
    /// Damaged or not a checkpoint at all; the offset of the problem.
    Damaged(u64, String),
    /// A newer format version.
    Version(u32),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Damaged(at, what) => write!(f, "{what} (at byte {at})"),
            CheckpointError::Version(v) => write!(f, "checkpoint format version {v} is not supported"),
        }
    }
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Names and keys are at most `MAX_KEY_LEN`.
    buf.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(bytes);
}

fn put_loc(buf: &mut Vec<u8>, loc: &Loc) {
    varint::put(buf, loc.segment);
    varint::put(buf, loc.offset);
    varint::put(buf, u64::from(loc.len));
}

fn put_count(buf: &mut Vec<u8>, n: usize) {
    buf.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// A leaf's table entry, borrowed for encoding (see `Checkpoint::encode_with`).
pub(crate) struct LeafRef<'a> {
    pub id: u64,
    pub lo: &'a [u8],
    pub loc: Loc,
    pub blobs: &'a [Loc],
}

#[cfg(test)]
impl LeafEntry {
    fn as_ref(&self) -> LeafRef<'_> {
        LeafRef {
            id: self.id,
            lo: &self.lo,
            loc: self.loc,
            blobs: &self.blobs,
        }
    }
}

impl Checkpoint {
    /// The whole file (the checkpointer uses `encode_with`).
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.encode_with(
            self.trees
                .iter()
                .map(|t| (t.id, &t.name[..], t.leaves.iter().map(LeafEntry::as_ref))),
        )
    }

    /// The whole file, with `trees` (id, name and leaves in key order) in
    /// place of `self.trees`: the checkpointer encodes its table where it
    /// lies rather than copying every entry into a `Checkpoint` first.
    pub(crate) fn encode_with<'a, L>(
        &self,
        trees: impl ExactSizeIterator<Item = (TreeId, &'a [u8], L)>,
    ) -> Vec<u8>
    where
        L: ExactSizeIterator<Item = LeafRef<'a>>,
    {
        // The header's crc and body length are filled in at the end.
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        for v in [self.log_seq, self.start_lsn] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.next_tree.to_le_bytes());
        for v in [
            self.ids_reserved,
            self.next_leaf,
            self.next_segment,
            self.written_ms,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_count(&mut out, trees.len());
        for (id, name, leaves) in trees {
            out.extend_from_slice(&id.to_le_bytes());
            put_bytes(&mut out, name);
            put_count(&mut out, leaves.len());
            // About 20 bytes a leaf.
            out.reserve(leaves.len() * 24);
            let mut prev: &[u8] = &[];
            for leaf in leaves {
                varint::put(&mut out, leaf.id);
                put_loc(&mut out, &leaf.loc);
                let shared = crate::fingerprint::shared_len(prev, leaf.lo);
                varint::put(&mut out, shared as u64);
                varint::put(&mut out, (leaf.lo.len() - shared) as u64);
                out.extend_from_slice(&leaf.lo[shared..]);
                varint::put(&mut out, leaf.blobs.len() as u64);
                for blob in leaf.blobs {
                    put_loc(&mut out, blob);
                }
                prev = leaf.lo;
            }
        }
        let body_len = (out.len() - HEADER_LEN) as u64;
        out[16..24].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32fast::hash(&out[12..]);
        out[8..12].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a whole file.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let damaged = |at: usize, what: &str| Err(CheckpointError::Damaged(at as u64, what.to_string()));
        if bytes.len() < HEADER_LEN {
            return damaged(0, "checkpoint header cut short");
        }
        if &bytes[0..8] != MAGIC {
            return damaged(0, "not a checkpoint file");
        }
        let mut r = Reader { bytes, pos: 8 };
        let crc = r.u32()?;
        let version = r.u32()?;
        let body_len = r.u64()?;
        if body_len != (bytes.len() - HEADER_LEN) as u64 {
            return damaged(16, "checkpoint length does not match its header");
        }
        if crc32fast::hash(&bytes[12..]) != crc {
            return damaged(0, "checkpoint checksum mismatch");
        }
        if version == 0 || version > VERSION {
            return Err(CheckpointError::Version(version));
        }
        let fixed_width = version == 1;
        let mut c = Checkpoint {
            log_seq: r.u64()?,
            start_lsn: r.u64()?,
            next_tree: r.u32()?,
            ids_reserved: r.u64()?,
            next_leaf: r.u64()?,
            next_segment: r.u64()?,
            written_ms: r.u64()?,
            trees: Vec::new(),
        };
        let trees = r.count(8)?;
        for _ in 0..trees {
            let id = r.u32()?;
            let name = r.bytes()?;
            let leaves = r.count(if fixed_width { 36 } else { 7 })?;
            let mut entry = TreeEntry {
                id,
                name,
                leaves: Vec::with_capacity(leaves),
            };
            for _ in 0..leaves {
                let prev = entry.leaves.last().map_or(&[][..], |l: &LeafEntry| &l.lo[..]);
                let leaf = if fixed_width { r.leaf_v1()? } else { r.leaf(prev)? };
                if entry.leaves.last().is_some_and(|prev| prev.lo >= leaf.lo) {
                    return damaged(r.pos, "checkpoint leaves out of key order");
                }
                entry.leaves.push(leaf);
            }
            if entry.leaves.first().is_none_or(|l| !l.lo.is_empty()) {
                return damaged(r.pos, "checkpoint tree does not start at the empty key");
            }
            c.trees.push(entry);
        }
        if r.pos != bytes.len() {
            return damaged(r.pos, "trailing bytes in checkpoint");
        }
        Ok(c)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CheckpointError> {
        if n > self.bytes.len() - self.pos {
            return Err(CheckpointError::Damaged(
                self.pos as u64,
                "checkpoint cut short".into(),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, CheckpointError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, CheckpointError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<IVec, CheckpointError> {
        let len = self.u32()? as usize;
        Ok(IVec::from(self.take(len)?))
    }

    fn varint(&mut self) -> Result<u64, CheckpointError> {
        let at = self.pos;
        varint::get(self.bytes, &mut self.pos).map_err(|e| {
            let what = match e {
                varint::VarintError::CutShort => "checkpoint cut short",
                varint::VarintError::Overlong => "overlong varint in checkpoint",
            };
            CheckpointError::Damaged(at as u64, what.into())
        })
    }

    /// A varint that must fit `T` (a length, a count, a `u32` field).
    fn small<T: TryFrom<u64>>(&mut self) -> Result<T, CheckpointError> {
        let at = self.pos;
        T::try_from(self.varint()?)
            .map_err(|_| CheckpointError::Damaged(at as u64, "implausible number in checkpoint".into()))
    }

    fn loc(&mut self) -> Result<Loc, CheckpointError> {
        Ok(Loc {
            segment: self.varint()?,
            offset: self.varint()?,
            len: self.small()?,
        })
    }

    /// A leaf entry; its low key shares a prefix with `prev`'s.
    fn leaf(&mut self, prev: &[u8]) -> Result<LeafEntry, CheckpointError> {
        let id = self.varint()?;
        let loc = self.loc()?;
        let at = self.pos;
        let shared: usize = self.small()?;
        if shared > prev.len() {
            return Err(CheckpointError::Damaged(
                at as u64,
                "checkpoint low key shares more than the previous one has".into(),
            ));
        }
        let rest_len: usize = self.small()?;
        if shared.saturating_add(rest_len) > crate::MAX_KEY_LEN {
            return Err(CheckpointError::Damaged(
                at as u64,
                "checkpoint low key longer than any key".into(),
            ));
        }
        let mut lo = prev[..shared].to_vec();
        lo.extend_from_slice(self.take(rest_len)?);
        let blob_count: usize = self.small()?;
        // Each blob takes at least 3 bytes: a damaged count cannot over-allocate.
        if blob_count > (self.bytes.len() - self.pos) / 3 {
            return Err(CheckpointError::Damaged(
                self.pos as u64,
                "checkpoint count exceeds its body".into(),
            ));
        }
        let blobs = (0..blob_count).map(|_| self.loc()).collect::<Result<_, _>>()?;
        Ok(LeafEntry {
            id,
            lo: IVec::from(lo),
            loc,
            blobs,
        })
    }

    /// A leaf entry of format version 1: every field fixed-width.
    fn leaf_v1(&mut self) -> Result<LeafEntry, CheckpointError> {
        let (id, segment, offset) = (self.u64()?, self.u64()?, self.u64()?);
        let len = self.u32()?;
        let lo = self.bytes()?;
        let blob_count = self.count(20)?;
        let mut blobs = Vec::with_capacity(blob_count);
        for _ in 0..blob_count {
            blobs.push(Loc {
                segment: self.u64()?,
                offset: self.u64()?,
                len: self.u32()?,
            });
        }
        Ok(LeafEntry {
            id,
            lo,
            loc: Loc { segment, offset, len },
            blobs,
        })
    }

    /// A count of items at least `min` bytes each, checked against what is left.
    fn count(&mut self, min: usize) -> Result<usize, CheckpointError> {
        let n = self.u32()? as usize;
        if n > (self.bytes.len() - self.pos) / min {
            return Err(CheckpointError::Damaged(
                self.pos as u64,
                "checkpoint count exceeds its body".into(),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample() -> Checkpoint {
        let leaf = |id: u64, lo: &str| LeafEntry {
            id,
            lo: IVec::from(lo.as_bytes()),
            loc: Loc {
                segment: id / 3,
                offset: id * 100,
                len: 77,
            },
            blobs: (0..id % 3)
                .map(|b| Loc {
                    segment: b,
                    offset: 16 + b * 5000,
                    len: 4120,
                })
                .collect(),
        };
        Checkpoint {
            log_seq: 4,
            start_lsn: 1234,
            next_tree: 3,
            ids_reserved: 2_000_000,
            next_leaf: 99,
            next_segment: 12,
            written_ms: 1_700_000_000_000,
            trees: vec![
                TreeEntry {
                    id: 0,
                    name: IVec::from(&b"__skiff__default"[..]),
                    leaves: vec![leaf(1, ""), leaf(5, "m"), leaf(9, "t")],
                },
                TreeEntry {
                    id: 2,
                    name: IVec::from(&b"users"[..]),
                    leaves: vec![leaf(7, "")],
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        assert_eq!(Checkpoint::decode(&c.encode()), Ok(c));
        let empty = Checkpoint::default();
        assert_eq!(Checkpoint::decode(&empty.encode()), Ok(empty));
    }

    /// The whole file in format version 1, as earlier builds wrote it.
    fn encode_v1(c: &Checkpoint) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [c.log_seq, c.start_lsn] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(&c.next_tree.to_le_bytes());
        for v in [c.ids_reserved, c.next_leaf, c.next_segment, c.written_ms] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        put_count(&mut body, c.trees.len());
        for tree in &c.trees {
            body.extend_from_slice(&tree.id.to_le_bytes());
            put_bytes(&mut body, &tree.name);
            put_count(&mut body, tree.leaves.len());
            for leaf in &tree.leaves {
                for v in [leaf.id, leaf.loc.segment, leaf.loc.offset] {
                    body.extend_from_slice(&v.to_le_bytes());
                }
                body.extend_from_slice(&leaf.loc.len.to_le_bytes());
                put_bytes(&mut body, &leaf.lo);
                put_count(&mut body, leaf.blobs.len());
                for blob in &leaf.blobs {
                    body.extend_from_slice(&blob.segment.to_le_bytes());
                    body.extend_from_slice(&blob.offset.to_le_bytes());
                    body.extend_from_slice(&blob.len.to_le_bytes());
                }
            }
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out[12..]);
        out[8..12].copy_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn version_1_files_still_decode() {
        let c = sample();
        assert_eq!(Checkpoint::decode(&encode_v1(&c)), Ok(c));
    }

    #[test]
    fn a_table_entry_takes_under_25_bytes() {
        // 10,000 leaves of a tree of 16-byte big-endian keys, 2 KiB pages.
        let leaves: Vec<LeafEntry> = (0..10_000u64)
            .map(|i| LeafEntry {
                id: 50_000 + i * 7 % 10_000,
                lo: if i == 0 {
                    IVec::default()
                } else {
                    let mut lo = (i * 100).to_be_bytes().to_vec();
                    lo.extend_from_slice(&(i * 0x9E37_79B9).to_be_bytes());
                    IVec::from(lo)
                },
                loc: Loc {
                    segment: 200 + i / 3000,
                    offset: i % 3000 * 2048,
                    len: 2000 + u32::try_from(i % 40).unwrap(),
                },
                blobs: Vec::new(),
            })
            .collect();
        let c = Checkpoint {
            trees: vec![TreeEntry {
                id: 0,
                name: IVec::from(&b"__skiff__default"[..]),
                leaves,
            }],
            ..Checkpoint::default()
        };
        let bytes = c.encode();
        assert!(bytes.len() < 25 * 10_000, "{} bytes", bytes.len());
        assert!(bytes.len() * 2 < encode_v1(&c).len());
        assert_eq!(Checkpoint::decode(&bytes), Ok(c));
    }

    #[test]
    fn a_low_key_sharing_more_than_its_predecessor_is_damage() {
        let mut c = sample();
        c.trees.truncate(1);
        c.trees[0].leaves.truncate(2);
        let mut bytes = c.encode();
        // The second leaf's `shared` is the byte before its rest_len (1) and
        // rest "m": the three bytes before the blob count (5 % 3 = 2 blobs).
        let m = bytes.iter().rposition(|&b| b == b'm').unwrap();
        assert_eq!(bytes[m - 2..m], [0, 1]);
        bytes[m - 2] = 1; // the first leaf's lo is empty: nothing to share
        let crc = crc32fast::hash(&bytes[12..]);
        bytes[8..12].copy_from_slice(&crc.to_le_bytes());
        match Checkpoint::decode(&bytes) {
            Err(CheckpointError::Damaged(at, what)) => {
                assert_eq!(at, (m - 2) as u64, "the offset in the file");
                assert!(what.contains("shares more"), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_low_key_longer_than_any_key_is_damage() {
        let mut c = sample();
        c.trees[0].leaves[1].lo = IVec::from(vec![b'm'; crate::MAX_KEY_LEN + 1]);
        match Checkpoint::decode(&c.encode()) {
            Err(CheckpointError::Damaged(_, what)) => assert!(what.contains("longer than any key"), "{what}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Checkpoint::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = sample().encode();
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[byte] ^= 1 << bit;
                assert!(Checkpoint::decode(&bad).is_err(), "flip {byte}:{bit} accepted");
            }
        }
    }

    #[test]
    fn newer_version_is_reported() {
        let mut bytes = sample().encode();
        bytes[12..16].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let crc = crc32fast::hash(&bytes[12..]);
        bytes[8..12].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            Checkpoint::decode(&bytes),
            Err(CheckpointError::Version(VERSION + 1))
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let cases = if std::env::var_os("SKIFF_STRESS").is_some() {
            100_000
        } else {
            256
        };
        let good = sample().encode();
        for _ in 0..cases {
            // Random bodies behind a valid header and crc, so decoding runs.
            let len = rng.gen_range(0..300);
            let mut bytes = good[..HEADER_LEN].to_vec();
            bytes.extend((0..len).map(|_| rng.gen::<u8>()));
            bytes[16..24].copy_from_slice(&(len as u64).to_le_bytes());
            let crc = crc32fast::hash(&bytes[12..]);
            bytes[8..12].copy_from_slice(&crc.to_le_bytes());
            let _ = Checkpoint::decode(&bytes);
        }
    }
}
