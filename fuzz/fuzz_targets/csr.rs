#![no_main]
//! Properties: see `cartorio_pkix::fuzz_checks::csr`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_pkix::fuzz_checks::csr(data));
