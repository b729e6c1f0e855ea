use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(name = "users", version = 2)]
#[model(name = "people", version = 3)]
#[model(index(name = "a", name = "b", fields(email)))]
struct User {
    #[model(key, key)]
    id: u64,
    #[model(unique)]
    #[model(unique)]
    email: String,
    #[model(index(multi, multi))]
    tags: Vec<String>,
}

fn main() {}
