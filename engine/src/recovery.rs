//! Recovery: replaying the write-ahead log into the in-memory trees.
//!
//! Files are read in sequence order and records in LSN order; each record is
//! handed to the caller whole, so a batch or transaction is applied completely or
//! not at all. Where a record fails to decode, recovery decides between a torn
//! tail and corruption:
//!
//! - in any file but the newest, the bytes were fsynced before the next file was
//!   created, so damage there is `Error::Corruption`;
//! - in the newest file, a valid record further on whose `durable_lsn` is above
//!   the damaged record's LSN proves the damaged bytes had been fsynced: that is
//!   `Error::Corruption` too;
//! - otherwise the damage lies after the last sync: a torn tail, cut off (the
//!   file is truncated and fsynced) so appending resumes at the last good record.

use std::path::{Path, PathBuf};

use crate::io::Storage;
use crate::log::{self, Tail};
use crate::record::{self, HeaderError, Record};
use crate::{Error, Result};

/// What replay found.
pub(crate) struct Replayed {
    pub tail: Tail,
}

/// Replays every log file in `dir` through `apply`, in LSN order.
pub(crate) fn replay(
    storage: &dyn Storage,
    dir: &Path,
    mut apply: impl FnMut(Record) -> Result<()>,
) -> Result<Replayed> {
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list log directory", dir, e))?;
    let mut seqs: Vec<u64> = names.iter().filter_map(|n| log::parse_file_name(n)).collect();
    seqs.sort_unstable();
    if seqs.is_empty() {
        return Err(Error::corruption(dir, 0, "the log directory holds no log file"));
    }
    let mut next_lsn = 1;
    let mut tail_len = 0;
    for (i, &seq) in seqs.iter().enumerate() {
        let newest = i + 1 == seqs.len();
        let path = dir.join(log::file_name(seq));
        let data = read_file(storage, &path)?;
        match record::decode_file_header(&data) {
            Ok(found) if found == seq => {}
            Ok(found) => {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!("log file header says sequence {found}"),
                ));
            }
            Err(HeaderError::Version(v)) => {
                return Err(Error::UnsupportedFormat {
                    path: path.clone(),
                    found: v,
                    supported: record::LOG_VERSION,
                })
            }
            // A crash while creating the newest file can leave its header torn;
            // nothing was ever written after a torn header, so start it afresh.
            Err(_) if newest && !synced_later(&data, 0, 0) => {
                rewrite_header(storage, &path, seq)?;
                tail_len = record::FILE_HEADER_LEN as u64;
                continue;
            }
            Err(e) => return Err(Error::corruption(&path, 0, format!("bad log file header: {e:?}"))),
        }
        let mut pos = record::FILE_HEADER_LEN;
        while pos < data.len() {
            match record::decode(&data[pos..]) {
                Ok((rec, len)) => {
                    if rec.lsn != next_lsn {
                        return Err(Error::corruption(
                            &path,
                            pos as u64,
                            format!("log record has LSN {} where {next_lsn} was expected", rec.lsn),
                        ));
                    }
                    next_lsn += 1;
                    apply(rec)?;
                    pos += len;
                }
                Err(e) => {
                    if !newest || synced_later(&data, pos, next_lsn) {
                        return Err(Error::corruption(&path, pos as u64, e.to_string()));
                    }
                    trim(storage, &path, pos as u64)?;
                    break;
                }
            }
        }
        tail_len = pos.min(data.len()) as u64;
    }
    let seq = *seqs.last().unwrap_or(&1);
    Ok(Replayed {
        tail: Tail {
            seq,
            len: tail_len,
            next_lsn,
        },
    })
}

fn read_file(storage: &dyn Storage, path: &PathBuf) -> Result<Vec<u8>> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    let len = file.len().map_err(|e| Error::io("stat log file", path, e))?;
    let len = usize::try_from(len).map_err(|_| Error::corruption(path, 0, "log file too large to read"))?;
    let mut data = vec![0u8; len];
    file.read_exact_at(&mut data, 0)
        .map_err(|e| Error::io("read log file", path, e))?;
    Ok(data)
}

/// Whether a valid record after `bad` proves the record at `bad` (which should
/// have had LSN `lsn`) had been fsynced. With `lsn == 0`: whether any valid
/// record follows `bad` at all.
fn synced_later(data: &[u8], bad: usize, lsn: u64) -> bool {
    let mut pos = bad.next_multiple_of(8) + 8;
    while pos + record::HEADER_LEN <= data.len() {
        match record::decode(&data[pos..]) {
            Ok((rec, len)) => {
                if rec.lsn > lsn && rec.durable_lsn > lsn {
                    return true;
                }
                pos += len;
            }
            Err(_) => pos += 8,
        }
    }
    false
}

fn trim(storage: &dyn Storage, path: &Path, len: u64) -> Result<()> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    file.set_len(len)
        .map_err(|e| Error::io("truncate torn log tail", path, e))?;
    file.sync().map_err(|e| Error::io("fsync log", path, e))
}

fn rewrite_header(storage: &dyn Storage, path: &Path, seq: u64) -> Result<()> {
    let file = storage
        .open(path, false)
        .map_err(|e| Error::io("open log file", path, e))?;
    file.set_len(0)
        .map_err(|e| Error::io("truncate torn log file", path, e))?;
    file.write_all_at(&record::encode_file_header(seq), 0)
        .map_err(|e| Error::io("write log header", path, e))?;
    file.sync().map_err(|e| Error::io("fsync log", path, e))
}
