//! Fixtures for tests and benchmarks: throwaway keys and certificates.
//! Nothing here is for keys that matter.

use crate::cert::{CertificateTemplate, build_certificate, name};
use crate::hash::sha256_hex;
use crate::oid;
use crate::publication::{Manifest, ManifestIssuer, SegmentRef};
use crate::signer::{EcCurve, EcdsaSigner, Signer};

/// A fresh in-memory ECDSA key.
pub fn ec_key(curve: EcCurve) -> EcdsaSigner {
    let pkcs8 = EcdsaSigner::generate_pkcs8(curve).expect("key generation");
    EcdsaSigner::from_pkcs8(curve, &pkcs8).expect("key load")
}

/// A self-signed certificate for `signer`, `CN=cn`, valid from 0 to year 2096.
pub fn self_signed(signer: &EcdsaSigner, cn: &str, extensions: Vec<Vec<u8>>) -> Vec<u8> {
    let subject = name(&[(oid::COMMON_NAME, cn)]);
    let template = CertificateTemplate {
        serial: vec![0x11; 16],
        issuer: subject.clone(),
        subject,
        not_before: 0,
        not_after: 4_000_000_000,
        spki: signer.spki().to_vec(),
        extensions,
    };
    build_certificate(&template, signer).expect("certificate")
}

/// A generation-1 manifest naming one issuer and one segment; returns it with
/// the segment's content hash (its key among loaded segments).
pub fn one_segment_manifest(issuer_cert: &[u8], segment: &[u8], entries: u64) -> (Manifest, String) {
    use base64::Engine;
    let view = crate::cert::CertificateView::parse(issuer_cert).expect("issuer certificate");
    let sha256 = sha256_hex(segment);
    let manifest = Manifest {
        generation: 1,
        epoch: 0,
        created_at: 0,
        issuers: vec![ManifestIssuer {
            id: sha256_hex(view.spki),
            name: "test".into(),
            certificate: base64::engine::general_purpose::STANDARD.encode(issuer_cert),
        }],
        segments: vec![SegmentRef { sha256: sha256.clone(), entries, bytes: segment.len() as u64 }],
        cert_id_hashes: vec![crate::hash::HashAlg::Sha1, crate::hash::HashAlg::Sha256],
    };
    (manifest, sha256)
}

/// Replays every saved input of fuzz target `target` (`fuzz/corpus/{target}`
/// beside `manifest_dir`'s crate) through `check`, the property its fuzz
/// target runs, so `cargo test` exercises the corpora on stable.
pub fn replay_corpus(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let files = corpus_files(manifest_dir, target);
    for (path, data) in &files {
        let result = std::panic::catch_unwind(|| check(data));
        assert!(result.is_ok(), "{} fails its property check", path.display());
    }
    assert!(!files.is_empty(), "the {target} corpus is empty");
}

/// The files of fuzz target `target`'s corpus (`fuzz/corpus/{target}`
/// beside the crate at `manifest_dir`), with their contents.
pub fn corpus_files(manifest_dir: &str, target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(manifest_dir).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            (path, data)
        })
        .collect()
}
