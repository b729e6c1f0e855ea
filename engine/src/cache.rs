//! The leaf cache: which leaves keep their entries in memory, and eviction.
//!
//! `cache_capacity` bounds the bytes of resident leaves (their entries as
//! `leaf::entry_size` counts them). Every resident leaf is on the clock list.
//! When resident bytes pass the capacity, an eviction pass sweeps the list
//! like a clock hand: a leaf read or written by a point access since the last
//! sweep (its `heat` bit) gets a second chance; a cold one that is clean (its
//! page is current) and keeps no snapshot versions has its entries dropped.
//! Scans do not set `heat`, so a scan over a large range evicts the leaves it
//! loaded before it evicts the ones point reads keep using: that is the scan
//! resistance.
//!
//! Dirty leaves cannot be evicted; the checkpointer writes them (it is due
//! once the log has grown by a quarter of the cache) and the pass after the
//! checkpoint evicts them.
//!
//! Resident bytes are known exactly at each pass (it sums the list); between
//! passes loads add to the figure and writes are not counted, so a pass also
//! runs whenever the log has grown by an eighth of the capacity since the
//! last one (see `checkpointer`).

use std::cell::Cell;

use crate::leaf::Leaf;
use crate::sync::{lock, Arc, AtomicU64, AtomicUsize, Mutex, Ordering, Weak};

/// A pass evicts down to this many tenths of the capacity, so that passes
/// are not run for every load.
const LOW_WATER_TENTHS: u64 = 9;

pub(crate) struct Cache {
    capacity: u64,
    /// Resident bytes at the last pass plus what was loaded or created since.
    resident: AtomicU64,
    clock: Mutex<Clock>,
    /// Pages read because a leaf was evicted.
    pub misses: AtomicU64,
    hits: Counter,
}

#[derive(Default)]
struct Clock {
    leaves: Vec<Weak<Leaf>>,
    hand: usize,
}

impl Cache {
    pub(crate) fn new(capacity: u64) -> Cache {
        Cache {
            capacity,
            resident: AtomicU64::new(0),
            clock: Mutex::new(Clock::default()),
            misses: AtomicU64::new(0),
            hits: Counter::default(),
        }
    }

    /// Puts a leaf that just became resident (created, or loaded with
    /// `bytes`) on the clock.
    pub(crate) fn admit(&self, leaf: &Arc<Leaf>, bytes: usize) {
        lock(&self.clock).leaves.push(Arc::downgrade(leaf));
        self.resident.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a point access that found its leaf resident.
    #[inline]
    pub(crate) fn hit(&self, leaf: &Leaf) {
        self.hits.add();
        if !leaf.heat.load(Ordering::Relaxed) {
            leaf.heat.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.sum()
    }

    /// Whether resident bytes (as last known) exceed the capacity.
    #[inline]
    pub(crate) fn over(&self) -> bool {
        self.resident.load(Ordering::Relaxed) > self.capacity
    }

    /// Resident bytes as last known.
    pub(crate) fn resident(&self) -> u64 {
        self.resident.load(Ordering::Relaxed)
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes that dirty leaves' pages hold beyond what the leaves hold now,
    /// less what they gained: about what writing every dirty leaf would give
    /// back (deletes shrink a leaf long before its page). Walks every
    /// resident leaf, recounting resident bytes on the way.
    pub(crate) fn stale_bytes(&self) -> u64 {
        let count = lock(&self.clock).count();
        self.resident.store(count.resident, Ordering::Relaxed);
        count.dirty_saved.saturating_sub(count.dirty_now)
    }

    /// One eviction pass (skipped if another is running): recounts resident
    /// bytes, then evicts cold clean leaves until they are below the low-water
    /// mark or a full sweep found nothing more to evict. Called with no leaf
    /// lock held; takes leaf locks only with `try_write`.
    pub(crate) fn evict(&self) {
        let Ok(mut clock) = self.clock.try_lock() else {
            return;
        };
        let clock = &mut *clock;
        let mut resident = clock.count().resident;
        let target = self.capacity / 10 * LOW_WATER_TENTHS;
        // Two sweeps: the first may only clear heat bits.
        let mut budget = clock.leaves.len() * 2;
        while resident > target && budget > 0 && !clock.leaves.is_empty() {
            budget -= 1;
            if clock.hand >= clock.leaves.len() {
                clock.hand = 0;
            }
            let Some(leaf) = clock.leaves[clock.hand].upgrade() else {
                clock.leaves.swap_remove(clock.hand);
                continue;
            };
            if leaf.heat.swap(false, Ordering::Relaxed) {
                clock.hand += 1;
                continue;
            }
            let Ok(mut state) = leaf.state.try_write() else {
                clock.hand += 1;
                continue;
            };
            if state.evicted || state.retired {
                clock.leaves.swap_remove(clock.hand);
            } else if state.evictable() {
                resident -= state.evict() as u64;
                clock.leaves.swap_remove(clock.hand);
            } else {
                clock.hand += 1;
            }
        }
        self.resident.store(resident, Ordering::Relaxed);
    }
}

/// Sums over the resident leaves (see `Clock::count`).
#[derive(Default)]
struct Count {
    resident: u64,
    /// `saved` and `bytes` of the dirty ones.
    dirty_saved: u64,
    dirty_now: u64,
}

impl Clock {
    /// Sums the resident leaves, dropping evicted and retired ones from the
    /// list. A leaf locked by a writer is skipped: a count is a moment's
    /// estimate anyway, since writes go on.
    fn count(&mut self) -> Count {
        let mut count = Count::default();
        self.leaves.retain(|weak| {
            let Some(leaf) = weak.upgrade() else { return false };
            let Ok(state) = leaf.state.try_read() else {
                return true;
            };
            if state.evicted || state.retired {
                return false;
            }
            count.resident += state.bytes as u64;
            if state.dirty {
                count.dirty_saved += state.saved as u64;
                count.dirty_now += state.bytes as u64;
            }
            true
        });
        count
    }
}

/// A counter many threads bump without sharing a cache line.
struct Counter {
    slots: [Slot; SLOTS],
}

const SLOTS: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Slot(AtomicU64);

impl Default for Counter {
    fn default() -> Counter {
        Counter {
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }
}

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

impl Counter {
    #[inline]
    fn add(&self) {
        let i = SLOT.with(|s| {
            if s.get() == usize::MAX {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS);
            }
            s.get()
        });
        self.slots[i].0.fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf::entry_size;
    use crate::IVec;

    fn leaf(id: u64, n: usize) -> Arc<Leaf> {
        let entries = (0..n)
            .map(|i| {
                (
                    IVec::from(format!("{id}-{i:04}").as_bytes()),
                    IVec::from(vec![1u8; 50]),
                )
            })
            .collect();
        let leaf = Arc::new(Leaf::new(id, IVec::empty(), None, entries));
        crate::sync::write(&leaf.state).dirty = false;
        leaf
    }

    #[test]
    fn evicts_cold_clean_leaves_below_capacity_and_spares_hot_dirty_ones() {
        let size = crate::sync::read(&leaf(0, 10).state).bytes as u64;
        let cache = Cache::new(size * 10);
        let leaves: Vec<_> = (0..30).map(|i| leaf(i, 10)).collect();
        for l in &leaves {
            cache.admit(l, crate::sync::read(&l.state).bytes);
        }
        crate::sync::write(&leaves[0].state).dirty = true;
        cache.hit(&leaves[1]);
        assert!(cache.over());
        cache.evict();
        assert!(
            !cache.over(),
            "resident {} of {}",
            cache.resident(),
            cache.capacity()
        );
        let evicted = |l: &Arc<Leaf>| crate::sync::read(&l.state).evicted;
        assert!(!evicted(&leaves[0]), "a dirty leaf stays");
        assert!(
            !evicted(&leaves[1]),
            "a leaf read since the last sweep gets a second chance"
        );
        assert!(leaves.iter().filter(|l| evicted(l)).count() >= 20);
        // Dropped leaves leave the clock.
        drop(leaves);
        cache.evict();
        assert_eq!(cache.resident(), 0);
        assert!(lock(&cache.clock).leaves.is_empty());
    }

    #[test]
    fn stale_bytes_count_what_dirty_leaves_lost_since_their_pages() {
        let leaves: Vec<_> = (0..4).map(|i| leaf(i, 10)).collect();
        let cache = Cache::new(u64::MAX);
        for l in &leaves {
            let mut state = crate::sync::write(&l.state);
            state.saved = state.bytes; // as a checkpoint leaves it
            cache.admit(l, state.bytes);
        }
        assert_eq!(cache.stale_bytes(), 0);
        let entry = |l: &Arc<Leaf>| {
            let state = crate::sync::read(&l.state);
            entry_size(&state.entries[0].0, &state.entries[0].1) as u64
        };
        let size = entry(&leaves[0]);
        // Deletes from two leaves; an insert into a third makes up for one
        // of them (its page gives nothing back, but holds less).
        for (l, key) in [(0, "0-0001"), (0, "0-0002"), (1, "1-0003")] {
            let mut state = crate::sync::write(&leaves[l].state);
            assert!(state.remove(key.as_bytes()).is_some());
            state.dirty = true;
        }
        assert_eq!(cache.stale_bytes(), 3 * size);
        {
            let mut state = crate::sync::write(&leaves[2].state);
            state.insert(IVec::from(&b"2-9999"[..]), IVec::from(vec![1u8; 50]));
            state.dirty = true;
        }
        assert_eq!(cache.stale_bytes(), 2 * size);
        // A leaf whose page is current again counts nothing; the rest nets out.
        {
            let mut state = crate::sync::write(&leaves[0].state);
            state.saved = state.bytes;
            state.dirty = false;
        }
        assert_eq!(cache.stale_bytes(), 0);
    }
}
