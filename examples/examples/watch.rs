//! Watch: a subscriber thread prints a collection's committed changes while
//! the main thread writes in transactions — one batch per transaction, in
//! commit order, nothing from the transaction that aborts.
//!
//! Run with `cargo run --release --example watch`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skiff::{Change, Db, Error, Model};

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    #[model(key, auto)]
    id: u64,
    #[model(index)]
    status: String,
    total_cents: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::temporary()?;
    let orders = db.collection::<Order>()?;
    let subscription = orders.watch()?;
    let shipped = orders.index(Order::STATUS).watch("shipped")?;

    let printer = std::thread::spawn(move || {
        let mut subscription = subscription;
        while let Some(batch) = subscription.next_timeout(Duration::from_secs(1)) {
            let batch = batch.expect("the printer keeps up");
            println!("commit #{}:", batch.seq);
            for change in batch.changes {
                match change {
                    Change::Inserted(o) => {
                        println!("  + order {} ({}, {} cents)", o.id, o.status, o.total_cents)
                    }
                    Change::Updated { old, new } => {
                        println!("  ~ order {}: {} -> {}", new.id, old.status, new.status)
                    }
                    Change::Removed(o) => println!("  - order {}", o.id),
                }
            }
        }
    });

    let place = |total_cents| Order {
        id: 0,
        status: "new".into(),
        total_cents,
    };
    db.transaction(|tx| {
        let orders = tx.collection::<Order>()?;
        orders.push(place(1_250))?;
        orders.push(place(899))?;
        Ok::<_, Error>(())
    })?;
    // This one aborts: subscribers never hear of it.
    let aborted: Result<(), Error> = db.transaction(|tx| {
        tx.collection::<Order>()?.push(place(1))?;
        Err(Error::NotFound {
            collection: "orders".into(),
            key: vec![],
        })
    });
    assert!(aborted.is_err());
    db.transaction(|tx| {
        let orders = tx.collection::<Order>()?;
        orders.update(&1, |o| o.status = "shipped".into())?;
        orders.remove(&2)?;
        Ok::<_, Error>(())
    })?;

    printer.join().expect("printer thread");
    let mut shipped = shipped;
    let batch = shipped.try_next().expect("one batch")?;
    println!(
        "the \"shipped\" watcher saw commit #{} only: {} change",
        batch.seq,
        batch.changes.len()
    );
    Ok(())
}
