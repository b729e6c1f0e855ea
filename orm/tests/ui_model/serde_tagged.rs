use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[serde(tag = "type")]
struct User {
    #[model(key)]
    id: u64,
}

#[derive(Model, Serialize)]
#[serde(untagged)]
struct Admin {
    #[model(key)]
    id: u64,
}

fn main() {}
