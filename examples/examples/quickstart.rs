//! Quickstart: a small library catalogue in Skiff's typed layer.
//!
//! Models with a unique and non-unique, optional, multi-valued and composite
//! secondary indexes; typed lookups, range and prefix scans; a transaction
//! across two collections; a unique violation that leaves nothing behind; and a
//! reopen that shows the data survived.
//!
//! Run with `cargo run --release --example quickstart`.

use serde::{Deserialize, Serialize};
use skiff::{Db, Error, Model};

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "books")]
#[model(index(name = "author_year", fields(author, year)))]
struct Book {
    #[model(key, auto)]
    id: u64,
    #[model(unique)]
    isbn: String,
    #[model(index)]
    author: String,
    year: u16,
    #[model(index(multi))]
    tags: Vec<String>,
    #[model(index)]
    borrowed_by: Option<String>,
}

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[model(name = "loans")]
struct Loan {
    #[model(key)]
    member: String,
    #[model(key)]
    book: u64,
    day: u32,
}

fn book(isbn: &str, author: &str, year: u16, tags: &[&str]) -> Book {
    Book {
        id: 0,
        isbn: isbn.into(),
        author: author.into(),
        year,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        borrowed_by: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("skiff-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let db = Db::open(&dir)?;
        let books = db.collection::<Book>()?;
        for b in [
            book("978-0", "Le Guin", 1969, &["scifi", "classic"]),
            book("978-1", "Le Guin", 1974, &["scifi"]),
            book("978-2", "Jemisin", 2015, &["fantasy"]),
            book("978-3", "Chiang", 2002, &["scifi", "stories"]),
        ] {
            let id = books.push(b)?;
            println!("added book {id}");
        }

        // Typed lookups and scans through secondary indexes.
        let by_isbn = books.index(Book::ISBN).get("978-2")?.expect("present");
        println!("978-2 is by {}", by_isbn.author);
        print!("Le Guin, by year:");
        for b in books.index(Book::AUTHOR_YEAR).prefix(&("Le Guin",))? {
            print!(" {}", b?.year);
        }
        println!();
        println!(
            "scifi books: {}",
            books.index(Book::TAGS).count("scifi"..="scifi")?
        );
        let newest = books.iter()?.next_back().transpose()?.expect("four books");
        println!("last added: {} ({})", newest.isbn, newest.author);

        // Lend a book: the loan and the book change together or not at all.
        db.transaction(|tx| {
            let books = tx.collection::<Book>()?;
            let loans = tx.collection::<Loan>()?;
            books.update(&1, |b| b.borrowed_by = Some("ada".into()))?;
            loans.insert(&Loan {
                member: "ada".into(),
                book: 1,
                day: 42,
            })?;
            Ok::<_, Error>(())
        })?;
        let out: Vec<u64> = books
            .index(Book::BORROWED_BY)
            .get_all("ada")?
            .map(|b| b.map(|b| b.id))
            .collect::<Result<_, _>>()?;
        println!("borrowed by ada: {out:?}");

        // A duplicate ISBN is refused, and nothing of the attempt remains.
        match books.push(book("978-0", "Someone", 2024, &["dup"])) {
            Err(Error::UniqueViolation { index, .. }) => println!("refused: duplicate {index}"),
            other => println!("unexpected: {other:?}"),
        }
        println!(
            "books tagged dup: {}",
            books.index(Book::TAGS).count("dup"..="dup")?
        );
        db.engine().flush()?; // durable from here on
    }

    // Reopen: everything is still there, indexes included.
    let db = Db::open(&dir)?;
    let books = db.collection::<Book>()?;
    let loans = db.collection::<Loan>()?;
    println!(
        "after reopen: {} books, {} loans, {:?} borrowed",
        books.len()?,
        loans.len()?,
        books.index(Book::BORROWED_BY).get_all("ada")?.count()
    );
    drop((books, loans, db));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
