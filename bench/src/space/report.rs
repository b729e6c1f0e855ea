//! The markdown report of `space`: disk sizes against the raw data, phase times,
//! and peak memory against the cache, one column (or row) per engine, with skiff
//! against the best peer.

use std::fmt::Write as _;
use std::time::Duration;

use super::args::SpaceArgs;
use super::data::{entry_len, raw_bytes, DiskUsage};
use super::disk::{DiskResult, REOPENS};
use super::memory::{MemoryResult, DATASET_OVER_CACHE, READ_ROUNDS};
use crate::data::{BATCH_SIZE, KEY_LEN};
use crate::engines::EngineKind;
use crate::report::{thousands, MachineInfo};

/// Skiff's memory target: peak RSS at most this many times the cache ...
pub const SKIFF_CACHE_FACTOR: f64 = 1.3;
/// ... plus this many MiB.
pub const SKIFF_OVERHEAD_MIB: f64 = 64.0;

/// Bytes in a MiB, as a float.
const MIB: f64 = 1_048_576.0;

/// `bytes` in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// Which number of a [`DiskUsage`] a disk table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskMeasure {
    /// The files' lengths.
    Len,
    /// The files' allocated blocks.
    Allocated,
}

impl DiskMeasure {
    /// The number this measure picks.
    fn of(self, usage: DiskUsage) -> u64 {
        match self {
            DiskMeasure::Len => usage.len,
            DiskMeasure::Allocated => usage.allocated,
        }
    }

    /// Heading of its table.
    fn title(self) -> &'static str {
        match self {
            DiskMeasure::Len => "Disk size: file lengths",
            DiskMeasure::Allocated => "Disk size: allocated blocks",
        }
    }
}

/// One row of a per-engine table: its heading and, per engine, the number that
/// ranks it (lower is better) and the cell's text.
struct Row {
    label: String,
    cells: Vec<(f64, String)>,
}

/// Skiff's number over the best (lowest) peer's in `row`, with that peer.
fn versus_best_peer(kinds: &[EngineKind], row: &Row) -> Option<(f64, EngineKind)> {
    let at = kinds.iter().position(|&k| k == EngineKind::Skiff)?;
    let skiff = row.cells[at].0;
    let (best, kind) = kinds
        .iter()
        .zip(&row.cells)
        .filter(|(k, _)| **k != EngineKind::Skiff)
        .map(|(k, c)| (c.0, *k))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (best > 0.0).then(|| (skiff / best, kind))
}

/// Renders `rows` as a markdown table with one column per engine in `kinds`, plus
/// skiff over the best peer.
fn render_table(s: &mut String, corner: &str, kinds: &[EngineKind], rows: &[Row]) {
    let _ = write!(s, "| {corner} |");
    for k in kinds {
        let _ = write!(s, " {} |", k.label());
    }
    s.push_str(" skiff / best peer | best peer |\n|---|");
    for _ in kinds {
        s.push_str("---:|");
    }
    s.push_str("---:|---|\n");
    for row in rows {
        let _ = write!(s, "| {} |", row.label);
        for (_, text) in &row.cells {
            let _ = write!(s, " {text} |");
        }
        match versus_best_peer(kinds, row) {
            Some((ratio, kind)) => {
                let _ = writeln!(s, " {ratio:.2}× | {} |", kind.name());
            }
            None => s.push_str(" - | - |\n"),
        }
    }
}

/// Everything one `space` run measured, ready to render.
pub struct SpaceReport<'a> {
    /// What it ran on.
    pub machine: &'a MachineInfo,
    /// Its options.
    pub opts: &'a SpaceArgs,
    /// Phases 1 to 4, one per engine, in run order.
    pub disk: &'a [DiskResult],
    /// Phase 5, one per engine, in run order.
    pub memory: &'a [MemoryResult],
}

impl SpaceReport<'_> {
    /// Renders the report as markdown.
    pub fn render(&self) -> String {
        let o = self.opts;
        let mut s = String::new();
        let raw = raw_bytes(o.keys, o.value_len);
        let _ = writeln!(
            s,
            "### Space: N = {} keys, {} overwrite passes, memory with a cache of {} MiB\n",
            thousands(o.keys as f64),
            o.passes,
            o.cache_mb
        );
        let _ = writeln!(
            s,
            "Machine: nproc = {}, CPU = {}, {}. Keys: {KEY_LEN} bytes, values: {} random bytes; raw data \
             = N × {} B = {:.1} MiB. Seed {}.\n",
            self.machine.nproc,
            self.machine.cpu.as_deref().unwrap_or("unknown"),
            self.machine.os,
            o.value_len,
            entry_len(o.value_len),
            mib(raw),
            o.seed
        );
        self.render_disk(&mut s, raw, DiskMeasure::Len);
        self.render_disk(&mut s, raw, DiskMeasure::Allocated);
        self.render_times(&mut s);
        self.render_memory(&mut s);
        s
    }

    /// Tables 1a and 1b: disk sizes by `measure`, as MiB and as a multiple of the
    /// raw data.
    fn render_disk(&self, s: &mut String, raw: u64, measure: DiskMeasure) {
        if self.disk.is_empty() {
            return;
        }
        let o = self.opts;
        let kinds: Vec<EngineKind> = self.disk.iter().map(|r| r.kind).collect();
        let row = |label: String, size: fn(&DiskResult) -> DiskUsage, raw: &dyn Fn(&DiskResult) -> u64| Row {
            label,
            cells: self
                .disk
                .iter()
                .map(|r| {
                    let bytes = measure.of(size(r));
                    let raw = raw(r).max(1);
                    (
                        bytes as f64,
                        format!("{:.1} MiB ({:.2}×)", mib(bytes), bytes as f64 / raw as f64),
                    )
                })
                .collect(),
        };
        let all = |_: &DiskResult| raw;
        let kept = |r: &DiskResult| raw_bytes(r.kept, o.value_len);
        let rows = [
            row("1. load, flushed".into(), |r| r.load_size, &all),
            row(
                format!("1. … then {} ms idle", o.idle.as_millis()),
                |r| r.load_idle,
                &all,
            ),
            row(
                format!(
                    "2. peak during {} overwrite passes (sampled every 100 ms)",
                    o.passes
                ),
                |r| r.overwrite_peak,
                &all,
            ),
            row(
                format!("2. {} overwrite passes, flushed", o.passes),
                |r| r.overwrite_flushed,
                &all,
            ),
            row(
                format!("2. … then {} ms idle", o.idle.as_millis()),
                |r| r.overwrite_idle,
                &all,
            ),
            row("2. … then closed".into(), |r| r.overwrite_closed, &all),
            row(
                "4. 90% deleted, flushed (× raw left)".into(),
                |r| r.delete_flushed,
                &kept,
            ),
            row(
                format!("4. … then {} ms idle (× raw left)", o.idle.as_millis()),
                |r| r.delete_idle,
                &kept,
            ),
            row("4. … then closed (× raw left)".into(), |r| r.delete_closed, &kept),
        ];
        let _ = writeln!(
            s,
            "#### {} (MiB, and × the raw bytes of the live entries)\n",
            measure.title()
        );
        render_table(s, "after", &kinds, &rows);
        if measure == DiskMeasure::Allocated {
            let _ = writeln!(
                s,
                "\nSame points, counting the blocks the files have allocated (`st_blocks` × 512, as `du` \
                 does) instead of their lengths: less for sparse or pre-sized files, such as fjall's \
                 journal, which it pre-sizes to 64 MiB with `set_len`.\n"
            );
            return;
        }
        let _ = writeln!(
            s,
            "\nDisk size = total length of all files under the engine's directory. Every write is in \
             batches of {batch} keys (one atomic batch or write transaction; redb and LMDB commit each \
             durably, skiff, sled and fjall sync in the background), keys in a fresh random order each \
             pass, values fresh random bytes; \"flushed\" = after one durable flush (skiff, sled: \
             `flush`; redb: an `Immediate` commit; fjall: `persist(SyncAll)`; LMDB: `force_sync`). No \
             manual compaction anywhere: only what each engine does on its own, in the background or on \
             close. The mass delete removes every key whose index % 10 != 0 ({left} keys stay), and its \
             ratio is to the raw bytes of those left.\n",
            batch = thousands(BATCH_SIZE as f64),
            left = thousands(self.disk.first().map_or(0, |r| r.kept) as f64),
        );
    }

    /// Table 2: how long each phase took, and the reopen time.
    fn render_times(&self, s: &mut String) {
        if self.disk.is_empty() {
            return;
        }
        let o = self.opts;
        let kinds: Vec<EngineKind> = self.disk.iter().map(|r| r.kind).collect();
        let secs = |label: String, t: fn(&DiskResult) -> Duration| Row {
            label,
            cells: self
                .disk
                .iter()
                .map(|r| (t(r).as_secs_f64(), format!("{:.2}", t(r).as_secs_f64())))
                .collect(),
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let reopen = Row {
            label: format!("3. reopen + first get, ms (median of {REOPENS}; min–max)"),
            cells: self
                .disk
                .iter()
                .map(|r| {
                    let med = ms(r.reopen_median());
                    let min = r.reopen_times.iter().min().copied().map_or(0.0, ms);
                    let max = r.reopen_times.iter().max().copied().map_or(0.0, ms);
                    (med, format!("{med:.1} ({min:.1}–{max:.1})"))
                })
                .collect(),
        };
        let close = Row {
            label: "2. close after the overwrites, ms".into(),
            cells: self
                .disk
                .iter()
                .map(|r| (ms(r.close_time), format!("{:.1}", ms(r.close_time))))
                .collect(),
        };
        let rows = [
            secs(
                format!("1. load {} keys + flush, s", thousands(o.keys as f64)),
                |r| r.load_time,
            ),
            secs(format!("2. {} overwrite passes + flush, s", o.passes), |r| {
                r.overwrite_time
            }),
            close,
            reopen,
            secs("4. delete 90% + flush, s".into(), |r| r.delete_time),
        ];
        let _ = writeln!(s, "#### Times (lower is better)\n");
        render_table(s, "phase", &kinds, &rows);
        let _ = writeln!(
            s,
            "\nReopen = drop the database, then time opening it until a first `get` returns (the OS page \
             cache is warm); the first reopen follows the close measured above.\n"
        );
    }

    /// Table 3: peak resident memory of the child processes against the cache.
    fn render_memory(&self, s: &mut String) {
        if self.memory.is_empty() {
            return;
        }
        let o = self.opts;
        let cache = o.cache_mb as f64;
        let bound = SKIFF_CACHE_FACTOR * cache + SKIFF_OVERHEAD_MIB;
        let kib = |kb: u64| kb as f64 / 1024.0;
        let _ = writeln!(
            s,
            "#### Memory: reading a dataset {DATASET_OVER_CACHE}× the cache (cache = {} MiB, dataset = {} MiB raw)\n",
            o.cache_mb,
            DATASET_OVER_CACHE * o.cache_mb
        );
        s.push_str(
            "| engine | cache setting | keys | on disk (allocated) | build, s | RSS before open | peak RSS (VmHWM) | peak / cache \
             | peak − before open | reads/s | note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        );
        for m in self.memory {
            let c = &m.child;
            let peak = kib(c.peak_kb);
            let rate = c.reads as f64 / (c.read_ms.max(1) as f64 / 1e3);
            let note = match m.kind {
                EngineKind::Skiff => format!(
                    "target ≤ {SKIFF_CACHE_FACTOR} × {cache} + {SKIFF_OVERHEAD_MIB} = {bound:.1} MiB: {}",
                    if peak <= bound { "met" } else { "missed" }
                ),
                EngineKind::Lmdb => "no cache setting: memory is the OS page cache of the mmap, whose \
                                     touched pages count in RSS"
                    .to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} MiB ({:.1}) | {:.1} | {:.1} MiB | {peak:.1} MiB | {:.2}× | {:.1} MiB | {} | {note} |",
                m.kind.label(),
                m.kind.cache_setting(),
                thousands(m.keys as f64),
                mib(m.disk.len),
                mib(m.disk.allocated),
                m.build_time.as_secs_f64(),
                kib(c.baseline_kb),
                peak / cache,
                kib(c.peak_kb.saturating_sub(c.baseline_kb)),
                thousands(rate),
            );
        }
        let _ = writeln!(
            s,
            "\nEach engine's dataset was built with its default settings and closed; then a child process \
             (this binary, re-executed) opened it with a cache of {} MiB, read every key {READ_ROUNDS} times in \
             random order (checking every value) and reported its peak resident set size (`VmHWM` in \
             /proc/self/status), which includes the process's own baseline (\"RSS before open\"). \
             \"build\" = loading the dataset in random order, in batches, plus a flush.",
            o.cache_mb
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_against_best_peer() {
        let kinds = [EngineKind::Skiff, EngineKind::Sled, EngineKind::Redb];
        let row = Row {
            label: "x".into(),
            cells: vec![(1.0, "a".into()), (4.0, "b".into()), (2.0, "c".into())],
        };
        let (ratio, best) = versus_best_peer(&kinds, &row).unwrap();
        assert_eq!(best, EngineKind::Redb);
        assert!((ratio - 0.5).abs() < 1e-9);
        assert!(versus_best_peer(&kinds[..1], &row).is_none());
        let mut s = String::new();
        render_table(&mut s, "after", &kinds, &[row]);
        assert!(s.contains("| x | a | b | c | 0.50× | redb |"));
    }
}
