//! T5 for transactions: a SIGKILL loop over concurrent transfers.
//!
//! `txn_child` runs bank transfers from four threads, each one transaction
//! that moves money between two accounts and records the transfer, and prints
//! `ACK <id>` after a durable one returns. After each kill the database is
//! reopened and must be explained exactly by the transfers it holds: starting
//! from the opening balances and applying every recorded transfer gives every
//! account's balance (so no transaction survived in part), and every
//! acknowledged transfer is recorded (so no durable commit was lost).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use skiff_engine::Config;
use skiff_tests::{decode_transfer, BANK_ACCOUNTS, BANK_START};

use super::crash::run_child;

const KILLS_PER_DATABASE: usize = 10;

/// A tree's entries, in order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn check(db_path: &Path, acked: &BTreeSet<String>) -> Result<usize, String> {
    let db = Config::new()
        .path(db_path)
        .open()
        .map_err(|e| format!("reopening after the kill failed: {e}"))?;
    let read = |name: &[u8]| -> Result<Entries, String> {
        let tree = db.open_tree(name).map_err(|e| e.to_string())?;
        tree.iter()
            .map(|kv| {
                kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let accounts = read(b"accounts")?;
    let transfers = read(b"transfers")?;
    if accounts.is_empty() {
        // Killed before the accounts were created: nothing else can be there.
        return match (transfers.is_empty(), acked.is_empty()) {
            (true, true) => Ok(0),
            _ => Err("transfers exist but the accounts do not".into()),
        };
    }
    let mut expected: BTreeMap<u64, i128> = (0..BANK_ACCOUNTS).map(|i| (i, i128::from(BANK_START))).collect();
    let mut recorded = BTreeSet::new();
    for (id, record) in &transfers {
        let (from, to, amount) =
            decode_transfer(record).ok_or_else(|| format!("transfer {id:?} has a damaged record"))?;
        *expected
            .get_mut(&from)
            .ok_or("transfer from an unknown account")? -= i128::from(amount);
        *expected.get_mut(&to).ok_or("transfer to an unknown account")? += i128::from(amount);
        recorded.insert(String::from_utf8_lossy(id).into_owned());
    }
    let found: BTreeMap<u64, i128> = accounts
        .iter()
        .map(|(k, v)| {
            let n = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
            (n(k), i128::from(n(v)))
        })
        .collect();
    if found != expected {
        let differ: Vec<_> = expected
            .iter()
            .filter(|(k, v)| found.get(k) != Some(v))
            .take(5)
            .collect();
        return Err(format!(
            "balances are not explained by the {} recorded transfers (a torn transaction?): \
             expected vs found differ at {differ:?}",
            transfers.len()
        ));
    }
    if let Some(lost) = acked.iter().find(|id| !recorded.contains(*id)) {
        return Err(format!("durable transfer {lost} was acknowledged but is gone"));
    }
    Ok(transfers.len())
}

#[test]
fn sigkill_loop_with_concurrent_transactions() {
    let master = skiff_tests::seed("sigkill_loop_with_concurrent_transactions");
    let kills = skiff_tests::size(30, 5_000);
    let mut rng = skiff_tests::rng(master);
    let root = tempfile::tempdir().expect("tempdir");
    let mut db_path = root.path().join("db-0");
    let mut acked = BTreeSet::new();
    let (mut total_acked, mut last_recorded) = (0, 0);
    for kill in 0..kills {
        if kill % KILLS_PER_DATABASE == 0 {
            if kill > 0 {
                std::fs::remove_dir_all(&db_path).expect("removing an old database");
            }
            db_path = root.path().join(format!("db-{kill}"));
            acked.clear();
        }
        let child_seed = skiff_tests::derive_seed(master, kill as u64);
        let run = run_child(
            env!("CARGO_BIN_EXE_txn_child"),
            &db_path,
            kill,
            child_seed,
            &mut rng,
        );
        for line in &run.lines {
            match line.split_once(' ') {
                Some(("ACK", id)) => {
                    acked.insert(id.to_string());
                    total_acked += 1;
                }
                _ if line == "READY" => {}
                _ => panic!("unexpected line {line:?} from txn_child"),
            }
        }
        if !db_path.join("skiff.meta").exists() {
            assert!(
                acked.is_empty(),
                "acknowledged transfers on a database never created"
            );
            continue;
        }
        match check(&db_path, &acked) {
            Ok(recorded) => last_recorded = recorded,
            Err(e) => panic!(
                "kill {kill} (SKIFF_SEED={master}, child seed {child_seed}): {e}\nchild's stderr: {}",
                run.stderr
            ),
        }
    }
    println!(
        "{kills} kills: {total_acked} durable transfers acknowledged, {last_recorded} in the last database"
    );
    assert!(
        total_acked > 0,
        "no transfer was ever acknowledged: the loop tested nothing"
    );
}
