//! Command-line options of the `engine` subcommand (hand-parsed: no dependency).

use std::path::PathBuf;

use crate::engines::EngineKind;
use crate::BenchResult;

/// Usage text of the `engine` subcommand.
pub const ENGINE_USAGE: &str = "\
usage: skiff-bench engine [--keys N] [--engines skiff,sled,redb,fjall,lmdb] [--seed S] [--dir PATH]

  --keys N        number of 16-byte keys with 100-byte values (default 1000000)
  --engines LIST  comma-separated engines to run, in this order (default: all five)
  --seed S        seed of the key, value and access-order generator (default 42)
  --dir PATH      where the per-engine temporary directories go (default: system temp dir)";

/// Parsed options of the `engine` subcommand.
#[derive(Debug, Clone)]
pub struct EngineArgs {
    /// Number of distinct keys loaded into each engine.
    pub keys: usize,
    /// Engines to run, in order.
    pub engines: Vec<EngineKind>,
    /// Seed of the dataset generator.
    pub seed: u64,
    /// Parent directory of each engine's fresh temporary directory.
    pub dir: PathBuf,
}

impl EngineArgs {
    /// Parses `argv` (without the subcommand); `Ok(None)` means help was asked for.
    pub fn parse(argv: &[String]) -> BenchResult<Option<EngineArgs>> {
        let mut out = EngineArgs {
            keys: 1_000_000,
            engines: EngineKind::ALL.to_vec(),
            seed: 42,
            dir: std::env::temp_dir(),
        };
        let Some(flags) = flags(argv, ENGINE_USAGE)? else {
            return Ok(None);
        };
        for (name, value) in flags {
            match name.as_str() {
                "--keys" => out.keys = parse_num(&value)?,
                "--seed" => out.seed = parse_num(&value)?,
                "--dir" => out.dir = PathBuf::from(value.clone()),
                "--engines" => {
                    out.engines = value
                        .clone()
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| EngineKind::parse(s.trim()))
                        .collect::<BenchResult<_>>()?;
                }
                other => return Err(format!("unknown option `{other}`\n\n{ENGINE_USAGE}").into()),
            }
        }
        if out.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if out.engines.is_empty() {
            return Err("--engines names no engine".into());
        }
        Ok(Some(out))
    }
}

/// Splits `argv` into `--flag value` (or `--flag=value`) pairs; `Ok(None)`
/// if help was asked for. Every option of every subcommand takes a value.
pub(crate) fn flags(argv: &[String], usage: &str) -> BenchResult<Option<Vec<(String, String)>>> {
    let mut out = Vec::new();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let value = it
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value\n\n{usage}"))?;
                (flag.clone(), value.clone())
            }
        };
        out.push((name, value));
    }
    Ok(Some(out))
}

/// Parses a number such as `200000`, `200_000` or `200,000`.
pub(crate) fn parse_num<T: std::str::FromStr<Err = std::num::ParseIntError>>(s: &str) -> BenchResult<T> {
    let digits: String = s.chars().filter(|c| *c != '_' && *c != ',').collect();
    digits
        .parse()
        .map_err(|e| format!("bad number `{s}`: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let d = EngineArgs::parse(&[]).unwrap().unwrap();
        assert_eq!(d.keys, 1_000_000);
        assert_eq!(d.engines.len(), 5);
        let o = EngineArgs::parse(&argv(&["--keys", "2_000", "--engines=sled,skiff"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.keys, 2000);
        assert_eq!(o.engines, vec![EngineKind::Sled, EngineKind::Skiff]);
        assert!(EngineArgs::parse(&argv(&["--help"])).unwrap().is_none());
        assert!(EngineArgs::parse(&argv(&["--engines", "rocks"])).is_err());
        assert!(EngineArgs::parse(&argv(&["--keys"])).is_err());
    }
}
