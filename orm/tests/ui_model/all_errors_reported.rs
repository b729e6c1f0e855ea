use serde::{Deserialize, Serialize};
use skiff::Model;

// Every problem of one struct is reported in one compile.
#[derive(Model, Serialize, Deserialize)]
#[model(name = "users", name = "people", from = v1::User)]
#[model(index(name = "city_age", fields(city, agee)))]
#[model(index(name = "domain", with = User::domain))]
struct User {
    #[model(auto)]
    id: u64,
    #[model(uniq)]
    email: String,
    #[model(unique, index)]
    city: String,
    #[model(index(multi))]
    tag: String,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Serialize, Deserialize)]
struct Extra {
    note: String,
}

fn main() {}
