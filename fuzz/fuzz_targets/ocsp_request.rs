#![no_main]
//! Properties: see `cartorio_pkix::fuzz_checks::ocsp_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_pkix::fuzz_checks::ocsp_request(data));
