//! Prints fib(n) for the n on stdin (default 20), computed the slow, recursive way: a
//! CPU-bound function.
use std::io::Read;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let n: u64 = match input.trim() {
        "" => 20,
        s => match s.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("fib: `{s}` is not a number");
                std::process::exit(2);
            }
        },
    };
    println!("{}", fib(std::hint::black_box(n)));
}
