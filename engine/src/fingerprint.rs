//! Searching sorted keys by fingerprint: the 8 bytes of a key that follow the
//! prefix every key of the node shares, read as a big-endian integer.
//!
//! Leaves and inner nodes keep one fingerprint per key in a plain `u64`
//! array. A binary search over it touches a few cache lines of that array
//! instead of one key per probe, and only keys whose fingerprints tie are
//! compared in full. Skipping the shared prefix matters because real keys
//! share long ones: in a leaf of e-mail addresses from `user12300@…` to
//! `user12400@…`, the first 8 bytes (`user1230`, `user1231`, …) tell few keys
//! apart, while the 8 after `user123` tell almost all of them apart.
//!
//! Fingerprints keep key order: with shorter tails padded with zeros,
//! `a <= b` implies `print(a) <= print(b)`, so a smaller fingerprint always
//! means a smaller key. Equal fingerprints say nothing (`ab` and `ab\0`).
//!
//! Invariant: every key a node holds starts with the node's `head`, a byte
//! string `skip` bytes long. `skip = 0` always holds, so a node whose key
//! range widens must shrink `skip` (recompute), and one whose range narrows
//! may grow it.

use std::cmp::Ordering;

use crate::IVec;

/// The fingerprints of a node's sorted keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fingerprints {
    skip: usize,
    prints: Vec<u64>,
}

/// The length of the longest common prefix of `a` and `b`.
pub(crate) fn shared_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Fingerprints {
    /// The fingerprints of `keys`, sorted keys that all share their first
    /// `skip` bytes.
    pub(crate) fn new<'k>(skip: usize, keys: impl Iterator<Item = &'k [u8]>) -> Fingerprints {
        let prints = keys
            .map(|k| {
                debug_assert!(k.len() >= skip, "every key holds the shared prefix");
                print(&k[skip..])
            })
            .collect();
        Fingerprints { skip, prints }
    }

    /// How many leading bytes every key shares (and searches skip).
    #[inline]
    pub(crate) fn skip(&self) -> usize {
        self.skip
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.prints.len()
    }

    /// Records `key` (which starts with the shared prefix) at position `i`.
    pub(crate) fn insert(&mut self, i: usize, key: &[u8]) {
        self.prints.insert(i, print(&key[self.skip..]));
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.prints.remove(i);
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.prints.truncate(len);
    }

    /// Finds `key`: `Ok(i)` if key `i` equals it, otherwise `Err(i)` with `i`
    /// the number of keys below it. `head` is the shared prefix (`skip` bytes
    /// of any key of the node, or of its low bound); `cmp(i)` compares key `i`
    /// with `key`, and runs only on keys whose fingerprints tie with `key`'s.
    #[inline]
    pub(crate) fn search(
        &self,
        head: &[u8],
        key: &[u8],
        cmp: impl Fn(usize) -> Ordering,
    ) -> Result<usize, usize> {
        debug_assert_eq!(head.len(), self.skip);
        // A key that does not start with the head sorts before or after all.
        match key[..key.len().min(self.skip)].cmp(head) {
            Ordering::Less => return Err(0),
            Ordering::Greater => return Err(self.prints.len()),
            // Equal on the shorter length with `key` shorter is `Less` above.
            Ordering::Equal => {}
        }
        let p = print(&key[self.skip..]);
        let start = self.prints.partition_point(|&q| q < p);
        let tied = &self.prints[start..];
        if tied.first() != Some(&p) {
            return Err(start);
        }
        // Usually one key has this fingerprint; find the end of a longer run.
        let run = if tied.get(1) == Some(&p) {
            tied.partition_point(|&q| q == p)
        } else {
            1
        };
        let (mut lo, mut hi) = (start, start + run);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match cmp(mid) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
}

/// The fingerprint of a key's tail (after the shared prefix).
#[inline]
fn print(tail: &[u8]) -> u64 {
    IVec::prefix(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(keys: &[&[u8]], probes: &[&[u8]]) {
        let skip = match (keys.first(), keys.last()) {
            (Some(a), Some(b)) => shared_len(a, b),
            _ => 0,
        };
        for skip in 0..=skip {
            let prints = Fingerprints::new(skip, keys.iter().copied());
            let head = keys.first().map_or(&b""[..], |k| &k[..skip]);
            for probe in probes.iter().chain(keys) {
                let got = prints.search(head, probe, |i| keys[i].cmp(probe));
                let want = keys.binary_search(probe);
                assert_eq!(got, want, "probe {probe:?} with skip {skip}");
            }
        }
    }

    #[test]
    fn search_agrees_with_a_plain_binary_search() {
        let keys: Vec<&[u8]> = vec![
            b"user12300@example.com",
            b"user12345@example.com",
            b"user123450",
            b"user12345\0",
            b"user12345\0\0",
            b"user12346",
            b"user12399@example.com\xff",
        ];
        let mut sorted = keys.clone();
        sorted.sort();
        check(
            &sorted,
            &[
                b"",
                b"a",
                b"user",
                b"user123",
                b"user1234",
                b"user12345",
                b"user124",
                b"zz",
                b"user12299",
            ],
        );
        check(&[], &[b"", b"x"]);
        check(&[b""], &[b"", b"\0", b"a"]);
    }

    #[test]
    fn long_runs_of_tied_fingerprints_are_searched_in_full() {
        let keys: Vec<Vec<u8>> = (0..50u8).map(|i| [&b"same-8-bytes"[..], &[i]].concat()).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        check(&refs, &[b"same-8-bytes", b"same-8-bytes\x80", b"same-8-byte"]);
    }

    #[test]
    fn shared_len_counts_common_leading_bytes() {
        assert_eq!(shared_len(b"abc", b"abd"), 2);
        assert_eq!(shared_len(b"ab", b"abc"), 2);
        assert_eq!(shared_len(b"", b"abc"), 0);
    }
}
