#![no_main]
//! Properties: see `cartorio_control::backup::fuzz_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_control::backup::fuzz_check(data));
