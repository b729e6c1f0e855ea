use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key)]
    id: u64,
    #[model(index(multi))]
    tags: BTreeSet<String>,
    #[model(unique(multi))]
    email: String,
}

fn main() {}
