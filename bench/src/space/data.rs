//! Keys, values, orders and disk sizes of the `space` subcommand.
//!
//! Entry `i` (for `i` in `0..N`) has the 16-byte key [`key`]`(i)`: the big-endian
//! `i` followed by a big-endian hash of `i`, so keys sort by `i` and "every key whose
//! index % 10 != 0" is a set of key ranges. Orders are pseudo-random permutations
//! computed on the fly ([`Permutation`]), which keeps them out of the memory the
//! `space-child` process measures. Values are random bytes, fresh for every write.

use std::path::Path;

use rand::rngs::StdRng;
use rand::Rng;

use crate::data::{Key, BATCH_SIZE, KEY_LEN};
use crate::engines::Engine;
use crate::BenchResult;

/// The SplitMix64 increment (2^64 / golden ratio).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer: a bijective, well-mixing hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of entry `i`: big-endian `i`, then a big-endian hash of `i` as padding.
pub fn key(i: u64) -> Key {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&i.to_be_bytes());
    k[8..].copy_from_slice(&mix(i).to_be_bytes());
    k
}

/// Bytes of `n` entries with `value_len`-byte values (keys are [`KEY_LEN`] bytes).
pub fn raw_bytes(n: u64, value_len: usize) -> u64 {
    n.saturating_mul(entry_len(value_len))
}

/// Bytes of one entry: its key and its value.
pub fn entry_len(value_len: usize) -> u64 {
    u64::try_from(KEY_LEN + value_len).unwrap_or(u64::MAX)
}

/// A pseudo-random permutation of `0..n`, computed one position at a time in
/// constant memory: a 4-round Feistel network over the smallest even number of
/// bits that covers `n`, cycle-walked back into `0..n`.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    mask: u64,
    round_keys: [u64; 4],
}

impl Permutation {
    /// The permutation of `0..n` chosen by `seed`.
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let mut state = mix(seed);
        let round_keys = [0u64; 4].map(|_| {
            state = state.wrapping_add(GOLDEN);
            mix(state)
        });
        Permutation {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
            round_keys,
        }
    }

    /// Number of positions.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// The element at position `i` (`i < len`).
    pub fn at(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        let mut x = i;
        // The Feistel network is a bijection of 0..2^(2 * half_bits), a domain
        // under 4 n: following x's cycle must come back into 0..n, in 4 steps on
        // average.
        loop {
            x = self.encrypt(x);
            if x < self.n {
                return x;
            }
        }
    }

    /// One pass of the Feistel network.
    fn encrypt(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask);
        for k in self.round_keys {
            let f = mix(right ^ k) & self.mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }
}

/// Writes every entry `0..order.len()` once, in `order`, with fresh random
/// `value_len`-byte values from `rng`, in batches of [`BATCH_SIZE`].
pub fn write_all(
    engine: &dyn Engine,
    order: &Permutation,
    value_len: usize,
    rng: &mut StdRng,
) -> BenchResult<()> {
    let mut keys: Vec<Key> = Vec::with_capacity(BATCH_SIZE);
    let mut values = vec![0u8; BATCH_SIZE * value_len];
    let batch_len = u64::try_from(BATCH_SIZE)?;
    let mut start = 0;
    while start < order.len() {
        let end = (start + batch_len).min(order.len());
        keys.clear();
        keys.extend((start..end).map(|i| key(order.at(i))));
        let vals = &mut values[..keys.len() * value_len];
        rng.fill(vals);
        let batch: Vec<(&[u8], &[u8])> = keys
            .iter()
            .map(|k| &k[..])
            .zip(vals.chunks_exact(value_len))
            .collect();
        engine.put_batch(&batch)?;
        start = end;
    }
    Ok(())
}

/// Removes, in `order` and in batches of [`BATCH_SIZE`], every entry `i` for which
/// `doomed(i)`; returns how many it removed.
pub fn remove_where(
    engine: &dyn Engine,
    order: &Permutation,
    doomed: impl Fn(u64) -> bool,
) -> BenchResult<u64> {
    let mut keys: Vec<Key> = Vec::with_capacity(BATCH_SIZE);
    let mut removed = 0;
    let mut flush = |keys: &mut Vec<Key>| -> BenchResult<()> {
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        engine.remove_batch(&refs)?;
        removed += u64::try_from(keys.len())?;
        keys.clear();
        Ok(())
    };
    for i in 0..order.len() {
        let entry = order.at(i);
        if doomed(entry) {
            keys.push(key(entry));
            if keys.len() == BATCH_SIZE {
                flush(&mut keys)?;
            }
        }
    }
    if !keys.is_empty() {
        flush(&mut keys)?;
    }
    Ok(removed)
}

/// What the files under a directory take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Sum of the files' lengths (`metadata.len()`).
    pub len: u64,
    /// Sum of the files' allocated blocks, in bytes (`st_blocks` × 512, as `du`
    /// counts): less than `len` for sparse or pre-sized files.
    pub allocated: u64,
}

/// What all files under `dir` take, recursively (symbolic links are not
/// followed). Files that vanish during the walk (an engine's background work
/// deleting them) count as empty.
pub fn dir_size(dir: &Path) -> BenchResult<DiskUsage> {
    use std::os::unix::fs::MetadataExt as _;

    let mut total = DiskUsage::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(total),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if meta.is_dir() {
            let sub = dir_size(&entry.path())?;
            total.len += sub.len;
            total.allocated += sub.allocated;
        } else if meta.is_file() {
            total.len += meta.len();
            total.allocated += meta.blocks() * 512;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_cover_their_range() {
        for n in [1u64, 2, 3, 4, 5, 17, 1000, 4096, 4097, 20_000] {
            for seed in [0, 1, 42] {
                let p = Permutation::new(n, seed);
                let mut seen: Vec<u64> = (0..n).map(|i| p.at(i)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}, seed = {seed}");
            }
        }
        // Different seeds give different orders.
        let a: Vec<u64> = (0..100).map(|i| Permutation::new(100, 1).at(i)).collect();
        let b: Vec<u64> = (0..100).map(|i| Permutation::new(100, 2).at(i)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn keys_sort_by_index() {
        assert!(key(1) < key(2));
        assert!(key(255) < key(256));
        assert_eq!(key(7).len(), 16);
        assert_eq!(raw_bytes(10, 100), 1160);
    }

    #[test]
    fn dir_size_sums_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(1 << 20).unwrap();
        let usage = dir_size(dir.path()).unwrap();
        assert_eq!(usage.len, 15 + (1 << 20));
        assert!(usage.allocated < 1 << 20);
        assert_eq!(
            dir_size(&dir.path().join("missing")).unwrap(),
            DiskUsage::default()
        );
    }
}
