use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "city_age", fields(city, agee)))]
#[model(index(name = "twice", fields(city, city)))]
#[model(index(name = "nothing", fields()))]
struct User {
    #[model(key)]
    id: u64,
    city: String,
    age: u32,
}

fn main() {}
