//! `Batch`: a set of writes applied atomically by `Tree::apply_batch`.

use std::collections::BTreeMap;

use crate::IVec;

/// Writes to apply together: all of them survive a crash, or none.
///
/// Later writes to the same key replace earlier ones within the batch.
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let mut batch = skiff_engine::Batch::default();
/// batch.insert(b"a", b"1");
/// batch.insert(b"b", b"2");
/// batch.remove(b"a");
/// db.apply_batch(batch)?;
/// assert_eq!(db.get(b"a")?, None);
/// assert_eq!(db.get(b"b")?.as_deref(), Some(&b"2"[..]));
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    pub(crate) writes: BTreeMap<IVec, Option<IVec>>,
}

impl Batch {
    /// Sets `key` to `value` when the batch is applied.
    pub fn insert<K: Into<IVec>, V: Into<IVec>>(&mut self, key: K, value: V) {
        self.writes.insert(key.into(), Some(value.into()));
    }

    /// Removes `key` when the batch is applied.
    pub fn remove<K: Into<IVec>>(&mut self, key: K) {
        self.writes.insert(key.into(), None);
    }

    /// Number of distinct keys the batch writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}
