//! The `watch` subcommand: what change-stream subscribers cost writers.
//!
//! Four threads commit small typed transactions (one upsert each, not
//! durable) to one collection for a fixed time, three times: with no
//! subscriber; with 16 subscribers nobody reads (they fill their buffers, lag,
//! and their streams end); and with 16 subscribers that one thread drains. Half of the subscribers watch the whole collection,
//! half one value of a secondary index. The target: the commit rate
//! with 16 subscribers at least 0.8× the rate with none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use skiff::Model;

use crate::args::{flags, parse_num};
use crate::report::thousands;
use crate::BenchResult;

/// Usage text of the `watch` subcommand.
pub const WATCH_USAGE: &str = "\
usage: skiff-bench watch [--seconds S]

Commit rate of 4 writer threads (one-upsert transactions, not durable) with 0
subscribers, 16 lagging subscribers and 16 drained subscribers.

  --seconds S     duration of each timed run (default 3)";

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
#[model(name = "watched")]
struct Row {
    #[model(key)]
    id: u64,
    #[model(index)]
    group: u8,
    payload: String,
}

const WRITERS: u64 = 4;
const SUBSCRIBERS: usize = 16;

/// How the subscribers of one run behave.
#[derive(Clone, Copy, PartialEq)]
enum Subscribers {
    None,
    Lagging,
    Drained,
}

/// Commits per second of the writers in one run, and how many drained
/// subscriptions lagged anyway.
fn run_once(seconds: f64, subs: Subscribers) -> BenchResult<(f64, u64)> {
    let db = skiff::Db::from_engine(
        skiff_engine::Config::new()
            .temporary(true)
            .flush_every_ms(Some(500))
            .open()?,
    )?;
    let rows = db.collection::<Row>()?;
    let mut subscriptions = Vec::new();
    if subs != Subscribers::None {
        for i in 0..SUBSCRIBERS {
            subscriptions.push(if i % 2 == 0 {
                rows.watch()?
            } else {
                rows.index(Row::GROUP).watch(&u8::try_from(i % 8)?)?
            });
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let drainer = (subs == Subscribers::Drained).then(|| {
        let stop = stop.clone();
        let mut subs = std::mem::take(&mut subscriptions);
        std::thread::spawn(move || {
            let (mut batches, mut lagged) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                for s in &mut subs {
                    loop {
                        match s.try_next() {
                            Some(Ok(_)) => batches += 1,
                            Some(Err(_)) => lagged += 1,
                            None => break,
                        }
                    }
                }
                std::thread::yield_now();
            }
            (batches, lagged)
        })
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let rows = rows.clone();
            std::thread::spawn(move || -> skiff::Result<u64> {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let id = (w << 40) | (n % 10_000);
                    let group = u8::try_from(n % 8).unwrap_or(0);
                    rows.upsert(&Row {
                        id,
                        group,
                        payload: "x".repeat(64),
                    })?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut commits = 0u64;
    for w in writers {
        commits += w.join().map_err(|_| "writer panicked")??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut lagged = 0;
    if let Some(d) = drainer {
        let (batches, l) = d.join().map_err(|_| "drainer panicked")?;
        eprintln!("   drained {batches} batches; {l} of {SUBSCRIBERS} subscriptions lagged");
        lagged = l;
    }
    Ok((commits as f64 / elapsed, lagged))
}

/// Runs the subcommand.
pub fn run(argv: &[String]) -> BenchResult<()> {
    let mut seconds = 3.0f64;
    let Some(flags) = flags(argv, WATCH_USAGE)? else {
        println!("{WATCH_USAGE}");
        return Ok(());
    };
    for (name, v) in flags {
        match name.as_str() {
            "--seconds" => seconds = v.parse().or_else(|_| parse_num::<u64>(&v).map(|n| n as f64))?,
            other => return Err(format!("unknown option {other}\n\n{WATCH_USAGE}").into()),
        }
    }
    let mut rates = Vec::new();
    for (name, subs) in [
        ("no subscriber", Subscribers::None),
        ("16 lagging subscribers", Subscribers::Lagging),
        ("16 drained subscribers", Subscribers::Drained),
    ] {
        eprintln!("watch: {name} ...");
        rates.push((name, run_once(seconds, subs)?));
    }
    let base = rates[0].1 .0;
    println!("### Change-stream cost to writers: {WRITERS} writer threads, {seconds} s per run\n");
    println!("| subscribers | commits/s | vs none | target |");
    println!("|---|---:|---:|---|");
    for (i, (name, (rate, _))) in rates.iter().enumerate() {
        let target = match i {
            0 => "-".to_string(),
            _ if rate / base >= 0.8 => "≥ 0.8×: met".to_string(),
            _ => "≥ 0.8×: missed".to_string(),
        };
        println!(
            "| {name} | {} | {:.2}× | {target} |",
            thousands(*rate),
            rate / base
        );
    }
    println!(
        "\nEach commit is one typed `upsert` (a record of ~80 bytes with one secondary index) in its own \
         non-durable transaction, on a fresh temporary database per run. Half the subscribers watch the \
         whole collection, half one index value. Lagging subscribers are never read: their buffers fill, \
         they lag, their streams end and writers stop serving them. Drained subscribers are read by one extra \
         thread, which competes with the writers for this machine's 2 cores; {} of the {SUBSCRIBERS} \
         drained subscriptions still fell behind and lagged in this run (a lagged subscription's stream \
         ends, and the writers stop serving it).",
        rates[2].1 .1
    );
    Ok(())
}
