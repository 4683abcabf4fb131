#![no_main]
//! Properties: see `cartorio_platform::proxy_protocol::fuzz_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_platform::proxy_protocol::fuzz_check(data));
