use skiff::Key;

struct NotAKey;

#[derive(Key)]
struct Record {
    id: u64,
    extra: NotAKey,
}

#[derive(Key)]
enum Event {
    Empty,
    Tagged(u8, NotAKey),
}

fn main() {}
