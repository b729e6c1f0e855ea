use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct Line {
    #[model(key, auto)]
    order: u64,
    #[model(key)]
    line: u32,
}

fn main() {}
