//! The markdown report: machine info, a table of ops/s per workload and engine, and
//! how skiff compares with the best peer on each row.

use std::fmt::Write as _;

use crate::data::{Dataset, BATCH_SIZE, KEY_LEN, SCAN_LEN, VALUE_LEN};
use crate::engines::EngineKind;
use crate::workloads::{EngineResults, Workload};

/// What the numbers were measured on.
#[derive(Debug, Clone)]
pub struct MachineInfo {
    /// Hardware threads available to the process (`nproc`).
    pub nproc: usize,
    /// CPU model from `/proc/cpuinfo`, if readable.
    pub cpu: Option<String>,
    /// Operating system and architecture.
    pub os: String,
}

impl MachineInfo {
    /// Detects the current machine.
    pub fn detect() -> MachineInfo {
        let nproc = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        let os = format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH);
        MachineInfo { nproc, cpu, os }
    }
}

/// Formats `x` as a whole number with thousands separators (`1,234,567`).
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Skiff's ops/s over the best peer's on `workload`, with that peer; `None` without
/// skiff or without a peer.
pub fn versus_best_peer(results: &[EngineResults], workload: Workload) -> Option<(f64, EngineKind)> {
    let rate = |r: &EngineResults| r.get(workload).map(|m| m.ops_per_sec());
    let skiff = results
        .iter()
        .find(|r| r.kind == EngineKind::Skiff)
        .and_then(rate)?;
    let (best, kind) = results
        .iter()
        .filter(|r| r.kind != EngineKind::Skiff)
        .filter_map(|r| rate(r).map(|x| (x, r.kind)))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some((skiff / best, kind))
}

/// Renders the whole report as markdown.
pub fn render(machine: &MachineInfo, data: &Dataset, results: &[EngineResults]) -> String {
    let mut s = String::new();
    let n = data.len();
    let _ = writeln!(s, "### Engine benchmark: N = {} keys\n", thousands(n as f64));
    let _ = writeln!(
        s,
        "Machine: nproc = {}, CPU = {}, {}. Keys: {KEY_LEN} bytes, values: {VALUE_LEN} bytes, \
         pseudo-random from seed {}.\n",
        machine.nproc,
        machine.cpu.as_deref().unwrap_or("unknown"),
        machine.os,
        data.seed,
    );

    let mut header = String::from("| workload (ops/s) |");
    let mut rule = String::from("|---|");
    for r in results {
        let _ = write!(header, " {} |", r.kind.label());
        rule.push_str("---:|");
    }
    header.push_str(" skiff/best-peer | best peer |");
    rule.push_str("---:|---|");
    let _ = writeln!(s, "{header}\n{rule}");

    for workload in Workload::ALL {
        let _ = write!(s, "| {} |", workload.label());
        for r in results {
            let cell = r
                .get(workload)
                .map_or_else(|| "-".to_string(), |m| thousands(m.ops_per_sec()));
            let _ = write!(s, " {cell} |");
        }
        match versus_best_peer(results, workload) {
            Some((ratio, kind)) => {
                let _ = writeln!(s, " {ratio:.2}× | {} |", kind.name());
            }
            None => s.push_str(" - | - |\n"),
        }
    }

    let _ = write!(
        s,
        "\nWorkloads: bulk load = {nk} inserts in batches of {batch} (one batch or write \
         transaction each), then one durable flush, timed together; reads = {} gets of random \
         existing keys (the same sequence for every engine; 2 threads split it in halves, \
         aggregate ops/s; one read transaction per get where the engine has them); scans = {} \
         range scans of up to {SCAN_LEN} consecutive entries (keys and values) from random \
         existing keys; removes = all {nk} keys in random order, one operation each, then one \
         durable flush, timed together. Every read hit, every scan count and the final \
         emptiness were checked.\n\n\
         Durability: each engine's defaults. skiff and sled buffer writes and fsync in the \
         background (`flush_every_ms` = 500); fjall batches use its default journal mode \
         (buffered, no fsync per batch); redb and LMDB fsync every write transaction, so each \
         bulk-load batch is durable on commit there. For the single-op removes, redb commits \
         each remove with `Durability::None` and LMDB runs with `NO_SYNC`, like the other \
         engines' single writes; the final flush makes all of them durable.\n",
        thousands(data.reads.len() as f64),
        thousands(data.scans.len() as f64),
        nk = thousands(n as f64),
        batch = thousands(BATCH_SIZE as f64),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Measurement;
    use std::time::Duration;

    fn results(kind: EngineKind, secs: f64) -> EngineResults {
        let measurements = Workload::ALL
            .iter()
            .map(|&workload| Measurement {
                workload,
                ops: 1000,
                elapsed: Duration::from_secs_f64(secs),
            })
            .collect();
        EngineResults { kind, measurements }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }

    #[test]
    fn ratio_against_best_peer() {
        let rs = [
            results(EngineKind::Skiff, 1.0),
            results(EngineKind::Sled, 2.0),
            results(EngineKind::Redb, 0.5),
        ];
        let (ratio, best) = versus_best_peer(&rs, Workload::Scans).unwrap();
        assert_eq!(best, EngineKind::Redb);
        assert!((ratio - 0.5).abs() < 1e-9);
        assert!(versus_best_peer(&rs[..1], Workload::Scans).is_none());
        let data = Dataset::generate(10, 1).unwrap();
        let text = render(&MachineInfo::detect(), &data, &rs);
        assert!(text.contains("| skiff/best-peer | best peer |"));
        assert!(text.contains("0.50× | redb |"));
    }
}
