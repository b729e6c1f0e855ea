//! Serializable transactions over one or more trees, with sled 0.34's API.
//!
//! Optimistic concurrency control on top of snapshots:
//! 1. A transaction opens a snapshot and runs its closure. Reads see the
//!    snapshot plus the transaction's own buffered writes; nothing is locked
//!    while user code runs.
//! 2. Commit locks, in tree-id then key order, every leaf holding a key the
//!    transaction wrote or read and every leaf overlapping a range it scanned.
//! 3. Under those locks it checks that none of the keys it read and no key in a
//!    scanned range changed after its snapshot (leaves record such changes
//!    while a snapshot is open, see `versions`). If one did, the transaction
//!    would not be serializable: the locks are released and the closure runs
//!    again, with backoff, up to `MAX_ATTEMPTS` times.
//! 4. Otherwise all its writes become one log record, are applied and published
//!    to subscribers together, and the locks are released. A durable commit
//!    then waits for the log to be fsynced; concurrent durable commits share
//!    one fsync.
//!
//! Serializable because a committed transaction's reads are still current at
//! the moment it commits (its LSN), and all its writes happen at that LSN.
//! Read-only transactions need no validation: they serialize at their snapshot.
//! Transactions on disjoint leaves lock disjoint leaves and commit in parallel.

mod commit;
mod view;

use std::fmt;
use std::time::Duration;

use crate::{Error, Result, Tree};

pub use view::{Transaction, TransactionalTree, TxIter};

/// How many times a conflicting transaction runs before it gives up with
/// [`Error::Conflict`].
pub const MAX_ATTEMPTS: u32 = 1000;

/// An error inside a transaction closure that cannot abort it: a conflict
/// (retried) or a storage failure.
#[derive(Debug)]
pub enum UnabortableTransactionError {
    /// A concurrent commit invalidated this run; the closure will run again.
    Conflict,
    /// The engine failed.
    Storage(Error),
}

/// The result of an operation on a [`TransactionalTree`].
pub type UnabortableTransactionResult<T> = std::result::Result<T, UnabortableTransactionError>;

/// What a transaction closure returns on failure: abort with a user error,
/// retry after a conflict, or fail with a storage error.
#[derive(Debug)]
pub enum ConflictableTransactionError<T = Error> {
    /// The closure chose to abort; nothing is written and `T` is returned.
    Abort(T),
    /// A conflict: the transaction runs again.
    #[doc(hidden)]
    Conflict,
    /// The engine failed.
    Storage(Error),
}

/// The result a transaction closure returns.
pub type ConflictableTransactionResult<T, E = ()> = std::result::Result<T, ConflictableTransactionError<E>>;

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TransactionError<T = Error> {
    /// The closure aborted with this error; nothing was written.
    Abort(T),
    /// The engine failed, or the transaction kept conflicting
    /// ([`Error::Conflict`]).
    Storage(Error),
}

/// The result of running a transaction.
pub type TransactionResult<T, E = ()> = std::result::Result<T, TransactionError<E>>;

/// Aborts the transaction with `t`: `return abort(e)` inside a closure.
///
/// ```
/// use skiff_engine::{abort, Transactional, TransactionError};
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let result = db.transaction(|tx| {
///     tx.insert(b"k", b"v")?;
///     abort::<(), _>("changed my mind")
/// });
/// assert!(matches!(result, Err(TransactionError::Abort("changed my mind"))));
/// assert_eq!(db.get(b"k")?, None);
/// # Ok::<(), skiff_engine::Error>(())
/// ```
pub fn abort<A, T>(t: T) -> ConflictableTransactionResult<A, T> {
    Err(ConflictableTransactionError::Abort(t))
}

impl From<Error> for UnabortableTransactionError {
    fn from(e: Error) -> Self {
        UnabortableTransactionError::Storage(e)
    }
}

impl<E> From<UnabortableTransactionError> for ConflictableTransactionError<E> {
    fn from(e: UnabortableTransactionError) -> Self {
        match e {
            UnabortableTransactionError::Conflict => ConflictableTransactionError::Conflict,
            UnabortableTransactionError::Storage(e) => ConflictableTransactionError::Storage(e),
        }
    }
}

impl<T> From<Error> for ConflictableTransactionError<T> {
    fn from(e: Error) -> Self {
        ConflictableTransactionError::Storage(e)
    }
}

impl<T> From<Error> for TransactionError<T> {
    fn from(e: Error) -> Self {
        TransactionError::Storage(e)
    }
}

impl fmt::Display for UnabortableTransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnabortableTransactionError::Conflict => write!(f, "conflict during transaction"),
            UnabortableTransactionError::Storage(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ConflictableTransactionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConflictableTransactionError::Abort(e) => e.fmt(f),
            ConflictableTransactionError::Conflict => write!(f, "conflict during transaction"),
            ConflictableTransactionError::Storage(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TransactionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionError::Abort(e) => e.fmt(f),
            TransactionError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for UnabortableTransactionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UnabortableTransactionError::Storage(e) => Some(e),
            UnabortableTransactionError::Conflict => None,
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ConflictableTransactionError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConflictableTransactionError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TransactionError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransactionError::Storage(e) => Some(e),
            TransactionError::Abort(_) => None,
        }
    }
}

/// Something a transaction can run over: a [`Tree`], a slice of trees or a
/// tuple of up to 14 tree references. The closure receives the matching view
/// ([`TransactionalTree`], `Vec` or tuple of them).
///
/// The closure may run more than once: when a concurrent commit changed
/// something it read, it runs again on a fresh snapshot, so it should have no
/// side effects other than through its view.
///
/// ```
/// use skiff_engine::Transactional;
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let a = db.open_tree(b"a")?;
/// let b = db.open_tree(b"b")?;
/// a.insert(b"balance", &10u64.to_be_bytes())?;
/// (&a, &b).transaction(|(a, b)| {
///     let v = a.remove(b"balance")?.expect("present");
///     b.insert(b"balance", v)?;
///     Ok::<_, skiff_engine::ConflictableTransactionError>(())
/// })?;
/// assert_eq!(a.get(b"balance")?, None);
/// assert!(b.get(b"balance")?.is_some());
/// # Ok::<(), skiff_engine::TransactionError>(())
/// ```
pub trait Transactional<E = ()> {
    /// What the closure receives.
    type View;

    /// Opens a transaction over these trees.
    #[doc(hidden)]
    fn make_overlay(&self) -> Result<Transaction>;

    /// The closure's view of an open transaction.
    #[doc(hidden)]
    fn view_overlay(overlay: &Transaction) -> Self::View;

    /// Runs `f` as one serializable, atomic transaction, retrying it on
    /// conflict, and returns its result.
    fn transaction<F, A>(&self, f: F) -> TransactionResult<A, E>
    where
        F: Fn(&Self::View) -> ConflictableTransactionResult<A, E>,
    {
        run(|| self.make_overlay(), |tx| f(&Self::view_overlay(tx)))
    }
}

/// Runs transactions until one commits, aborts or fails.
pub(crate) fn run<A, E>(
    open: impl Fn() -> Result<Transaction>,
    f: impl Fn(&Transaction) -> ConflictableTransactionResult<A, E>,
) -> TransactionResult<A, E> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let tx = open()?;
        match f(&tx) {
            Ok(r) => {
                if tx.commit()? {
                    return Ok(r);
                }
            }
            Err(ConflictableTransactionError::Abort(e)) => return Err(TransactionError::Abort(e)),
            Err(ConflictableTransactionError::Conflict) => {}
            Err(ConflictableTransactionError::Storage(e)) => return Err(TransactionError::Storage(e)),
        }
        drop(tx);
        if attempts >= MAX_ATTEMPTS {
            return Err(TransactionError::Storage(Error::Conflict { attempts }));
        }
        backoff(attempts);
    }
}

/// Waits before attempt `n + 1`: yields at first, then sleeps a random time
/// that doubles per attempt up to about a millisecond, so that transactions
/// that keep colliding spread out.
fn backoff(n: u32) {
    if n < 4 {
        std::thread::yield_now();
        return;
    }
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let ceiling = 1u64 << (n - 4).min(10);
    std::thread::sleep(Duration::from_micros(1 + random % ceiling));
}

impl<E> Transactional<E> for Tree {
    type View = TransactionalTree;

    fn make_overlay(&self) -> Result<Transaction> {
        Transaction::over(&[self])
    }

    fn view_overlay(overlay: &Transaction) -> TransactionalTree {
        overlay.view(0)
    }
}

impl<E> Transactional<E> for &Tree {
    type View = TransactionalTree;

    fn make_overlay(&self) -> Result<Transaction> {
        Transaction::over(&[*self])
    }

    fn view_overlay(overlay: &Transaction) -> TransactionalTree {
        overlay.view(0)
    }
}

impl<E> Transactional<E> for &&Tree {
    type View = TransactionalTree;

    fn make_overlay(&self) -> Result<Transaction> {
        Transaction::over(&[**self])
    }

    fn view_overlay(overlay: &Transaction) -> TransactionalTree {
        overlay.view(0)
    }
}

impl<E> Transactional<E> for [Tree] {
    type View = Vec<TransactionalTree>;

    fn make_overlay(&self) -> Result<Transaction> {
        Transaction::over(&self.iter().collect::<Vec<_>>())
    }

    fn view_overlay(overlay: &Transaction) -> Vec<TransactionalTree> {
        overlay.views()
    }
}

impl<E> Transactional<E> for [&Tree] {
    type View = Vec<TransactionalTree>;

    fn make_overlay(&self) -> Result<Transaction> {
        Transaction::over(self)
    }

    fn view_overlay(overlay: &Transaction) -> Vec<TransactionalTree> {
        overlay.views()
    }
}

macro_rules! transactional_tuple {
    ($($idx:tt),+) => {
        impl<E> Transactional<E> for ($(transactional_tuple!(@tree $idx),)+) {
            type View = ($(transactional_tuple!(@view $idx),)+);

            fn make_overlay(&self) -> Result<Transaction> {
                Transaction::over(&[$(self.$idx),+])
            }

            fn view_overlay(overlay: &Transaction) -> Self::View {
                ($(overlay.view($idx),)+)
            }
        }
    };
    (@tree $idx:tt) => { &Tree };
    (@view $idx:tt) => { TransactionalTree };
}

transactional_tuple!(0);
transactional_tuple!(0, 1);
transactional_tuple!(0, 1, 2);
transactional_tuple!(0, 1, 2, 3);
transactional_tuple!(0, 1, 2, 3, 4);
transactional_tuple!(0, 1, 2, 3, 4, 5);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
transactional_tuple!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
