//! Integration tests of the sandbox, with real guests built by `cargo xtask guests` and
//! small WAT modules.

mod abi_handle;
mod compile;
mod component;
mod http;
mod limits;
mod preopens;
mod security;
mod support;
mod wasi_command;
mod worker;
