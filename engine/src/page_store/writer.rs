//! Appending a checkpoint's pages and blobs to new segment files.

use std::path::PathBuf;

use super::{segment_header, segment_name, PageStore, SEGMENT_HEADER_LEN, WRITE_CHUNK};
use crate::checkpoint::Loc;
use crate::io::StorageFile;
use crate::sync::{write, Arc, Ordering};
use crate::{Error, Result};

/// A segment a checkpoint wrote and synced.
pub(crate) struct Written {
    pub(super) seq: u64,
    pub(super) file: Arc<dyn StorageFile>,
    pub(super) path: PathBuf,
    pub(super) size: u64,
}

/// Appends a checkpoint's pages to new segment files.
pub(crate) struct Writer<'a> {
    pub(super) store: &'a PageStore,
    pub(super) segment_size: u64,
    pub(super) done: Vec<Written>,
    pub(super) current: Option<Written>,
    pub(super) buf: Vec<u8>,
}

impl Writer<'_> {
    /// Appends one encoded page and returns where it will lie.
    pub(crate) fn append(&mut self, page: &[u8]) -> Result<Loc> {
        let full = self
            .current
            .as_ref()
            .is_none_or(|c| c.size > SEGMENT_HEADER_LEN && c.size + page.len() as u64 > self.segment_size);
        if full {
            self.seal()?;
            self.current = Some(self.create()?);
        }
        let cur = self.current.as_mut().expect("created above");
        let loc = Loc {
            segment: cur.seq,
            offset: cur.size,
            len: u32::try_from(page.len()).map_err(|_| Error::Unsupported("a page above 4 GiB".into()))?,
        };
        cur.size += page.len() as u64;
        self.buf.extend_from_slice(page);
        if self.buf.len() >= WRITE_CHUNK {
            self.write_buf()?;
        }
        Ok(loc)
    }

    fn create(&self) -> Result<Written> {
        let seq = {
            let mut inner = write(&self.store.inner);
            let seq = inner.next_segment;
            inner.next_segment += 1;
            seq
        };
        let path = self.store.dir.join(segment_name(seq));
        let file: Arc<dyn StorageFile> = Arc::from(
            self.store
                .storage
                .open(&path, true)
                .map_err(|e| Error::io("create segment", &path, e))?,
        );
        file.set_len(0)
            .map_err(|e| Error::io("truncate segment", &path, e))?;
        file.write_all_at(&segment_header(seq), 0)
            .map_err(|e| Error::io("write segment", &path, e))?;
        Ok(Written {
            seq,
            file,
            path,
            size: SEGMENT_HEADER_LEN,
        })
    }

    fn write_buf(&mut self) -> Result<()> {
        let Some(cur) = &self.current else { return Ok(()) };
        if self.buf.is_empty() {
            return Ok(());
        }
        let at = cur.size - self.buf.len() as u64;
        cur.file
            .write_all_at(&self.buf, at)
            .map_err(|e| Error::io("write segment", &cur.path, e))?;
        self.store
            .bytes_written
            .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        self.buf.clear();
        Ok(())
    }

    fn seal(&mut self) -> Result<()> {
        self.write_buf()?;
        if let Some(cur) = self.current.take() {
            cur.file
                .sync()
                .map_err(|e| Error::io("fsync segment", &cur.path, e))?;
            self.done.push(cur);
        }
        Ok(())
    }

    /// Writes and fsyncs everything, and the directory if files were
    /// created: from here the pages are durable (but referenced only once a
    /// checkpoint names them).
    pub(crate) fn finish(mut self) -> Result<Vec<Written>> {
        self.seal()?;
        if !self.done.is_empty() {
            self.store
                .storage
                .sync_dir(&self.store.dir)
                .map_err(|e| Error::io("fsync page directory", &self.store.dir, e))?;
        }
        Ok(self.done)
    }
}
