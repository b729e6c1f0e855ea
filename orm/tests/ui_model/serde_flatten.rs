use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Serialize, Deserialize)]
struct Audit {
    created: u64,
}

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key)]
    id: u64,
    #[serde(flatten)]
    audit: Audit,
}

fn main() {}
