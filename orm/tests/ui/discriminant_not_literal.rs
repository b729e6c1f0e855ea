use skiff::Key;

const BASE: isize = 4;

#[derive(Key, PartialEq, Eq, PartialOrd, Ord)]
enum Size {
    Small = BASE,
    Large,
}

fn main() {}
