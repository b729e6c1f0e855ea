use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(version = 3)]
struct Old {
    #[model(key)]
    id: u64,
}

#[derive(Model, Serialize, Deserialize)]
#[model(version = 2, from = Old)]
struct New {
    #[model(key)]
    id: u64,
}

impl From<Old> for New {
    fn from(old: Old) -> Self {
        New { id: old.id }
    }
}

fn main() {}
