use skiff::Key;

#[derive(Key, PartialEq, Eq, PartialOrd, Ord)]
enum Priority {
    High = 10,
    Low = 1,
}

fn main() {}
