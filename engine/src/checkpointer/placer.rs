//! Where each page and blob of one checkpoint goes: written anew, left where
//! it is, or copied out of a segment being emptied.

use crate::id_hash::IdSet;

use crate::blob;
use crate::checkpoint::Loc;
use crate::leaf::{Blobs, Leaf};
use crate::page::{self, Stored};
use crate::page_store::{PageStore, Placed, Writer};
use crate::record::TreeId;
use crate::sync::Arc;
use crate::{IVec, Result};

/// A blob a checkpoint wrote for a leaf's value, to remember in the leaf.
pub(super) type NewBlob = (Arc<Leaf>, IVec, IVec, Loc);

/// Decides where each captured leaf's page and blobs go in one checkpoint,
/// writing what must be written.
pub(super) struct Placer<'a> {
    pub victims: IdSet<u64>,
    pub writer: Writer<'a>,
    pub pages: &'a PageStore,
    pub level: Option<i32>,
    /// Dirty leaves written, to be marked evictable after the install.
    pub saving: Vec<Arc<Leaf>>,
    pub new_blobs: Vec<NewBlob>,
    pub copied: u64,
}

impl Placer<'_> {
    /// Writes a dirty leaf's page; values of `blob::MIN_LEN` bytes or more go
    /// out of line, to the blob already holding them if there is one (live in
    /// the table, and not in a segment being emptied).
    pub(super) fn dirty(
        &mut self,
        leaf: &Arc<Leaf>,
        tree: TreeId,
        lo: &[u8],
        hi: Option<&[u8]>,
        entries: Vec<(IVec, IVec)>,
        blobs: &Blobs,
    ) -> Result<Placed> {
        let mut stored = Vec::with_capacity(entries.len());
        let mut blob_locs = Vec::new();
        for (k, v) in entries {
            if v.len() < blob::MIN_LEN {
                stored.push((k, Stored::Inline(v)));
                continue;
            }
            let loc = match blobs.get(&k) {
                Some(loc) if !self.victims.contains(&loc.segment) && self.pages.blob_is_live(*loc) => *loc,
                _ => {
                    let loc = self.writer.append(&blob::encode(leaf.id, &v))?;
                    self.new_blobs.push((leaf.clone(), k.clone(), v, loc));
                    loc
                }
            };
            blob_locs.push(loc);
            stored.push((k, Stored::Blob(loc)));
        }
        self.saving.push(leaf.clone());
        let page = self
            .writer
            .append(&page::encode(leaf.id, tree, lo, hi, &stored, self.level))?;
        Ok(Placed {
            page,
            blobs: blob_locs,
        })
    }

    /// Keeps a clean leaf's page where it is, or copies it (and its blobs)
    /// out of a segment being emptied.
    pub(super) fn clean(&mut self, id: u64, old: Placed) -> Result<Placed> {
        if old.blobs.iter().any(|b| self.victims.contains(&b.segment)) {
            // The page must point at the blobs' new places: rewrite it.
            self.copied += 1;
            // Leaves that remember the old places stop reusing them once the
            // table no longer lists them (see `PageStore::blob_is_live`).
            let mut image = self.pages.read(id)?;
            for (_, v) in &mut image.entries {
                if let Stored::Blob(loc) = v {
                    if self.victims.contains(&loc.segment) {
                        *loc = self.writer.append(&self.pages.read_raw_blob(*loc)?)?;
                    }
                }
            }
            let page = self.writer.append(&page::encode(
                image.leaf,
                image.tree,
                &image.lo,
                image.hi.as_deref(),
                &image.entries,
                self.level,
            ))?;
            Ok(Placed {
                page,
                blobs: image.blobs().collect(),
            })
        } else if self.victims.contains(&old.page.segment) {
            self.copied += 1;
            let page = self.writer.append(&self.pages.read_raw(old.page)?)?;
            Ok(Placed {
                page,
                blobs: old.blobs,
            })
        } else {
            Ok(old)
        }
    }
}
