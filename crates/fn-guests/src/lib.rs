//! Test support: the guests of this repository (`guests/`), as `cargo xtask guests`
//! builds them for `wasm32-wasip1`. Every crate's tests load them from here, so the
//! location and the message for a guest that is not built live in one place.

use std::path::PathBuf;

/// The folder `cargo xtask guests` leaves the `.wasm` files in.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guests/target/wasm32-wasip1/release")
}

/// The path of the guest `name` (`hello`, `handle_upper`, …).
///
/// # Panics
///
/// When the guest is not built, saying how to build it.
pub fn path(name: &str) -> PathBuf {
    let path = dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest `{name}` is not built ({}); run `cargo xtask guests`",
        path.display()
    );
    path
}

/// The bytes of the guest `name`.
///
/// # Panics
///
/// When the guest is not built or cannot be read.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
