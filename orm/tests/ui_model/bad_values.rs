use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(name = users, version = "2", from = "v1::User", change_log = -1)]
#[model(index(name = "domain", with = "User::domain", ty = String))]
struct User {
    #[model(key)]
    id: u64,
}

fn main() {}
