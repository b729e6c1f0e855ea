use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Serialize, Deserialize, Clone)]
struct Address {
    street: String,
}

#[derive(Model, Serialize, Deserialize)]
struct Place {
    #[model(key)]
    address: Address,
}

#[derive(Model, Serialize, Deserialize)]
struct Visit {
    #[model(key)]
    day: u32,
    #[model(key)]
    address: Address,
}

fn main() {}
