//! Hostile: writes to stderr (its log) forever.
use std::io::Write;

fn main() {
    let line = [b'e'; 4096];
    let mut err = std::io::stderr().lock();
    loop {
        let _ = err.write_all(&line);
    }
}
