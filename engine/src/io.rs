//! The one narrow door to the disk.
//!
//! Every byte the engine reads or writes, every fsync, rename and directory
//! listing, goes through [`Storage`] and [`StorageFile`]. [`FileSystem`] is the
//! real implementation; tests plug in a simulated file system that loses unsynced
//! writes, tears them, flips bits or fails calls on demand.
//!
//! Architecture invariant: no other module touches `std::fs` — so this is the only
//! place that calls fsync, and a simulated storage sees everything.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// A file system as the engine sees it.
///
/// Implementations must make `sync_dir` durable for creations, removals and
/// renames inside that directory, and `StorageFile::sync` durable for the file's
/// contents and length. Nothing written is assumed durable before its sync.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates `path` and its missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries in the directory `path`, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Opens a file for reading and writing, creating it if `create` is set.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything below it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, removals and renames in directory `path` durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// An open file: positioned reads and writes, no cursor.
pub trait StorageFile: Send + Sync {
    /// Fills `buf` from `offset`; a short file is `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes everything written so far, and the length, durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
    /// Takes an exclusive advisory lock; `Ok(false)` if someone else holds it.
    fn try_lock(&self) -> io::Result<bool>;
    /// Releases the lock taken by `try_lock`. Closing the file is not enough: a
    /// child process forked meanwhile shares the open file, and the lock with it,
    /// until it execs.
    fn unlock(&self) -> io::Result<()>;
}

/// Replaces `dir/name` with `bytes`, atomically and durably: written to
/// `dir/tmp`, fsynced, renamed over `name`, and the directory fsynced. A crash
/// leaves the old file or the new one, never a mix.
pub(crate) fn replace_file(
    storage: &dyn Storage,
    dir: &Path,
    tmp: &str,
    name: &str,
    bytes: &[u8],
) -> crate::Result<()> {
    use crate::Error;
    let tmp = dir.join(tmp);
    let path = dir.join(name);
    let file = storage
        .open(&tmp, true)
        .map_err(|e| Error::io("create file", &tmp, e))?;
    file.set_len(0).map_err(|e| Error::io("truncate file", &tmp, e))?;
    file.write_all_at(bytes, 0)
        .map_err(|e| Error::io("write file", &tmp, e))?;
    file.sync().map_err(|e| Error::io("fsync file", &tmp, e))?;
    drop(file);
    storage
        .rename(&tmp, &path)
        .map_err(|e| Error::io("rename file", &path, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Bytes in the files of `dir`, counting the subdirectories named in
/// `subdirs` too (recursively, with the same names).
pub(crate) fn dir_bytes(storage: &dyn Storage, dir: &Path, subdirs: &[&str]) -> crate::Result<u64> {
    use crate::Error;
    let mut total = 0;
    for name in storage
        .list_dir(dir)
        .map_err(|e| Error::io("list directory", dir, e))?
    {
        let path = dir.join(&name);
        if subdirs.contains(&name.as_str()) {
            total += dir_bytes(storage, &path, subdirs)?;
        } else {
            let file = storage
                .open(&path, false)
                .map_err(|e| Error::io("open", &path, e))?;
            total += file.len().map_err(|e| Error::io("stat", &path, e))?;
        }
    }
    Ok(total)
}

/// The real file system, through `std::fs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSystem;

struct RealFile {
    file: File,
}

impl Storage for FileSystem {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Box::new(RealFile { file }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(path)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            // Windows makes directory entries durable with the file's metadata.
            let _ = path;
            Ok(())
        }
    }
}

impl StorageFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                let n = std::os::windows::fs::FileExt::seek_read(
                    &self.file,
                    &mut buf[done..],
                    offset + done as u64,
                )?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                done += std::os::windows::fs::FileExt::seek_write(
                    &self.file,
                    &buf[done..],
                    offset + done as u64,
                )?;
            }
            Ok(())
        }
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn try_lock(&self) -> io::Result<bool> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn unlock(&self) -> io::Result<()> {
        self.file.unlock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_file_round_trip_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileSystem;
        let path = dir.path().join("f");
        let f = fs.open(&path, true).unwrap();
        f.write_all_at(b"hello world", 0).unwrap();
        f.sync().unwrap();
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"world");
        assert_eq!(f.len().unwrap(), 11);
        assert!(f.read_exact_at(&mut buf, 8).is_err(), "short read must fail");
        assert!(f.try_lock().unwrap());
        let g = fs.open(&path, false).unwrap();
        assert!(!g.try_lock().unwrap(), "a second handle must not get the lock");
        assert_eq!(fs.list_dir(dir.path()).unwrap(), vec!["f".to_string()]);
        fs.sync_dir(dir.path()).unwrap();
    }
}
