use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct Wrapper<T> {
    #[model(key)]
    id: u64,
    value: T,
}

fn main() {}
