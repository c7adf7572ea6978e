//! Hostile: writes to stdout forever.
use std::io::Write;

fn main() {
    let line = [b'x'; 4096];
    let mut out = std::io::stdout().lock();
    loop {
        if out.write_all(&line).is_err() {
            // Keep trying: a hostile guest ignores errors.
            continue;
        }
    }
}
