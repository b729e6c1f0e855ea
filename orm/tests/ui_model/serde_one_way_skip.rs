use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key)]
    id: u64,
    #[serde(skip_serializing)]
    password: String,
    #[serde(skip_deserializing)]
    session: String,
    #[serde(skip_serializing, skip_deserializing)]
    cache: Vec<u8>,
}

fn main() {}
