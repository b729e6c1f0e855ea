//! The page store: segment files full of pages, and the page table.
//!
//! Checkpoints append leaves as pages (see `page`) to new segment files in
//! `pages/`; the page table maps a leaf id to where its newest page lies. The
//! table in memory is the one the last checkpoint made durable — a page written
//! by a checkpoint in progress is not referenced until that checkpoint's file is
//! renamed into place and `install` runs.
//!
//! Segment file: a 16-byte header (`"SKIFFSEG"`, sequence number u64 LE), then
//! pages back to back. Segments are never modified after the checkpoint that
//! wrote them; they are removed whole once no table entry points into them.
//!
//! Large values are blobs (see `blob`) in the same segments; a table entry
//! lists the blobs its page points to. Live bytes are tracked per segment (the
//! sum of the pages and blobs the table points at), which is what the cleaner (in `checkpointer`) reads to pick segments to
//! empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::blob;
use crate::checkpoint::{Checkpoint, Loc};
use crate::id_hash::IdMap;
use crate::io::{Storage, StorageFile};
use crate::page::{self, Image, Stored};
use crate::record::TreeId;
use crate::sync::{read, write, Arc, AtomicU64, Ordering, RwLock};
use crate::IVec;
use crate::{Error, Result};

mod writer;

pub(crate) use writer::{Writer, Written};

/// The directory holding segments, inside the database directory.
pub(crate) const DIR: &str = "pages";
const MAGIC: &[u8; 8] = b"SKIFFSEG";
const HEADER_LEN: usize = 16;
/// Bytes before the first page of a segment.
pub(crate) const SEGMENT_HEADER_LEN: u64 = HEADER_LEN as u64;
/// Pages are gathered into writes of about this size.
const WRITE_CHUNK: usize = 1 << 20;

/// Name of segment file `seq`.
pub(crate) fn segment_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

/// Parses a segment file name back into its sequence number.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn segment_header(seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&seq.to_le_bytes());
    h
}

struct Segment {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    size: u64,
    live: u64,
}

/// Where a leaf's page and its blobs lie.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Placed {
    pub page: Loc,
    pub blobs: Vec<Loc>,
}

impl Placed {
    /// Every location: the page, then the blobs.
    pub(crate) fn locs(&self) -> impl Iterator<Item = Loc> + '_ {
        std::iter::once(self.page).chain(self.blobs.iter().copied())
    }
}

/// A leaf's entries read back from its page, with the blobs its large values
/// came from.
pub(crate) type LoadedLeaf = (Vec<(IVec, IVec)>, BTreeMap<IVec, Loc>);

struct Inner {
    table: IdMap<u64, Placed>,
    /// Every blob some table entry lists, with how many list it.
    live_blobs: IdMap<Loc, usize>,
    segments: BTreeMap<u64, Segment>,
    next_segment: u64,
}

fn live_blobs(table: &IdMap<u64, Placed>) -> IdMap<Loc, usize> {
    let mut live = IdMap::default();
    for &loc in table.values().flat_map(|p| &p.blobs) {
        *live.entry(loc).or_default() += 1;
    }
    live
}

/// The bytes at `locs`, summed per segment.
pub(crate) fn bytes_by_segment(locs: impl Iterator<Item = Loc>) -> IdMap<u64, u64> {
    let mut bytes = IdMap::default();
    for loc in locs {
        *bytes.entry(loc.segment).or_default() += u64::from(loc.len);
    }
    bytes
}

impl Inner {
    /// Counts `placed`'s page and blobs as live.
    fn count(&mut self, placed: &Placed) {
        for loc in placed.locs() {
            if let Some(seg) = self.segments.get_mut(&loc.segment) {
                seg.live += u64::from(loc.len);
            }
        }
        for &loc in &placed.blobs {
            *self.live_blobs.entry(loc).or_default() += 1;
        }
    }

    /// Stops counting `placed`'s page and blobs as live.
    fn uncount(&mut self, placed: &Placed) {
        for loc in placed.locs() {
            if let Some(seg) = self.segments.get_mut(&loc.segment) {
                seg.live = seg.live.saturating_sub(u64::from(loc.len));
            }
        }
        for loc in &placed.blobs {
            if let Some(n) = self.live_blobs.get_mut(loc) {
                *n -= 1;
                if *n == 0 {
                    self.live_blobs.remove(loc);
                }
            }
        }
    }
}

/// One segment's size and live bytes, for the cleaner and `stats`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentUse {
    pub seq: u64,
    pub size: u64,
    pub live: u64,
}

pub(crate) struct PageStore {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    inner: RwLock<Inner>,
    /// Total bytes of pages ever written (for write amplification).
    pub bytes_written: AtomicU64,
    /// Pages read back (cache misses).
    pub pages_read: AtomicU64,
}

impl PageStore {
    /// Opens `dir` with the table of `checkpoint` (none for a new database).
    /// Segment files the table does not reference are leftovers of a checkpoint
    /// that did not finish, or of one that finished but crashed before removing
    /// what it emptied: they are removed.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<PageStore> {
        storage
            .create_dir_all(dir)
            .map_err(|e| Error::io("create page directory", dir, e))?;
        let mut table = IdMap::default();
        let mut next_segment = 1;
        if let Some(c) = checkpoint {
            next_segment = c.next_segment.max(1);
            for leaf in c.trees.iter().flat_map(|t| &t.leaves) {
                table.insert(
                    leaf.id,
                    Placed {
                        page: leaf.loc,
                        blobs: leaf.blobs.clone(),
                    },
                );
            }
        }
        let wanted: BTreeSet<u64> = table.values().flat_map(|p| p.locs()).map(|l| l.segment).collect();
        let mut segments = BTreeMap::new();
        let mut removed = false;
        for name in storage
            .list_dir(dir)
            .map_err(|e| Error::io("list page directory", dir, e))?
        {
            let Some(seq) = parse_segment_name(&name) else {
                continue;
            };
            let path = dir.join(&name);
            next_segment = next_segment.max(seq + 1);
            if !wanted.contains(&seq) {
                storage
                    .remove_file(&path)
                    .map_err(|e| Error::io("remove unreferenced segment", &path, e))?;
                removed = true;
                continue;
            }
            let file: Arc<dyn StorageFile> = Arc::from(
                storage
                    .open(&path, false)
                    .map_err(|e| Error::io("open segment", &path, e))?,
            );
            let size = file.len().map_err(|e| Error::io("stat segment", &path, e))?;
            segments.insert(
                seq,
                Segment {
                    file,
                    path,
                    size,
                    live: 0,
                },
            );
        }
        if removed {
            storage
                .sync_dir(dir)
                .map_err(|e| Error::io("fsync page directory", dir, e))?;
        }
        for &seq in &wanted {
            if !segments.contains_key(&seq) {
                return Err(Error::corruption(
                    dir.join(segment_name(seq)),
                    0,
                    "the checkpoint refers to this segment, which is missing",
                ));
            }
        }
        for loc in table.values().flat_map(|p| p.locs()) {
            let seg = segments.get_mut(&loc.segment).expect("checked above");
            if loc.offset < SEGMENT_HEADER_LEN || loc.offset + u64::from(loc.len) > seg.size {
                return Err(Error::corruption(
                    &seg.path,
                    loc.offset,
                    "the checkpoint points past the end of this segment",
                ));
            }
            seg.live += u64::from(loc.len);
        }
        Ok(PageStore {
            storage,
            dir: dir.to_path_buf(),
            inner: RwLock::new(Inner {
                live_blobs: live_blobs(&table),
                table,
                segments,
                next_segment,
            }),
            bytes_written: AtomicU64::new(0),
            pages_read: AtomicU64::new(0),
        })
    }

    /// The file of segment `seq`.
    pub(crate) fn segment_path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// Where leaf `id`'s page and blobs lie, if it has a page.
    pub(crate) fn placed(&self, id: u64) -> Option<Placed> {
        read(&self.inner).table.get(&id).cloned()
    }

    /// Reads leaf `id`'s page. Damage is `Error::Corruption` naming the
    /// segment and offset.
    pub(crate) fn read(&self, id: u64) -> Result<Image> {
        let inner = read(&self.inner);
        let Some(loc) = inner.table.get(&id).map(|p| p.page) else {
            return Err(Error::ReportableBug(format!("leaf {id} has no page")));
        };
        let (bytes, path) = read_at(&inner, loc)?;
        self.pages_read.fetch_add(1, Ordering::Relaxed);
        let image = page::decode(&bytes).map_err(|e| Error::corruption(&path, loc.offset, e.to_string()))?;
        if image.leaf != id {
            return Err(Error::corruption(
                path,
                loc.offset,
                format!("page of leaf {} where leaf {id} was expected", image.leaf),
            ));
        }
        Ok(image)
    }

    /// Reads the entries of leaf `id` of tree `tree`, with its blobs,
    /// checking that its page is that leaf with the range `[lo, hi)`.
    pub(crate) fn read_leaf(
        &self,
        id: u64,
        tree: TreeId,
        lo: &[u8],
        hi: Option<&[u8]>,
    ) -> Result<LoadedLeaf> {
        let image = self.read(id)?;
        if image.tree != tree || *image.lo != *lo || image.hi.as_deref() != hi {
            let loc = self.placed(id).unwrap_or_default().page;
            return Err(Error::corruption(
                self.segment_path(loc.segment),
                loc.offset,
                format!("page of leaf {id} does not hold that leaf's tree {tree} and key range"),
            ));
        }
        let mut blobs = BTreeMap::new();
        let mut entries = Vec::with_capacity(image.entries.len());
        for (k, v) in image.entries {
            let v = match v {
                Stored::Inline(v) => v,
                Stored::Blob(loc) => {
                    let value = self.read_blob(loc)?;
                    blobs.insert(k.clone(), loc);
                    value
                }
            };
            entries.push((k, v));
        }
        Ok((entries, blobs))
    }

    /// Reads the value in the blob at `loc`.
    pub(crate) fn read_blob(&self, loc: Loc) -> Result<IVec> {
        let inner = read(&self.inner);
        let (bytes, path) = read_at(&inner, loc)?;
        blob::decode(&bytes)
            .map(|(_, v)| v)
            .map_err(|e| Error::corruption(path, loc.offset, e))
    }

    /// The stored bytes of the page at `loc`, crc-checked, for copying.
    pub(crate) fn read_raw(&self, loc: Loc) -> Result<Vec<u8>> {
        let inner = read(&self.inner);
        let (bytes, path) = read_at(&inner, loc)?;
        page::check(&bytes).map_err(|e| Error::corruption(path, loc.offset, e.to_string()))?;
        Ok(bytes)
    }

    /// The stored bytes of the blob at `loc`, crc-checked, for copying.
    pub(crate) fn read_raw_blob(&self, loc: Loc) -> Result<Vec<u8>> {
        let inner = read(&self.inner);
        let (bytes, path) = read_at(&inner, loc)?;
        blob::check(&bytes).map_err(|e| Error::corruption(path, loc.offset, e))?;
        Ok(bytes)
    }

    /// Every segment's size and live bytes, oldest first.
    pub(crate) fn usage(&self) -> Vec<SegmentUse> {
        read(&self.inner)
            .segments
            .iter()
            .map(|(&seq, s)| SegmentUse {
                seq,
                size: s.size,
                live: s.live,
            })
            .collect()
    }

    /// Whether the table lists the blob at `loc`. A leaf's memory of where
    /// its blobs lie is a hint that can go stale (a checkpoint that moves a
    /// blob out of an emptied segment cannot find every leaf that remembers
    /// it); a blob is reused only if this holds.
    pub(crate) fn blob_is_live(&self, loc: Loc) -> bool {
        read(&self.inner).live_blobs.contains_key(&loc)
    }

    /// Bytes of the pages and blobs the table points at.
    pub(crate) fn live_bytes(&self) -> u64 {
        read(&self.inner).segments.values().map(|s| s.live).sum()
    }

    /// The next segment number a writer will use.
    pub(crate) fn next_segment(&self) -> u64 {
        read(&self.inner).next_segment
    }

    /// Starts writing pages for a checkpoint into new segments of about
    /// `segment_size` bytes.
    pub(crate) fn writer(&self, segment_size: u64) -> Writer<'_> {
        Writer {
            store: self,
            segment_size,
            done: Vec::new(),
            current: None,
            buf: Vec::new(),
        }
    }

    /// Applies `changes` (leaf id → its page now, `None` if gone) to the page
    /// table once the checkpoint that references them is durable, adopts the
    /// segments `written`, and removes every segment no entry points into any
    /// more. Work in proportion to the changes, not to the table.
    pub(crate) fn install(&self, changes: IdMap<u64, Option<Placed>>, written: Vec<Written>) -> Result<()> {
        let mut inner = write(&self.inner);
        let inner = &mut *inner;
        for w in written {
            inner.segments.insert(
                w.seq,
                Segment {
                    file: w.file,
                    path: w.path,
                    size: w.size,
                    live: 0,
                },
            );
        }
        // Every old page goes before any new one comes: a blob can pass from
        // one leaf's entry to another's.
        for id in changes.keys() {
            if let Some(old) = inner.table.remove(id) {
                inner.uncount(&old);
            }
        }
        for (id, placed) in changes {
            if let Some(placed) = placed {
                inner.count(&placed);
                inner.table.insert(id, placed);
            }
        }
        let dead: Vec<u64> = inner
            .segments
            .iter()
            .filter(|(_, s)| s.live == 0)
            .map(|(&seq, _)| seq)
            .collect();
        for seq in &dead {
            if let Some(seg) = inner.segments.remove(seq) {
                self.storage
                    .remove_file(&seg.path)
                    .map_err(|e| Error::io("remove emptied segment", &seg.path, e))?;
            }
        }
        if !dead.is_empty() {
            self.storage
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("fsync page directory", &self.dir, e))?;
        }
        Ok(())
    }

    /// Checks that the table equals `expected` and that the live counts
    /// agree with it (debug builds: `install` only applies changes, so a
    /// change the checkpointer failed to report would show here).
    #[cfg(debug_assertions)]
    pub(crate) fn check_table(&self, expected: &IdMap<u64, Placed>) {
        let inner = read(&self.inner);
        assert!(
            inner.table == *expected,
            "page table diverged from the checkpoint's"
        );
        assert!(inner.live_blobs == live_blobs(expected), "live blobs diverged");
        let live = bytes_by_segment(expected.values().flat_map(Placed::locs));
        for (seq, seg) in &inner.segments {
            assert_eq!(
                seg.live,
                live.get(seq).copied().unwrap_or(0),
                "live bytes of segment {seq}"
            );
        }
    }

    /// How many pages the table references.
    pub(crate) fn page_count(&self) -> u64 {
        read(&self.inner).table.len() as u64
    }

    /// Reads every page the table references and checks it, calling `found`
    /// with each problem and `progress` after each page. Returns how many
    /// pages were checked.
    pub(crate) fn verify(&self, found: &mut dyn FnMut(Error), progress: &mut dyn FnMut()) -> u64 {
        let inner = read(&self.inner);
        let mut checked = 0;
        for (&seq, seg) in &inner.segments {
            let mut header = [0u8; HEADER_LEN];
            match seg.file.read_exact_at(&mut header, 0) {
                Ok(()) if header == segment_header(seq) => {}
                Ok(()) => found(Error::corruption(&seg.path, 0, "bad segment header")),
                Err(e) => found(Error::io("read segment", &seg.path, e)),
            }
        }
        let mut placed: Vec<(&u64, &Placed)> = inner.table.iter().collect();
        placed.sort_by_key(|(_, p)| (p.page.segment, p.page.offset));
        for (&id, p) in placed {
            checked += 1;
            progress();
            let loc = p.page;
            match read_at(&inner, loc) {
                Ok((bytes, path)) => match page::decode(&bytes) {
                    Ok(img) if img.leaf == id => {}
                    Ok(img) => found(Error::corruption(
                        path,
                        loc.offset,
                        format!("page of leaf {} where leaf {id} was expected", img.leaf),
                    )),
                    Err(e) => found(Error::corruption(path, loc.offset, e.to_string())),
                },
                Err(e) => found(e),
            }
            for &loc in &p.blobs {
                match read_at(&inner, loc) {
                    Ok((bytes, path)) => {
                        if let Err(e) = blob::check(&bytes) {
                            found(Error::corruption(path, loc.offset, e));
                        }
                    }
                    Err(e) => found(e),
                }
            }
        }
        checked
    }
}

fn read_at(inner: &Inner, loc: Loc) -> Result<(Vec<u8>, PathBuf)> {
    let Some(seg) = inner.segments.get(&loc.segment) else {
        return Err(Error::ReportableBug(format!(
            "page table names missing segment {}",
            loc.segment
        )));
    };
    let mut bytes = vec![0u8; loc.len as usize];
    seg.file
        .read_exact_at(&mut bytes, loc.offset)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::corruption(&seg.path, loc.offset, "segment ends inside this page")
            }
            _ => Error::io("read page", &seg.path, e),
        })?;
    Ok((bytes, seg.path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{LeafEntry, TreeEntry};
    use crate::io::FileSystem;

    fn page_of(id: u64, n: usize) -> Vec<u8> {
        let entries: Vec<(IVec, Stored)> = (0..n)
            .map(|i| {
                let v = IVec::from(vec![u8::try_from(id).unwrap(); 30]);
                (IVec::from(format!("k{i:04}").as_bytes()), Stored::Inline(v))
            })
            .collect();
        page::encode(id, 0, b"", None, &entries, None)
    }

    fn placed(page: Loc) -> Placed {
        Placed {
            page,
            blobs: Vec::new(),
        }
    }

    #[test]
    fn write_install_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(FileSystem);
        let store = PageStore::open(storage.clone(), dir.path(), None).unwrap();
        let mut w = store.writer(4096);
        let mut table = IdMap::default();
        for id in 1..=20 {
            table.insert(id, placed(w.append(&page_of(id, 20)).unwrap()));
        }
        let written = w.finish().unwrap();
        assert!(written.len() > 1, "small segments roll");
        let all = table.iter().map(|(&id, p)| (id, Some(p.clone()))).collect();
        store.install(all, written).unwrap();
        for id in 1..=20 {
            assert_eq!(store.read(id).unwrap().entries.len(), 20);
        }
        let live: u64 = store.usage().iter().map(|u| u.live).sum();
        assert_eq!(live, table.values().map(|p| u64::from(p.page.len)).sum::<u64>());
        let mut problems = 0;
        assert_eq!(store.verify(&mut |_| problems += 1, &mut || {}), 20);
        assert_eq!(problems, 0);

        // Rewrite half the leaves: segments holding only old pages go away.
        let before = store.usage().len();
        let mut w = store.writer(1 << 20);
        let mut changes = IdMap::default();
        for id in 1..=10 {
            let p = placed(w.append(&page_of(id, 5)).unwrap());
            table.insert(id, p.clone());
            changes.insert(id, Some(p));
        }
        let written = w.finish().unwrap();
        store.install(changes, written).unwrap();
        assert!(store.usage().len() <= before, "emptied segments are removed");
        assert_eq!(store.read(3).unwrap().entries.len(), 5);
        assert_eq!(
            store.read(13).unwrap().entries.len(),
            20,
            "unchanged entries stay"
        );
        #[cfg(debug_assertions)]
        store.check_table(&table);

        // Leaves that are gone free their bytes.
        let live_before: u64 = store.usage().iter().map(|u| u.live).sum();
        let gone: u64 = (18..=20).map(|id| u64::from(table[&id].page.len)).sum();
        store
            .install((18..=20).map(|id| (id, None)).collect(), Vec::new())
            .unwrap();
        for id in 18..=20 {
            table.remove(&id);
        }
        let live_after: u64 = store.usage().iter().map(|u| u.live).sum();
        assert_eq!(live_after, live_before - gone);
        assert_eq!(store.page_count(), 17);

        // Reopening with the table keeps exactly the referenced segments.
        let ckpt = Checkpoint {
            next_segment: store.next_segment(),
            trees: vec![TreeEntry {
                id: 0,
                name: IVec::from(&b"t"[..]),
                leaves: table
                    .iter()
                    .map(|(&id, p)| LeafEntry {
                        id,
                        lo: IVec::empty(),
                        loc: p.page,
                        blobs: Vec::new(),
                    })
                    .collect(),
            }],
            ..Checkpoint::default()
        };
        // A leftover segment from a checkpoint that never finished.
        std::fs::write(dir.path().join(segment_name(999)), b"junk").unwrap();
        drop(store);
        let store = PageStore::open(storage, dir.path(), Some(&ckpt)).unwrap();
        assert!(!dir.path().join(segment_name(999)).exists());
        assert_eq!(store.read(15).unwrap().entries.len(), 20);
        assert!(store.next_segment() >= 1000);
    }

    #[test]
    fn damaged_page_is_corruption_naming_segment_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(FileSystem);
        let store = PageStore::open(storage, dir.path(), None).unwrap();
        let mut w = store.writer(1 << 20);
        let loc = w.append(&page_of(7, 10)).unwrap();
        let written = w.finish().unwrap();
        store
            .install(IdMap::from_iter([(7, Some(placed(loc)))]), written)
            .unwrap();
        let path = dir.path().join(segment_name(loc.segment));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[usize::try_from(loc.offset).unwrap() + 40] ^= 0x10;
        std::fs::write(&path, bytes).unwrap();
        match store.read(7) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, path);
                assert_eq!(offset, loc.offset);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        let mut found = Vec::new();
        store.verify(&mut |e| found.push(e), &mut || {});
        assert_eq!(found.len(), 1);
    }
}
