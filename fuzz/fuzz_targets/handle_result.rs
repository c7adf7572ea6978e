//! See `fn_fuzz::handle_result`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fn_fuzz::handle_result(data));
