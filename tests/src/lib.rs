//! Shared helpers for Skiff's integration tests.
//!
//! Seeds: every randomized test takes its master seed from the `SKIFF_SEED`
//! environment variable when it is set (to replay a failure), and otherwise picks
//! a fresh one. Either way it prints the seed first, so a failing run's output
//! always says how to replay it. Sub-seeds (one per case, per thread, per child
//! process) are derived from the master seed with [`derive_seed`], so replaying
//! the master seed replays every case.
//!
//! Sizes: every long test has a CI size and a stress size; [`stress`] tells which
//! tier runs (`SKIFF_STRESS=1` selects the stress tier).
//!
//! The crash-loop helpers ([`crash_value`], [`BATCH_WIDTH`]) are shared by the
//! `crash_child` binary and the test that kills it, so both sides agree on what
//! every acknowledged write must have stored.

pub mod simfs;

use rand::rngs::StdRng;
use rand::SeedableRng;

/// Runs `f` on its own thread and fails the test if it has not finished after
/// `secs` seconds: a deadlock shows up as a failure instead of a hung run. A
/// liveness guard with a generous bound, not a timing assertion.
pub fn with_watchdog<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let secs = if stress() { 4 * 3600 } else { 300 };
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        // The thread finished (or panicked, which join reports).
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: no result after {secs} s: deadlock?")
        }
    }
}

/// Whether the stress tier was requested with `SKIFF_STRESS=1`.
pub fn stress() -> bool {
    std::env::var("SKIFF_STRESS").is_ok_and(|v| v == "1")
}

/// `ci` normally, `stress` when the stress tier was requested.
pub fn size(ci: usize, stress_size: usize) -> usize {
    if stress() {
        stress_size
    } else {
        ci
    }
}

/// The master seed of the test called `name`: `SKIFF_SEED` if set, a fresh
/// random seed otherwise. Prints it with the command that replays it.
pub fn seed(name: &str) -> u64 {
    let seed = match std::env::var("SKIFF_SEED") {
        Ok(s) => {
            parse_seed(&s).unwrap_or_else(|| panic!("SKIFF_SEED={s:?} is not a u64 (decimal or 0x-hex)"))
        }
        Err(_) => fresh_seed(),
    };
    println!("[{name}] seed {seed}: replay with SKIFF_SEED={seed} cargo test -p skiff-tests -- {name}");
    seed
}

fn parse_seed(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A seed that differs from run to run (time, process id and the std hasher's
/// per-process random keys).
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The `index`-th sub-seed of `master` (splitmix64), for cases, threads and
/// child processes.
pub fn derive_seed(master: u64, index: u64) -> u64 {
    let mut z = master.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic random number generator for `seed`.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Keys written together by one `apply_batch` "transfer" of the crash loop.
pub const BATCH_WIDTH: usize = 5;

/// Accounts in the transactional crash loop (`txn_child`).
pub const BANK_ACCOUNTS: u64 = 32;
/// Each account's opening balance there.
pub const BANK_START: u64 = 1_000;

/// How `txn_child` records a transfer: `from`, `to` and `amount`, big-endian.
pub fn encode_transfer(from: u64, to: u64, amount: u64) -> Vec<u8> {
    [from, to, amount].iter().flat_map(|n| n.to_be_bytes()).collect()
}

/// The inverse of [`encode_transfer`]; `None` if `bytes` is not one.
pub fn decode_transfer(bytes: &[u8]) -> Option<(u64, u64, u64)> {
    if bytes.len() != 24 {
        return None;
    }
    let n = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some((n(0), n(1), n(2)))
}

/// The value the crash loop stores under `key`: a function of the key alone, 0 to
/// 299 bytes long, so the checker can verify every surviving value.
pub fn crash_value(key: &[u8]) -> Vec<u8> {
    // FNV-1a of the key seeds a small xorshift stream.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let len = usize::try_from(h % 300).unwrap_or(0);
    let mut x = h | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ() {
        let a: Vec<u64> = (0..100).map(|i| derive_seed(7, i)).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
        assert_ne!(derive_seed(7, 0), derive_seed(8, 0));
    }

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed("0x2a"), Some(42));
        assert_eq!(parse_seed("x"), None);
    }

    #[test]
    fn crash_values_are_deterministic() {
        assert_eq!(crash_value(b"k1"), crash_value(b"k1"));
        assert_ne!(crash_value(b"k1"), crash_value(b"k2"));
        assert!(
            (0..1000)
                .map(|i| crash_value(format!("k{i}").as_bytes()).len())
                .max()
                < Some(300)
        );
    }
}
