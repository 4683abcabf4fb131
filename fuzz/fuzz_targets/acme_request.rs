#![no_main]
//! Properties: see `cartorio_control::acme::fuzz::fuzz_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_control::acme::fuzz::fuzz_request(data));
