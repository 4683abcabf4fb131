#![no_main]
//! Properties: see `cartorio_gateway::envelope::fuzz_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_gateway::envelope::fuzz_check(data));
