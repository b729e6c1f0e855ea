//! The operations of the T3 model test and how a case draws them: the `Op`
//! enum, the database `Setup` drawn at every restart, and `Gen`, which draws
//! colliding keys and values from a small alphabet.

use std::fmt;
use std::ops::Bound;
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use skiff_engine::{Config, Db};

use super::{Model, LEAF_SIZES, TREES};

/// A byte string that prints readably in failure messages.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct B(pub(super) Vec<u8>);

impl fmt::Debug for B {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// How an `update_and_fetch`/`fetch_and_update` closure changes a value.
#[derive(Debug, Clone)]
pub(super) enum Update {
    /// Append a byte (insert it alone if absent).
    Append(u8),
    /// Replace with a value.
    Set(B),
    /// Remove.
    Delete,
    /// Insert the value if absent, remove if present.
    Toggle(B),
}

impl Update {
    pub(super) fn apply(&self, old: Option<&[u8]>) -> Option<Vec<u8>> {
        match self {
            Update::Append(b) => {
                let mut v = old.map(<[u8]>::to_vec).unwrap_or_default();
                v.push(*b);
                Some(v)
            }
            Update::Set(v) => Some(v.0.clone()),
            Update::Delete => None,
            Update::Toggle(v) => match old {
                Some(_) => None,
                None => Some(v.0.clone()),
            },
        }
    }
}

/// One step inside a model transaction; `second` picks its second tree.
#[derive(Debug, Clone)]
pub(super) enum TxStep {
    Write {
        second: bool,
        key: B,
        value: Option<B>,
    },
    Get {
        second: bool,
        key: B,
    },
    Range {
        second: bool,
        lo: Bound<B>,
        hi: Bound<B>,
        rev: bool,
    },
    First {
        second: bool,
    },
    Last {
        second: bool,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    /// A transaction over trees `t` and `u` (possibly the same), committed
    /// unless `abort`.
    Transaction {
        t: usize,
        u: usize,
        steps: Vec<TxStep>,
        abort: bool,
    },
    /// Writes (and maybe a clear) while a snapshot taken before them is open;
    /// the snapshot must still show the old contents.
    Snapshot {
        t: usize,
        writes: Vec<(B, Option<B>)>,
        clear: bool,
    },
    Insert {
        t: usize,
        key: B,
        value: B,
    },
    Remove {
        t: usize,
        key: B,
    },
    Get {
        t: usize,
        key: B,
    },
    ContainsKey {
        t: usize,
        key: B,
    },
    Cas {
        t: usize,
        key: B,
        old: Option<B>,
        new: Option<B>,
    },
    Merge {
        t: usize,
        key: B,
        operand: B,
    },
    UpdateAndFetch {
        t: usize,
        key: B,
        update: Update,
    },
    FetchAndUpdate {
        t: usize,
        key: B,
        update: Update,
    },
    Batch {
        t: usize,
        writes: Vec<(B, Option<B>)>,
    },
    GetLt {
        t: usize,
        key: B,
    },
    GetGt {
        t: usize,
        key: B,
    },
    First {
        t: usize,
    },
    Last {
        t: usize,
    },
    PopMin {
        t: usize,
    },
    PopMax {
        t: usize,
    },
    Range {
        t: usize,
        lo: Bound<B>,
        hi: Bound<B>,
        rev: bool,
    },
    ScanPrefix {
        t: usize,
        prefix: B,
        rev: bool,
    },
    /// `true` steps call `next`, `false` steps `next_back`.
    Mixed {
        t: usize,
        lo: Bound<B>,
        hi: Bound<B>,
        steps: Vec<bool>,
    },
    Len {
        t: usize,
    },
    FullScan {
        t: usize,
    },
    Clear {
        t: usize,
    },
    Flush,
    /// `once`: one run of a pass, as the background checkpointer writes.
    Checkpoint {
        once: bool,
    },
    Restart {
        flush: bool,
        setup: Setup,
        probe_merge: Option<B>,
    },
    DropTree {
        t: usize,
    },
}

/// How the database is opened; drawn again at every restart.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    pub(super) leaf_max: usize,
    pub(super) flush_every_ms: Option<u64>,
    pub(super) segment_size: Option<usize>,
    /// Whether closing writes a checkpoint (else reopening replays the log).
    pub(super) checkpoint_on_close: bool,
    /// Tiny caches make leaves be evicted and read back all the time.
    pub(super) cache_capacity: u64,
    /// Small, every pass over the database takes several checkpoints.
    pub(super) run_bytes: Option<u64>,
}

impl Setup {
    pub(super) fn draw(rng: &mut StdRng) -> Setup {
        Setup {
            leaf_max: *LEAF_SIZES.choose(rng).unwrap_or(&256),
            flush_every_ms: match rng.gen_range(0..4) {
                0 | 1 => None,
                2 => Some(500),
                _ => Some(rng.gen_range(1..20)),
            },
            segment_size: rng.gen_bool(0.5).then_some(4096),
            checkpoint_on_close: rng.gen_bool(0.5),
            cache_capacity: *[1u64, 4096, 1 << 30].choose(rng).unwrap_or(&4096),
            run_bytes: rng.gen_bool(0.5).then(|| rng.gen_range(64..4096)),
        }
    }

    pub(super) fn open(&self, dir: &Path) -> skiff_engine::Result<Db> {
        let mut config = Config::new()
            .path(dir)
            .leaf_max_bytes(self.leaf_max)
            .flush_every_ms(self.flush_every_ms)
            .checkpoint_on_close(self.checkpoint_on_close)
            .cache_capacity(self.cache_capacity);
        if let Some(s) = self.segment_size {
            config = config.segment_size(s);
        }
        if let Some(b) = self.run_bytes {
            config = config.checkpoint_run_bytes(b);
        }
        config.open()
    }
}

/// The merge operator of every tree: concatenation; an empty operand removes.
pub(super) fn concat(_key: &[u8], old: Option<&[u8]>, operand: &[u8]) -> Option<Vec<u8>> {
    if operand.is_empty() {
        return None;
    }
    let mut v = old.map(<[u8]>::to_vec).unwrap_or_default();
    v.extend_from_slice(operand);
    Some(v)
}

/// Draws keys and values for one case.
pub(super) struct Gen {
    alphabet: Vec<u8>,
    /// A long common start for most keys of some cases: keys then exceed the
    /// inline size and 8-byte search prefixes, as real keys with a table or
    /// path prefix do. Empty in most cases (keys of 1–12 bytes).
    stem: Vec<u8>,
    pool: Vec<Vec<u8>>,
}

impl Gen {
    pub(super) fn new(rng: &mut StdRng) -> Gen {
        let mut letters = vec![0x00, 0x01, b'a', b'b', b'c', 0x7f, 0xfe, 0xff];
        letters.shuffle(rng);
        letters.truncate(rng.gen_range(2..=4));
        let mut g = Gen {
            alphabet: letters,
            stem: Vec::new(),
            pool: Vec::new(),
        };
        if rng.gen_bool(0.15) {
            g.stem = (0..rng.gen_range(16..=24)).map(|_| g.letter(rng)).collect();
        }
        let n = rng.gen_range(4..=48);
        while g.pool.len() < n {
            let k = match (g.pool.choose(rng).cloned(), rng.gen_range(0..4)) {
                // Prefixes and extensions of existing keys make prefix scans and
                // bounds interesting.
                (Some(mut k), 0) if k.len() < 12 + g.stem.len() => {
                    k.push(g.letter(rng));
                    k
                }
                (Some(k), 1) if k.len() > 1 => k[..rng.gen_range(1..k.len())].to_vec(),
                _ => g.fresh(rng, 1),
            };
            if !g.pool.contains(&k) {
                g.pool.push(k);
            }
        }
        g
    }

    fn letter(&self, rng: &mut StdRng) -> u8 {
        *self.alphabet.choose(rng).unwrap_or(&b'a')
    }

    fn fresh(&self, rng: &mut StdRng, min: usize) -> Vec<u8> {
        let max = rng.gen_range(min.max(1)..=12);
        let len = rng.gen_range(min..=max);
        let mut k = if !self.stem.is_empty() && rng.gen_bool(0.85) {
            self.stem.clone()
        } else {
            Vec::new()
        };
        k.extend((0..len).map(|_| self.letter(rng)));
        k
    }

    /// A key to write: nearly always from the pool, so writes collide.
    fn key(&self, rng: &mut StdRng) -> B {
        if rng.gen_bool(0.92) {
            if let Some(k) = self.pool.choose(rng) {
                return B(k.clone());
            }
        }
        B(self.fresh(rng, 1))
    }

    /// A key to look up or bound a range with: may be absent, empty, a prefix.
    fn probe(&self, rng: &mut StdRng) -> B {
        match rng.gen_range(0..10) {
            0..=5 => self.key(rng),
            6 | 7 => B(self.fresh(rng, 0)),
            _ => {
                let k = self.key(rng).0;
                B(k[..rng.gen_range(0..=k.len())].to_vec())
            }
        }
    }

    fn value(&self, rng: &mut StdRng) -> B {
        // Now and then one long enough to be stored out of line as a blob.
        let len = if rng.gen_bool(0.03) {
            rng.gen_range(4096..=6000)
        } else {
            rng.gen_range(0..=40)
        };
        B((0..len).map(|_| rng.gen()).collect())
    }

    fn bound(&self, rng: &mut StdRng) -> Bound<B> {
        match rng.gen_range(0..5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(self.probe(rng)),
            _ => Bound::Excluded(self.probe(rng)),
        }
    }

    fn update(&self, rng: &mut StdRng) -> Update {
        match rng.gen_range(0..4) {
            0 => Update::Append(self.letter(rng)),
            1 => Update::Set(self.value(rng)),
            2 => Update::Delete,
            _ => Update::Toggle(self.value(rng)),
        }
    }

    fn tx_step(&self, rng: &mut StdRng) -> TxStep {
        let second = rng.gen_bool(0.4);
        match rng.gen_range(0..10) {
            0..=4 => TxStep::Write {
                second,
                key: self.key(rng),
                value: rng.gen_bool(0.7).then(|| self.value(rng)),
            },
            5 | 6 => TxStep::Get {
                second,
                key: self.probe(rng),
            },
            7 | 8 => TxStep::Range {
                second,
                lo: self.bound(rng),
                hi: self.bound(rng),
                rev: rng.gen(),
            },
            _ if rng.gen() => TxStep::First { second },
            _ => TxStep::Last { second },
        }
    }

    pub(super) fn op(&self, rng: &mut StdRng, models: &[Model], setup: &Setup) -> Op {
        let t = match rng.gen_range(0..10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => 2,
        };
        match rng.gen_range(0..1060) {
            975..=1024 => {
                let n = rng.gen_range(0..12);
                let steps = (0..n).map(|_| self.tx_step(rng)).collect();
                Op::Transaction {
                    t,
                    u: rng.gen_range(0..TREES.len()),
                    steps,
                    abort: rng.gen_bool(0.2),
                }
            }
            1025..=1044 => {
                let n = rng.gen_range(0..30);
                let writes = (0..n)
                    .map(|_| (self.key(rng), rng.gen_bool(0.7).then(|| self.value(rng))))
                    .collect();
                Op::Snapshot {
                    t,
                    writes,
                    clear: rng.gen_bool(0.1),
                }
            }
            0..=199 => Op::Insert {
                t,
                key: self.key(rng),
                value: self.value(rng),
            },
            200..=279 => Op::Remove {
                t,
                key: self.key(rng),
            },
            280..=349 => Op::Get {
                t,
                key: self.probe(rng),
            },
            350..=379 => Op::ContainsKey {
                t,
                key: self.probe(rng),
            },
            380..=459 => {
                let key = self.key(rng);
                let current = models[t].get(&key.0).cloned().map(B);
                let old = match rng.gen_range(0..5) {
                    0 | 1 => current,
                    2 => None,
                    3 => Some(self.value(rng)),
                    _ => current.map(|mut c| {
                        c.0.push(0);
                        c
                    }),
                };
                let new = rng.gen_bool(0.75).then(|| self.value(rng));
                Op::Cas { t, key, old, new }
            }
            460..=509 => {
                let mut operand = self.value(rng);
                if rng.gen_bool(0.1) {
                    operand.0.clear();
                }
                Op::Merge {
                    t,
                    key: self.key(rng),
                    operand,
                }
            }
            510..=524 => Op::UpdateAndFetch {
                t,
                key: self.key(rng),
                update: self.update(rng),
            },
            525..=539 => Op::FetchAndUpdate {
                t,
                key: self.key(rng),
                update: self.update(rng),
            },
            540..=589 => {
                let n = rng.gen_range(0..=8);
                let writes = (0..n)
                    .map(|_| (self.key(rng), rng.gen_bool(0.7).then(|| self.value(rng))))
                    .collect();
                Op::Batch { t, writes }
            }
            590..=619 => Op::GetLt {
                t,
                key: self.probe(rng),
            },
            620..=649 => Op::GetGt {
                t,
                key: self.probe(rng),
            },
            650..=659 => Op::First { t },
            660..=669 => Op::Last { t },
            670..=684 => Op::PopMin { t },
            685..=699 => Op::PopMax { t },
            700..=759 => Op::Range {
                t,
                lo: self.bound(rng),
                hi: self.bound(rng),
                rev: rng.gen(),
            },
            760..=799 => Op::ScanPrefix {
                t,
                prefix: self.probe(rng),
                rev: rng.gen(),
            },
            800..=839 => {
                let n = rng.gen_range(0..40);
                Op::Mixed {
                    t,
                    lo: self.bound(rng),
                    hi: self.bound(rng),
                    steps: (0..n).map(|_| rng.gen()).collect(),
                }
            }
            840..=869 => Op::Len { t },
            870..=894 => Op::FullScan { t },
            895..=899 => Op::Clear { t },
            900..=919 => Op::Flush,
            920..=934 => Op::Checkpoint {
                once: rng.gen_bool(0.5),
            },
            935..=964 => {
                // Without a flush, only the clean drop can make the data durable:
                // that is exercised with the background flusher off.
                let flush = setup.flush_every_ms.is_some() || rng.gen_bool(0.5);
                Op::Restart {
                    flush,
                    setup: Setup::draw(rng),
                    probe_merge: rng.gen_bool(0.3).then(|| self.key(rng)),
                }
            }
            965..=974 => Op::DropTree {
                t: rng.gen_range(1..TREES.len()),
            },
            _ => Op::Get {
                t,
                key: self.key(rng),
            },
        }
    }
}
