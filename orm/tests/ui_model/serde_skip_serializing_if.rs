use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct User {
    #[model(key)]
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
}

fn main() {}
