use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(name = "", version = 0, change_log = 0)]
struct User {
    #[model(key)]
    id: u64,
}

#[derive(Model, Serialize, Deserialize)]
#[model(from = User)]
struct Person {
    #[model(key)]
    id: u64,
}

fn main() {}
