//! Replays every saved fuzz input (`fuzz/corpus/<target>/`) through the same
//! property checks the fuzz targets run, so CI exercises them on stable.

use cartorio_pkix::fuzz_checks;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    cartorio_testkit::corpus::replay_corpus(env!("CARGO_MANIFEST_DIR"), target, check);
}

#[test]
fn ocsp_request_corpus() {
    replay("ocsp_request", fuzz_checks::ocsp_request);
}

#[test]
fn ocsp_get_path_corpus() {
    replay("ocsp_get_path", fuzz_checks::ocsp_get_path);
}

#[test]
fn csr_corpus() {
    replay("csr", fuzz_checks::csr);
}

#[test]
fn segment_corpus() {
    replay("segment", fuzz_checks::segment);
}

#[test]
fn csr_seeds_of_every_key_type_verify() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/csr");
    for name in ["p256.pem", "p256.der", "rsa.der", "ed25519.der"] {
        let data = std::fs::read(dir.join(name)).expect("seed");
        let csr = cartorio_pkix::csr::VerifiedCsr::from_pem_or_der(&data);
        assert!(csr.is_ok(), "{name}: {:?}", csr.err());
    }
    let data = std::fs::read(dir.join("p256.der")).expect("seed");
    let mut tampered = data.clone();
    let at = tampered.len() - 10; // inside the signature
    tampered[at] ^= 1;
    assert!(cartorio_pkix::csr::VerifiedCsr::from_pem_or_der(&tampered).is_err());
}

#[test]
fn tsp_request_corpus() {
    replay("tsp_request", fuzz_checks::tsp_request);
}

#[test]
fn der_canonical_corpus() {
    replay("der_canonical", fuzz_checks::der_canonical);
}
