//! Hashing for the engine's own integer ids (leaf ids, segment numbers and the
//! locations built from them) in its hash maps.
//!
//! std's default hasher, SipHash, resists keys chosen to collide; these keys
//! are never chosen by anyone outside the engine, and the checkpointer hashes
//! every leaf's id and locations at least once per run. A multiply-and-rotate
//! step per word (the scheme of rustc's `FxHasher`) and a final mix cost a few
//! cycles.
//! Measured on a 1M-key load, SipHash took about a tenth of the checkpointer's
//! time.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// An odd constant with well-spread bits (as in `FxHasher`).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// A fast hasher for integer keys (see the module documentation).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    /// Mixes high bits into low ones (MurmurHash3's finalizer): tables index
    /// by the low bits, and ids such as offsets that are multiples of a page
    /// size differ only in high ones.
    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A `HashMap` keyed by engine ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A `HashSet` of engine ids.
pub(crate) type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keyed_by_ids_find_everything_and_spread_over_buckets() {
        let mut map: IdMap<u64, u64> = IdMap::default();
        for id in 0..100_000u64 {
            map.insert(id * 4096, id);
        }
        assert!((0..100_000u64).all(|id| map.get(&(id * 4096)) == Some(&id)));
        assert_eq!(map.get(&1), None);
        // Ids that differ only in high bits, or only in low ones, still differ
        // in the low bits a table indexes by.
        for step in [1u64, 1 << 12, 1 << 32, 1 << 54] {
            let buckets: IdSet<u64> = (0..1024u64)
                .map(|i| {
                    let mut h = IdHasher::default();
                    h.write_u64(i.wrapping_mul(step));
                    h.finish() & 1023
                })
                .collect();
            assert!(
                buckets.len() > 500,
                "step {step}: {} buckets of 1024",
                buckets.len()
            );
        }
    }
}
