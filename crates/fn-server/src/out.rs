//! `fnd`'s own writes to stdout. A reader that went away (`fnd ls | head -1`, `fnd logs
//! f | true`) ends the program quietly, with status 0, as `cat` and `ls` end: Rust's
//! `println!` would panic on the closed pipe instead.

use std::io::{ErrorKind, Write as _};

/// Writes `text` and a newline to stdout.
pub(crate) fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(error) = written {
        gone(&error);
    }
}

/// Writes `bytes` exactly (a function's output) to stdout. `Ok` when written, or when
/// the reader went away (it wanted no more); another failure is returned.
pub(crate) fn bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != ErrorKind::BrokenPipe => Err(error),
        _ => Ok(()),
    }
}

/// Ends the program after a failed write to stdout: quietly when the reader went away,
/// else saying why.
fn gone(error: &std::io::Error) -> ! {
    if error.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to stdout: {error}");
    std::process::exit(1);
}
