//! Hostile: recurses without bound until the wasm stack is exhausted.
#[allow(unconditional_recursion, reason = "the point of this guest")]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 8]);
    std::hint::black_box(recurse(depth + 1)).wrapping_add(frame[3])
}

fn main() {
    println!("{}", recurse(0));
}
