//! Command-line options of the `typed` subcommand (hand-parsed, like the others).

use std::path::PathBuf;

use crate::args::{flags, parse_num};
use crate::BenchResult;

/// Usage text of the `typed` subcommand.
pub const TYPED_USAGE: &str = "\
usage: skiff-bench typed [--records N] [--singles N] [--reads N] [--queries N]
                         [--updates N] [--seed S] [--dir PATH]

Compares skiff's typed layer (skiff::Db collections) with native_db 0.8 on the
same records, in the same order: a model with a u64 primary key, one unique and
two non-unique secondary indexes and about 100 bytes of fields.

  --records N   records bulk-loaded in transactions of 1,000 (default 100000)
  --singles N   further records inserted one durable transaction each (default 10000)
  --reads N     primary-key gets, and as many unique-index lookups (default 100000)
  --queries N   non-unique index queries (~10 records each), and as many index
                range scans (~100 records each) (default 10000)
  --updates N   updates of an indexed field, one durable transaction each (default 10000)
  --seed S      seed of the record and query generator (default 42)
  --dir PATH    where the per-engine temporary directories go (default: system temp dir)";

/// Parsed options of the `typed` subcommand.
#[derive(Debug, Clone)]
pub struct TypedArgs {
    /// Records loaded in batched transactions.
    pub records: usize,
    /// Records inserted afterwards, one transaction each.
    pub singles: usize,
    /// Primary-key gets; unique-index lookups run as many.
    pub reads: usize,
    /// Non-unique index queries; range scans run as many.
    pub queries: usize,
    /// Single-record updates that move a record to another city.
    pub updates: usize,
    /// Seed of the dataset generator.
    pub seed: u64,
    /// Parent directory of each engine's fresh temporary directory.
    pub dir: PathBuf,
}

impl TypedArgs {
    /// Parses `argv` (without the subcommand); `Ok(None)` means help was asked for.
    pub fn parse(argv: &[String]) -> BenchResult<Option<TypedArgs>> {
        let mut out = TypedArgs {
            records: 100_000,
            singles: 10_000,
            reads: 100_000,
            queries: 10_000,
            updates: 10_000,
            seed: 42,
            dir: std::env::temp_dir(),
        };
        let Some(flags) = flags(argv, TYPED_USAGE)? else {
            return Ok(None);
        };
        for (name, value) in flags {
            match name.as_str() {
                "--records" => out.records = parse_num(&value)?,
                "--singles" => out.singles = parse_num(&value)?,
                "--reads" => out.reads = parse_num(&value)?,
                "--queries" => out.queries = parse_num(&value)?,
                "--updates" => out.updates = parse_num(&value)?,
                "--seed" => out.seed = parse_num(&value)?,
                "--dir" => out.dir = PathBuf::from(value.clone()),
                other => return Err(format!("unknown option `{other}`\n\n{TYPED_USAGE}").into()),
            }
        }
        // Every workload needs at least one operation, or its rate means nothing.
        for (flag, n) in [
            ("--records", out.records),
            ("--singles", out.singles),
            ("--reads", out.reads),
            ("--queries", out.queries),
            ("--updates", out.updates),
        ] {
            if n == 0 {
                return Err(format!("{flag} must be at least 1").into());
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let d = TypedArgs::parse(&[]).unwrap().unwrap();
        assert_eq!((d.records, d.singles, d.reads), (100_000, 10_000, 100_000));
        assert_eq!((d.queries, d.updates, d.seed), (10_000, 10_000, 42));
        let o = TypedArgs::parse(&argv(&["--records", "2_000", "--updates=50", "--dir", "/x"]))
            .unwrap()
            .unwrap();
        assert_eq!((o.records, o.updates), (2000, 50));
        assert_eq!(o.dir, PathBuf::from("/x"));
        assert!(TypedArgs::parse(&argv(&["--help"])).unwrap().is_none());
        assert!(TypedArgs::parse(&argv(&["--singles", "0"])).is_err());
        assert!(TypedArgs::parse(&argv(&["--keys", "5"])).is_err());
        assert!(TypedArgs::parse(&argv(&["--reads"])).is_err());
    }
}
