//! Command-line options of the `txn` subcommand (hand-parsed, like `engine`'s).

use std::path::PathBuf;
use std::time::Duration;

use crate::args::{flags, parse_num};
use crate::BenchResult;

/// Usage text of the `txn` subcommand.
pub const TXN_USAGE: &str = "\
usage: skiff-bench txn [--seconds S] [--rounds N] [--accounts N] [--seed S] [--dir PATH]

Measures, in one run: the fsync rate of --dir; durable single-insert transactions
(commit waits for fsync) on skiff with 1, 2, 4 and 8 threads and on sled with 1 and
4; and non-durable transfer transactions (2 reads + 2 writes) on skiff and sled with
1 and 4 threads.

  --seconds S     duration of each timed run, fractions allowed (default 3)
  --rounds N      the fsync probe and the durable runs are interleaved in N
                  rounds, each run getting 1/N of its time per round, so that
                  the disk's drift affects them alike (default 5)
  --accounts N    accounts preloaded for the transfers (default 100000)
  --seed S        seed of the transfer threads' account choices (default 42)
  --dir PATH      where the fsync probe file and the per-engine temporary
                  directories go (default: system temp dir)";

/// Parsed options of the `txn` subcommand.
#[derive(Debug, Clone)]
pub struct TxnArgs {
    /// Duration of each timed run (one engine, one thread count).
    pub duration: Duration,
    /// Rounds the fsync probe and the durable runs are interleaved in.
    pub rounds: u32,
    /// Number of accounts the transfer workload moves money between.
    pub accounts: u64,
    /// Seed of the transfer threads' random account choices.
    pub seed: u64,
    /// Parent directory of the probe file and of each engine's temporary directory.
    pub dir: PathBuf,
}

impl TxnArgs {
    /// Parses `argv` (without the subcommand); `Ok(None)` means help was asked for.
    pub fn parse(argv: &[String]) -> BenchResult<Option<TxnArgs>> {
        let mut out = TxnArgs {
            duration: Duration::from_secs(3),
            rounds: 5,
            accounts: 100_000,
            seed: 42,
            dir: std::env::temp_dir(),
        };
        let Some(flags) = flags(argv, TXN_USAGE)? else {
            return Ok(None);
        };
        for (name, value) in flags {
            match name.as_str() {
                "--seconds" => out.duration = parse_seconds(&value)?,
                "--rounds" => out.rounds = parse_num(&value)?,
                "--accounts" => out.accounts = parse_num(&value)?,
                "--seed" => out.seed = parse_num(&value)?,
                "--dir" => out.dir = PathBuf::from(value.clone()),
                other => return Err(format!("unknown option `{other}`\n\n{TXN_USAGE}").into()),
            }
        }
        if out.rounds == 0 || out.rounds > 1000 {
            return Err("--rounds must be between 1 and 1000".into());
        }
        // Two distinct accounts per transfer need at least two accounts.
        if out.accounts < 2 {
            return Err("--accounts must be at least 2".into());
        }
        Ok(Some(out))
    }
}

/// Parses a positive, finite number of seconds such as `3` or `0.5`.
fn parse_seconds(s: &str) -> BenchResult<Duration> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("bad number of seconds `{s}`: {e}"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("--seconds must be above 0 and at most 86400, got `{s}`").into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let d = TxnArgs::parse(&[]).unwrap().unwrap();
        assert_eq!(d.duration, Duration::from_secs(3));
        assert_eq!(d.accounts, 100_000);
        assert_eq!(d.rounds, 5);
        let o = TxnArgs::parse(&argv(&["--seconds", "0.5", "--accounts=1_000", "--dir", "/x"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.duration, Duration::from_millis(500));
        assert_eq!(o.accounts, 1000);
        assert_eq!(o.dir, PathBuf::from("/x"));
        assert!(TxnArgs::parse(&argv(&["-h"])).unwrap().is_none());
        assert!(TxnArgs::parse(&argv(&["--seconds", "0"])).is_err());
        assert!(TxnArgs::parse(&argv(&["--seconds", "nan"])).is_err());
        assert!(TxnArgs::parse(&argv(&["--accounts", "1"])).is_err());
        assert!(TxnArgs::parse(&argv(&["--rounds", "0"])).is_err());
        assert_eq!(
            TxnArgs::parse(&argv(&["--rounds", "3"])).unwrap().unwrap().rounds,
            3
        );
        assert!(TxnArgs::parse(&argv(&["--keys", "5"])).is_err());
        assert!(TxnArgs::parse(&argv(&["--seconds"])).is_err());
    }
}
