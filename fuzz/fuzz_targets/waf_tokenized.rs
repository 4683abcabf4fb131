#![no_main]
//! libinjection's detectors as the WAF calls them. Properties: see
//! `cartorio_gateway::waf::tokenized::fuzz_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartorio_gateway::waf::tokenized::fuzz_check(data));
