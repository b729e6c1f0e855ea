//! `Db::export` and `Db::import`: moving every tree's contents between
//! databases (e.g. into one of a newer format), as in sled, with errors
//! instead of panics.

use crate::{Batch, Db, Error, Result};

impl Db {
    /// Every tree's contents, for [`import`](Db::import) into another database
    /// (e.g. one of a newer format). Each item is `(kind, name, entries)` with
    /// kind `b"tree"` and entries `[key, value]`, as in sled — except that this
    /// returns errors instead of panicking.
    pub fn export(&self) -> Result<Vec<ExportedTree>> {
        self.tree_names()
            .into_iter()
            .map(|name| {
                Ok((
                    b"tree".to_vec(),
                    name.to_vec(),
                    Export {
                        iter: self.open_tree(&name)?.iter(),
                    },
                ))
            })
            .collect()
    }

    /// Loads what [`export`](Db::export) produced. Writes in batches of 1,000;
    /// fails (instead of panicking, unlike sled) if a target tree is not empty.
    ///
    /// ```
    /// let old = skiff_engine::Config::new().temporary(true).open()?;
    /// old.open_tree(b"t")?.insert(b"k", b"v")?;
    /// let new = skiff_engine::Config::new().temporary(true).open()?;
    /// new.import(old.export()?)?;
    /// assert_eq!(new.open_tree(b"t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(old.checksum()?, new.checksum()?);
    /// # Ok::<(), skiff_engine::Error>(())
    /// ```
    pub fn import<I>(&self, export: Vec<(Vec<u8>, Vec<u8>, I)>) -> Result<()>
    where
        I: IntoIterator,
        I::Item: ExportEntry,
    {
        for (kind, name, entries) in export {
            if kind != b"tree" {
                return Err(Error::Unsupported(format!(
                    "cannot import a collection of kind {:?}",
                    String::from_utf8_lossy(&kind)
                )));
            }
            let tree = self.open_tree(&name)?;
            if !tree.is_empty() {
                return Err(Error::Unsupported(format!(
                    "import into tree {:?}, which is not empty",
                    String::from_utf8_lossy(&name)
                )));
            }
            let mut batch = Batch::default();
            for entry in entries {
                let (k, v) = entry.into_pair()?;
                batch.insert(k, v);
                if batch.len() >= 1000 {
                    tree.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            tree.apply_batch(batch)?;
        }
        Ok(())
    }
}

/// One exported tree: `(kind, name, entries)`.
pub type ExportedTree = (Vec<u8>, Vec<u8>, Export);

/// An item [`Db::import`] accepts: `[key, value]`, or a `Result` of one as
/// [`Export`] yields.
pub trait ExportEntry {
    /// The key and value, or why there are none.
    fn into_pair(self) -> Result<(Vec<u8>, Vec<u8>)>;
}

impl ExportEntry for Vec<Vec<u8>> {
    fn into_pair(self) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut it = self.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(k), Some(v), None) => Ok((k, v)),
            _ => Err(Error::Unsupported(
                "an imported entry must be exactly [key, value]".into(),
            )),
        }
    }
}

impl ExportEntry for Result<Vec<Vec<u8>>> {
    fn into_pair(self) -> Result<(Vec<u8>, Vec<u8>)> {
        self?.into_pair()
    }
}

/// The entries of one exported tree, as `[key, value]`.
pub struct Export {
    iter: crate::Iter,
}

impl Iterator for Export {
    type Item = Result<Vec<Vec<u8>>>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.iter.next()?.map(|(k, v)| vec![k.to_vec(), v.to_vec()]))
    }
}
