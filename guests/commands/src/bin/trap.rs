//! Executes `unreachable`: a wasm trap.
fn main() {
    println!("about to trap");
    core::arch::wasm32::unreachable();
}
