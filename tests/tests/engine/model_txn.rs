//! The T3 harness's transaction and snapshot steps.
//!
//! A model transaction runs alone, so it commits on its first run: inside the
//! closure every read must equal the models plus the transaction's own writes,
//! and after it the models take its writes, or none of them if it aborted.

use std::ops::Bound;

use skiff_engine::{abort, TransactionError, Transactional, TransactionalTree};

use super::ops::{TxStep, B};
use super::{bound_ref, bound_vec, eng, model_range, opt, pair, pairs, Harness, Model, Pair};

fn step(views: [&TransactionalTree; 2], local: &mut [Model; 2], step: &TxStep) -> Result<(), String> {
    let tx = |e: skiff_engine::UnabortableTransactionError| format!("transaction error: {e}");
    match step {
        TxStep::Write { second, key, value } => {
            let i = usize::from(*second);
            let old = match value {
                Some(v) => views[i].insert(key.0.clone(), v.0.clone()).map_err(tx)?,
                None => views[i].remove(key.0.clone()).map_err(tx)?,
            };
            let model_old = match value {
                Some(v) => local[i].insert(key.0.clone(), v.0.clone()),
                None => local[i].remove(&key.0),
            };
            check_eq!(
                format!("old value of {key:?} in a transaction"),
                opt(old),
                model_old
            );
        }
        TxStep::Get { second, key } => {
            let i = usize::from(*second);
            let got = views[i].get(&key.0).map_err(tx)?;
            check_eq!(
                format!("get {key:?} in a transaction"),
                opt(got),
                local[i].get(&key.0).cloned()
            );
        }
        TxStep::Range { second, lo, hi, rev } => {
            let i = usize::from(*second);
            let iter = views[i].range::<Vec<u8>, _>((bound_vec(lo), bound_vec(hi)));
            let mut want = model_range(&local[i], bound_ref(lo), bound_ref(hi));
            let got = if *rev {
                want.reverse();
                iter.rev().map(|r| r.map_err(tx)).collect::<Result<Vec<_>, _>>()?
            } else {
                iter.map(|r| r.map_err(tx)).collect::<Result<Vec<_>, _>>()?
            };
            let got: Vec<Pair> = got.into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            check_eq!("range in a transaction", got, want);
        }
        TxStep::First { second } => {
            let i = usize::from(*second);
            let want = local[i].iter().next().map(|(k, v)| (k.clone(), v.clone()));
            check_eq!(
                "first in a transaction",
                pair(views[i].first().map_err(tx)?),
                want
            );
        }
        TxStep::Last { second } => {
            let i = usize::from(*second);
            let want = local[i].iter().next_back().map(|(k, v)| (k.clone(), v.clone()));
            check_eq!("last in a transaction", pair(views[i].last().map_err(tx)?), want);
        }
    }
    Ok(())
}

impl Harness {
    pub(super) fn transaction(
        &mut self,
        t: usize,
        u: usize,
        steps: &[TxStep],
        aborts: bool,
    ) -> Result<(), String> {
        // With one tree twice, both views share one set of writes.
        let same = t == u;
        let start = [self.models[t].clone(), self.models[u].clone()];
        let runs = std::cell::Cell::new(0);
        // Aborts with `None` on purpose, with `Some(message)` when an
        // observation differs from the model.
        let result = (&self.trees[t], &self.trees[u]).transaction(|(a, b)| {
            runs.set(runs.get() + 1);
            let mut local = start.clone();
            for s in steps {
                let s = match (same, s.clone()) {
                    (true, TxStep::Write { key, value, .. }) => TxStep::Write {
                        second: false,
                        key,
                        value,
                    },
                    (true, TxStep::Get { key, .. }) => TxStep::Get { second: false, key },
                    (true, TxStep::Range { lo, hi, rev, .. }) => TxStep::Range {
                        second: false,
                        lo,
                        hi,
                        rev,
                    },
                    (true, TxStep::First { .. }) => TxStep::First { second: false },
                    (true, TxStep::Last { .. }) => TxStep::Last { second: false },
                    (false, s) => s,
                };
                if let Err(e) = step([a, b], &mut local, &s) {
                    return abort(Some(e));
                }
            }
            if aborts {
                return abort(None);
            }
            Ok(local)
        });
        check_eq!("runs of an uncontended transaction", runs.get(), 1);
        match result {
            Ok([first, second]) => {
                self.models[t] = first;
                if !same {
                    self.models[u] = second;
                }
            }
            Err(TransactionError::Abort(None::<String>)) => {}
            Err(TransactionError::Abort(Some(e))) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(format!("transaction failed: {e}")),
        }
        for tree in [t, u] {
            check_eq!(
                "tree after a transaction",
                pairs(self.trees[tree].iter())?,
                model_pairs(&self.models[tree])
            );
        }
        Ok(())
    }

    pub(super) fn snapshot(
        &mut self,
        t: usize,
        writes: &[(B, Option<B>)],
        clear: bool,
    ) -> Result<(), String> {
        let snap = self.db().snapshot();
        let before = model_pairs(&self.models[t]);
        for (key, value) in writes {
            match value {
                Some(v) => {
                    eng(self.trees[t].insert(&key.0, v.0.clone()))?;
                    self.models[t].insert(key.0.clone(), v.0.clone());
                }
                None => {
                    eng(self.trees[t].remove(&key.0))?;
                    self.models[t].remove(&key.0);
                }
            }
        }
        if clear {
            eng(self.trees[t].clear())?;
            self.models[t].clear();
        }
        let tree = &self.trees[t];
        check_eq!("snapshot scan", pairs(snap.iter(tree))?, before);
        let mut back = pairs(snap.iter(tree).rev())?;
        back.reverse();
        check_eq!("snapshot reverse scan", back, before);
        for (key, _) in writes {
            let old = before.iter().find(|(k, _)| *k == key.0).map(|(_, v)| v.clone());
            check_eq!(
                format!("snapshot get {key:?}"),
                opt(eng(snap.get(tree, &key.0))?),
                old
            );
        }
        if let Some((key, _)) = writes.first() {
            let lo = Bound::Included(key.clone());
            let want = model_range(
                &before.iter().cloned().collect(),
                bound_ref(&lo),
                Bound::Unbounded,
            );
            check_eq!(
                "snapshot range",
                pairs(snap.range::<Vec<u8>, _>(tree, (bound_vec(&lo), Bound::Unbounded)))?,
                want
            );
        }
        check_eq!(
            "tree after the snapshot's writes",
            pairs(tree.iter())?,
            model_pairs(&self.models[t])
        );
        Ok(())
    }
}

fn model_pairs(m: &Model) -> Vec<Pair> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
