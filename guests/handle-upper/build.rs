//! Exports the C library's `malloc` and `free`: the handle ABI's allocator is the one
//! Rust's own allocations use, so the host's input and the guest's output share a heap.
fn main() {
    println!("cargo:rustc-link-arg=--export=malloc");
    println!("cargo:rustc-link-arg=--export=free");
}
