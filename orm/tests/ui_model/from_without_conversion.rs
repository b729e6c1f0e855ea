use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct Old {
    #[model(key)]
    id: u64,
}

#[derive(Serialize, Deserialize)]
struct NotAModel {
    id: u64,
}

#[derive(Model, Serialize, Deserialize)]
#[model(version = 2, from = Old)]
struct New {
    #[model(key)]
    id: u64,
}

#[derive(Model, Serialize, Deserialize)]
#[model(version = 2, from = NotAModel)]
struct Other {
    #[model(key)]
    id: u64,
}

impl From<NotAModel> for Other {
    fn from(old: NotAModel) -> Self {
        Other { id: old.id }
    }
}

fn main() {}
