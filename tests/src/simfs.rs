//! A simulated file system for power-loss and I/O-error tests (T4, T6).
//!
//! It implements the engine's `Storage` trait and keeps, for every file, the
//! bytes a reader sees now and the list of writes not yet made durable by
//! `sync`; for every directory, the names a lister sees now and the names made
//! durable by `sync_dir`. [`SimFs::crash`] produces the disk as a power loss
//! would leave it: each unsynced write is applied, dropped, or torn into 512-byte
//! sectors of which each is applied, kept old, or filled with garbage; unsynced
//! directory changes are lost. [`SimFs::fail_after`] makes the Nth mutating call
//! (write, set_len, sync, rename, create, remove) fail, once or from then on.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rand::Rng;
use skiff_engine::io::{Storage, StorageFile};

const SECTOR: usize = 512;

/// An unsynced change to a file's contents.
#[derive(Clone, Debug)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone, Debug, Default)]
struct Inode {
    /// What survives a crash for certain.
    durable: Vec<u8>,
    /// What readers see.
    current: Vec<u8>,
    /// Changes since the last sync, oldest first.
    pending: Vec<Pending>,
}

/// How injected failures behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Only the Nth mutating call fails.
    Once,
    /// The Nth mutating call and every one after it fail.
    FromThenOn,
}

#[derive(Clone, Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    /// Path → inode, as listed now.
    names: BTreeMap<PathBuf, usize>,
    /// Path → inode, as a crash would leave it.
    durable_names: BTreeMap<PathBuf, usize>,
    dirs: Vec<PathBuf>,
    /// Mutating calls made so far.
    calls: u64,
    fail_at: Option<(u64, FailMode)>,
}

/// The simulated file system; clones share state.
#[derive(Clone, Debug, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
    /// When recording, a copy of the state after every mutating call.
    recording: Option<Arc<Mutex<Vec<SimFs>>>>,
}

struct SimFile {
    fs: SimFs,
    inode: usize,
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl State {
    /// Counts a mutating call and fails it if a failure is due.
    fn tick(&mut self) -> io::Result<()> {
        self.calls += 1;
        match self.fail_at {
            Some((n, FailMode::Once)) if self.calls == n => Err(io::Error::other("injected I/O failure")),
            Some((n, FailMode::FromThenOn)) if self.calls >= n => {
                Err(io::Error::other("injected I/O failure"))
            }
            _ => Ok(()),
        }
    }
}

impl SimFs {
    /// An empty file system.
    pub fn new() -> SimFs {
        SimFs::default()
    }

    /// An empty file system that keeps a copy of itself after every mutating
    /// call, so a test can crash it at every point of a workload.
    pub fn recording() -> SimFs {
        SimFs {
            state: Arc::default(),
            recording: Some(Arc::default()),
        }
    }

    /// The copies kept by a recording file system, in call order: copy `i` is
    /// the state right after mutating call `i + 1`.
    pub fn recorded(&self) -> Vec<SimFs> {
        self.recording
            .as_ref()
            .map(|r| r.lock().unwrap().clone())
            .unwrap_or_default()
    }

    fn record(&self) {
        if let Some(r) = &self.recording {
            let copy = SimFs {
                state: Arc::new(Mutex::new(self.state.lock().unwrap().clone())),
                recording: None,
            };
            r.lock().unwrap().push(copy);
        }
    }

    /// This file system as a `Storage` for `Config::storage`.
    pub fn storage(&self) -> Arc<dyn Storage> {
        Arc::new(self.clone())
    }

    /// Mutating calls made so far.
    pub fn calls(&self) -> u64 {
        self.state.lock().unwrap().calls
    }

    /// Makes mutating call number `n` (counting from 1 over the file system's
    /// life) fail, once or from then on.
    pub fn fail_after(&self, n: u64, mode: FailMode) {
        self.state.lock().unwrap().fail_at = Some((n, mode));
    }

    /// Stops injecting failures.
    pub fn heal(&self) {
        self.state.lock().unwrap().fail_at = None;
    }

    /// An independent copy of the current state (for crashing later).
    pub fn snapshot(&self) -> SimFs {
        SimFs {
            state: Arc::new(Mutex::new(self.state.lock().unwrap().clone())),
            recording: None,
        }
    }

    /// The disk after a power loss now: unsynced writes applied, dropped or torn
    /// at random, unsynced directory changes lost.
    pub fn crash(&self, rng: &mut impl Rng) -> SimFs {
        let s = self.state.lock().unwrap();
        let mut inodes = Vec::with_capacity(s.inodes.len());
        for inode in &s.inodes {
            let mut disk = inode.durable.clone();
            for change in &inode.pending {
                match change {
                    Pending::SetLen(len) => {
                        if rng.gen_bool(0.5) {
                            disk.resize(usize::try_from(*len).unwrap(), 0);
                        }
                    }
                    Pending::Write { offset, data } => {
                        let offset = usize::try_from(*offset).unwrap();
                        match rng.gen_range(0..3) {
                            0 => {}
                            1 => write_into(&mut disk, offset, data),
                            _ => {
                                for (i, sector) in data.chunks(SECTOR).enumerate() {
                                    let at = offset + i * SECTOR;
                                    match rng.gen_range(0..3) {
                                        0 => {}
                                        1 => write_into(&mut disk, at, sector),
                                        _ => {
                                            let garbage: Vec<u8> =
                                                (0..sector.len()).map(|_| rng.gen()).collect();
                                            write_into(&mut disk, at, &garbage);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            inodes.push(Inode {
                durable: disk.clone(),
                current: disk,
                pending: Vec::new(),
            });
        }
        let mut dirs: Vec<PathBuf> = s.dirs.clone();
        dirs.sort();
        let state = State {
            inodes,
            names: s.durable_names.clone(),
            durable_names: s.durable_names.clone(),
            dirs,
            calls: 0,
            fail_at: None,
        };
        SimFs {
            state: Arc::new(Mutex::new(state)),
            recording: None,
        }
    }

    /// The current bytes of the file at `path`, for tests that damage files.
    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.lock().unwrap();
        s.names.get(path).map(|&i| s.inodes[i].current.clone())
    }

    /// Overwrites `path` durably with `bytes` (for corruption tests).
    pub fn replace(&self, path: &Path, bytes: Vec<u8>) {
        let mut s = self.state.lock().unwrap();
        let i = s.names[path];
        s.inodes[i] = Inode {
            durable: bytes.clone(),
            current: bytes,
            pending: Vec::new(),
        };
    }

    /// Paths of all files, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        self.state.lock().unwrap().names.keys().cloned().collect()
    }
}

fn write_into(disk: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if disk.len() < offset + data.len() {
        disk.resize(offset + data.len(), 0);
    }
    disk[offset..offset + data.len()].copy_from_slice(data);
}

impl Storage for SimFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        let mut p = path.to_path_buf();
        loop {
            if !s.dirs.contains(&p) {
                s.dirs.push(p.clone());
            }
            if !p.pop() || p.as_os_str().is_empty() {
                return Ok(());
            }
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let s = self.state.lock().unwrap();
        if !s.dirs.iter().any(|d| d == path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let mut out: Vec<String> = s
            .names
            .keys()
            .filter(|p| parent(p) == path)
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        out.extend(
            s.dirs
                .iter()
                .filter(|d| parent(d) == path)
                .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())),
        );
        Ok(out)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let s = self.state.lock().unwrap();
        Ok(s.names.contains_key(path) || s.dirs.iter().any(|d| d == path))
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut s = self.state.lock().unwrap();
        if let Some(&inode) = s.names.get(path) {
            return Ok(Box::new(SimFile {
                fs: self.clone(),
                inode,
            }));
        }
        if !create {
            return Err(io::ErrorKind::NotFound.into());
        }
        if !s.dirs.contains(&parent(path)) {
            return Err(io::ErrorKind::NotFound.into());
        }
        s.tick()?;
        s.inodes.push(Inode::default());
        let inode = s.inodes.len() - 1;
        s.names.insert(path.to_path_buf(), inode);
        drop(s);
        self.record();
        Ok(Box::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.tick()?;
        s.names.remove(path).ok_or(io::ErrorKind::NotFound)?;
        drop(s);
        self.record();
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.tick()?;
        s.names.retain(|p, _| !p.starts_with(path));
        s.durable_names.retain(|p, _| !p.starts_with(path));
        s.dirs.retain(|d| !d.starts_with(path));
        drop(s);
        self.record();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.tick()?;
        let inode = s.names.remove(from).ok_or(io::ErrorKind::NotFound)?;
        s.names.insert(to.to_path_buf(), inode);
        drop(s);
        self.record();
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.tick()?;
        let here: Vec<(PathBuf, usize)> = s
            .names
            .iter()
            .filter(|(p, _)| parent(p) == path)
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        s.durable_names.retain(|p, _| parent(p) != path);
        s.durable_names.extend(here);
        drop(s);
        self.record();
        Ok(())
    }
}

impl StorageFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let s = self.fs.state.lock().unwrap();
        let data = &s.inodes[self.inode].current;
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let end = start
            .checked_add(buf.len())
            .filter(|&e| e <= data.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&data[start..end]);
        Ok(())
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut s = self.fs.state.lock().unwrap();
        s.tick()?;
        let inode = &mut s.inodes[self.inode];
        write_into(&mut inode.current, usize::try_from(offset).unwrap(), buf);
        inode.pending.push(Pending::Write {
            offset,
            data: buf.to_vec(),
        });
        drop(s);
        self.fs.record();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.fs.state.lock().unwrap().inodes[self.inode].current.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.fs.state.lock().unwrap();
        s.tick()?;
        let inode = &mut s.inodes[self.inode];
        inode.current.resize(usize::try_from(len).unwrap(), 0);
        inode.pending.push(Pending::SetLen(len));
        drop(s);
        self.fs.record();
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let mut s = self.fs.state.lock().unwrap();
        s.tick()?;
        let inode = &mut s.inodes[self.inode];
        inode.durable = inode.current.clone();
        inode.pending.clear();
        drop(s);
        self.fs.record();
        Ok(())
    }

    fn try_lock(&self) -> io::Result<bool> {
        Ok(true)
    }

    fn unlock(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn synced_data_survives_and_unsynced_names_vanish() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let f = fs.open(Path::new("/d/a"), true).unwrap();
        f.write_all_at(b"durable", 0).unwrap();
        f.sync().unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.write_all_at(&[9u8; 2000], 7).unwrap();
        let g = fs.open(Path::new("/d/b"), true).unwrap();
        g.write_all_at(b"lost", 0).unwrap();
        g.sync().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..50 {
            let after = fs.crash(&mut rng);
            let data = after.read(Path::new("/d/a")).unwrap();
            assert_eq!(&data[..7], b"durable");
            assert!(
                after.read(Path::new("/d/b")).is_none(),
                "an unsynced directory entry must vanish"
            );
        }
    }

    #[test]
    fn injected_failures_fire_once_or_forever() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let f = fs.open(Path::new("/d/a"), true).unwrap();
        let next = fs.calls() + 1;
        fs.fail_after(next, FailMode::Once);
        assert!(f.write_all_at(b"x", 0).is_err());
        assert!(f.write_all_at(b"x", 0).is_ok());
        fs.fail_after(fs.calls() + 1, FailMode::FromThenOn);
        assert!(f.sync().is_err());
        assert!(f.sync().is_err());
        fs.heal();
        assert!(f.sync().is_ok());
    }
}
