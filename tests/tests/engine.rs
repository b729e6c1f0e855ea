//! Integration tests of `skiff-engine`: one test binary, one module per kind.
//!
//! - `model`: T3, the engine against a `BTreeMap` model, with restarts.
//! - `crash`: T5, a child process killed with SIGKILL at random moments.
//! - `crash_txn`: T5 for transactions: concurrent durable transfers killed
//!   with SIGKILL; no torn transaction, no lost acknowledged commit.
//! - `concurrency`: threads racing on shared keys, CAS counters, ids, trees.
//! - `iterators`: iterators from several threads during splits and merges.
//! - `api`: edge cases of the public API: limits, foreign directories, locking,
//!   dropped trees, export/import, subscriptions, torn and corrupt logs.
//! - `subscribers`: `watch_prefix` streams, subscriber futures, `flush_async`.
//! - `corruption`: T7 for the log: torn tails, flipped bits, damaged files.
//! - `power_loss`: T4, every crash point of a workload on a simulated disk that
//!   drops, applies or tears unsynced writes.
//! - `io_errors`: T6, every mutating I/O call failing once or from then on.
//! - `transactions`: transactions and snapshots, one behaviour at a time,
//!   with conflicts staged deterministically.
//! - `isolation`: T9, serializability under concurrency (bank, write skew,
//!   ring, phantoms).
//!
//! Seeded tests print their seed; `SKIFF_SEED=<seed>` replays one, and
//! `SKIFF_STRESS=1` runs the stress tier. The modules live in `engine/` beside
//! this file (hence the `#[path]` attributes).

#[path = "engine/api.rs"]
mod api;
#[path = "engine/checkpoints.rs"]
mod checkpoints;
#[path = "engine/concurrency.rs"]
mod concurrency;
#[path = "engine/corruption.rs"]
mod corruption;
#[path = "engine/crash.rs"]
mod crash;
#[path = "engine/crash_txn.rs"]
mod crash_txn;
#[path = "engine/io_errors.rs"]
mod io_errors;
#[path = "engine/isolation.rs"]
mod isolation;
#[path = "engine/iterators.rs"]
mod iterators;
#[path = "engine/model.rs"]
mod model;
#[path = "engine/power_loss.rs"]
mod power_loss;
#[path = "engine/subscribers.rs"]
mod subscribers;
#[path = "engine/transactions.rs"]
mod transactions;
