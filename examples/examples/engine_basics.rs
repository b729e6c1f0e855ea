//! Engine basics: a small inventory kept in `skiff-engine` directly.
//!
//! Shows trees, batches, ordered scans, compare-and-swap and durability, then
//! reopens the database to show the data survived.
//!
//! Run with `cargo run --release --example engine_basics`.

use skiff_engine::{Batch, Config, Event};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("skiff-engine-basics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let db = Config::new().path(&dir).open()?;
        let items = db.open_tree("items")?;
        let mut events = items.watch_prefix("item/");

        // Several writes that land together or not at all.
        let mut batch = Batch::default();
        for (sku, qty) in [("apple", 12u32), ("banana", 30), ("cherry", 7), ("date", 0)] {
            batch.insert(format!("item/{sku}").as_bytes(), qty.to_be_bytes());
        }
        items.apply_batch(batch)?;

        // Ordered scans over a prefix, forwards and backwards.
        print!("in stock:");
        for entry in items.scan_prefix("item/") {
            let (key, qty) = entry?;
            let qty = u32::from_be_bytes(qty.as_ref().try_into()?);
            if qty > 0 {
                print!(" {}={qty}", String::from_utf8_lossy(&key[5..]));
            }
        }
        println!();
        let (last, _) = items
            .scan_prefix("item/")
            .next_back()
            .transpose()?
            .expect("four items");
        println!("last item: {}", String::from_utf8_lossy(&last));

        // Sell one banana atomically, even if other threads sell too.
        let sold = items.update_and_fetch("item/banana", |qty| {
            let qty = u32::from_be_bytes(qty?.try_into().ok()?);
            Some(qty.saturating_sub(1).to_be_bytes().to_vec())
        })?;
        println!(
            "bananas left: {}",
            u32::from_be_bytes(sold.expect("present").as_ref().try_into()?)
        );

        // Every change was observed, in order.
        let seen = std::iter::from_fn(|| events.next_timeout(std::time::Duration::from_millis(10)).ok())
            .filter(|e| matches!(e, Event::Insert { .. }))
            .count();
        println!("events observed: {seen}");

        // Durable from here on, even if the machine loses power.
        db.flush()?;
    }
    let db = Config::new().path(&dir).open()?;
    let items = db.open_tree("items")?;
    println!(
        "after reopen: {} items, recovered = {}",
        items.len(),
        db.was_recovered()
    );
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
