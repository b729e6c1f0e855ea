//! The write-ahead log record format: encoding and decoding, nothing else.
//!
//! A record is one atomic unit: a single insert, a whole `apply_batch`, or a
//! whole transaction. Recovery applies a record completely or not at all.
//!
//! ```text
//! offset  size  field
//!      0     4  crc32 (LE) of bytes 4..frame_len
//!      4     4  payload_len (LE)
//!      8     8  lsn (LE): 1, 2, 3, ... with no gaps across the whole log
//!     16     8  durable_lsn (LE): every record with a smaller lsn had been
//!               fsynced when this record was written
//!     24     n  payload: op_count u32, then op_count ops
//!   24+n     p  zero padding so that frame_len is a multiple of 8
//!
//! op := tag u8, then by tag
//!   7 insert       tree, key_len, key, value_len, value     (varint numbers)
//!   8 remove       tree, key_len, key                       (varint numbers)
//!   3 create tree  tree u32, name_len u32, name
//!   4 drop tree    tree u32
//!   5 clear tree   tree u32
//!   6 reserve ids  upto u64 (ids below `upto` may have been handed out)
//!   1 insert       tree u32, key_len u32, key, value_len u32, value
//!   2 remove       tree u32, key_len u32, key
//! ```
//!
//! Inserts and removes, nearly every op, number their tree and lengths with
//! varints (see `varint`): 3 bytes of overhead for a small entry instead of
//! 12. Tags 1 and 2 are their fixed-width forms of format version 1, still
//! read. Other integers are little-endian with explicit widths. `durable_lsn` lets
//! recovery tell a torn tail (damage after the last sync, which is trimmed) from
//! damage to data that had been synced (which is `Error::Corruption`).

use crate::varint;
use crate::IVec;

/// Bytes before the payload.
pub(crate) const HEADER_LEN: usize = 24;

const TAG_INSERT: u8 = 1;
const TAG_REMOVE: u8 = 2;
const TAG_CREATE_TREE: u8 = 3;
const TAG_DROP_TREE: u8 = 4;
const TAG_CLEAR_TREE: u8 = 5;
const TAG_RESERVE_IDS: u8 = 6;
const TAG_PUT: u8 = 7;
const TAG_DEL: u8 = 8;

/// Identifies a tree inside the log; assigned when the tree is created and never
/// reused.
pub(crate) type TreeId = u32;

/// One logical change, borrowed for encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpRef<'a> {
    Insert {
        tree: TreeId,
        key: &'a [u8],
        value: &'a [u8],
    },
    Remove {
        tree: TreeId,
        key: &'a [u8],
    },
    CreateTree {
        tree: TreeId,
        name: &'a [u8],
    },
    DropTree {
        tree: TreeId,
    },
    ClearTree {
        tree: TreeId,
    },
    ReserveIds {
        upto: u64,
    },
}

/// One logical change, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Insert { tree: TreeId, key: IVec, value: IVec },
    Remove { tree: TreeId, key: IVec },
    CreateTree { tree: TreeId, name: IVec },
    DropTree { tree: TreeId },
    ClearTree { tree: TreeId },
    ReserveIds { upto: u64 },
}

impl Op {
    #[cfg(test)]
    fn as_ref(&self) -> OpRef<'_> {
        match self {
            Op::Insert { tree, key, value } => OpRef::Insert {
                tree: *tree,
                key,
                value,
            },
            Op::Remove { tree, key } => OpRef::Remove { tree: *tree, key },
            Op::CreateTree { tree, name } => OpRef::CreateTree { tree: *tree, name },
            Op::DropTree { tree } => OpRef::DropTree { tree: *tree },
            Op::ClearTree { tree } => OpRef::ClearTree { tree: *tree },
            Op::ReserveIds { upto } => OpRef::ReserveIds { upto: *upto },
        }
    }
}

/// The encoded size of one op.
pub(crate) fn op_len(op: &OpRef<'_>) -> usize {
    let bytes = |b: &[u8]| varint::len(b.len() as u64) + b.len();
    1 + match op {
        OpRef::Insert { tree, key, value } => varint::len(u64::from(*tree)) + bytes(key) + bytes(value),
        OpRef::Remove { tree, key } => varint::len(u64::from(*tree)) + bytes(key),
        OpRef::CreateTree { name, .. } => 4 + 4 + name.len(),
        OpRef::DropTree { .. } | OpRef::ClearTree { .. } => 4,
        OpRef::ReserveIds { .. } => 8,
    }
}

/// Appends one framed record holding `ops` to `buf`. The caller has checked that
/// every length fits in a `u32` (see `MAX_BATCH_BYTES`).
pub(crate) fn encode<'a>(
    buf: &mut Vec<u8>,
    lsn: u64,
    durable_lsn: u64,
    ops: impl IntoIterator<Item = OpRef<'a>>,
) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER_LEN]);
    buf.extend_from_slice(&0u32.to_le_bytes());
    let mut count: u32 = 0;
    for op in ops {
        count += 1;
        match op {
            OpRef::Insert { tree, key, value } => {
                buf.push(TAG_PUT);
                varint::put(buf, u64::from(tree));
                put_short(buf, key);
                put_short(buf, value);
            }
            OpRef::Remove { tree, key } => {
                buf.push(TAG_DEL);
                varint::put(buf, u64::from(tree));
                put_short(buf, key);
            }
            OpRef::CreateTree { tree, name } => {
                buf.push(TAG_CREATE_TREE);
                buf.extend_from_slice(&tree.to_le_bytes());
                put_bytes(buf, name);
            }
            OpRef::DropTree { tree } => {
                buf.push(TAG_DROP_TREE);
                buf.extend_from_slice(&tree.to_le_bytes());
            }
            OpRef::ClearTree { tree } => {
                buf.push(TAG_CLEAR_TREE);
                buf.extend_from_slice(&tree.to_le_bytes());
            }
            OpRef::ReserveIds { upto } => {
                buf.push(TAG_RESERVE_IDS);
                buf.extend_from_slice(&upto.to_le_bytes());
            }
        }
    }
    let payload_len = buf.len() - start - HEADER_LEN;
    let padded = (buf.len() - start).next_multiple_of(8);
    buf.resize(start + padded, 0);
    let frame = &mut buf[start..];
    frame[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&count.to_le_bytes());
    frame[4..8].copy_from_slice(
        &u32::try_from(payload_len)
            .expect("caller bounds batch size")
            .to_le_bytes(),
    );
    frame[8..16].copy_from_slice(&lsn.to_le_bytes());
    frame[16..24].copy_from_slice(&durable_lsn.to_le_bytes());
    let crc = crc32fast::hash(&frame[4..]);
    frame[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// A varint length, then the bytes.
fn put_short(buf: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(
        &u32::try_from(bytes.len())
            .expect("caller bounds key and value size")
            .to_le_bytes(),
    );
    buf.extend_from_slice(bytes);
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub lsn: u64,
    pub durable_lsn: u64,
    pub ops: Vec<Op>,
}

/// Why bytes did not decode as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The bytes end before the frame does.
    Truncated,
    /// The checksum does not match.
    Checksum { expected: u32, found: u32 },
    /// The checksum matches but the payload is not well formed.
    Malformed(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated => write!(f, "log record is truncated"),
            DecodeError::Checksum { expected, found } => {
                write!(
                    f,
                    "log record checksum mismatch (stored {expected:#010x}, computed {found:#010x})"
                )
            }
            DecodeError::Malformed(what) => write!(f, "malformed log record: {what}"),
        }
    }
}

/// Decodes the record at the start of `bytes`, returning it and its frame length.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Record, usize), DecodeError> {
    let header = bytes.get(..HEADER_LEN).ok_or(DecodeError::Truncated)?;
    let stored_crc = u32_at(header, 0);
    let payload_len = usize::try_from(u32_at(header, 4)).map_err(|_| DecodeError::Malformed("length"))?;
    let frame_len = (HEADER_LEN + payload_len).next_multiple_of(8);
    let frame = bytes.get(..frame_len).ok_or(DecodeError::Truncated)?;
    let crc = crc32fast::hash(&frame[4..]);
    if crc != stored_crc {
        return Err(DecodeError::Checksum {
            expected: stored_crc,
            found: crc,
        });
    }
    let lsn = u64_at(header, 8);
    let durable_lsn = u64_at(header, 16);
    let mut r = Reader {
        bytes: &frame[HEADER_LEN..HEADER_LEN + payload_len],
    };
    let count = r.u32()?;
    // Every op takes at least 3 bytes, which bounds the allocation below.
    if usize::try_from(count).map_err(|_| DecodeError::Malformed("op count"))? > r.bytes.len() / 3 {
        return Err(DecodeError::Malformed("op count exceeds payload"));
    }
    let mut ops = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let op = match r.u8()? {
            TAG_PUT => Op::Insert {
                tree: r.tree()?,
                key: r.short()?,
                value: r.short()?,
            },
            TAG_DEL => Op::Remove {
                tree: r.tree()?,
                key: r.short()?,
            },
            TAG_INSERT => Op::Insert {
                tree: r.u32()?,
                key: r.bytes()?,
                value: r.bytes()?,
            },
            TAG_REMOVE => Op::Remove {
                tree: r.u32()?,
                key: r.bytes()?,
            },
            TAG_CREATE_TREE => Op::CreateTree {
                tree: r.u32()?,
                name: r.bytes()?,
            },
            TAG_DROP_TREE => Op::DropTree { tree: r.u32()? },
            TAG_CLEAR_TREE => Op::ClearTree { tree: r.u32()? },
            TAG_RESERVE_IDS => Op::ReserveIds { upto: r.u64()? },
            _ => return Err(DecodeError::Malformed("unknown op tag")),
        };
        ops.push(op);
    }
    if !r.bytes.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes after the last op"));
    }
    if frame[HEADER_LEN + payload_len..].iter().any(|&b| b != 0) {
        return Err(DecodeError::Malformed("nonzero padding"));
    }
    Ok((
        Record {
            lsn,
            durable_lsn,
            ops,
        },
        frame_len,
    ))
}

/// Bytes at the start of every log file, before its first record.
///
/// ```text
///  0  8  magic "SKIFFWAL"
///  8  4  format version (LE)
/// 12  4  reserved, zero
/// 16  8  file sequence number (LE); files are replayed in this order
/// 24  4  reserved, zero
/// 28  4  crc32 (LE) of bytes 0..28
/// ```
pub(crate) const FILE_HEADER_LEN: usize = 32;
const FILE_MAGIC: &[u8; 8] = b"SKIFFWAL";
/// The log format version this build writes and reads.
pub(crate) const LOG_VERSION: u32 = 1;

pub(crate) fn encode_file_header(seq: u64) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[0..8].copy_from_slice(FILE_MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a log file header was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    Truncated,
    NotALogFile,
    Checksum,
    Version(u32),
}

/// Decodes a log file header, returning the file's sequence number.
pub(crate) fn decode_file_header(bytes: &[u8]) -> Result<u64, HeaderError> {
    let h = bytes.get(..FILE_HEADER_LEN).ok_or(HeaderError::Truncated)?;
    if &h[0..8] != FILE_MAGIC {
        return Err(HeaderError::NotALogFile);
    }
    if crc32fast::hash(&h[..28]) != u32_at(h, 28) {
        return Err(HeaderError::Checksum);
    }
    let version = u32_at(h, 8);
    if version != LOG_VERSION {
        return Err(HeaderError::Version(version));
    }
    Ok(u64_at(h, 16))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Malformed("op runs past the payload"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32_at(self.take(4)?, 0))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64_at(self.take(8)?, 0))
    }
    fn bytes(&mut self) -> Result<IVec, DecodeError> {
        let len = usize::try_from(self.u32()?).map_err(|_| DecodeError::Malformed("length"))?;
        Ok(IVec::from(self.take(len)?))
    }
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut pos = 0;
        let n = varint::get(self.bytes, &mut pos).map_err(|e| match e {
            varint::VarintError::CutShort => DecodeError::Malformed("op runs past the payload"),
            varint::VarintError::Overlong => DecodeError::Malformed("overlong varint"),
        })?;
        self.bytes = &self.bytes[pos..];
        Ok(n)
    }
    fn tree(&mut self) -> Result<TreeId, DecodeError> {
        TreeId::try_from(self.varint()?).map_err(|_| DecodeError::Malformed("tree id"))
    }
    /// A varint length, then the bytes.
    fn short(&mut self) -> Result<IVec, DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DecodeError::Malformed("length"))?;
        Ok(IVec::from(self.take(len)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample_ops(rng: &mut impl Rng) -> Vec<Op> {
        let n = rng.gen_range(0..6);
        (0..n)
            .map(|_| {
                let key: Vec<u8> = (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect();
                let value: Vec<u8> = (0..rng.gen_range(0..80)).map(|_| rng.gen()).collect();
                match rng.gen_range(0..6) {
                    0 => Op::Insert {
                        tree: rng.gen(),
                        key: key.into(),
                        value: value.into(),
                    },
                    1 => Op::Remove {
                        tree: rng.gen(),
                        key: key.into(),
                    },
                    2 => Op::CreateTree {
                        tree: rng.gen(),
                        name: key.into(),
                    },
                    3 => Op::DropTree { tree: rng.gen() },
                    4 => Op::ClearTree { tree: rng.gen() },
                    _ => Op::ReserveIds { upto: rng.gen() },
                }
            })
            .collect()
    }

    fn encoded(lsn: u64, ops: &[Op]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(&mut buf, lsn, lsn.saturating_sub(1), ops.iter().map(Op::as_ref));
        buf
    }

    #[test]
    fn round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for case in 0..256u64 {
            let ops = sample_ops(&mut rng);
            let buf = encoded(case + 1, &ops);
            assert_eq!(buf.len() % 8, 0);
            let expected_len: usize = HEADER_LEN + 4 + ops.iter().map(|o| op_len(&o.as_ref())).sum::<usize>();
            assert_eq!(buf.len(), expected_len.next_multiple_of(8));
            let (rec, len) = decode(&buf).unwrap();
            assert_eq!(len, buf.len());
            assert_eq!(
                rec,
                Record {
                    lsn: case + 1,
                    durable_lsn: case,
                    ops
                }
            );
        }
    }

    /// A frame around `payload`, as `encode` makes one.
    fn frame(lsn: u64, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(payload);
        buf.resize((HEADER_LEN + payload.len()).next_multiple_of(8), 0);
        buf[4..8].copy_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
        buf[8..16].copy_from_slice(&lsn.to_le_bytes());
        buf[16..24].copy_from_slice(&(lsn - 1).to_le_bytes());
        let crc = crc32fast::hash(&buf[4..]);
        buf[0..4].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    #[test]
    fn fixed_width_inserts_and_removes_of_version_1_still_decode() {
        let mut payload = 2u32.to_le_bytes().to_vec();
        payload.push(TAG_INSERT);
        payload.extend_from_slice(&300u32.to_le_bytes());
        put_bytes(&mut payload, b"key");
        put_bytes(&mut payload, b"value");
        payload.push(TAG_REMOVE);
        payload.extend_from_slice(&0u32.to_le_bytes());
        put_bytes(&mut payload, b"gone");
        let (rec, len) = decode(&frame(9, &payload)).unwrap();
        assert_eq!(len, (HEADER_LEN + payload.len()).next_multiple_of(8));
        assert_eq!(
            rec.ops,
            vec![
                Op::Insert {
                    tree: 300,
                    key: IVec::from(b"key"),
                    value: IVec::from(b"value"),
                },
                Op::Remove {
                    tree: 0,
                    key: IVec::from(b"gone"),
                },
            ]
        );
    }

    #[test]
    fn a_small_insert_costs_three_bytes_beside_its_key_and_value() {
        let op = OpRef::Insert {
            tree: 5,
            key: &[1; 16],
            value: &[2; 100],
        };
        assert_eq!(op_len(&op), 1 + 1 + 1 + 16 + 1 + 100);
        // Lengths past one varint byte, and a tree id past four.
        let big = OpRef::Insert {
            tree: u32::MAX,
            key: &[1; 200],
            value: &[2; 20_000],
        };
        assert_eq!(op_len(&big), 1 + 5 + 2 + 200 + 3 + 20_000);
        let mut buf = Vec::new();
        encode(&mut buf, 3, 2, [big]);
        let (rec, _) = decode(&buf).unwrap();
        assert!(
            matches!(&rec.ops[..], [Op::Insert { tree: u32::MAX, key, value }] if key.len() == 200 && value.len() == 20_000)
        );
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for _ in 0..32 {
            let ops = sample_ops(&mut rng);
            let buf = encoded(7, &ops);
            for cut in 0..buf.len() {
                assert!(
                    decode(&buf[..cut]).is_err(),
                    "truncation to {cut} of {} decoded",
                    buf.len()
                );
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let ops = vec![
            Op::Insert {
                tree: 3,
                key: IVec::from(b"key"),
                value: IVec::from(b"value"),
            },
            Op::Remove {
                tree: 1,
                key: IVec::from(b"gone"),
            },
        ];
        let buf = encoded(42, &ops);
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                match decode(&bad) {
                    Ok((rec, _)) => panic!("flip at byte {byte} bit {bit} decoded as {rec:?}"),
                    Err(
                        DecodeError::Truncated | DecodeError::Checksum { .. } | DecodeError::Malformed(_),
                    ) => {}
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..256 {
            let len = rng.gen_range(0..200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn file_header_round_trip_truncation_and_flips() {
        let h = encode_file_header(77);
        assert_eq!(decode_file_header(&h), Ok(77));
        for cut in 0..h.len() {
            assert_eq!(decode_file_header(&h[..cut]), Err(HeaderError::Truncated));
        }
        for byte in 0..h.len() {
            for bit in 0..8 {
                let mut bad = h;
                bad[byte] ^= 1 << bit;
                assert!(decode_file_header(&bad).is_err(), "flip at {byte}:{bit} accepted");
            }
        }
        let mut newer = h;
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&newer[..28]);
        newer[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_file_header(&newer), Err(HeaderError::Version(2)));
    }

    #[test]
    fn crc_valid_but_malformed_payload_is_rejected() {
        // A frame whose checksum is right but whose op count lies.
        let mut buf = encoded(1, &[Op::DropTree { tree: 1 }]);
        buf[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&9u32.to_le_bytes());
        let crc = crc32fast::hash(&buf[4..]);
        buf[0..4].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&buf), Err(DecodeError::Malformed(_))));
    }
}
