#![no_main]
//! Properties: see `cartorio_gateway::waf::fuzz_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_gateway::waf::fuzz_check(data));
