//! See `fn_fuzz::generated_module`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| drop(fn_fuzz::generated_module(data)));
