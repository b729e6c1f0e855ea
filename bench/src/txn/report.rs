//! The markdown report of the `txn` subcommand: one row per measurement, each with
//! its ratio to the relevant baseline (the fsync rate, or the same engine with one
//! thread), the target where skiff has one, and skiff's ratio to sled.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::workloads::{FsyncRate, TxnRun, TxnWorkload, INITIAL_BALANCE, PROBE_WRITE};
use crate::data::{KEY_LEN, VALUE_LEN};
use crate::engines::EngineKind;
use crate::report::{thousands, MachineInfo};

/// Target for skiff's 1-thread durable commit rate, as a fraction of the fsync rate:
/// one commit per fsync, with little else on the path.
pub const DURABLE_VS_FSYNC_TARGET: f64 = 0.8;
/// Target for skiff's 4-thread durable commit rate over its 1-thread rate: group
/// commit lets concurrent commits share one fsync.
pub const DURABLE_4T_TARGET: f64 = 3.0;

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct TxnReport<'a> {
    /// The machine measured on.
    pub machine: &'a MachineInfo,
    /// Directory holding the probe file and the databases.
    pub dir: &'a Path,
    /// Duration of each timed run.
    pub duration: Duration,
    /// Accounts the transfers moved money between.
    pub accounts: u64,
    /// The fsync probe.
    pub fsync: FsyncRate,
    /// Rounds the probe and the durable runs were interleaved in.
    pub rounds: u32,
    /// Every run, in the order they ran.
    pub runs: &'a [TxnRun],
}

impl TxnReport<'_> {
    /// Commits per second of `engine` on `workload` with `threads` threads, if measured.
    pub fn rate(&self, engine: EngineKind, workload: TxnWorkload, threads: usize) -> Option<f64> {
        self.runs
            .iter()
            .find(|r| r.engine == engine && r.workload == workload && r.threads == threads)
            .map(TxnRun::per_sec)
    }

    /// The baseline of `run` and its ratio to it: the fsync rate for a 1-thread
    /// durable run, the same engine and workload with 1 thread for more threads.
    fn versus_baseline(&self, run: &TxnRun) -> Option<(f64, &'static str)> {
        if run.threads == 1 {
            return (run.workload == TxnWorkload::Durable)
                .then(|| (run.per_sec() / self.fsync.per_sec().max(1e-9), "fsync rate"));
        }
        let one = self.rate(run.engine, run.workload, 1)?;
        Some((run.per_sec() / one.max(1e-9), "1 thread"))
    }

    /// Renders the whole report as markdown.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### Transaction benchmark: {:.1} s per run\n",
            self.duration.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "Machine: nproc = {}, CPU = {}, {}. Directory: `{}`.\n",
            self.machine.nproc,
            self.machine.cpu.as_deref().unwrap_or("unknown"),
            self.machine.os,
            self.dir.display(),
        );
        let _ = writeln!(
            s,
            "| measurement | per second | vs baseline | target | skiff/sled |\n|---|---:|---:|---|---:|"
        );
        let _ = writeln!(
            s,
            "| fsync: {PROBE_WRITE}-byte append + `sync_data`, 1 thread | {} fsyncs ({:.0} µs each) | - | - | - |",
            thousands(self.fsync.per_sec()),
            self.fsync.micros_each(),
        );
        for run in self.runs {
            let what = match run.workload {
                TxnWorkload::Durable => "durable commits",
                TxnWorkload::Transfers => "transfers (non-durable)",
            };
            let _ = write!(
                s,
                "| {} {what}, {} thread{} | {} |",
                run.engine.label(),
                run.threads,
                if run.threads == 1 { "" } else { "s" },
                thousands(run.per_sec()),
            );
            let _ = match self.versus_baseline(run) {
                Some((ratio, of)) => write!(s, " {ratio:.2}× {of} |"),
                None => write!(s, " - |"),
            };
            let _ = write!(s, " {} |", self.target(run));
            let sled = (run.engine == EngineKind::Skiff)
                .then(|| self.rate(EngineKind::Sled, run.workload, run.threads))
                .flatten();
            let _ = match sled {
                Some(sled) => writeln!(s, " {:.2}× |", run.per_sec() / sled.max(1e-9)),
                None => writeln!(s, " - |"),
            };
        }
        let _ = write!(
            s,
            "\nDurable commits: each transaction inserts one new {KEY_LEN}-byte key (disjoint per \
             thread) with a {VALUE_LEN}-byte value and calls `tx.flush()`, so it returns only once \
             fsynced; skiff lets concurrent durable commits share one `fdatasync`. sled 0.34 on \
             Linux makes its log durable with `sync_file_range` instead (it neither flushes the \
             drive's cache nor the file's size), a weaker guarantee than skiff's. Transfers: each \
             transaction reads the u64 big-endian balances of two distinct random accounts among \
             {} (preloaded, untimed, at {} each) and writes both back with one unit moved; not \
             durable. Both engines run with `flush_every_ms(None)`, so the only fsyncs are the ones \
             durable commits ask for. Threads run for the stated time from a common start; the \
             rate counts transactions committed over the time until the last thread returned. \
             After each run every durable insert was found and the sum of all balances was \
             unchanged. The fsync probe appends {PROBE_WRITE} bytes to a file in the same \
             directory and calls `File::sync_data` after each append. The probe and the durable \
             runs were interleaved in {} rounds (each durable run's time split evenly among them), \
             so that the disk's speed drifting during the benchmark affects the fsync rate and \
             every durable row alike.\n",
            self.rounds,
            thousands(self.accounts as f64),
            thousands(INITIAL_BALANCE as f64),
        );
        s
    }

    /// The target cell of `run`: skiff's durable 1- and 4-thread rows have one.
    fn target(&self, run: &TxnRun) -> String {
        if run.engine != EngineKind::Skiff || run.workload != TxnWorkload::Durable {
            return "-".to_string();
        }
        let goal = match run.threads {
            1 => DURABLE_VS_FSYNC_TARGET,
            4 => DURABLE_4T_TARGET,
            _ => return "-".to_string(),
        };
        let met = self.versus_baseline(run).is_some_and(|(ratio, _)| ratio >= goal);
        format!("≥ {goal:.1}×: {}", if met { "met" } else { "missed" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(engine: EngineKind, workload: TxnWorkload, threads: usize, commits: u64) -> TxnRun {
        TxnRun {
            engine,
            workload,
            threads,
            commits,
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn ratios_and_targets() {
        use EngineKind::{Skiff, Sled};
        use TxnWorkload::{Durable, Transfers};
        let runs = [
            run(Skiff, Durable, 1, 900),
            run(Skiff, Durable, 4, 2000),
            run(Sled, Durable, 1, 450),
            run(Skiff, Transfers, 1, 3000),
            run(Sled, Transfers, 1, 1000),
        ];
        let machine = MachineInfo::detect();
        let report = TxnReport {
            machine: &machine,
            dir: Path::new("/tmp"),
            duration: Duration::from_secs(3),
            accounts: 100_000,
            rounds: 5,
            fsync: FsyncRate {
                syncs: 1000,
                elapsed: Duration::from_secs(1),
            },
            runs: &runs,
        };
        assert_eq!(report.rate(Skiff, Durable, 4), Some(2000.0));
        assert_eq!(report.rate(Sled, Durable, 4), None);
        let text = report.render();
        assert!(text.contains("| 1,000 fsyncs (1000 µs each) |"), "{text}");
        assert!(text
            .contains("| skiff durable commits, 1 thread | 900 | 0.90× fsync rate | ≥ 0.8×: met | 2.00× |"));
        assert!(text
            .contains("| skiff durable commits, 4 threads | 2,000 | 2.22× 1 thread | ≥ 3.0×: missed | - |"));
        assert!(text.contains("| sled 0.34 durable commits, 1 thread | 450 | 0.45× fsync rate | - | - |"));
        assert!(text.contains("| skiff transfers (non-durable), 1 thread | 3,000 | - | - | 3.00× |"));
    }
}
