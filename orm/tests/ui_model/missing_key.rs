use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    id: u64,
    #[model(unique)]
    email: String,
}

fn main() {}
