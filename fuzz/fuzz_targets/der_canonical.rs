#![no_main]
//! Properties: see `cartorio_pkix::fuzz_checks::der_canonical`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_pkix::fuzz_checks::der_canonical(data));
