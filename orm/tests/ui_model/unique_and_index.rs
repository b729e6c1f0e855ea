use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key)]
    id: u64,
    #[model(unique, index)]
    email: String,
}

fn main() {}
