//! Shared fixtures for Cartorio's benchmarks.

use cartorio_pkix::cert::{CertificateTemplate, build_certificate, extensions as ext, name};
use cartorio_pkix::der::encode::{integer_u64, octet_string, seq};
use cartorio_pkix::tsp::{TimePrecision, TokenTemplate};
use cartorio_pkix::{EcCurve, EcdsaSigner, Signer, oid};
use std::sync::Arc;

/// A fresh P-256 key.
pub fn p256_signer() -> EcdsaSigner {
    let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256).expect("keygen");
    EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8).expect("load")
}

/// A TSA token template over a self-issued TSA certificate, as `up` builds it.
pub fn tsa_template() -> TokenTemplate {
    let signer = p256_signer();
    let subject = name(&[(oid::ORGANIZATION, "Bench"), (oid::COMMON_NAME, "Bench TSA")]);
    let cert = build_certificate(
        &CertificateTemplate {
            serial: vec![0x11; 16],
            issuer: subject.clone(),
            subject,
            not_before: 0,
            not_after: 2_000_000_000,
            spki: signer.spki().to_vec(),
            extensions: vec![ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true)],
        },
        &signer,
    )
    .expect("certificate");
    TokenTemplate::new(Arc::new(signer), &[cert], TimePrecision::Millis, 1_000_000).expect("template")
}

/// A TimeStampReq like `openssl ts -query -sha256 -cert` sends.
pub fn tsa_request() -> Vec<u8> {
    let imprint = seq(&[&seq(&[oid::SHA256]), &octet_string(&[0x5a; 32])]);
    seq(&[&integer_u64(1), &imprint, &integer_u64(0x1234_5678_9abc_def0), &[0x01, 0x01, 0xff]])
}

/// What raw signing signs in a token: the signed attributes are about this long.
pub const SIGNED_ATTRS_LEN: usize = 230;
