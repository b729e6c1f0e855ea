use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key, auto)]
    email: String,
}

fn main() {}
