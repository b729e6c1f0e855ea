//! The page format: one leaf as the page store writes it into a segment.
//!
//! ```text
//! offset  size  field
//!      0     4  crc32 (LE) of bytes 4..28+body_len
//!      4     4  body_len (LE): stored body bytes
//!      8     8  leaf id (LE)
//!     16     4  tree id (LE)
//!     20     1  flags: bit 0 = body is zstd-compressed,
//!                      bit 1 = keys are stored without their common prefix
//!     21     3  zero
//!     24     4  raw_len (LE): body bytes once decompressed
//!     28     n  body
//!
//! body  := lo, has_hi u8, [hi], [prefix], count u32, count × entry
//! entry := key (without the prefix, if flag bit 1), then
//!          varint(2 × value_len), value                  (a value kept inline)
//!          varint(1), segment u64, offset u64, len u32   (a blob: see `blob`)
//! ```
//!
//! Byte strings (`lo`, `hi`, keys) are a varint length and the bytes (see
//! `varint`). Lengths take one or two bytes for typical entries, which is
//! most of a page's overhead over the data itself. Keys of one leaf often
//! share a long prefix (big-endian ids, the typed layer's collection and
//! index prefixes), which is stored once: it saves several bytes an entry.
//!
//! The checksum covers the header too, so a page read from the wrong place (a
//! stale location, another leaf's bytes) fails the leaf-id check or the crc.
//! Decoded keys and values are spans of one buffer (the decompressed body, or
//! with a prefix, the body with each key made whole again), so a loaded leaf
//! is as compact in memory as a packed one (see `leaf::pack`).

use std::fmt;

use crate::checkpoint::Loc;
use crate::fingerprint::shared_len;
use crate::ivec::PackedBuf;
use crate::record::TreeId;
use crate::sync::Arc;
use crate::varint;
use crate::IVec;

/// Bytes before the body.
pub(crate) const HEADER_LEN: usize = 28;
const FLAG_ZSTD: u8 = 1;
const FLAG_PREFIX: u8 = 2;
/// Bodies larger than this are refused before allocating (a damaged length
/// that happens to pass the crc must not exhaust memory). A leaf holds at
/// most about one maximal value beside small entries.
const MAX_RAW_LEN: usize = 2 * crate::MAX_VALUE_LEN;

/// One leaf's contents, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Image {
    pub leaf: u64,
    pub tree: TreeId,
    pub lo: IVec,
    pub hi: Option<IVec>,
    pub entries: Vec<(IVec, Stored)>,
}

/// A value as a page holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    Inline(IVec),
    /// Out of line, in a blob at this location.
    Blob(Loc),
}

impl Image {
    /// Where the blobs this page points to lie.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = Loc> + '_ {
        self.entries.iter().filter_map(|(_, v)| match v {
            Stored::Blob(loc) => Some(*loc),
            Stored::Inline(_) => None,
        })
    }
}

/// Why bytes are not a valid page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageError(pub String);

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, PageError> {
    Err(PageError(what.into()))
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_value(body: &mut Vec<u8>, v: &Stored) {
    match v {
        Stored::Inline(v) => {
            varint::put(body, 2 * v.len() as u64);
            body.extend_from_slice(v);
        }
        Stored::Blob(loc) => {
            varint::put(body, 1);
            body.extend_from_slice(&loc.segment.to_le_bytes());
            body.extend_from_slice(&loc.offset.to_le_bytes());
            body.extend_from_slice(&loc.len.to_le_bytes());
        }
    }
}

/// Encodes one leaf; `level` is the zstd level, or `None` for no compression.
/// A body that does not shrink is stored raw.
pub(crate) fn encode(
    leaf: u64,
    tree: TreeId,
    lo: &[u8],
    hi: Option<&[u8]>,
    entries: &[(IVec, Stored)],
    level: Option<i32>,
) -> Vec<u8> {
    let value_len = |v: &Stored| match v {
        Stored::Inline(v) => 10 + v.len(),
        Stored::Blob(_) => 21,
    };
    let mut body = Vec::with_capacity(
        16 + lo.len()
            + entries
                .iter()
                .map(|(k, v)| 4 + k.len() + value_len(v))
                .sum::<usize>(),
    );
    put_bytes(&mut body, lo);
    match hi {
        Some(hi) => {
            body.push(1);
            put_bytes(&mut body, hi);
        }
        None => body.push(0),
    }
    // Keys are sorted: the first and last share what all of them share. A
    // lone key would only pay for the prefix's length.
    let prefix = match (entries.first(), entries.last()) {
        (Some((first, _)), Some((last, _))) if entries.len() > 1 => shared_len(first, last),
        _ => 0,
    };
    let mut flags = 0;
    if prefix > 0 {
        flags |= FLAG_PREFIX;
        put_bytes(&mut body, &entries[0].0[..prefix]);
    }
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    body.extend_from_slice(&count.to_le_bytes());
    for (k, v) in entries {
        put_bytes(&mut body, &k[prefix..]);
        put_value(&mut body, v);
    }
    let raw_len = body.len();
    let body = match level.map(|l| zstd::bulk::compress(&body, l)) {
        Some(Ok(small)) if small.len() < raw_len => {
            flags |= FLAG_ZSTD;
            small
        }
        _ => body,
    };
    frame(leaf, tree, flags, raw_len, &body)
}

/// The header, crc included, before a stored `body` of `raw_len` bytes once
/// decompressed.
fn frame(leaf: u64, tree: TreeId, flags: u8, raw_len: usize, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&leaf.to_le_bytes());
    out.extend_from_slice(&tree.to_le_bytes());
    out.extend_from_slice(&[flags, 0, 0, 0]);
    out.extend_from_slice(&u32::try_from(raw_len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out[4..]);
    out[0..4].copy_from_slice(&crc.to_le_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The total length of the page starting at `bytes`, read from its header.
/// `None` if the header itself is cut short.
pub(crate) fn stored_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < HEADER_LEN {
        return None;
    }
    Some(HEADER_LEN + u32_at(bytes, 4) as usize)
}

/// Checks a page's crc and returns its leaf id and tree id, without decoding
/// the body (the cleaner copies pages this way).
pub(crate) fn check(bytes: &[u8]) -> Result<(u64, TreeId), PageError> {
    let Some(len) = stored_len(bytes) else {
        return bad("page header cut short");
    };
    if bytes.len() != len {
        return bad(format!("page is {} bytes, its header says {len}", bytes.len()));
    }
    if crc32fast::hash(&bytes[4..]) != u32_at(bytes, 0) {
        return bad("page checksum mismatch");
    }
    if bytes[21..24] != [0, 0, 0] || bytes[20] & !(FLAG_ZSTD | FLAG_PREFIX) != 0 {
        return bad("unknown page flags");
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[8..16]);
    Ok((u64::from_le_bytes(id), u32_at(bytes, 16)))
}

/// Where some bytes of a page body lie: offset and length.
type Span = (usize, usize);

/// A value as parsed from a body, before it becomes a `Stored`.
enum Parsed {
    Inline(Span),
    Blob(Loc),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, PageError> {
        if self.pos + 4 > self.buf.len() {
            return bad("page body cut short");
        }
        let v = u32_at(self.buf, self.pos);
        self.pos += 4;
        Ok(v)
    }

    fn u8(&mut self) -> Result<u8, PageError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return bad("page body cut short");
        };
        self.pos += 1;
        Ok(b)
    }

    fn u64(&mut self) -> Result<u64, PageError> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Ok(lo | hi << 32)
    }

    fn varint(&mut self) -> Result<u64, PageError> {
        varint::get(self.buf, &mut self.pos).or_else(|e| match e {
            varint::VarintError::CutShort => bad("page body cut short"),
            varint::VarintError::Overlong => bad("overlong varint in page"),
        })
    }

    fn bytes(&mut self) -> Result<Span, PageError> {
        let len = self.varint()?;
        self.span(len)
    }

    fn span(&mut self, len: u64) -> Result<Span, PageError> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.buf.len() - self.pos {
            return bad("page body cut short");
        }
        let at = self.pos;
        self.pos += len;
        Ok((at, len))
    }
}

/// Decodes a whole page (exactly `bytes`), checking its crc.
pub(crate) fn decode(bytes: &[u8]) -> Result<Image, PageError> {
    let (leaf, tree) = check(bytes)?;
    let raw_len = u32_at(bytes, 24) as usize;
    if raw_len > MAX_RAW_LEN {
        return bad(format!("page body of {raw_len} bytes is implausible"));
    }
    let stored = &bytes[HEADER_LEN..];
    let body: Vec<u8> = if bytes[20] & FLAG_ZSTD != 0 {
        let out = zstd::bulk::decompress(stored, raw_len)
            .map_err(|e| PageError(format!("page body does not decompress: {e}")))?;
        if out.len() != raw_len {
            return bad("page body decompresses to the wrong length");
        }
        out
    } else {
        if stored.len() != raw_len {
            return bad("raw page body has the wrong length");
        }
        stored.to_vec()
    };
    let mut r = Reader { buf: &body, pos: 0 };
    let lo = r.bytes()?;
    let hi = match r.u8()? {
        0 => None,
        1 => Some(r.bytes()?),
        _ => return bad("bad upper-bound marker in page"),
    };
    let prefix = if bytes[20] & FLAG_PREFIX != 0 {
        r.bytes()?
    } else {
        (0, 0)
    };
    let count = r.u32()? as usize;
    // Each entry takes at least 2 bytes: a damaged count cannot over-allocate.
    if count > (body.len() - r.pos) / 2 {
        return bad("page entry count exceeds its body");
    }
    // Keys made whole must fit a page too: a damaged prefix length that
    // passed the crc must not exhaust memory either.
    if count.saturating_mul(prefix.1) > MAX_RAW_LEN {
        return bad("page keys would be implausibly long with their prefix");
    }
    let head = r.pos;
    let mut parsed = Vec::with_capacity(count);
    for _ in 0..count {
        let k = r.bytes()?;
        let v = match r.varint()? {
            1 => Parsed::Blob(Loc {
                segment: r.u64()?,
                offset: r.u64()?,
                len: r.u32()?,
            }),
            n if n % 2 == 0 => Parsed::Inline(r.span(n / 2)?),
            _ => return bad("bad value marker in page"),
        };
        parsed.push((k, v));
    }
    if r.pos != body.len() {
        return bad("trailing bytes in page body");
    }
    let body = if prefix.1 > 0 {
        make_keys_whole(&body, head, prefix, &mut parsed)
    } else {
        body
    };
    let buf: PackedBuf = Arc::new(body.into_boxed_slice());
    let ivec = |(at, len): Span| IVec::packed(&buf, at, len);
    let mut entries: Vec<(IVec, Stored)> = Vec::with_capacity(count);
    for (k, v) in parsed {
        let k = ivec(k);
        if entries.last().is_some_and(|(prev, _)| *prev >= k) {
            return bad("page keys out of order");
        }
        let v = match v {
            Parsed::Inline(span) => Stored::Inline(ivec(span)),
            Parsed::Blob(loc) => Stored::Blob(loc),
        };
        entries.push((k, v));
    }
    Ok(Image {
        leaf,
        tree,
        lo: ivec(lo),
        hi: hi.map(ivec),
        entries,
    })
}

/// A copy of `body` in which every key is whole (the prefix, then the stored
/// rest), so that keys stay spans of one buffer; `parsed` is moved to it.
/// The first `head` bytes (bounds, prefix, count) are kept as they are.
fn make_keys_whole(body: &[u8], head: usize, prefix: Span, parsed: &mut [(Span, Parsed)]) -> Vec<u8> {
    let prefix = &body[prefix.0..prefix.0 + prefix.1];
    let mut out = Vec::with_capacity(body.len() + parsed.len() * prefix.len());
    out.extend_from_slice(&body[..head]);
    for (key, value) in parsed {
        let at = out.len();
        out.extend_from_slice(prefix);
        out.extend_from_slice(&body[key.0..key.0 + key.1]);
        *key = (at, out.len() - at);
        if let Parsed::Inline(span) = value {
            let at = out.len();
            out.extend_from_slice(&body[span.0..span.0 + span.1]);
            *span = (at, span.1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample(n: usize, long: bool) -> Image {
        let entries = (0..n)
            .map(|i| {
                let v = if long {
                    vec![u8::try_from(i % 256).unwrap(); 40 + i % 7]
                } else {
                    vec![7; i % 5]
                };
                let v = if i % 11 == 3 {
                    Stored::Blob(Loc {
                        segment: i as u64,
                        offset: 16 + i as u64,
                        len: 5000,
                    })
                } else {
                    Stored::Inline(IVec::from(v))
                };
                (IVec::from(format!("key{i:05}").as_bytes()), v)
            })
            .collect();
        Image {
            leaf: 42,
            tree: 3,
            lo: IVec::from(&b"key"[..]),
            hi: Some(IVec::from(&b"kez"[..])),
            entries,
        }
    }

    fn enc(img: &Image, level: Option<i32>) -> Vec<u8> {
        encode(
            img.leaf,
            img.tree,
            &img.lo,
            img.hi.as_deref(),
            &img.entries,
            level,
        )
    }

    #[test]
    fn round_trip_raw_and_compressed() {
        for img in [sample(0, false), sample(50, false), sample(200, true)] {
            for level in [None, Some(1), Some(19)] {
                let bytes = enc(&img, level);
                assert_eq!(decode(&bytes).unwrap(), img);
                assert_eq!(stored_len(&bytes), Some(bytes.len()));
            }
        }
        let mut open = sample(3, false);
        open.hi = None;
        assert_eq!(decode(&enc(&open, None)).unwrap(), open);
    }

    #[test]
    fn lengths_at_varint_boundaries_round_trip() {
        let entries = [0usize, 1, 63, 64, 127, 128, 8191, 8192, 16383, 16384, 70_000]
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let k = IVec::from(vec![u8::try_from(i).unwrap(); len.min(300) + 1]);
                (k, Stored::Inline(IVec::from(vec![7u8; len])))
            })
            .collect();
        let img = Image {
            leaf: 1,
            tree: 2,
            lo: IVec::from(vec![0u8; 200]),
            hi: None,
            entries,
        };
        assert_eq!(decode(&enc(&img, None)).unwrap(), img);
    }

    #[test]
    fn a_shared_key_prefix_is_stored_once() {
        // Long keys and values, so that decoded ones are spans of the buffer
        // the decoder rebuilds, not inline copies.
        let prefix = b"users/by-email/0123456789abcdef/";
        let entries: Vec<_> = (0..40u32)
            .map(|i| {
                let mut k = prefix.to_vec();
                k.extend_from_slice(format!("{i:04}").as_bytes());
                (
                    IVec::from(k),
                    Stored::Inline(IVec::from(vec![u8::try_from(i).unwrap(); 30])),
                )
            })
            .collect();
        let img = Image {
            leaf: 9,
            tree: 1,
            lo: IVec::from(&b"users/"[..]),
            hi: None,
            entries,
        };
        let bytes = enc(&img, None);
        assert_eq!(bytes[20] & FLAG_PREFIX, FLAG_PREFIX);
        let whole: usize = img.entries.iter().map(|(k, _)| k.len() + 1 + 1 + 30).sum();
        assert!(
            bytes.len() < HEADER_LEN + whole - 30 * 39,
            "{} bytes",
            bytes.len()
        );
        assert_eq!(decode(&bytes).unwrap(), img);
        // Two equal-length keys differing in the last byte: a 1-byte rest each.
        let two = Image {
            entries: img.entries[..2].to_vec(),
            ..img.clone()
        };
        assert_eq!(decode(&enc(&two, Some(3))).unwrap(), two);
    }

    /// The layout before keys lost their common prefix: every key whole, flag
    /// bit 1 clear.
    fn encode_without_prefix(img: &Image) -> Vec<u8> {
        let mut body = Vec::new();
        put_bytes(&mut body, &img.lo);
        match &img.hi {
            Some(hi) => {
                body.push(1);
                put_bytes(&mut body, hi);
            }
            None => body.push(0),
        }
        body.extend_from_slice(&u32::try_from(img.entries.len()).unwrap().to_le_bytes());
        for (k, v) in &img.entries {
            put_bytes(&mut body, k);
            put_value(&mut body, v);
        }
        frame(img.leaf, img.tree, 0, body.len(), &body)
    }

    #[test]
    fn a_prefix_too_long_for_its_entries_is_refused() {
        // Hand-made body: lo "", no hi, a 1 MiB prefix, 300 one-byte keys.
        let mut body = vec![0, 0];
        varint::put(&mut body, 1 << 20);
        body.extend(std::iter::repeat_n(b'p', 1 << 20));
        body.extend_from_slice(&300u32.to_le_bytes());
        for i in 0..300u32 {
            put_bytes(
                &mut body,
                &[u8::try_from(i % 256).unwrap(), u8::try_from(i / 256).unwrap()],
            );
            put_value(&mut body, &Stored::Inline(IVec::default()));
        }
        let page = frame(1, 0, FLAG_PREFIX, body.len(), &body);
        let err = decode(&page).unwrap_err();
        assert!(err.0.contains("implausibly long"), "{err}");
    }

    #[test]
    fn pages_with_whole_keys_still_decode() {
        for img in [sample(1, false), sample(50, false), sample(200, true)] {
            let old = encode_without_prefix(&img);
            assert_eq!(decode(&old).unwrap(), img);
            assert!(enc(&img, None).len() <= old.len());
        }
    }

    #[test]
    fn compression_shrinks_repetitive_pages() {
        let img = sample(200, true);
        assert!(enc(&img, Some(3)).len() * 2 < enc(&img, None).len());
    }

    #[test]
    fn every_truncation_is_an_error() {
        for level in [None, Some(3)] {
            let bytes = enc(&sample(20, true), level);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        for level in [None, Some(3)] {
            let bytes = enc(&sample(10, false), level);
            for byte in 0..bytes.len() {
                for bit in 0..8 {
                    let mut bad = bytes.clone();
                    bad[byte] ^= 1 << bit;
                    assert!(decode(&bad).is_err(), "flip {byte}:{bit} accepted");
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let cases = if std::env::var_os("SKIFF_STRESS").is_some() {
            100_000
        } else {
            256
        };
        for _ in 0..cases {
            let len = rng.gen_range(0..200);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let _ = decode(&bytes);
            // Also with a valid crc, so decoding gets past the checksum.
            if bytes.len() >= HEADER_LEN {
                let body = u32::try_from(bytes.len() - HEADER_LEN).unwrap();
                bytes[4..8].copy_from_slice(&body.to_le_bytes());
                let crc = crc32fast::hash(&bytes[4..]);
                bytes[0..4].copy_from_slice(&crc.to_le_bytes());
                let _ = decode(&bytes);
            }
        }
    }
}
