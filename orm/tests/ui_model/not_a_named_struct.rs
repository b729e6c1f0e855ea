use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
struct Pair(u64, String);

#[derive(Model, Serialize, Deserialize)]
struct Marker;

#[derive(Model, Serialize, Deserialize)]
enum Shape {
    Dot,
}

#[derive(Model)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
