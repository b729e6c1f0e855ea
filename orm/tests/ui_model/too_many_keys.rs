use serde::{Deserialize, Serialize};
use skiff::Model;

#[derive(Model, Serialize, Deserialize)]
#[model(index(name = "wide", fields(a, b, c, d, e, f, g, h, i)))]
struct Wide {
    #[model(key)]
    a: u8,
    #[model(key)]
    b: u8,
    #[model(key)]
    c: u8,
    #[model(key)]
    d: u8,
    #[model(key)]
    e: u8,
    #[model(key)]
    f: u8,
    #[model(key)]
    g: u8,
    #[model(key)]
    h: u8,
    #[model(key)]
    i: u8,
}

fn main() {}
