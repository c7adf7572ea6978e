//! See `fn_fuzz::conformance_spec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fn_fuzz::conformance_spec(data));
