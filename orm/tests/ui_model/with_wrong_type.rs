use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "domain", with = User::domain, ty = u64))]
struct User {
    #[model(key)]
    id: u64,
    email: String,
}

impl User {
    fn domain(&self) -> String {
        self.email.clone()
    }
}

fn main() {}
