use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "city", fields(city, age)))]
#[model(index(name = "cityAge", fields(city, age)))]
#[model(index(name = "city_age", fields(age, city)))]
#[model(index(name = "by city", fields(city)))]
struct User {
    #[model(key)]
    id: u64,
    #[model(index)]
    city: String,
    age: u32,
}

fn main() {}
