//! See `fn_fuzz::deploy_and_invoke`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fn_fuzz::deploy_and_invoke(data));
