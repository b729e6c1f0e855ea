// Every problem of one item is reported at once, not just the first.
use skiff::Key;

const BASE: isize = 4;

#[derive(Key, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    A = 3,
    B = 2,
    C = BASE,
    D = 10,
    E = 0,
}

fn main() {}
