//! The workloads: a guest of `guests/`, an input and the output it must give back.
//!
//! Why the output is checked: a benchmark that measures a failing call measures the
//! wrong thing, so every measured call is compared with what the guest must answer.

use bytes::Bytes;

/// How a guest takes its input and gives its output (docs/abi.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// A WASI command: the input on stdin, the output what it writes to stdout.
    Command,
    /// The handle ABI: `malloc` for the input, `handle(ptr, len)` packs the output.
    Handle,
}

/// One workload: a guest, its input and its expected output.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The workload's name in reports (`echo-64KiB`).
    pub name: &'static str,
    /// The guest's name, as `cargo xtask guests` builds it.
    pub guest: &'static str,
    /// Its ABI.
    pub abi: Abi,
    /// The input of every call.
    pub input: Bytes,
    /// The output every call must give.
    pub expect: Bytes,
}

impl Workload {
    /// The guest's wasm bytes.
    ///
    /// # Panics
    ///
    /// When the guest is not built (`cargo xtask guests`).
    pub fn wasm(&self) -> Vec<u8> {
        fn_guests::bytes(self.guest)
    }
}

/// `len` bytes of printable text.
fn text(len: usize) -> Bytes {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ";
    (0..len)
        .map(|i| ALPHABET[i % ALPHABET.len()])
        .collect::<Vec<u8>>()
        .into()
}

/// Every workload, in report order: `upper-13B` (the guest the and the
/// baseline crate's figures use), hello, echo at 13 B, 64 KiB and 1 MiB, fib(25) (CPU
/// bound), and the handle ABI.
pub fn all() -> Vec<Workload> {
    let small = Bytes::from_static(b"hello, world!");
    let upper = Bytes::from_static(b"HELLO, WORLD!");
    let echo = |name, len| Workload {
        name,
        guest: "echo",
        abi: Abi::Command,
        input: text(len),
        expect: text(len),
    };
    vec![
        Workload {
            name: "upper-13B",
            guest: "upper",
            abi: Abi::Command,
            input: small.clone(),
            expect: upper.clone(),
        },
        Workload {
            name: "hello",
            guest: "hello",
            abi: Abi::Command,
            input: Bytes::from_static(b"bench"),
            expect: Bytes::from_static(b"hello, bench!\n"),
        },
        echo("echo-13B", 13),
        echo("echo-64KiB", 64 * 1024),
        echo("echo-1MiB", 1024 * 1024),
        Workload {
            name: "fib-25",
            guest: "fib",
            abi: Abi::Command,
            input: Bytes::from_static(b"25"),
            expect: Bytes::from_static(b"75025\n"),
        },
        Workload {
            name: "handle-upper-13B",
            guest: "handle_upper",
            abi: Abi::Handle,
            input: small,
            expect: upper,
        },
    ]
}

/// The workload named `name`.
pub fn named(name: &str) -> Option<Workload> {
    all().into_iter().find(|w| w.name == name)
}
