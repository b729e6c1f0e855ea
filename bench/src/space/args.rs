//! Command-line options of the `space` subcommand and of its hidden `space-child`
//! helper (hand-parsed with [`crate::args::flags`], like every subcommand's).

use std::path::PathBuf;
use std::time::Duration;

use crate::args::{flags, parse_num};
use crate::engines::EngineKind;
use crate::BenchResult;

/// Usage text of the `space` subcommand.
pub const SPACE_USAGE: &str = "\
usage: skiff-bench space [--keys N] [--value-size B] [--passes P] [--cache-mb C]
                         [--engines skiff,sled,redb,fjall,lmdb] [--seed S] [--idle-ms MS] [--dir PATH]

Disk space, reopen time and memory of skiff, sled 0.34, redb, fjall and LMDB (heed),
side by side, printed as markdown tables. For each engine, on a fresh directory:
  1. load: insert N keys (16 bytes) with B-byte random values in random order, in
     batches of 1,000, flush; disk size / raw bytes (N x (16 + B));
  2. overwrites: P passes, each rewriting every key once in a new random order with
     new random values; flush; disk size right after the flush, after MS ms idle
     (background maintenance, no manual compaction) and after closing;
  3. reopen: median of 3 times to open the database and get a first key;
  4. mass delete: remove every key whose index % 10 != 0, flush, close; disk size /
     raw bytes of the remaining tenth.
Then memory: a dataset of 10 x C MiB of raw entries per engine, read twice in
random order by a child process whose engine has a C MiB cache; its peak RSS
(VmHWM) against the cache.

  --keys N        number of keys (default 1000000)
  --value-size B  bytes of every value (default 100)
  --passes P      overwrite passes (default 10)
  --cache-mb C    cache of the memory test, in MiB; its dataset is 10 x C MiB (default 32)
  --engines LIST  comma-separated engines to run, in this order (default: all five)
  --seed S        seed of the orders and values (default 42)
  --idle-ms MS    idle time after the overwrites' flush before measuring again (default 2000)
  --dir PATH      where the temporary directories go (default: system temp dir)";

/// Parsed options of the `space` subcommand.
#[derive(Debug, Clone)]
pub struct SpaceArgs {
    /// Number of keys of the disk-space phases.
    pub keys: u64,
    /// Bytes of every value.
    pub value_len: usize,
    /// Overwrite passes.
    pub passes: u32,
    /// Cache of the memory test, in MiB.
    pub cache_mb: u64,
    /// Engines to run, in order.
    pub engines: Vec<EngineKind>,
    /// Seed of the orders and values.
    pub seed: u64,
    /// Idle time after the overwrites' flush.
    pub idle: Duration,
    /// Parent directory of the run's temporary directory.
    pub dir: PathBuf,
}

/// Largest accepted `--value-size`.
const MAX_VALUE_LEN: usize = 1 << 20;
/// Largest accepted `--cache-mb` (1 TiB).
const MAX_CACHE_MB: u64 = 1 << 20;

impl SpaceArgs {
    /// Parses `argv` (without the subcommand); `Ok(None)` means help was asked for.
    pub fn parse(argv: &[String]) -> BenchResult<Option<SpaceArgs>> {
        let mut out = SpaceArgs {
            keys: 1_000_000,
            value_len: 100,
            passes: 10,
            cache_mb: 32,
            engines: EngineKind::ALL.to_vec(),
            seed: 42,
            idle: Duration::from_secs(2),
            dir: std::env::temp_dir(),
        };
        let Some(flags) = flags(argv, SPACE_USAGE)? else {
            return Ok(None);
        };
        for (name, value) in flags {
            match name.as_str() {
                "--keys" => out.keys = parse_num(&value)?,
                "--value-size" => out.value_len = parse_num(&value)?,
                "--passes" => out.passes = parse_num(&value)?,
                "--cache-mb" => out.cache_mb = parse_num(&value)?,
                "--seed" => out.seed = parse_num(&value)?,
                "--idle-ms" => out.idle = Duration::from_millis(parse_num(&value)?),
                "--dir" => out.dir = PathBuf::from(value),
                "--engines" => {
                    out.engines = value
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| EngineKind::parse(s.trim()))
                        .collect::<BenchResult<_>>()?;
                }
                other => return Err(format!("unknown option `{other}`\n\n{SPACE_USAGE}").into()),
            }
        }
        if out.keys < 10 {
            return Err("--keys must be at least 10".into());
        }
        if out.value_len == 0 || out.value_len > MAX_VALUE_LEN {
            return Err(format!("--value-size must be 1 to {MAX_VALUE_LEN}").into());
        }
        if out.cache_mb == 0 || out.cache_mb > MAX_CACHE_MB {
            return Err(format!("--cache-mb must be 1 to {MAX_CACHE_MB}").into());
        }
        if out.engines.is_empty() {
            return Err("--engines names no engine".into());
        }
        Ok(Some(out))
    }
}

/// Usage text of the hidden `space-child` subcommand (run by `space` itself).
pub const CHILD_USAGE: &str = "\
usage: skiff-bench space-child --engine E --path PATH --keys K --value-size B --cache-mb C --seed S

Internal to `space`: opens the database `space` built in PATH with a C MiB cache,
reads keys 0..K twice in random order and prints its peak resident memory.";

/// Parsed options of the `space-child` helper.
#[derive(Debug, Clone)]
pub struct ChildArgs {
    /// Engine whose database is in `path`.
    pub engine: EngineKind,
    /// Directory the database was built in.
    pub path: PathBuf,
    /// Number of keys in the database.
    pub keys: u64,
    /// Bytes of every value.
    pub value_len: usize,
    /// Cache to open the engine with, in MiB.
    pub cache_mb: u64,
    /// Seed of the read orders.
    pub seed: u64,
}

impl ChildArgs {
    /// Parses `argv` (without the subcommand); `Ok(None)` means help was asked for.
    pub fn parse(argv: &[String]) -> BenchResult<Option<ChildArgs>> {
        let Some(flags) = flags(argv, CHILD_USAGE)? else {
            return Ok(None);
        };
        let (mut engine, mut path, mut keys, mut value_len, mut cache_mb, mut seed) =
            (None, None, None, None, None, None);
        for (name, value) in flags {
            match name.as_str() {
                "--engine" => engine = Some(EngineKind::parse(&value)?),
                "--path" => path = Some(PathBuf::from(value)),
                "--keys" => keys = Some(parse_num(&value)?),
                "--value-size" => value_len = Some(parse_num(&value)?),
                "--cache-mb" => cache_mb = Some(parse_num(&value)?),
                "--seed" => seed = Some(parse_num(&value)?),
                other => return Err(format!("unknown option `{other}`\n\n{CHILD_USAGE}").into()),
            }
        }
        let missing = |name: &str| format!("space-child needs {name}\n\n{CHILD_USAGE}");
        Ok(Some(ChildArgs {
            engine: engine.ok_or_else(|| missing("--engine"))?,
            path: path.ok_or_else(|| missing("--path"))?,
            keys: keys.ok_or_else(|| missing("--keys"))?,
            value_len: value_len.ok_or_else(|| missing("--value-size"))?,
            cache_mb: cache_mb.ok_or_else(|| missing("--cache-mb"))?,
            seed: seed.ok_or_else(|| missing("--seed"))?,
        }))
    }

    /// The arguments that make [`ChildArgs::parse`] return `self`, subcommand first.
    pub fn to_argv(&self) -> Vec<String> {
        vec![
            super::CHILD_SUBCOMMAND.to_string(),
            "--engine".into(),
            self.engine.name().into(),
            "--path".into(),
            self.path.display().to_string(),
            "--keys".into(),
            self.keys.to_string(),
            "--value-size".into(),
            self.value_len.to_string(),
            "--cache-mb".into(),
            self.cache_mb.to_string(),
            "--seed".into(),
            self.seed.to_string(),
        ]
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
        let d = SpaceArgs::parse(&[]).unwrap().unwrap();
        assert_eq!(
            (d.keys, d.value_len, d.passes, d.cache_mb),
            (1_000_000, 100, 10, 32)
        );
        assert_eq!(d.engines.len(), 5);
        let o = SpaceArgs::parse(&argv(&[
            "--keys",
            "20_000",
            "--passes=2",
            "--cache-mb",
            "4",
            "--engines",
            "skiff,heed",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((o.keys, o.passes, o.cache_mb), (20_000, 2, 4));
        assert_eq!(o.engines, vec![EngineKind::Skiff, EngineKind::Lmdb]);
        assert!(SpaceArgs::parse(&argv(&["--help"])).unwrap().is_none());
        assert!(SpaceArgs::parse(&argv(&["--keys", "5"])).is_err());
        assert!(SpaceArgs::parse(&argv(&["--value-size", "0"])).is_err());
        assert!(SpaceArgs::parse(&argv(&["--cache-mb", "0"])).is_err());
        assert!(SpaceArgs::parse(&argv(&["--seconds", "1"])).is_err());
    }

    #[test]
    fn child_args_round_trip() {
        let c = ChildArgs {
            engine: EngineKind::Fjall,
            path: PathBuf::from("/tmp/x"),
            keys: 123,
            value_len: 100,
            cache_mb: 4,
            seed: 9,
        };
        let argv = c.to_argv();
        let back = ChildArgs::parse(&argv[1..]).unwrap().unwrap();
        assert_eq!(back.engine, EngineKind::Fjall);
        assert_eq!(back.path, c.path);
        assert_eq!(
            (back.keys, back.value_len, back.cache_mb, back.seed),
            (123, 100, 4, 9)
        );
        assert!(ChildArgs::parse(&argv[1..3]).is_err());
    }
}
