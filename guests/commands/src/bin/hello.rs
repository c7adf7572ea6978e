//! Greets the name on stdin (or the world).
use std::io::Read;

fn main() {
    let mut name = String::new();
    std::io::stdin().read_to_string(&mut name).unwrap();
    let name = name.trim();
    println!("hello, {}!", if name.is_empty() { "world" } else { name });
}
