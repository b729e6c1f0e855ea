use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "city_age", fields(city, age)))]
struct User {
    #[model(key)]
    #[serde(skip)]
    id: u64,
    #[model(index)]
    #[serde(skip)]
    email: String,
    city: String,
    #[serde(skip)]
    age: u32,
}

fn main() {}
