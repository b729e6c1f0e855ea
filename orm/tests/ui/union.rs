use skiff::Key;

#[derive(Key)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
