//! The process that the transactional SIGKILL loop kills.
//!
//! Usage: `txn_child <db-path> <round> <seed>`. It opens the database, creates
//! [`BANK_ACCOUNTS`] accounts of [`BANK_START`] in the tree `accounts` in one
//! durable transaction if they are not there yet, prints `READY`, and then
//! runs transfers from four threads until it is killed. Each transfer is one
//! transaction over `accounts` and `transfers`: it moves an amount between two
//! accounts and records itself in `transfers` under a unique id. Most are
//! durable; after a durable one returns, the thread prints `ACK <id>`.
//!
//! Any error is printed to stderr and ends the process with status 3.
//!
//! [`BANK_ACCOUNTS`]: skiff_tests::BANK_ACCOUNTS
//! [`BANK_START`]: skiff_tests::BANK_START

use std::io::Write;
use std::process::exit;
use std::sync::{Arc, Mutex};

use rand::Rng;
use skiff_engine::{Config, ConflictableTransactionError, Transactional};
use skiff_tests::{encode_transfer, BANK_ACCOUNTS, BANK_START};

type TxResult<T> = Result<T, ConflictableTransactionError<()>>;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("txn_child: {what} failed: {e}");
    exit(3)
}

fn say(out: &Mutex<std::io::Stdout>, line: &str) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    // A line is acknowledged only once it has left the process.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        exit(4);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: txn_child <db-path> <round> <seed>");
        exit(2);
    }
    let round: u64 = args[2].parse().unwrap_or_else(|e| fail("parsing the round", e));
    let seed: u64 = args[3].parse().unwrap_or_else(|e| fail("parsing the seed", e));
    let mut rng = skiff_tests::rng(seed);
    let mut config = Config::new()
        .path(&args[1])
        .flush_every_ms([None, Some(1), Some(50)][rng.gen_range(0..3)])
        .durable_transactions(rng.gen_bool(0.3));
    if rng.gen_bool(0.5) {
        config = config.segment_size(4096);
    }
    if rng.gen_bool(0.5) {
        config = config.leaf_max_bytes([64, 256][rng.gen_range(0..2)]);
    }
    let db = config.open().unwrap_or_else(|e| fail("open", e));
    let accounts = db.open_tree(b"accounts").unwrap_or_else(|e| fail("open_tree", e));
    let transfers = db
        .open_tree(b"transfers")
        .unwrap_or_else(|e| fail("open_tree", e));
    accounts
        .transaction(|a| {
            if a.first()?.is_none() {
                for i in 0..BANK_ACCOUNTS {
                    a.insert(i.to_be_bytes(), BANK_START.to_be_bytes())?;
                }
            }
            a.flush();
            TxResult::Ok(())
        })
        .unwrap_or_else(|e| fail("creating the accounts", format!("{e:?}")));

    let out = Arc::new(Mutex::new(std::io::stdout()));
    say(&out, "READY");
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (accounts, transfers, out) = (accounts.clone(), transfers.clone(), out.clone());
            let mut rng = skiff_tests::rng(skiff_tests::derive_seed(seed, t));
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let (from, to) = (rng.gen_range(0..BANK_ACCOUNTS), rng.gen_range(0..BANK_ACCOUNTS));
                    let amount = rng.gen_range(1..300u64);
                    let durable = rng.gen_bool(0.75);
                    let id = format!("{round:06}/{t}/{seq:08}");
                    let moved = (&accounts, &transfers)
                        .transaction(|(a, x)| {
                            let balance = |k: u64| -> TxResult<u64> {
                                let v = a.get(k.to_be_bytes())?.expect("account exists");
                                Ok(u64::from_be_bytes(v[..].try_into().expect("8 bytes")))
                            };
                            let (src, dst) = (balance(from)?, balance(to)?);
                            if from == to || src < amount {
                                return Ok(false);
                            }
                            a.insert(from.to_be_bytes(), (src - amount).to_be_bytes())?;
                            a.insert(to.to_be_bytes(), (dst + amount).to_be_bytes())?;
                            x.insert(id.as_bytes(), encode_transfer(from, to, amount))?;
                            if durable {
                                x.flush();
                            }
                            Ok(true)
                        })
                        .unwrap_or_else(|e| fail("transfer", format!("{e:?}")));
                    if moved && durable {
                        say(&out, &format!("ACK {id}"));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
