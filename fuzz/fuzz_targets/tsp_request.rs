#![no_main]
//! Properties: see `cartorio_pkix::fuzz_checks::tsp_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_pkix::fuzz_checks::tsp_request(data));
