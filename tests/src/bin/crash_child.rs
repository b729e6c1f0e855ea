//! The process that the T5 SIGKILL loop kills.
//!
//! Usage: `crash_child <db-path> <round> <seed>`. It opens the database, prints
//! `READY`, and then runs durable operations until it is killed, announcing each
//! one on stdout before it starts (`BEGIN ...`) and acknowledging it only after
//! `flush()` returned `Ok` (`ACK ...`), flushing stdout after every line:
//!
//! - `insert <key>`: one insert into the default tree;
//! - `batch <n>`: an `apply_batch` "transfer" writing [`BATCH_WIDTH`] keys
//!   `batch/<n>/<i>` into the default tree;
//! - `remove <key>`: removes a key this process inserted earlier;
//! - `burst <n> <count>` (BEGIN only names the count): `count` inserts of
//!   `burst/<n>/<j>` into the tree `bursts`, unflushed until the last;
//! - `id <id>`: `generate_id()`, printed only as `ACK id <id>`.
//!
//! Every value is `crash_value(key)`. Keys carry the round number, so they are
//! unique across the kills that share one database. Any error is printed to
//! stderr and ends the process with status 3; the parent treats an exit it did
//! not cause as a failure.
//!
//! [`BATCH_WIDTH`]: skiff_tests::BATCH_WIDTH

use std::io::Write;
use std::process::exit;

use rand::Rng;
use skiff_engine::{Batch, Config};
use skiff_tests::{crash_value, BATCH_WIDTH};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("crash_child: {what} failed: {e}");
    exit(3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: crash_child <db-path> <round> <seed>");
        exit(2);
    }
    let round: u64 = args[2].parse().unwrap_or_else(|e| fail("parsing the round", e));
    let seed: u64 = args[3].parse().unwrap_or_else(|e| fail("parsing the seed", e));
    let mut rng = skiff_tests::rng(seed);

    let mut config = Config::new()
        .path(&args[1])
        .flush_every_ms(match rng.gen_range(0..4) {
            0 => None,
            1 => Some(1),
            2 => Some(10),
            _ => Some(500),
        });
    if rng.gen_bool(0.5) {
        config = config.segment_size(4096);
    }
    if rng.gen_bool(0.5) {
        config = config.leaf_max_bytes([64, 256, 1024][rng.gen_range(0..3)]);
    }
    let db = config.open().unwrap_or_else(|e| fail("open", e));
    let bursts = db.open_tree(b"bursts").unwrap_or_else(|e| fail("open_tree", e));

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut say = |line: String| {
        // A line is acknowledged only once it has left the process.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            exit(4);
        }
    };
    say("READY".into());

    let mut inserted: Vec<String> = Vec::new();
    for seq in 0u64.. {
        match rng.gen_range(0..100) {
            0..=34 => {
                let key = format!("ins/{round:06}/{seq:06}");
                say(format!("BEGIN insert {key}"));
                db.insert(&key, crash_value(key.as_bytes()))
                    .unwrap_or_else(|e| fail("insert", e));
                db.flush().unwrap_or_else(|e| fail("flush", e));
                say(format!("ACK insert {key}"));
                inserted.push(key);
            }
            35..=59 => {
                let n = format!("{round:06}-{seq:06}");
                say(format!("BEGIN batch {n}"));
                let mut batch = Batch::default();
                for i in 0..BATCH_WIDTH {
                    let key = format!("batch/{n}/{i}");
                    let value = crash_value(key.as_bytes());
                    batch.insert(key.into_bytes(), value);
                }
                db.apply_batch(batch).unwrap_or_else(|e| fail("apply_batch", e));
                db.flush().unwrap_or_else(|e| fail("flush", e));
                say(format!("ACK batch {n}"));
            }
            60..=69 => {
                let id = db.generate_id().unwrap_or_else(|e| fail("generate_id", e));
                say(format!("ACK id {id}"));
            }
            70..=79 if !inserted.is_empty() => {
                let key = inserted.swap_remove(rng.gen_range(0..inserted.len()));
                say(format!("BEGIN remove {key}"));
                db.remove(&key).unwrap_or_else(|e| fail("remove", e));
                db.flush().unwrap_or_else(|e| fail("flush", e));
                say(format!("ACK remove {key}"));
            }
            _ => {
                let n = format!("{round:06}-{seq:06}");
                let count = rng.gen_range(1..=40);
                say(format!("BEGIN burst {n} {count}"));
                for j in 0..count {
                    let key = format!("burst/{n}/{j:03}");
                    bursts
                        .insert(&key, crash_value(key.as_bytes()))
                        .unwrap_or_else(|e| fail("insert", e));
                }
                bursts.flush().unwrap_or_else(|e| fail("flush", e));
                say(format!("ACK burst {n}"));
            }
        }
    }
}
