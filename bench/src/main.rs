//! Benchmarks; see `cargo run -p skiff-bench --release -- --help`.
fn main() {}
