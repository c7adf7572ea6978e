//! Upper-cases stdin to stdout (ASCII), the function the performance baseline runs.
use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    input.make_ascii_uppercase();
    std::io::stdout().write_all(&input).unwrap();
}
