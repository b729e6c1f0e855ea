//! The benchmark's dataset: keys, values and access orders, all derived from one seed
//! so that every engine sees exactly the same operations in the same order.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::BenchResult;

/// Length of every key, in bytes.
pub const KEY_LEN: usize = 16;
/// Length of every value, in bytes.
pub const VALUE_LEN: usize = 100;
/// Number of operations per write batch / transaction during the bulk load.
pub const BATCH_SIZE: usize = 1_000;
/// Number of range scans in the scan workload.
pub const SCANS: usize = 10_000;
/// Number of consecutive entries each scan reads (fewer near the end of the key space).
pub const SCAN_LEN: usize = 100;

/// A key.
pub type Key = [u8; KEY_LEN];
/// A value.
pub type Value = [u8; VALUE_LEN];

/// Everything the workloads need, generated up front (outside any timed section).
#[derive(Debug)]
pub struct Dataset {
    /// Seed everything was generated from.
    pub seed: u64,
    /// Distinct pseudo-random entries, in insertion order.
    pub entries: Vec<(Key, Value)>,
    /// Indexes into `entries` of the keys to read, in read order.
    pub reads: Vec<usize>,
    /// Start keys of the scans, each paired with how many entries the scan must see.
    pub scans: Vec<(Key, usize)>,
    /// Indexes into `entries` in removal order (a permutation).
    pub removes: Vec<usize>,
}

impl Dataset {
    /// Generates `n` distinct entries and the access orders from `seed`.
    pub fn generate(n: usize, seed: u64) -> BenchResult<Dataset> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut seen: HashSet<Key> = HashSet::with_capacity(n);
        let mut entries = Vec::with_capacity(n);
        while entries.len() < n {
            let mut key = [0u8; KEY_LEN];
            rng.fill(&mut key[..]);
            if !seen.insert(key) {
                continue;
            }
            let mut value = [0u8; VALUE_LEN];
            rng.fill(&mut value[..]);
            entries.push((key, value));
        }
        drop(seen);

        let reads = (0..n).map(|_| rng.gen_range(0..n)).collect();

        let mut sorted: Vec<Key> = entries.iter().map(|(k, _)| *k).collect();
        sorted.sort_unstable();
        let scans = (0..SCANS)
            .map(|_| {
                let pos = rng.gen_range(0..n);
                (sorted[pos], SCAN_LEN.min(n - pos))
            })
            .collect();

        let mut removes: Vec<usize> = (0..n).collect();
        removes.shuffle(&mut rng);

        if entries.is_empty() {
            return Err("dataset needs at least one key".into());
        }
        Ok(Dataset {
            seed,
            entries,
            reads,
            scans,
            removes,
        })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Total entries all scans must see together.
    pub fn expected_scanned(&self) -> usize {
        self.scans.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_consistent() {
        let a = Dataset::generate(500, 7).unwrap();
        let b = Dataset::generate(500, 7).unwrap();
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.reads, b.reads);
        assert_eq!(a.len(), 500);
        let mut r = a.removes.clone();
        r.sort_unstable();
        assert_eq!(r, (0..500).collect::<Vec<_>>());
        // Each scan's expected count matches the sorted key space.
        let mut sorted: Vec<Key> = a.entries.iter().map(|(k, _)| *k).collect();
        sorted.sort_unstable();
        for (start, n) in &a.scans {
            let pos = sorted.binary_search(start).unwrap();
            assert_eq!(*n, SCAN_LEN.min(500 - pos));
        }
    }
}
