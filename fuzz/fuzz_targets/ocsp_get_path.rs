#![no_main]
//! Properties: see `cartorio_pkix::fuzz_checks::ocsp_get_path`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_pkix::fuzz_checks::ocsp_get_path(data));
