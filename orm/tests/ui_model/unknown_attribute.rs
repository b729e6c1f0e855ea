use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(key, table = "users")]
#[model(index(name = "city_age", fields(city, age), sorted))]
struct User {
    #[model(key)]
    id: u64,
    #[model(uniq)]
    email: String,
    #[model(index(many), name = "c")]
    city: String,
    age: u32,
}

fn main() {}
