//! PKI fixtures for tests and benchmarks: throwaway keys, certificates and
//! manifests. Nothing here is for keys that matter.

use cartorio_pkix::cert::{CertificateTemplate, build_certificate, name};
use cartorio_pkix::hash::sha256_hex;
use cartorio_pkix::oid;
use cartorio_pkix::publication::{Manifest, ManifestIssuer, SegmentRef};
use cartorio_pkix::signer::{EcCurve, EcdsaSigner, Signer};

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
    let view = cartorio_pkix::cert::CertificateView::parse(issuer_cert).expect("issuer certificate");
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
        cert_id_hashes: vec![cartorio_pkix::hash::HashAlg::Sha1, cartorio_pkix::hash::HashAlg::Sha256],
    };
    (manifest, sha256)
}
