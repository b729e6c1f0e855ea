use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Serialize, Deserialize, Clone)]
struct Address {
    street: String,
}

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "by_address", fields(id, home)))]
#[model(index(name = "computed", with = User::first, ty = Address))]
struct User {
    #[model(key)]
    id: u64,
    #[model(index)]
    home: Address,
    #[model(unique)]
    work: Option<Address>,
    #[model(index(multi))]
    past: Vec<Address>,
}

impl User {
    fn first(&self) -> Address {
        self.home.clone()
    }
}

fn main() {}
