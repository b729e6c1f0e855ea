//! The markdown report of the `typed` subcommand: one row per workload with both
//! engines' rates and skiff's ratio to native_db, then what was measured and how.

use std::fmt::Write as _;

use super::data::{TypedData, BATCH, BIO_LEN, NAME_LEN};
use super::workloads::{Measurement, Workload, UPDATE_CHECKS};
use crate::report::{thousands, MachineInfo};

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct TypedReport<'a> {
    /// The machine measured on.
    pub machine: &'a MachineInfo,
    /// The records and queries both engines ran.
    pub data: &'a TypedData,
    /// Skiff's measurements, in [`Workload::ALL`]'s order.
    pub skiff: &'a [Measurement],
    /// native_db's measurements, in the same order.
    pub native: &'a [Measurement],
}

/// The rate of `workload` among `runs`, if measured.
fn rate(runs: &[Measurement], workload: Workload) -> Option<f64> {
    runs.iter()
        .find(|m| m.workload == workload)
        .map(Measurement::ops_per_sec)
}

impl TypedReport<'_> {
    /// The table row label of `workload`, with its size.
    fn label(&self, workload: Workload) -> String {
        let d = self.data;
        match workload {
            Workload::BulkInsert => format!(
                "bulk insert, {} records per transaction (records/s)",
                thousands(BATCH as f64)
            ),
            Workload::SingleInsert => "insert, one durable transaction per record".to_string(),
            Workload::Get => "get by primary key".to_string(),
            Workload::UniqueLookup => "lookup by unique index (`email`)".to_string(),
            Workload::IndexQuery => format!(
                "query by non-unique index (`city`), {:.1} records each",
                d.per_city_query()
            ),
            Workload::RangeScan => format!(
                "range scan of non-unique index (`score`), {:.1} records each",
                d.per_range_scan()
            ),
            Workload::Update => {
                "update of an indexed field (`city`), one durable transaction each".to_string()
            }
        }
    }

    /// Operations each workload ran, taken from skiff's runs (native_db ran the same).
    fn ops(&self, workload: Workload) -> u64 {
        self.skiff
            .iter()
            .find(|m| m.workload == workload)
            .map_or(0, |m| m.ops)
    }

    /// Renders the whole report as markdown.
    pub fn render(&self) -> String {
        let d = self.data;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### Typed-layer benchmark: skiff vs native_db 0.8, N = {} records\n",
            thousands(d.people.len() as f64)
        );
        let _ = writeln!(
            s,
            "Machine: nproc = {}, CPU = {}, {}. Records and queries pseudo-random from seed {}.\n",
            self.machine.nproc,
            self.machine.cpu.as_deref().unwrap_or("unknown"),
            self.machine.os,
            d.seed,
        );
        let _ = writeln!(
            s,
            "| workload (ops/s) | ops | skiff | native_db 0.8 | skiff/native_db |\n|---|---:|---:|---:|---:|"
        );
        for workload in Workload::ALL {
            let cell = |r: Option<f64>| r.map_or_else(|| "-".to_string(), thousands);
            let (a, b) = (rate(self.skiff, workload), rate(self.native, workload));
            let ratio = match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}×", a / b.max(1e-9)),
                _ => "-".to_string(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {ratio} |",
                self.label(workload),
                thousands(self.ops(workload) as f64),
                cell(a),
                cell(b),
            );
        }
        let _ = write!(
            s,
            "\nBoth engines store the same model: a `u64` primary key, a unique `email`, \
             non-unique `city` and `score` indexes, and `name` ({NAME_LEN} letters) and `bio` \
             ({BIO_LEN} letters), about 100 bytes of fields a record; {} cities and score ranges \
             sized so a city query returns about 10 records and a range scan about 100. Records \
             go in in the same shuffled key order on both: the first {} in transactions of {}, \
             the other {} one transaction each; then gets and unique lookups of random existing \
             records, city queries, `score` range scans, and updates moving a random record to \
             a random city (read, rewrite, index entries moved). Every read is its own read \
             transaction (skiff: a fresh snapshot per call; native_db: one `r_transaction` per \
             query) and decodes every record it returns. Durability: every write transaction \
             on both engines is fsynced before it returns. native_db 0.8.2 commits redb 2 write \
             transactions at redb's default `Durability::Immediate` (one fsync per commit) and \
             exposes no way to lower it, so the updates could not be measured non-durably and \
             skiff runs with `durable_transactions(true)` (and `flush_every_ms(None)`, the \
             background flusher having nothing left to do) throughout, the bulk load included. \
             Serialization: skiff's codec (bincode 2) vs native_model's default (bincode 1.3). \
             Each engine starts in a fresh directory; conversions into each engine's model type \
             happen before the clock starts. Every answer was checked against the dataset: all \
             gets and lookups found their record, the city queries returned {} records and the \
             range scans {} on both, every record was counted after the inserts, and after the \
             updates the last {} updated records were in their final city and the cities the \
             first ones touched had exactly the expected sizes.\n",
            thousands(f64::from(d.cities)),
            thousands(d.bulk as f64),
            thousands(BATCH as f64),
            thousands((d.people.len() - d.bulk) as f64),
            thousands(d.city_hits as f64),
            thousands(d.range_hits as f64),
            thousands(d.updates.len().min(UPDATE_CHECKS) as f64),
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::typed::args::TypedArgs;

    fn runs(per_sec: u64) -> Vec<Measurement> {
        Workload::ALL
            .iter()
            .map(|&workload| Measurement {
                workload,
                ops: per_sec,
                elapsed: Duration::from_secs(1),
            })
            .collect()
    }

    #[test]
    fn rows_and_ratios() {
        let mut opts = TypedArgs::parse(&[]).unwrap().unwrap();
        (opts.records, opts.singles, opts.reads, opts.queries, opts.updates) = (900, 100, 10, 10, 10);
        let data = TypedData::generate(&opts).unwrap();
        let machine = MachineInfo::detect();
        let (skiff, native) = (runs(3000), runs(1000));
        let text = TypedReport {
            machine: &machine,
            data: &data,
            skiff: &skiff,
            native: &native[..6],
        }
        .render();
        assert!(text.contains("N = 1,000 records"), "{text}");
        assert!(
            text.contains("| get by primary key | 3,000 | 3,000 | 1,000 | 3.00× |"),
            "{text}"
        );
        assert!(
            text.contains("one durable transaction each | 3,000 | 3,000 | - | - |"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("| ")).count(),
            1 + Workload::ALL.len()
        );
    }
}
