use serde::{Deserialize, Serialize};
use skiff::Model;

// Each struct-level index needs a name and exactly one of `fields(…)` or
// `with = …, ty = …`.
#[derive(Model, Serialize, Deserialize)]
#[model(index(fields(city)))]
#[model(index(name = "neither", unique))]
#[model(index(name = "both", fields(city), with = User::upper, ty = String))]
#[model(index(name = "typed", fields(city), ty = String))]
#[model(index)]
struct User {
    #[model(key)]
    id: u64,
    city: String,
}

impl User {
    fn upper(&self) -> String {
        self.city.to_uppercase()
    }
}

fn main() {}
