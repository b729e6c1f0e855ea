//! The engine's one error type.
//!
//! Every variant says what went wrong and where: the file and offset of damaged
//! bytes, the path of a file that could not be opened, the size of a key that was
//! too large. Callers match on variants; people read the `Display` text.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::IVec;

/// The result type of every fallible engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong inside the engine.
///
/// ```
/// let db = skiff_engine::Config::new().temporary(true).open()?;
/// let huge = vec![0u8; skiff_engine::MAX_KEY_LEN + 1];
/// match db.insert(huge, b"v") {
///     Err(skiff_engine::Error::KeyTooLarge { len, max }) => assert!(len > max),
///     other => panic!("expected KeyTooLarge, got {other:?}"),
/// }
/// # Ok::<(), skiff_engine::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A tree was used after `drop_tree` removed it, or a name was not found.
    CollectionNotFound(IVec),
    /// The operation is not supported, e.g. dropping the default tree.
    Unsupported(String),
    /// An internal invariant did not hold; please report it.
    ReportableBug(String),
    /// An I/O call failed.
    Io {
        /// What the engine was doing, e.g. "write log".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Bytes on disk failed a checksum or could not be decoded. Nothing from the
    /// damaged region is ever returned as data.
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record or page within `file`.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// Another process (or another `Db` in this process) holds the database.
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The directory exists, is not empty, and is not a Skiff database.
    NotADatabase {
        /// The directory that was opened.
        path: PathBuf,
    },
    /// The database was written by a newer (or unknown) format version.
    UnsupportedFormat {
        /// The database directory.
        path: PathBuf,
        /// The format version found on disk.
        found: u32,
        /// The newest format version this build understands.
        supported: u32,
    },
    /// `Config::create_new(true)` was set but the database already exists.
    AlreadyExists {
        /// The database directory.
        path: PathBuf,
    },
    /// A key is longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is longer than [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN).
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A batch or transaction encodes to more than
    /// [`MAX_BATCH_BYTES`](crate::MAX_BATCH_BYTES).
    BatchTooLarge {
        /// Encoded size of the rejected batch.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier write or fsync failed, so the engine refuses further writes
    /// until the database is reopened (reopening recovers).
    Poisoned {
        /// The failure that poisoned the engine.
        cause: String,
    },
    /// A transaction kept conflicting with concurrent commits and gave up.
    Conflict {
        /// How many times its closure ran.
        attempts: u32,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(file: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::CollectionNotFound(name) => {
                write!(
                    f,
                    "tree {:?} does not exist (it may have been dropped)",
                    String::from_utf8_lossy(name)
                )
            }
            Error::Unsupported(what) => write!(f, "unsupported operation: {what}"),
            Error::Conflict { attempts } => write!(
                f,
                "transaction gave up after {attempts} attempts, each invalidated by a concurrent commit"
            ),
            Error::ReportableBug(what) => write!(f, "internal error, please report it: {what}"),
            Error::Io { op, path, source } => {
                write!(f, "I/O error during {op} on {}: {source}", path.display())
            }
            Error::Corruption { file, offset, what } => {
                write!(f, "corruption in {} at offset {offset}: {what}", file.display())
            }
            Error::Locked { path } => write!(
                f,
                "database {} is already open in another process or handle (its lock file is held)",
                path.display()
            ),
            Error::NotADatabase { path } => write!(
                f,
                "{} is not empty and is not a Skiff database; refusing to touch it",
                path.display()
            ),
            Error::UnsupportedFormat {
                path,
                found,
                supported,
            } => write!(
                f,
                "database {} has format version {found}, but this build supports up to {supported}",
                path.display()
            ),
            Error::AlreadyExists { path } => {
                write!(
                    f,
                    "database {} already exists and create_new was requested",
                    path.display()
                )
            }
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::ValueTooLarge { len, max } => {
                write!(f, "value of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::BatchTooLarge { len, max } => {
                write!(f, "batch of {len} encoded bytes exceeds the limit of {max} bytes")
            }
            Error::Poisoned { cause } => write!(
                f,
                "the database refuses writes after an earlier I/O failure ({cause}); reopen it to recover"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io { source, .. } => source,
            other => io::Error::other(other),
        }
    }
}
