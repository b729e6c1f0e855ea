use serde::{Deserialize, Serialize};
use skiff::{Key, Model};

#[derive(Key, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Code(u32);

#[derive(Model, Serialize, Deserialize)]
struct Place {
    #[model(key)]
    code: Code,
}

fn main() {}
