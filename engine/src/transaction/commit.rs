//! Committing a transaction: lock, validate against the snapshot, log, apply.

use crossbeam_epoch as epoch;

use super::view::{Transaction, TreeTx};
use crate::record::OpRef;
use crate::span::Span;
use crate::Result;

/// Whether nothing `t` read changed after snapshot `at`; `span` holds the
/// leaves of every key read and every range scanned, locked.
fn still_valid(t: &TreeTx, span: &Span<'_>, at: u64) -> bool {
    if t.reads.is_empty() && t.ranges.is_empty() {
        return true;
    }
    // Cleared or dropped since the snapshot: every read may have changed.
    if t.tree.core.shared.frozen.find(t.tree.core.id, at).is_some() {
        return false;
    }
    // A change since the snapshot left its old version in its leaf (the
    // snapshot is still open), so leaves without versions saw none.
    if !span.leaves.iter().any(|(_, s)| s.has_versions()) {
        return true;
    }
    // In key order, the reads walk the span's leaves forward (see
    // `Span::position_from`) rather than searching them once each.
    let mut reads: Vec<&[u8]> = t.reads.iter().map(|k| &**k).collect();
    reads.sort_unstable();
    let mut slot = 0;
    let reads_hold = reads.iter().all(|k| {
        slot = span.position_from(slot, k);
        !span.leaves[slot].1.changed_after(k, at)
    });
    reads_hold
        && t.ranges.iter().all(|(lo, hi)| {
            span.overlapping(lo, hi)
                .all(|i| !span.leaves[i].1.range_changed_after(lo, hi, at))
        })
}

impl Transaction {
    /// Commits the transaction if nothing it read changed since its snapshot:
    /// `Ok(true)` when committed, `Ok(false)` on conflict (nothing written).
    pub(crate) fn commit(&self) -> Result<bool> {
        let state = &*self.state;
        let trees = state.trees.borrow();
        if trees.iter().all(|t| t.writes.is_empty()) {
            // Read-only: serializes at its snapshot.
            return Ok(true);
        }
        let at = state.point.at;
        let mut order: Vec<&TreeTx> = trees
            .iter()
            .filter(|t| !t.writes.is_empty() || !t.reads.is_empty() || !t.ranges.is_empty())
            .collect();
        // Tree-id order, then key order inside `lock_span`: no deadlock with
        // other committers.
        order.sort_by_key(|t| t.tree.core.id);
        let guard = epoch::pin();
        let mut spans = Vec::with_capacity(order.len());
        for t in &order {
            let mut keys: Vec<&[u8]> = t.writes.keys().chain(&t.reads).map(|k| &**k).collect();
            keys.sort_unstable();
            keys.dedup();
            spans.push(t.tree.core.lock_span(&keys, &t.ranges, &guard)?);
        }
        if !order.iter().zip(&spans).all(|(t, span)| still_valid(t, span, at)) {
            return Ok(false);
        }
        // Validated: the snapshot has served. Closing it now spares these
        // writes from keeping old versions for it (others' snapshots still
        // count, through the stamp). Versions are released after unlocking.
        let release = state.point.close_deferred();
        let ops = order.iter().flat_map(|t| {
            let tree = t.tree.core.id;
            t.writes.iter().map(move |(key, value)| match value {
                Some(value) => OpRef::Insert { tree, key, value },
                None => OpRef::Remove { tree, key },
            })
        });
        let hooks = std::mem::take(&mut *state.hooks.borrow_mut());
        let stamp = state.engine.log.append_then(ops, |lsn| {
            for t in &order {
                let writes = t.writes.iter().map(|(k, v)| (k, v.as_ref()));
                t.tree.core.subscribers.publish_all(writes);
            }
            for hook in hooks {
                hook(lsn);
            }
        })?;
        let mut resized = Vec::with_capacity(order.len());
        for (t, span) in order.iter().zip(&mut spans) {
            let writes = t.writes.iter().map(|(k, v)| (k, v.as_ref()));
            resized.push(span.apply(writes, stamp, &t.tree.core.shared));
        }
        drop(spans);
        if let Some(horizon) = release {
            state.engine.shared.release_versions(horizon);
        }
        for (t, resized) in order.iter().zip(resized) {
            t.tree.core.rebalance_all(resized);
        }
        state.engine.log.write_behind()?;
        if state.durable.get() {
            state.engine.log.sync_to(stamp.lsn + 1)?;
        }
        Ok(true)
    }
}
